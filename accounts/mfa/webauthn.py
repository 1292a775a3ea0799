"""WebAuthn security keys and passkeys as a second factor (django-otp-webauthn).

The package does the ceremonies (options, signature checks, sign counts, one
challenge per ceremony kept in the session); these subclasses add what the
console needs around them:

- registration also makes the recovery codes when it is the user's first
  factor (like confirming an authenticator app), names the key and tells the
  audit log; it is open to a user at the enrol step (a key is one way to
  enrol) and refused to one who owes the verify step (the package checks that
  too: a user with a device must verify before adding another);
- authentication is the verify step's "Use your security key": only for a
  signed-in user (passwordless sign-in is off), only with that user's own
  keys (the package refuses another user's credential), and audited.

Which step may reach which endpoint: ``middleware.ALLOWED_URL_NAMES``.
Anonymous callers never get here (LoginRequiredMiddleware).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from accounts.mfa import policy
from accounts.mfa.events import record

DEFAULT_KEY_NAME = gettext_lazy("Security key")
# The key registered last in this session, until the page names it.
NEW_KEY_SESSION_KEY = "mfa_new_security_key"


def user_keys(user):
    return WebAuthnCredential.objects.filter(user=user, confirmed=True)


def usable_here(request) -> bool:
    """Whether this page's host can use keys at all: browsers only allow the
    RP id's own domain (and its subdomains), never an IP address such as
    ``127.0.0.1`` (open ``http://localhost:8000`` with `make run`)."""
    host = request.get_host().rsplit(":", 1)[0] if "]" not in request.get_host() else ""
    rp_id = settings.OTP_WEBAUTHN_RP_ID
    return host == rp_id or host.endswith(f".{rp_id}")


def page_context(request) -> dict:
    """What a page with a key button needs: the package's script
    configuration (URLs, CSRF token), rendered as a JSON block."""
    return {
        "webauthn_here": usable_here(request),
        "webauthn_config": get_configuration(request),
        "webauthn_rp_id": settings.OTP_WEBAUTHN_RP_ID,
    }


class KeyNameForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name of the key"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("So you can tell your keys apart, such as “YubiKey on my keyring”."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": DEFAULT_KEY_NAME}),
    )


# --- Registration -----------------------------------------------------------------


class RegistrationBegin(BeginCredentialRegistrationView):
    pass


class RegistrationComplete(CompleteCredentialRegistrationView):
    """Saves the key (named "Security key" until the page names it); makes
    the recovery codes when it is the user's first factor."""

    def post(self, *args, **kwargs):
        from accounts.mfa.views import _store_fresh_codes

        user = self.request.user
        try:
            response = super().post(*args, **kwargs)
        except Exception:
            record("mfa.device.confirm_failed", user, self.request, device_type="webauthn")
            raise
        device = WebAuthnCredential.objects.get(pk=json.loads(response.content)["id"], user=user)
        device.name = str(DEFAULT_KEY_NAME)
        device.save(update_fields=["name"])
        self.request.session[NEW_KEY_SESSION_KEY] = device.pk
        record("mfa.device.confirmed", user, self.request, device_type="webauthn")
        if policy.recovery_codes_left(user) == 0:
            _store_fresh_codes(self.request, policy.generate_recovery_codes(user, self.request))
        return JsonResponse({"id": device.pk})


@login_required
@require_POST
def key_added(request):
    """The page names the key it has just registered (the form around the
    button), then shows the recovery codes if they were just made."""
    from accounts.mfa.views import FRESH_CODES_SESSION_KEY

    pk = request.session.pop(NEW_KEY_SESSION_KEY, None)
    device = user_keys(request.user).filter(pk=pk).first() if pk else None
    if device is None:
        messages.error(request, _("No new security key to name."))
        return redirect("accounts:mfa:overview")
    form = KeyNameForm(request.POST)
    name = form.cleaned_data["name"].strip() if form.is_valid() else ""
    if name:
        device.name = name
        device.save(update_fields=["name"])
    next_url = request.POST.get("next") or ""
    if request.session.get(FRESH_CODES_SESSION_KEY):  # made with this key
        messages.success(request, _("Two-factor authentication is on."))
        url = reverse("accounts:mfa:recovery_codes")
        return redirect(url + ("?" + urlencode({"next": next_url}) if next_url else ""))
    messages.success(request, _("Added %(device)s.") % {"device": device.name})
    return redirect("accounts:mfa:overview")


# --- Authentication (the verify step) ---------------------------------------------


class AuthenticationBegin(BeginCredentialAuthenticationView):
    pass


class AuthenticationComplete(CompleteCredentialAuthenticationView):
    """Marks the session verified with the user's own key, and audits it."""

    def post(self, *args, **kwargs):
        user = self.request.user
        try:
            response = super().post(*args, **kwargs)
        except Exception:
            record("mfa.verify.failed", user, self.request, device_type="webauthn")
            raise
        record("mfa.verify.succeeded", user, self.request, device_type="webauthn")
        return response

    def get_redirect_url(self):
        # Same rule as the code form: only this host; default the dashboard.
        from accounts.mfa.views import _next_url

        return _next_url(self.request)
