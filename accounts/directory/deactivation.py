"""Deactivating a directory user (SCIM, the LDAP sync): they are signed out
everywhere, their JWT refresh tokens and API keys are revoked, and they keep
their history."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone


def deactivate(user, reason: str = "directory") -> None:
    from accounts.api_auth.tokens import revoke_user_tokens
    from accounts.models import ApiKey
    from security.sessions import end_all_sessions

    with transaction.atomic():
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        ApiKey.objects.filter(owner=user, revoked__isnull=True).update(revoked=timezone.now())
        revoke_user_tokens(user)
        end_all_sessions(user)
