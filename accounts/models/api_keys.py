"""API keys: long-lived credentials for automation, scoped and revocable.

A key is ``rck_`` followed by 43 random URL-safe characters. Only its SHA-256
digest is stored (the key has 256 bits of entropy, so a fast hash is enough
and lets each request find its key with one indexed lookup); the first 12
characters are kept as the visible prefix that lists show.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

API_KEY_PREFIX = "rck_"
VISIBLE_PREFIX_LENGTH = 12  # "rck_" and 8 random characters

READ = "read"
WRITE = "write"
# The domains a key's scopes name, and the apps whose permissions each covers.
SCOPE_DOMAINS = {
    "gateways": ("gateways",),
    "tunnels": ("tunnels",),
    "policies": ("policies",),
    "security": ("security",),
    "alerts": ("alerts",),
    "audit": ("audit",),
    # Roles are groups: managing them is the accounts domain too.
    "accounts": ("accounts", "auth"),
}
DOMAIN_LABELS = {
    "gateways": _("Gateways and regions"),
    "tunnels": _("Tunnels"),
    "policies": _("Policies"),
    "security": _("Security events"),
    "alerts": _("Alerts"),
    "audit": _("Audit log"),
    "accounts": _("Users, roles and API keys"),
}
APP_DOMAIN = {app: domain for domain, apps in SCOPE_DOMAINS.items() for app in apps}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def normalise_scopes(scopes: dict) -> dict[str, str]:
    """Only known domains with "read" or "write"; anything else is dropped
    (forms and serializers validate before it gets here)."""
    return {
        domain: level
        for domain, level in scopes.items()
        if domain in SCOPE_DOMAINS and level in (READ, WRITE)
    }


class ApiKeyQuerySet(models.QuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked__isnull=True).filter(
            models.Q(expires__isnull=True) | models.Q(expires__gt=now)
        )


class ApiKey(models.Model):
    """A credential for the REST API, sent as ``Authorization: Bearer rck_…``.

    It acts as its owner, limited to its ``scopes``: a permission is used only
    when the owner holds it *and* the scope of its domain allows the action
    (``read`` for view, ``write`` for anything else). Region scope is the
    owner's, through ``restrict()``. A key of an inactive owner does nothing.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=VISIBLE_PREFIX_LENGTH, editable=False)
    # Looked up by the authentication class on every request: digest(key).
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    scopes = models.JSONField(
        _("scopes"),
        default=dict,
        blank=True,
        help_text=_('Per domain "read" or "write"; a domain left out is refused.'),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    # Written at most once a minute per key (see ApiKeyAuthentication).
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)
    revoked = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        # Own keys need no permission and service accounts' keys are managed
        # with the user permissions: no permissions of its own, so the roles
        # table (docs/roles.md) is unchanged.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, owner, name: str, scopes: dict, expires=None, created_by=None):
        """A new key. Returns (api_key, key): the key exists only in this
        answer, the database keeps its digest."""
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        api_key = cls.objects.create(
            owner=owner,
            name=name,
            prefix=key[:VISIBLE_PREFIX_LENGTH],
            key_hash=digest(key),
            scopes=normalise_scopes(scopes),
            expires=expires,
            created_by=created_by or owner,
        )
        return api_key, key

    @classmethod
    def find(cls, key: str):
        """The usable key for ``key`` (with its owner), or None."""
        if not key.startswith(API_KEY_PREFIX):
            return None
        return cls.objects.usable().select_related("owner").filter(key_hash=digest(key)).first()

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    @property
    def status(self) -> str:
        if self.revoked:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "active"

    def allows(self, app_label: str, action: str) -> bool:
        """Whether the scopes allow ``action`` (view, add, change, …) on a
        permission of ``app_label``; apps outside the domains are refused."""
        domain = APP_DOMAIN.get(app_label)
        if domain is None:
            return False
        level = self.scopes.get(domain)
        if action == "view":
            return level in (READ, WRITE)
        return level == WRITE

    def revoke(self) -> None:
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])

    def touch(self, ip: str | None, every: timedelta = timedelta(minutes=1)) -> None:
        """Record a use, at most once per ``every``: one conditional UPDATE
        that matches nothing while the stored time is recent."""
        now = timezone.now()
        if self.last_used and now - self.last_used < every:
            return
        updated = (
            ApiKey.objects.filter(pk=self.pk)
            .filter(models.Q(last_used__isnull=True) | models.Q(last_used__lt=now - every))
            .update(last_used=now, last_used_ip=ip)
        )
        if updated:
            self.last_used, self.last_used_ip = now, ip
