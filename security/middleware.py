"""Request-level security: the IP allowlist (early) and session timeouts
(after authentication). Both are in ``MIDDLEWARE`` (console/settings.py)."""

from __future__ import annotations

import json
import logging
import secrets
import time

from csp.utils import build_policy
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from console.htmx import is_background_refresh
from security import allowlist
from security import sessions as tracking
from security.models import SessionPolicy, UserSession
from security.net import client_address
from security.signals import allowlist_refused

log = logging.getLogger("security.allowlist")


def _exempt_prefixes() -> tuple[str, ...]:
    static = "/" + settings.STATIC_URL.lstrip("/")
    # Probes, static files and the gateway agent API (gateways authenticate
    # with their own credentials and may sit anywhere) are never refused.
    return ("/healthz", "/readyz", "/api/agent/", static, "/favicon.ico")


class IPAllowlistMiddleware:
    """Refuse requests from addresses outside the IP allowlist with 403: an
    HTML page for the console, JSON for the API (``/api/``)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.exempt = _exempt_prefixes()

    def __call__(self, request):
        path = request.path_info
        if not path.startswith(self.exempt):
            part = allowlist.API if path.startswith("/api/") else allowlist.CONSOLE
            address = client_address(request)
            if not allowlist.is_allowed(address, part):
                return self.refuse(request, address, part)
        return self.get_response(request)

    def refuse(self, request, address, part: str) -> HttpResponse:
        log.warning(
            "request refused by the IP allowlist",
            extra={
                "client_ip": str(address) if address else None,
                "path": request.path,
                "part": part,
            },
        )
        allowlist_refused.send(sender=self.__class__, request=request, address=address, part=part)
        message = _(
            "Access from your network address (%(address)s) is not allowed. "
            "Ask an administrator to add it to the IP allowlist."
        ) % {"address": address or _("unknown")}
        if part == allowlist.API:
            return HttpResponse(
                json.dumps({"detail": message, "code": "ip_not_allowed"}),
                status=403,
                content_type="application/json",
            )
        # Answered before django-csp's middleware runs: set the policy here.
        nonce = secrets.token_urlsafe(16)
        html = render_to_string(
            "security/allowlist_denied.html",
            {
                "address": address,
                "csp_nonce": nonce,
                "request_id": getattr(request, "request_id", ""),
            },
            request=request,
        )
        response = HttpResponse(html, status=403)
        response["Content-Security-Policy"] = build_policy(nonce=nonce)
        response["Cache-Control"] = "no-store"
        return response


class SessionSecurityMiddleware:
    """Apply the session policy to signed-in sessions: sign out after the idle
    timeout or the absolute lifetime, and sessions that were revoked. Activity
    is written at most once a minute (``ACTIVITY_RESOLUTION``); the live
    console's background re-fetches are not activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY):
            self.check(request, session)
        response = self.get_response(request)
        if session is not None and session.get(tracking.SESSION_ID) and session.session_key:
            self.follow_key(session)
        return response

    def check(self, request, session) -> None:
        record_id = session.get(tracking.SESSION_ID)
        login_at = session.get(tracking.LOGIN_AT)
        seen_at = session.get(tracking.SEEN_AT)
        if not record_id or login_at is None or seen_at is None:
            # Signed in before sessions were tracked: it cannot be listed or
            # revoked, so it ends.
            return self.end(request, _("Please sign in again."))
        policy = SessionPolicy.current()
        now = time.time()
        if now - login_at > policy.absolute_lifetime.total_seconds():
            return self.end(
                request,
                _(
                    "Your session reached its maximum length of %(hours)d hours: "
                    "please sign in again."
                )
                % {"hours": policy.absolute_lifetime_hours},
            )
        if now - seen_at > policy.idle_timeout.total_seconds():
            return self.end(
                request,
                _("You were signed out after %(minutes)d minutes without activity.")
                % {"minutes": policy.idle_timeout_minutes},
            )
        if now - seen_at >= tracking.ACTIVITY_RESOLUTION and not is_background_refresh(request):
            updated = UserSession.objects.filter(uuid=record_id).update(last_active=timezone.now())
            if not updated:
                return self.end(request, _("This session was signed out. Please sign in again."))
            session[tracking.SEEN_AT] = now
        return None

    def end(self, request, message: str) -> None:
        logout(request)
        if hasattr(request, "_messages"):
            messages.info(request, message)

    def follow_key(self, session) -> None:
        """Keep the row pointing at the session when its key rotates (password
        change, re-authentication)."""
        digest = tracking.key_digest(session.session_key)
        if session.get(tracking.KEY_DIGEST) != digest:
            UserSession.objects.filter(uuid=session[tracking.SESSION_ID]).update(
                session_key=session.session_key
            )
            session[tracking.KEY_DIGEST] = digest
