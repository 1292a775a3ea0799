"""Request ids for structured logs: one id per request, on every log line."""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs its failures after the middleware has returned:
        # take the id from the request it names.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id.get()
        return True
