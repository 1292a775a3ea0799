"""Who must use a second factor, who has one, and what a signed-in user still
owes before they may use the console.

The users page, the API token endpoints and the websocket consumer call these;
nothing else decides it.
"""

from __future__ import annotations

import functools
import secrets

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef
from django_otp import DEVICE_ID_SESSION_KEY, device_classes, devices_for_user
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa.events import record

RECOVERY_CODE_COUNT = 10
RECOVERY_DEVICE_NAME = "Recovery codes"
# Ten characters of base32's alphabet (50 bits), shown as abcde-fghij.
RECOVERY_CODE_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"

# What a signed-in but unverified user must do next (``pending_step``).
VERIFY = "verify"
ENROL = "enrol"


def _cache(user) -> dict:
    # On the user object, so per request (like accounts.scope): a role or
    # device change applies at the next request.
    return user.__dict__.setdefault("_mfa_cache", {})


# Stands for the user's id in the compiled state query (no other parameter
# of that query is a negative number).
_USER_ID_MARK = -7_206_513


@functools.cache
def _state_query() -> tuple[str, tuple, tuple[str, ...]]:
    """The query of ``_load_state``, compiled once per process: only the user's
    id changes from one request to the next, and building four ``EXISTS``
    subqueries through the ORM cost more than running them."""
    from accounts.models import Role

    checks = {
        f"device_{index}": Exists(model.objects.filter(user=OuterRef("pk"), confirmed=True))
        for index, model in enumerate(device_classes())
    }
    checks["role_requires"] = Exists(
        Role.objects.filter(group__user=OuterRef("pk"), mfa_required=True)
    )
    queryset = (
        get_user_model()
        .objects.filter(pk=_USER_ID_MARK)
        .annotate(**checks)
        .values(*checks)
        .order_by()[:1]
    )
    sql, params = queryset.query.sql_with_params()
    if _USER_ID_MARK not in params:
        raise ImproperlyConfigured("The MFA state query does not take the user's id as a parameter")
    return sql, params, tuple(checks)


def _load_state(user) -> dict:
    """Both answers below in one query: the middleware asks on every request
    of a signed-in user, so this is the whole cost of MFA per request."""
    cache = _cache(user)
    if "has_device" not in cache:
        sql, params, names = _state_query()
        model = get_user_model()
        with connections[router.db_for_read(model)].cursor() as cursor:
            cursor.execute(sql, [user.pk if p == _USER_ID_MARK else p for p in params])
            values = cursor.fetchone()
        row = dict(zip(names, values, strict=True)) if values else {}
        cache["has_device"] = any(v for k, v in row.items() if k.startswith("device_"))
        cache["required"] = bool(user.mfa_required) or bool(row.get("role_requires"))
    return cache


def mfa_required_for(user) -> bool:
    """Whether ``user`` must use a second factor: set on the user by an admin
    (``User.mfa_required``) or by any of their roles (``Role.mfa_required``;
    the built-in Admin role by default)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return _load_state(user)["required"]


def user_has_confirmed_device(user) -> bool:
    """Whether ``user`` has a second factor set up (an authenticator app, a
    security key, or recovery codes left over)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return _load_state(user)["has_device"]


def is_verified(user) -> bool:
    """Whether this request's user passed a second factor (OTPMiddleware)."""
    verified = getattr(user, "is_verified", None)
    return bool(verified and verified())


def pending_step(user) -> str | None:
    """What a signed-in user still owes before reaching the console: ``VERIFY``
    (has a device, has not used it in this session), ``ENROL`` (must use MFA,
    has no device yet) or None (may go on). ``user`` has been through
    OTPMiddleware."""
    if not getattr(user, "is_authenticated", False) or is_verified(user):
        return None
    if user_has_confirmed_device(user):
        return VERIFY
    if mfa_required_for(user):
        return ENROL
    return None


def _session_verified(user, session) -> bool:
    """OTPMiddleware's check, for places without it (websockets)."""
    persistent_id = session.get(DEVICE_ID_SESSION_KEY) if session is not None else None
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return device is not None and device.user_id == user.pk and device.confirmed


def second_factor_pending_for_session(user, session) -> bool:
    """Whether a user signed in with this session still owes a second factor."""
    if not getattr(user, "is_authenticated", False):
        return False
    if _session_verified(user, session):
        return False
    return user_has_confirmed_device(user) or mfa_required_for(user)


async def second_factor_pending(scope) -> bool:
    """For websocket consumers: True when the connection's user passed the
    password but not the second factor they owe (refuse it, close code 4401)."""
    return await database_sync_to_async(second_factor_pending_for_session)(
        scope.get("user"), scope.get("session")
    )


# --- Devices ----------------------------------------------------------------


def user_devices(user) -> list:
    """The user's confirmed devices other than recovery codes, oldest first."""
    return [
        device
        for device in devices_for_user(user, confirmed=True)
        if not isinstance(device, StaticDevice)
    ]


def recovery_device(user) -> StaticDevice | None:
    return StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).first()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def format_recovery_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalise_code(value: str) -> str:
    """What people type (spaces, dashes, capitals) to what is stored."""
    return "".join(value.split()).replace("-", "").lower()


def generate_recovery_codes(user, request=None) -> list[str]:
    """New recovery codes for ``user``; the old ones stop working. Returns
    them formatted for display: this is the only time they are shown."""
    codes = [
        "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(10))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        device, _ = StaticDevice.objects.select_for_update().get_or_create(
            user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        StaticToken.objects.bulk_create(StaticToken(device=device, token=c) for c in codes)
        if not device.confirmed:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
    _cache(user).clear()
    record("mfa.recovery_codes.generated", user, request, device_type="static")
    return [format_recovery_code(code) for code in codes]


def device_type(device) -> str:
    if isinstance(device, TOTPDevice):
        return "totp"
    if isinstance(device, StaticDevice):
        return "static"
    return "webauthn"


def remove_device(user, device, request=None) -> None:
    """Remove one of ``user``'s devices. When no authenticator or key is left,
    the recovery codes go too: they back up a device, they are not one."""
    with transaction.atomic():
        device.delete()
        if not user_devices(user):
            StaticDevice.objects.filter(user=user).delete()
    _cache(user).clear()
    record("mfa.device.removed", user, request, device_type=device_type(device))


def reset_mfa(user, actor=None, request=None) -> None:
    """Delete every second-factor device of ``user`` (admins: "Reset MFA").

    Their next sign-in asks them to set one up again if MFA is required for
    them; sessions already verified with a removed device fall back to
    unverified at their next request."""
    with transaction.atomic():
        for model in device_classes():
            model.objects.filter(user=user).delete()
    _cache(user).clear()
    record("mfa.reset", user, request, actor=actor)


def verify_code(user, code: str) -> bool:
    """Check a second-factor code typed outside the verify page (the JWT
    token endpoint): 6 digits are tried on the user's authenticator apps,
    anything else as a recovery code (used up if right). Throttled like the
    page: raises ``accounts.mfa.forms.Throttled`` (``.seconds`` to wait)."""
    from accounts.mfa.forms import TOTP_PATTERN, RecoveryCodeForm, Throttled, TOTPCodeForm

    compact = "".join((code or "").split())
    form_class = TOTPCodeForm if TOTP_PATTERN.match(compact) else RecoveryCodeForm
    form = form_class({"code": compact}, user=user)
    if form.is_valid():
        return True
    if form.throttled:
        raise Throttled(form.throttle_seconds)
    return False
