from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from console.querysets import RestrictedQuerySet


class User(AbstractUser):
    """A console user. Roles are groups (with a ``Role`` beside each); the
    user's own ``regions``, when set, cap whatever the roles grant."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    preferences = models.JSONField(
        _("preferences"),
        default=dict,
        blank=True,
        help_text=_("Per-user UI preferences, such as table page sizes."),
    )

    regions = models.ManyToManyField(
        "gateways.Region",
        blank=True,
        related_name="scoped_users",
        verbose_name=_("regions"),
        help_text=_(
            "Limit this user to these regions, whatever their roles grant. Empty: the roles decide."
        ),
    )
    mfa_required = models.BooleanField(
        _("MFA required"),
        default=False,
        help_text=_("Must set up a second factor at next sign-in, whatever the roles say."),
    )
    # API authentication (migration 0005_api_keys, docs/api.md): an account for
    # automation, made by an admin, that has no password and only API keys.
    is_service_account = models.BooleanField(
        _("service account"),
        default=False,
        help_text=_("Used by automation through API keys; cannot sign in to the console."),
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def get_absolute_url(self) -> str:
        return reverse("accounts:user_detail", kwargs={"uuid": self.uuid})

    def get_preference(self, key: str, default=None):
        return self.preferences.get(key, default)

    def set_preference(self, key: str, value) -> None:
        """Store one preference without touching the other columns."""
        if self.preferences.get(key) == value:
            return
        self.preferences[key] = value
        self.save(update_fields=["preferences"])


class Role(models.Model):
    """A role is a Django group plus what the console adds to it: a
    description, whether it is one of the four built-in roles (whose
    permissions come from ``accounts/roles.py`` and cannot be edited), the
    regions it is limited to, and whether its members must use MFA.

    Permissions stay on the group, so Django's permission checks, the LDAP and
    SSO group mapping and the admin all keep working as usual.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    group = models.OneToOneField(
        "auth.Group", on_delete=models.CASCADE, related_name="role", verbose_name=_("group")
    )
    description = models.TextField(_("description"), blank=True)
    built_in = models.BooleanField(
        _("built in"),
        default=False,
        help_text=_("Built-in roles keep the permissions documented in docs/roles.md."),
    )
    regions = models.ManyToManyField(
        "gateways.Region",
        blank=True,
        related_name="roles",
        verbose_name=_("regions"),
        help_text=_("Limit what this role grants to these regions. Empty: all regions."),
    )
    mfa_required = models.BooleanField(
        _("MFA required"),
        default=False,
        help_text=_("Members must set up a second factor before they can use the console."),
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["group__name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return self.group.name

    def get_absolute_url(self) -> str:
        return reverse("accounts:role_detail", kwargs={"uuid": self.uuid})

    @property
    def name(self) -> str:
        return self.group.name
