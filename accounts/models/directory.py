"""Enterprise directory (docs/directory.md): which directory groups give which
role and regions, who came from a directory, SCIM groups and tokens, and the
roles that may only sign in through single sign-on.

One mapping table serves every source: LDAP groups, OpenID Connect claims,
SAML attributes and SCIM groups all arrive as a list of group names (or DNs)
that ``accounts.directory.mapping`` turns into roles and regions at every
sign-in or provisioning call.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.querysets import RestrictedQuerySet


class DirectorySource(models.TextChoices):
    LDAP = "ldap", _("LDAP / Active Directory")
    OIDC = "oidc", _("OpenID Connect")
    SAML = "saml", _("SAML 2.0")
    SCIM = "scim", _("SCIM provisioning")


class GroupMapping(models.Model):
    """A directory group that gives a role, and optionally limits the user to
    regions.

    ``group`` is matched without regard to case against what the source says:
    an LDAP group's DN or its name (cn), an OIDC groups/roles claim value, a
    SAML attribute value, or a SCIM group's display name. An empty ``source``
    matches every source.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(
        _("source"),
        max_length=8,
        choices=DirectorySource.choices,
        blank=True,
        help_text=_("Where the group comes from. Empty: any directory or SSO provider."),
    )
    group = models.CharField(
        _("directory group"),
        max_length=500,
        help_text=_(
            "A group name, an LDAP group DN (cn=ops,ou=groups,dc=example,dc=com), or the "
            "value of the groups claim or attribute. Not case-sensitive."
        ),
    )
    role = models.ForeignKey(
        "accounts.Role",
        on_delete=models.CASCADE,
        related_name="group_mappings",
        verbose_name=_("role"),
    )
    regions = models.ManyToManyField(
        "gateways.Region",
        blank=True,
        related_name="group_mappings",
        verbose_name=_("regions"),
        help_text=_(
            "Limit members of this group to these regions. Empty: as the role allows. "
            "A user in several mapped groups gets the regions of all of them."
        ),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["group", "source"]
        verbose_name = _("group mapping")
        verbose_name_plural = _("group mappings")
        constraints = [
            models.UniqueConstraint(
                models.functions.Lower("group"),
                "source",
                "role",
                name="accounts_groupmapping_unique_group_source_role",
                violation_error_message=_("This group already gives this role."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.group} → {self.role}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:groupmapping_detail", kwargs={"uuid": self.uuid})


class DirectoryIdentity(models.Model):
    """Marks a user as managed by a directory: made by LDAP, SSO or SCIM,
    their roles and regions follow the group mappings. A local account
    (without one) is never taken over by a directory user of the same name.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="directory_identity",
        verbose_name=_("user"),
    )
    source = models.CharField(_("source"), max_length=8, choices=DirectorySource.choices)
    # LDAP: the user's DN; SCIM: the provider's externalId; SSO: provider:subject.
    external_id = models.CharField(_("external id"), max_length=500, blank=True)
    groups = models.JSONField(
        _("directory groups"), default=list, blank=True, help_text=_("As seen at the last sync.")
    )
    last_synced = models.DateTimeField(_("last synced"), null=True, blank=True)

    class Meta:
        verbose_name = _("directory identity")
        verbose_name_plural = _("directory identities")
        # Bookkeeping of users: managed with the user permissions.
        default_permissions = ()
        constraints = [
            # The SCIM lookup by externalId and the LDAP sync by DN.
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="accounts_directoryidentity_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_source_display()})"


class DirectoryGroup(models.Model):
    """A group pushed by a SCIM client (Okta, Entra ID). Its display name is
    matched against the group mappings like any directory group."""

    uuid = models.UUIDField(_("SCIM id"), default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(_("display name"), max_length=255, unique=True)
    external_id = models.CharField(_("external id"), max_length=255, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="directory_groups"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    modified = models.DateTimeField(_("modified"), auto_now=True)

    class Meta:
        ordering = ["display_name"]
        verbose_name = _("directory group")
        verbose_name_plural = _("directory groups")
        default_permissions = ()

    def __str__(self) -> str:
        return self.display_name


SCIM_TOKEN_PREFIX = "rcs_"


def scim_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ScimToken(models.Model):
    """The bearer token of a SCIM client. Its own kind (``rcs_…``), not an
    API key: it may only provision users and groups, and only its SHA-256
    digest is stored (256 random bits, so a fast hash is enough)."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    # Looked up on every SCIM request.
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("SCIM token")
        verbose_name_plural = _("SCIM tokens")
        # Managed on the Directory page with the group mapping permissions.
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, name: str, created_by=None):
        token = SCIM_TOKEN_PREFIX + secrets.token_urlsafe(32)
        scim_token = cls.objects.create(
            name=name, prefix=token[:12], token_hash=scim_digest(token), created_by=created_by
        )
        return scim_token, token

    @classmethod
    def find(cls, token: str):
        if not token.startswith(SCIM_TOKEN_PREFIX):
            return None
        return cls.objects.filter(revoked__isnull=True, token_hash=scim_digest(token)).first()

    def revoke(self) -> None:
        if self.revoked is None:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])


class RoleSignInPolicy(models.Model):
    """Per role: whether its members may only sign in through single sign-on
    (OpenID Connect or SAML), never with a password (local or LDAP)."""

    role = models.OneToOneField(
        "accounts.Role", on_delete=models.CASCADE, related_name="sign_in_policy"
    )
    sso_only = models.BooleanField(_("SSO only"), default=False)

    class Meta:
        verbose_name = _("role sign-in policy")
        verbose_name_plural = _("role sign-in policies")
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.role}: {'SSO only' if self.sso_only else 'any'}"
