"""Enrolment tokens and gateway credentials.

Both are 256-bit random secrets shown once and stored as SHA-256 digests (a
slow password hash buys nothing for random secrets and would cost every agent
call). Prefixes make leaked secrets recognisable: ``rce_`` for enrolment
tokens, ``rcg_`` for gateway credentials.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from gateways.models import EnrollmentToken, Gateway

TOKEN_PREFIX = "rce_"
CREDENTIAL_PREFIX = "rcg_"

# Sent after enrolment tokens of a gateway are revoked in bulk (gateway, count).
enrolment_tokens_revoked = Signal()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(gateway: Gateway, *, user=None, ttl: int | None = None) -> str:
    """A new one-time enrolment token for ``gateway``; only its digest is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    lifetime = ttl if ttl is not None else settings.AGENT_ENROLLMENT_TOKEN_TTL
    EnrollmentToken.objects.create(
        gateway=gateway,
        token_hash=digest(token),
        created_by=user if user is not None and user.is_authenticated else None,
        expires=timezone.now() + timedelta(seconds=lifetime),
    )
    return token


def revoke_tokens(gateway: Gateway, *, token_id: int | None = None) -> int:
    """Revoke the unused tokens of ``gateway``, or only the one with ``token_id``."""
    tokens = EnrollmentToken.objects.filter(
        gateway=gateway, used__isnull=True, revoked__isnull=True
    )
    if token_id is not None:
        tokens = tokens.filter(pk=token_id)
    revoked = tokens.update(revoked=timezone.now())
    if revoked:
        # A bulk UPDATE sends no model signal: say what happened (the audit log listens).
        enrolment_tokens_revoked.send(sender=Gateway, gateway=gateway, count=revoked)
    return revoked


@dataclass
class Enrolment:
    gateway: Gateway
    credential: str


class EnrolmentRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def enrol(token: str, *, version: str, hostname: str = "") -> Enrolment:
    """Exchange a valid token for a new gateway credential, once.

    The token is claimed with a conditional UPDATE, so two agents racing with
    the same token cannot both enrol.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = EnrollmentToken.objects.filter(
            token_hash=digest(token), used__isnull=True, revoked__isnull=True, expires__gt=now
        ).update(used=now)
        if not claimed:
            raise EnrolmentRefused(401, "The enrolment token is unknown, used, revoked or expired.")
        gateway = (
            EnrollmentToken.objects.select_related("gateway").get(token_hash=digest(token)).gateway
        )
        if not gateway.enabled:
            raise EnrolmentRefused(403, "This gateway is disabled in the console.")
        credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
        gateway.credential_hash = digest(credential)
        gateway.credential_issued = now
        gateway.software_version = version[:50]
        gateway.hostname = hostname[:255]
        gateway.save(
            update_fields=[
                "credential_hash",
                "credential_issued",
                "software_version",
                "hostname",
                "updated",
            ]
        )
    return Enrolment(gateway=gateway, credential=credential)


def rotate_credential(gateway: Gateway, *, user=None) -> str:
    """Invalidate the current credential at once and return a fresh enrolment
    token with which the agent enrols again."""
    with transaction.atomic():
        gateway.credential_hash = None
        gateway.credential_issued = None
        gateway.save(update_fields=["credential_hash", "credential_issued", "updated"])
        revoke_tokens(gateway)
        return issue_token(gateway, user=user)
