"""Who is acting, and from where: one context variable per request, task or
command, read when a record is written.

The middleware (and the agent API's lean handler, and Celery's task
signals) set it; it holds the request itself so that the actor is resolved
only when something is recorded: after DRF has authenticated an API key, a
JWT or a gateway, and never on a request that records nothing (heartbeats).
``sync_to_async`` carries context variables into the threads that run views.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from audit.choices import ActorType, Source


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    name: str = ""
    user: object | None = None  # the User behind it, if any

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(ActorType.USER, str(getattr(user, "uuid", user.pk)), user.get_username(), user)

    @classmethod
    def task(cls, name: str) -> Actor:
        return cls(ActorType.TASK, name, f"system task {name}")

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(ActorType.SYSTEM, name, name)


ANONYMOUS = Actor(ActorType.ANONYMOUS, "", "")


@dataclass
class AuditContext:
    request: object | None = None
    actor: Actor | None = None  # set explicitly: tasks, commands, audit.acting_as()
    source: str = Source.SYSTEM
    request_id: str = ""  # outside a request: a task's id


_current: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


def current() -> AuditContext:
    context = _current.get()
    if context is None:
        return AuditContext(actor=_command_actor(), source=Source.SYSTEM)
    return context


def _command_actor() -> Actor:
    """Outside a request or task: the command line (``manage.py migrate``…)."""
    argv = sys.argv or ["python"]
    parts = argv[0].rsplit("/", 2)
    program = parts[-1]
    if program == "__main__.py" and len(parts) > 1:  # python -m <package>
        program = parts[-2]
    if program == "manage.py" and len(argv) > 1:
        return Actor.system(f"manage.py {argv[1]}")
    return Actor.system(program or "system")


def enter(context: AuditContext):
    return _current.set(context)


def leave(token) -> None:
    _current.reset(token)


@contextmanager
def acting_as(actor: Actor, source: str = Source.SYSTEM, request_id: str = ""):
    """Record everything inside as done by ``actor`` (a task, a command)."""
    outer = _current.get()
    request = outer.request if outer is not None else None
    token = _current.set(
        AuditContext(request=request, actor=actor, source=source, request_id=request_id)
    )
    try:
        yield
    finally:
        _current.reset(token)


def source_of(request) -> str:
    path = getattr(request, "path_info", "") or ""
    if path.startswith("/api/agent/"):
        return Source.AGENT
    if path.startswith("/api/"):
        return Source.API
    if path.startswith("/admin/"):
        return Source.ADMIN
    return Source.WEB


def actor_of(request) -> Actor:
    """The actor of a request, as authenticated so far."""
    from accounts.models.api_keys import ApiKey
    from gateways.models import Gateway

    # DRF sets these on the HttpRequest too when it authenticates.
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        owner = auth.owner
        return Actor(
            ActorType.API_KEY,
            str(auth.uuid),
            f"{auth.name} ({auth.prefix}…) of {owner.get_username()}",
            owner,
        )
    if isinstance(auth, Gateway):
        return Actor(ActorType.GATEWAY, str(auth.uuid), f"gateway {auth.name}")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor.for_user(user)
    return ANONYMOUS


def request_metadata(request) -> dict:
    """IP (the trusted-proxy-aware client address), user agent and request id."""
    from console.logging import request_id
    from security.net import client_ip

    if request is None:
        rid = request_id.get(None) or ""
        return {"ip": "", "user_agent": "", "request_id": rid if rid != "-" else ""}
    return {
        "ip": client_ip(request) or "",
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:512],
        "request_id": getattr(request, "request_id", "") or "",
    }
