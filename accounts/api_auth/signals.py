"""Refresh tokens are revoked when their user signs out of the console and
when the user is deactivated (any save that leaves ``is_active`` False)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.api_auth.tokens import revoke_user_tokens


@receiver(user_logged_out, dispatch_uid="api_auth.revoke_tokens_at_logout")
def revoke_tokens_at_logout(sender, request, user, **kwargs):
    if user is not None:
        revoke_user_tokens(user)


@receiver(post_save, sender=get_user_model(), dispatch_uid="api_auth.revoke_tokens_of_inactive")
def revoke_tokens_of_inactive_user(sender, instance, created, update_fields=None, **kwargs):
    # A save that does not write is_active (last_login, preferences) cannot
    # have deactivated anyone: skip the query.
    if created or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    revoke_user_tokens(instance)
