from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A console user. Roles are groups; region scopes, MFA and directory
    links attach to this model in their own issues."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    preferences = models.JSONField(
        _("preferences"),
        default=dict,
        blank=True,
        help_text=_("Per-user UI preferences, such as table page sizes."),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def get_preference(self, key: str, default=None):
        return self.preferences.get(key, default)

    def set_preference(self, key: str, value) -> None:
        """Store one preference without touching the other columns."""
        if self.preferences.get(key) == value:
            return
        self.preferences[key] = value
        self.save(update_fields=["preferences"])
