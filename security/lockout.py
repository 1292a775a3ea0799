"""django-axes wiring: whose failures count, which address they come from,
and the page a locked-out person sees (settings: ``AXES_*``)."""

from __future__ import annotations

from datetime import timedelta

from axes.helpers import get_cool_off
from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.utils import timezone

from security.net import client_ip


def attempted_username(request, credentials: dict | None) -> str | None:
    """The account a sign-in attempt was for, the same whether the person
    typed the username or the email address (allauth accepts both), so that
    switching between them does not double the guesses."""
    credentials = credentials or {}
    login = credentials.get("username") or credentials.get("email")
    if not login and request is not None:
        data = getattr(request, "data", None) or request.POST
        login = data.get("login") or data.get("username") or data.get("email")
    if not login:
        return None
    login = str(login).strip().lower()[:150]
    if "@" in login:
        username = (
            get_user_model()
            .objects.filter(email__iexact=login)
            .values_list("username", flat=True)
            .first()
        )
        if username:
            return username.lower()
    return login


def axes_client_ip(request) -> str | None:
    """The same client address as the IP allowlist (``TRUSTED_PROXIES``)."""
    return client_ip(request)


def lockout_response(request, original_response=None, credentials=None):
    """The page shown instead of the sign-in form while locked out (429)."""
    cool_off = get_cool_off(request) or timedelta(0)
    minutes = max(1, int(cool_off.total_seconds() // 60))
    context = {
        "cool_off_minutes": minutes,
        "retry_at": timezone.now() + cool_off if cool_off else None,
    }
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        response = JsonResponse(
            {
                "detail": "Too many failed sign-in attempts. Try again later.",
                "code": "locked_out",
                "retry_after": int(cool_off.total_seconds()),
            },
            status=429,
        )
    else:
        response = render(request, "account/lockout.html", context, status=429)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
