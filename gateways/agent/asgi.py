"""The agent API's own way through the ASGI server (console/asgi.py routes
``/api/agent/`` here): the same URLconf and DRF views, without the browser's
middleware.

An agent call needs none of the session, authentication, CSRF, MFA, CSP,
messages, allauth, session-timeout, allowlist (the agent API is exempt) or
axes middleware, and under Django's ASGI handler every request also starts a
thread of its own (``ThreadSensitiveContext``). Here the sync middleware chain
and view run, in one hop, on a small fixed pool of persistent worker threads:

- ``request_started`` and ``request_finished`` are sent in the worker thread
  that ran the view, so ``close_old_connections`` closes *that* thread's
  database connection (returns it to the psycopg pool) at the end of every
  request, before the answer is sent;
- Django's exception handling wraps every middleware and the view, as in the
  browser stack: an uncaught error is logged and answered with Django's 500,
  ``DisallowedHost`` with 400 — never a dropped connection;
- the request id is set (``X-Request-ID``, log context) by the same
  ``RequestIdMiddleware``, and ``SecurityMiddleware`` keeps the HTTPS redirect
  and headers of the rest of the console.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed, RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

# What console/asgi.py sends here (every version of the agent API).
PATH_PREFIX = "/api/agent/"
# The agent routes alone (the same gateways.agent.urls as console/urls.py).
URLCONF = "gateways.agent.root_urls"

MIDDLEWARE = [
    "console.middleware.RequestIdMiddleware",
    # Audit log: the request as the context of what an agent call records
    # (an enrolment); one context-variable write, heartbeats record nothing.
    "audit.middleware.AgentAuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "gateways.agent.asgi.AllowedHostMiddleware",
]


def is_agent_path(scope) -> bool:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.startswith(PATH_PREFIX)


class AllowedHostMiddleware:
    """``ALLOWED_HOSTS`` as the browser stack applies it (CommonMiddleware
    reads the host of every request): a foreign Host header is a 400."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.get_host()  # DisallowedHost -> 400 through Django's handling
        return self.get_response(request)


class AgentASGIHandler(ASGIHandler):
    def __init__(self, middleware: list[str] | None = None, threads: int | None = None):
        base.BaseHandler.__init__(self)  # not ASGIHandler's async middleware chain
        self.load_agent_middleware(MIDDLEWARE if middleware is None else middleware)
        self.threads = threads or getattr(settings, "AGENT_API_THREADS", 4)
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="agent-api")

    def load_agent_middleware(self, paths: list[str]) -> None:
        """BaseHandler.load_middleware for a list of our own, sync only."""
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(paths):
            try:
                instance = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if instance is None:
                raise ImproperlyConfigured(f"Middleware factory {path} returned None.")
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"The agent API serves HTTP only, not {scope['type']}.")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await self.in_worker(self.respond, scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                if response.streaming:
                    await self.in_worker(response.close)
        finally:
            body_file.close()

    def in_worker(self, func, *args):
        # asgiref carries the context over (and back) and lets code in the
        # view use async_to_sync against the server's event loop.
        return sync_to_async(func, thread_sensitive=False, executor=self.executor)(*args)

    def respond(self, scope, body_file):
        """The whole request in one worker thread: request_started, the
        middleware chain and view, and request_finished once the response is
        complete (a streaming one is closed after it is sent)."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request, response = self.create_request(scope, body_file)
            if request is not None:
                request.urlconf = URLCONF
                response = self.get_response(request)
                response._handler_class = self.__class__
        except BaseException:
            signals.request_finished.send(sender=self.__class__)
            raise
        if not response.streaming:
            # As CommonMiddleware does in the browser stack: a length, not chunks.
            if not response.has_header("Content-Length"):
                response.headers["Content-Length"] = str(len(response.content))
            response.close()  # request_finished: the connection goes back now
        return response
