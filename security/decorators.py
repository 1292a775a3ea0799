"""``require_recent_auth``: sensitive actions ask for the password again when
the user's last authentication is older than the session policy's window.

It reuses django-allauth's re-authentication flow: raising
``ReauthenticationRequired`` makes allauth's middleware remember the request
(a POST is replayed after the password is given) and send the user to
``/accounts/reauthenticate/``. Only the window differs: ours comes from the
session policy (Settings → Sessions & sign-in), and any authentication counts,
so a user who has just signed in is not asked twice. See docs/sessions.md.
"""

from __future__ import annotations

import time
from functools import wraps

from allauth.account.internal.flows.login import get_authentication_records
from allauth.core.exceptions import ReauthenticationRequired
from django.http import HttpResponse

from security.models import SessionPolicy


def last_authenticated_at(request) -> float | None:
    """Epoch seconds of the user's last password (or second-factor) check in
    this session, from allauth's record of authentications."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    records = get_authentication_records(request, user)
    times = [r.get("at") for r in records if isinstance(r, dict) and r.get("at")]
    return max(times) if times else None


def recently_authenticated(request) -> bool:
    at = last_authenticated_at(request)
    if at is None:
        return False
    window = SessionPolicy.current().reauthentication_window.total_seconds()
    return time.time() - at < window


def _ask_again(request) -> HttpResponse:
    if getattr(request, "htmx", False):
        # htmx would swap the password page into a fragment: send the whole
        # tab there instead, back to the page the user is on afterwards.
        from allauth.account.internal.flows.reauthentication import suspend_request
        from django.urls import reverse

        response = suspend_request(request, reverse("account_reauthenticate"))
        htmx_response = HttpResponse(status=204)
        htmx_response["HX-Redirect"] = response["Location"]
        return htmx_response
    raise ReauthenticationRequired()


def require_recent_auth(view=None):
    """Decorate a view (function or ``as_view()``) so that it runs only when
    the user authenticated within the policy's re-authentication window."""

    def decorator(view_func):
        @wraps(view_func)
        def wrapper(request, *args, **kwargs):
            if not recently_authenticated(request):
                return _ask_again(request)
            return view_func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator


class RecentAuthRequiredMixin:
    """The same for class-based views; put it first in the bases. Set
    ``recent_auth_methods`` to limit it (e.g. ``("POST",)`` to let people read
    the form first; the POST is then replayed after the password)."""

    recent_auth_methods: tuple[str, ...] | None = None

    def dispatch(self, request, *args, **kwargs):
        methods = self.recent_auth_methods
        if (methods is None or request.method in methods) and not recently_authenticated(request):
            return _ask_again(request)
        return super().dispatch(request, *args, **kwargs)
