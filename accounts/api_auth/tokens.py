"""JWT revocation, in one place.

Refresh tokens are revoked by blacklisting them (token_blacklist). Access
tokens are short-lived and not stored; a revocation also records "nothing
signed in before now" for the user in the cache, kept for one access-token
lifetime, which ``JWTAuthentication`` checks against the token's
``auth_time`` (when its chain of refresh tokens began; refreshing keeps it,
which is right: a chain begun before a revocation is blacklisted anyway).
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.dispatch import Signal
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

# Sent with ``user`` and ``count`` after revoke_user_tokens (for the audit
# log: the blacklist rows are bulk-created, which sends no model signal).
tokens_revoked = Signal()


def _not_before_key(user_pk) -> str:
    return f"jwt-not-before:{user_pk}"


def revoke_user_tokens(user) -> int:
    """Revoke every JWT of ``user``: blacklist their live refresh tokens and
    refuse access tokens issued before now. Returns how many refresh tokens
    were blacklisted."""
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )
    lifetime = int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds())
    cache.set(_not_before_key(user.pk), time.time(), timeout=lifetime + 1)
    tokens_revoked.send(sender=revoke_user_tokens, user=user, count=len(created))
    return len(created)


def revoked_before(user_pk) -> float | None:
    """Access tokens of this user issued before this time are refused."""
    return cache.get(_not_before_key(user_pk))
