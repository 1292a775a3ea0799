"""Nothing between password and second factor.

A user who signed in with their password but still owes a second factor
(``policy.pending_step``) may reach only the page of that step, sign out,
static files and health checks. Everything else answers:

- a page: a redirect to the step (htmx requests get ``HX-Redirect``);
- ``/api/`` with the session: 403 JSON;
- the websocket: refused by the consumer (``policy.second_factor_pending``).

The agent API is left alone: gateways authenticate with their own credential,
never a user's session.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from accounts.mfa.policy import ENROL, VERIFY, pending_step

# Views of other apps a pending user may still reach, by URL name, and in
# which step. Our own views say so with ``allowed_while_pending``.
ALLOWED_URL_NAMES: dict[str, frozenset[str]] = {
    "account_logout": frozenset({VERIFY, ENROL}),
    "healthz": frozenset({VERIFY, ENROL}),
    "readyz": frozenset({VERIFY, ENROL}),
    # WebAuthn (accounts/mfa/webauthn.py): a key is one way to enrol, and
    # one way to verify; never registered by a user who owes the verify step.
    "otp_webauthn:credential-registration-begin": frozenset({ENROL}),
    "otp_webauthn:credential-registration-complete": frozenset({ENROL}),
    "otp_webauthn:credential-authentication-begin": frozenset({VERIFY}),
    "otp_webauthn:credential-authentication-complete": frozenset({VERIFY}),
    "otp_webauthn:js-i18n-catalog": frozenset({VERIFY, ENROL}),
}
STEP_URL_NAMES = {VERIFY: "accounts:mfa:verify", ENROL: "accounts:mfa:enrol"}
EXEMPT_PREFIXES = ("/api/agent/",)


def allowed_while_pending(*steps: str):
    """Mark a view as reachable by a user who is in one of ``steps``."""

    def decorate(view):
        view.mfa_pending_steps = frozenset(steps)
        return view

    return decorate


def _allowed(request, step: str) -> bool:
    path = request.path_info
    static_prefix = "/" + settings.STATIC_URL.lstrip("/")
    if path.startswith(static_prefix) or path == "/favicon.ico":
        return True
    try:
        match = resolve(path)
    except Resolver404:
        return False
    steps = getattr(match.func, "mfa_pending_steps", None)
    if steps is None:
        view_class = getattr(match.func, "view_class", None)
        steps = getattr(view_class, "mfa_pending_steps", None)
    if steps is None:
        steps = ALLOWED_URL_NAMES.get(match.view_name, frozenset())
    return step in steps


def step_url(step: str, next_url: str | None = None) -> str:
    url = reverse(STEP_URL_NAMES[step])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


class SecondFactorMiddleware:
    """Goes after django-otp's OTPMiddleware (which tells whether the session
    passed a second factor) and Django's authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(EXEMPT_PREFIXES):
            return self.get_response(request)
        step = pending_step(request.user)
        if step is None or _allowed(request, step):
            return self.get_response(request)
        return self.refuse(request, step)

    def refuse(self, request, step: str) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": _("Finish signing in with your second factor first."),
                    "code": "mfa_required",
                },
                status=403,
            )
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Redirect"] = step_url(step)
            return response
        next_url = request.get_full_path() if request.method == "GET" else None
        if next_url == "/":
            next_url = None
        return HttpResponseRedirect(step_url(step, next_url))
