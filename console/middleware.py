from __future__ import annotations

import re
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from console.logging import request_id

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Tie every log line of a request to one id, taken from a trusted proxy's
    ``X-Request-ID`` when it looks sane, and echo it in the response.

    Sync and async: first in ``MIDDLEWARE``, a sync-only middleware would make
    every request under ASGI hop to a thread and back around the whole chain.
    The id lives in a context variable, which ``sync_to_async`` carries into
    the threads that run sync middleware and views.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    @staticmethod
    def _start(request) -> str:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = rid
        return rid

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        rid = self._start(request)
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response

    async def __acall__(self, request):
        rid = self._start(request)
        token = request_id.set(rid)
        try:
            response = await self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response
