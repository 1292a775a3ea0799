"""Your account → Two-factor authentication, and the verify/enrol steps of
signing in.

Who may use them: every view acts on the signed-in user's own devices only
(LoginRequiredMiddleware sends anonymous visitors to sign in). While a second
factor is owed (``SecondFactorMiddleware``), only ``verify`` (user has a
device) or ``enrol`` (user must set one up) can be reached; the others need a
verified session, or a user who owes nothing.
"""

from __future__ import annotations

import time
from base64 import b32encode
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import policy, webauthn
from accounts.mfa.events import record
from accounts.mfa.forms import ConfirmTOTPForm, RecoveryCodeForm, RemoveDeviceForm, TOTPCodeForm
from accounts.mfa.middleware import allowed_while_pending
from accounts.mfa.policy import ENROL, VERIFY

FRESH_CODES_SESSION_KEY = "mfa_fresh_recovery_codes"
# Fresh recovery codes stay viewable (and downloadable) this long after they
# were made, or until the user says they saved them.
FRESH_CODES_SECONDS = 15 * 60


def _next_url(request, default: str = "dashboard") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(default)


def _form_status(form) -> int:
    return 429 if getattr(form, "throttled", False) else 422


def _crumbs(*tail: str) -> list:
    return [
        (_("Your account"), reverse("account")),
        (_("Two-factor authentication"), reverse("accounts:mfa:overview")),
        *((label, None) for label in tail),
    ]


# --- Overview -----------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def overview(request):
    """Status, devices, recovery codes left and what can be done about them."""
    user = request.user
    devices = [
        {
            "device": device,
            "type": policy.device_type(device),
            "remove_url": reverse(
                "accounts:mfa:remove_device",
                kwargs={"kind": policy.device_type(device), "pk": device.pk},
            ),
        }
        for device in policy.user_devices(user)
    ]
    context = {
        "title": _("Two-factor authentication"),
        "required": policy.mfa_required_for(user),
        "devices": devices,
        "has_totp": any(d["type"] == "totp" for d in devices),
        "codes_left": policy.recovery_codes_left(user),
        "has_recovery_device": policy.recovery_device(user) is not None,
        "verified": policy.is_verified(user),
        "breadcrumbs": _crumbs(),
        "key_form": webauthn.KeyNameForm(),
        **webauthn.page_context(request),
    }
    return render(request, "accounts/mfa/overview.html", context)


# --- Signing in: verify -----------------------------------------------------------


@login_required
@allowed_while_pending(VERIFY)
@require_http_methods(["GET", "POST"])
def verify(request):
    """The second step of signing in, for a user with a device: a code from
    their authenticator app, their security key (webauthn.py answers the
    key's requests), or one of their recovery codes."""
    user = request.user
    if policy.pending_step(user) != VERIFY:
        return redirect(_next_url(request))

    has_totp = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    method = request.POST.get("method") if request.method == "POST" else None
    totp_form = TOTPCodeForm(request.POST if method == "totp" else None, user=user, prefix="totp")
    recovery_form = RecoveryCodeForm(
        request.POST if method == "recovery" else None, user=user, prefix="recovery"
    )
    status = 200
    if method in {"totp", "recovery"}:
        form = totp_form if method == "totp" else recovery_form
        kind = "totp" if method == "totp" else "static"
        if form.is_valid():
            otp_login(request, form.device)
            record("mfa.verify.succeeded", user, request, device_type=kind)
            if kind == "static":
                left = policy.recovery_codes_left(user)
                messages.warning(
                    request,
                    _(
                        "You signed in with a recovery code; %(left)d left. "
                        "Make new ones if you are running out."
                    )
                    % {"left": left},
                )
            return redirect(_next_url(request))
        status = _form_status(form)
        event = "mfa.verify.throttled" if form.throttled else "mfa.verify.failed"
        record(event, user, request, device_type=kind)
    elif request.method == "POST":
        status = 400

    context = {
        "totp_form": totp_form,
        "recovery_form": recovery_form,
        "has_totp": has_totp,
        "has_webauthn": webauthn.user_keys(user).exists(),
        "method": method,
        "next": _next_url(request),
        **webauthn.page_context(request),
    }
    return render(request, "accounts/mfa/verify.html", context, status=status)


# --- Setting up an authenticator app ----------------------------------------------


