"""Forms that check a code: each tells a wrong code from a throttled attempt
(``throttled`` is set, and the view answers 429 rather than 422)."""

from __future__ import annotations

import math
import re

from django import forms
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa.policy import normalise_code

TOTP_PATTERN = re.compile(r"^\d{6}$")


class Throttled(Exception):
    def __init__(self, seconds: int):
        self.seconds = seconds


def verify_on_device(device, token: str) -> bool:
    """Check ``token`` on ``device`` under a row lock, so two requests cannot
    both use one code (TOTP's ``last_t``, a recovery code's deletion) or
    slip past the throttle together. Raises ``Throttled`` while the device's
    throttle (django-otp's ``OTP_*_THROTTLE_FACTOR``) holds."""
    with transaction.atomic():
        locked = type(device).objects.select_for_update().get(pk=device.pk)
        allowed, info = locked.verify_is_allowed()
        if not allowed:
            locked_until = (info or {}).get("locked_until")
            wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
            raise Throttled(max(1, math.ceil(wait)))
        return locked.verify_token(token)


def throttled_message(seconds: int) -> str:
    return ngettext(
        "Too many attempts. Wait %(seconds)d second and try again.",
        "Too many attempts. Wait %(seconds)d seconds and try again.",
        seconds,
    ) % {"seconds": seconds}


def code_input(numeric: bool = True) -> forms.TextInput:
    attrs = {
        "autocomplete": "one-time-code",
        "autocapitalize": "off",
        "spellcheck": "false",
        "autofocus": True,
    }
    if numeric:
        attrs |= {"inputmode": "numeric", "pattern": r"[0-9 ]*", "maxlength": "7"}
    return forms.TextInput(attrs=attrs)


class CodeForm(forms.Form):
    """One code checked against some devices. Subclasses say which."""

    code = forms.CharField(label=_("Code"), max_length=32, strip=True, widget=code_input())

    invalid_message = _("That code is not right. Check it and try again.")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.throttled = False
        self.throttle_seconds = 0
        self.device = None

    def devices(self) -> list:
        raise NotImplementedError

    def normalise(self, value: str) -> str:
        return value

    def check_format(self, code: str) -> None:
        """Raise ValidationError for a code that cannot be right."""

    def clean_code(self):
        code = self.normalise(self.cleaned_data["code"])
        self.check_format(code)
        try:
            for device in self.devices():
                if verify_on_device(device, code):
                    self.device = device
                    return code
        except Throttled as exc:
            self.throttled = True
            self.throttle_seconds = exc.seconds
            raise forms.ValidationError(throttled_message(exc.seconds), code="throttled") from None
        raise forms.ValidationError(self.invalid_message, code="invalid")


class TOTPCodeForm(CodeForm):
    """A code from the user's authenticator app (any confirmed TOTP device)."""

    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=32,
        widget=code_input(),
        help_text=_("The 6-digit code your app shows for Rustronaut Console."),
    )

    def normalise(self, value: str) -> str:
        return "".join(value.split())

    def check_format(self, code: str) -> None:
        if not TOTP_PATTERN.match(code):
            raise forms.ValidationError(_("Enter the 6 digits your app shows."), code="format")

    def devices(self) -> list:
        return list(TOTPDevice.objects.devices_for_user(self.user, confirmed=True))


class RecoveryCodeForm(CodeForm):
    """One of the user's recovery codes; each works once."""

    code = forms.CharField(
        label=_("Recovery code"),
        max_length=32,
        widget=code_input(numeric=False),
        help_text=_("One of the codes you saved when you set up two-factor authentication."),
    )
    invalid_message = _("That recovery code is not right, or it was used already.")

    def normalise(self, value: str) -> str:
        return normalise_code(value)

    def check_format(self, code: str) -> None:
        if not re.fullmatch(r"[a-z2-7]{8,16}", code):
            raise forms.ValidationError(_("A recovery code looks like abcde-fghij."), code="format")

    def devices(self) -> list:
        return list(StaticDevice.objects.devices_for_user(self.user, confirmed=True))


class ConfirmTOTPForm(TOTPCodeForm):
    """The first code from a new (not yet confirmed) authenticator."""

    def __init__(self, *args, device, **kwargs):
        super().__init__(*args, **kwargs)
        self.new_device = device

    def devices(self) -> list:
        return [self.new_device]


class RemoveDeviceForm(forms.Form):
    """Removing a second factor asks for proof: a current code or the password."""

    code = forms.CharField(
        label=_("A current code or a recovery code"),
        max_length=32,
        required=False,
        widget=code_input(numeric=False),
    )
    password = forms.CharField(
        label=_("Or your password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.throttled = False
        self.fields["code"].widget.attrs.pop("autofocus", None)

    def clean(self):
        cleaned = super().clean()
        code = (cleaned.get("code") or "").strip()
        password = cleaned.get("password") or ""
        if not code and not password:
            raise forms.ValidationError(
                _("Enter a current code or your password."), code="required"
            )
        if code:
            form_class = TOTPCodeForm if TOTP_PATTERN.match("".join(code.split())) else None
            form = (form_class or RecoveryCodeForm)({"code": code}, user=self.user)
            if not form.is_valid():
                self.throttled = form.throttled
                self.add_error("code", form.errors["code"])
        elif not self.user.check_password(password):
            self.add_error("password", _("That password is not right."))
        return cleaned
