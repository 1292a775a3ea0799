"""MFA events for the audit log.

There is no audit app yet: every event is sent as the ``mfa_event`` signal
(the audit app connects to it) and written as one structured log line on the
``accounts.mfa`` logger. Neither ever carries a code, a secret or a recovery
code: only what happened, to whom, with which kind of device.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger("accounts.mfa")

# Sent with: event (str, one of EVENTS), user, request (or None), device_type
# (str or None, "totp", "static", "webauthn") and reason (str or None).
mfa_event = Signal()

EVENTS = {
    "mfa.verify.succeeded",
    "mfa.verify.failed",
    "mfa.verify.throttled",
    "mfa.device.confirmed",
    "mfa.device.confirm_failed",
    "mfa.device.removed",
    "mfa.device.remove_refused",
    "mfa.recovery_codes.generated",
    "mfa.reset",
}


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def record(
    event: str,
    user,
    request=None,
    *,
    device_type: str | None = None,
    reason: str | None = None,
    actor=None,
) -> None:
    """Tell the audit log (signal) and the log file (one line) about ``event``."""
    assert event in EVENTS, event
    logger.info(
        event,
        extra={
            "event": event,
            "user_id": getattr(user, "pk", None),
            "username": user.get_username() if user is not None else None,
            "actor_id": getattr(actor, "pk", None),
            "device_type": device_type,
            "reason": reason,
            "ip": client_ip(request),
            "path": getattr(request, "path", None),
        },
    )
    mfa_event.send(
        sender=record,
        event=event,
        user=user,
        request=request,
        device_type=device_type,
        reason=reason,
        actor=actor,
    )