def _pending_totp_device(user) -> TOTPDevice:
    """The user's authenticator being set up: the same secret until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
    return device


def _qr_svg(url: str) -> str:
    # Dark modules on white whatever the theme: that is what cameras read best.
    return segno.make(url, error="m").svg_inline(
        scale=5,
        border=3,
        dark="#000",
        light="#fff",
        omitsize=True,
        title=_("QR code for your authenticator app"),
    )


@login_required
@allowed_while_pending(ENROL)
@require_http_methods(["GET", "POST"])
def enrol(request):
    """Set up an authenticator app: scan the QR code (or type the key), then
    confirm with its first code. Forced enrolment lands here right after the
    password; the device counts only once confirmed."""
    user = request.user
    forced = policy.pending_step(user) == ENROL
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        messages.info(request, _("An authenticator app is already set up. Remove it first."))
        return redirect("accounts:mfa:overview")

    device = _pending_totp_device(user)
    form = ConfirmTOTPForm(
        request.POST if request.method == "POST" else None, user=user, device=device
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            device.refresh_from_db()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            # Any other half-made authenticators go.
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            otp_login(request, device)
            record("mfa.device.confirmed", user, request, device_type="totp")
            if policy.recovery_codes_left(user) == 0:
                _store_fresh_codes(request, policy.generate_recovery_codes(user, request))
                messages.success(request, _("Two-factor authentication is on."))
                url = reverse("accounts:mfa:recovery_codes")
                next_url = request.POST.get("next") or request.GET.get("next")
                if next_url and forced:
                    url += "?" + urlencode({"next": next_url})
                return redirect(url)
            messages.success(request, _("Authenticator app added."))
            return redirect("accounts:mfa:overview")
        status = _form_status(form)
        event = "mfa.verify.throttled" if form.throttled else "mfa.device.confirm_failed"
        record(event, user, request, device_type="totp")

    secret = b32encode(device.bin_key).decode()
    context = {
        "title": _("Set up an authenticator app"),
        "form": form,
        "forced": forced,
        "qr_svg": _qr_svg(device.config_url),
        "secret": secret,
        "secret_grouped": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "next": request.POST.get("next") or request.GET.get("next") or "",
        "breadcrumbs": _crumbs(_("Authenticator app")),
        # Forced enrolment offers a security key as well (webauthn.py).
        "key_form": webauthn.KeyNameForm(),
        **webauthn.page_context(request),
    }
    template = "accounts/mfa/enrol_forced.html" if forced else "accounts/mfa/enrol.html"
    return render(request, template, context, status=status)


# --- Recovery codes ---------------------------------------------------------------


def _store_fresh_codes(request, codes: list[str]) -> None:
    request.session[FRESH_CODES_SESSION_KEY] = {"codes": codes, "at": int(time.time())}


def _fresh_codes(request) -> list[str] | None:
    fresh = request.session.get(FRESH_CODES_SESSION_KEY)
    if not fresh:
        return None
    if time.time() - fresh.get("at", 0) > FRESH_CODES_SECONDS:
        del request.session[FRESH_CODES_SESSION_KEY]
        return None
    return fresh["codes"]


@login_required
@require_http_methods(["GET"])
def recovery_codes(request):
    """The codes just made, shown this once (until saved or 15 minutes)."""
    codes = _fresh_codes(request)
    if codes is None:
        return redirect("accounts:mfa:overview")
    context = {
        "title": _("Save your recovery codes"),
        "codes": codes,
        "next": request.GET.get("next", ""),
        "breadcrumbs": _crumbs(_("Recovery codes")),
    }
    return render(request, "accounts/mfa/recovery_codes.html", context)


@login_required
@require_http_methods(["GET"])
def recovery_codes_download(request):
    """The fresh codes as a .txt file, while they can still be shown."""
    codes = _fresh_codes(request)
    if codes is None:
        raise Http404(_("These recovery codes can no longer be shown. Make new ones."))
    lines = [
        _("Rustronaut Console recovery codes for %(user)s") % {"user": request.user.get_username()},
        _("Each code works once. Keep them somewhere safe."),
        "",
        *codes,
        "",
    ]
    response = HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rustronaut-recovery-codes.txt"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def recovery_codes_done(request):
    """The user saved the codes: they are not shown again."""
    request.session.pop(FRESH_CODES_SESSION_KEY, None)
    return redirect(_next_url(request, default="accounts:mfa:overview"))


@login_required
@require_POST
def recovery_codes_regenerate(request):
    """New recovery codes; the old ones stop working at once. Only for a user
    who has an authenticator or key (codes back up a device)."""
    if not policy.user_devices(request.user):
        messages.error(request, _("Set up an authenticator app first."))
        return redirect("accounts:mfa:overview")
    _store_fresh_codes(request, policy.generate_recovery_codes(request.user, request))
    return redirect("accounts:mfa:recovery_codes")


# --- Removing a device -------------------------------------------------------------


def _device_for(user, kind: str, pk: int):
    for device in policy.user_devices(user):
        if policy.device_type(device) == kind and device.pk == pk:
            return device
    raise Http404(_("No such device."))


@login_required
@require_http_methods(["GET", "POST"])
def remove_device(request, kind: str, pk: int):
    """Remove one of your devices, after a current code or your password."""
    user = request.user
    device = _device_for(user, kind, pk)
    form = RemoveDeviceForm(request.POST if request.method == "POST" else None, user=user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            policy.remove_device(user, device, request)
            messages.success(request, _("Removed %(device)s.") % {"device": device.name})
            return redirect("accounts:mfa:overview")
        status = _form_status(form)
        record("mfa.device.remove_refused", user, request, device_type=kind)
    last = len(policy.user_devices(user)) == 1
    context = {
        "title": _("Remove %(device)s?") % {"device": device.name},
        "device": device,
        "form": form,
        "last": last,
        "required": policy.mfa_required_for(user),
        "breadcrumbs": _crumbs(_("Remove device")),
    }
    return render(request, "accounts/mfa/remove_device.html", context, status=status)
