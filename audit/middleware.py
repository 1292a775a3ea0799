"""Ties every record written during a request to that request (actor, IP,
user agent, request id), and records permission denials (403 answers).

Setting the context is one context-variable write per request: nothing is
read (no user, no query) until something is recorded.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from audit import context as audit_context
from audit.choices import Outcome


def first_in_window(key: str, seconds: int = 60) -> bool:
    """Whether ``key`` was not seen in the last ``seconds`` (one Redis call).
    Refusals of callers nobody knows are recorded once per address and
    minute: otherwise anyone could fill the audit table with requests."""
    from django.core.cache import cache

    try:
        return cache.add(f"audit:seen:{key}", 1, seconds)
    except Exception:  # the cache is down: record rather than lose it
        return True


def record_denial(request, response) -> None:
    if response.status_code != 403 or getattr(request, "_audit_denial_recorded", False):
        return
    request._audit_denial_recorded = True
    from audit.recorder import record

    user = getattr(request, "user", None)
    if (user is None or not user.is_authenticated) and getattr(request, "auth", None) is None:
        from security.net import client_ip

        if not first_in_window(f"denied:{client_ip(request)}:{request.path[:200]}"):
            return

    record(
        "permission.denied",
        request=request,
        detail={"method": request.method, "path": request.path[:500]},
        outcome=Outcome.DENIED,
    )


class AuditContextMiddleware:
    """Early in MIDDLEWARE (after RequestIdMiddleware). Sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    @staticmethod
    def _context(request):
        return audit_context.AuditContext(request=request, source=audit_context.source_of(request))

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        token = audit_context.enter(self._context(request))
        try:
            response = self.get_response(request)
            record_denial(request, response)
        finally:
            audit_context.leave(token)
        return response

    async def __acall__(self, request):
        from asgiref.sync import sync_to_async

        token = audit_context.enter(self._context(request))
        try:
            response = await self.get_response(request)
            if response.status_code == 403:
                await sync_to_async(record_denial)(request, response)
        finally:
            audit_context.leave(token)
        return response


class AgentAuditContextMiddleware(AuditContextMiddleware):
    """The agent API's lean stack (gateways/agent/asgi.py): the same context,
    source "agent". A heartbeat records nothing, so this costs it one
    context-variable write; an enrolment is recorded as done by its gateway."""

    sync_capable = True
    async_capable = False
