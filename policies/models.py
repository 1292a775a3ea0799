"""Access policies: the draft (Policy, Rule, PolicyCategory rows that people
edit) and the published revisions (immutable snapshots of the whole set).

References to regions, gateways and user groups are stored as ids with the
name they had (JSON ``[{"id": ..., "name": ...}]``), not as foreign keys:
deleting a region must not silently drop or widen a rule, and must not be
blocked by a draft either. Validation before publishing reports a reference
whose object is gone, naming it by its last known name (docs/decisions.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager

from console.choices import UNKNOWN_STYLE, StatusStyle
from console.querysets import RestrictedQuerySet
from policies.choices import RULE_ACTION_STYLE, RuleAction, RuleProtocol

# The "Containment" policy (security.containment): one reserved id, so that
# evaluation puts it before every other policy whatever its name and
# priority, and pages and the API know it is not edited by hand.
CONTAINMENT_POLICY_UUID = uuid.UUID("00000000-0000-4000-8000-00000000c0de")
CONTAINMENT_POLICY_ID = str(CONTAINMENT_POLICY_UUID)


class PolicyCategory(models.Model):
    """A heading admins group policies under (baseline, compliance, …)."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("policy category")
        verbose_name_plural = _("policy categories")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("policies:policycategory_list")

    def get_edit_url(self) -> str:
        return reverse("policies:policycategory_edit", kwargs={"uuid": self.uuid})


class Policy(models.Model):
    """An ordered list of rules. Policies are evaluated by ``priority``
    (lowest first, then name), rules by ``position``; first match wins and
    nothing matching is a deny.

    These rows are the *draft*: gateways get what was last published
    (``PolicyRevision``). Policies are fleet-wide, not region-scoped.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        PolicyCategory,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="policies",
        verbose_name=_("category"),
    )
    tags = TaggableManager(_("tags"), blank=True)
    enabled = models.BooleanField(
        _("enabled"),
        default=True,
        help_text=_("A disabled policy stays in the draft and the revisions but is not enforced."),
    )
    priority = models.PositiveIntegerField(
        _("priority"),
        default=100,
        help_text=_("Lower runs first. Policies of equal priority run in name order."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        permissions = [
            ("publish_policy", _("Can publish policies and roll back to a revision")),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("policies:policy_detail", kwargs={"uuid": self.uuid})

    @property
    def is_containment(self) -> bool:
        """The Containment policy: changed only by containment actions
        (published at once), never deleted or edited by hand."""
        return self.uuid == CONTAINMENT_POLICY_UUID


def reference_list_validator(value) -> None:
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and "id" in item and isinstance(item.get("name", ""), str)
        for item in value
    ):
        raise ValidationError(_('A list of {"id": …, "name": …} objects.'), code="invalid")


def string_list_validator(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("A list of strings."), code="invalid")


class Rule(models.Model):
    """One line of a policy: what it matches and whether it allows or denies.

    No model permissions of its own: whoever may change a policy may change
    its rules (``default_permissions = ()``).
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="rules", verbose_name=_("policy")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    action = models.CharField(
        _("action"), max_length=10, choices=RuleAction.choices, default=RuleAction.ALLOW
    )
    src_regions = models.JSONField(
        _("source regions"), default=list, blank=True, validators=[reference_list_validator]
    )
    src_gateways = models.JSONField(
        _("source gateways"), default=list, blank=True, validators=[reference_list_validator]
    )
    src_groups = models.JSONField(
        _("source user groups"), default=list, blank=True, validators=[reference_list_validator]
    )
    src_cidrs = models.JSONField(
        _("source CIDRs"), default=list, blank=True, validators=[string_list_validator]
    )
    dst_cidrs = models.JSONField(
        _("destination CIDRs"), default=list, blank=True, validators=[string_list_validator]
    )
    dst_hosts = models.JSONField(
        _("destination host names"), default=list, blank=True, validators=[string_list_validator]
    )
    dst_services = models.JSONField(
        _("destination services"), default=list, blank=True, validators=[string_list_validator]
    )
    protocol = models.CharField(
        _("protocol"), max_length=10, choices=RuleProtocol.choices, default=RuleProtocol.ANY
    )
    ports = models.CharField(
        _("ports"),
        max_length=500,
        blank=True,
        help_text=_("Single ports, lists and ranges: 22, 80, 443, 8000-8099. Empty: any port."),
    )
    schedule_days = models.JSONField(_("schedule days"), default=list, blank=True)
    schedule_start = models.TimeField(_("active from"), null=True, blank=True)
    schedule_end = models.TimeField(_("active until"), null=True, blank=True)
    schedule_timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    expires = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("After this moment the rule no longer matches."),
    )
    comment = models.TextField(_("comment"), blank=True)
    # Only at gateways of these regions (empty: everywhere). Set by
    # containment (a block in one region); the rule form does not offer it.
    enforced_regions = models.JSONField(
        _("enforced in regions"),
        default=list,
        blank=True,
        validators=[reference_list_validator],
        help_text=_("Only at the gateways of these regions. Empty: at every gateway."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["policy", "position", "pk"]
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        default_permissions = ()
        indexes = [models.Index(fields=["policy", "position"], name="policy_rule_order_idx")]

    def __str__(self) -> str:
        return _("Rule %(n)d of %(policy)s") % {"n": self.position, "policy": self.policy}

    def get_absolute_url(self) -> str:
        return f"{self.policy.get_absolute_url()}#rule-{self.uuid}"

    @property
    def action_style(self) -> StatusStyle:
        return RULE_ACTION_STYLE.get(self.action, UNKNOWN_STYLE)

    @property
    def has_schedule(self) -> bool:
        return bool(self.schedule_days or self.schedule_start or self.schedule_end)


class PolicyRevision(models.Model):
    """A published, immutable snapshot of the whole policy set.

    ``snapshot`` is the export format (policies.snapshot); ``config_version``
    is the fleet configuration version publishing it produced: a gateway whose
    heartbeat reports that version or newer has applied it. The latest
    revision is what gateways receive. No model permissions of its own:
    reading revisions goes with ``view_policy``, making one with
    ``publish_policy``.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    number = models.PositiveIntegerField(_("number"), unique=True)
    snapshot = models.JSONField(_("snapshot"))
    message = models.TextField(_("message"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    author_name = models.CharField(_("author name"), max_length=150, blank=True)
    created = models.DateTimeField(_("published"), auto_now_add=True)
    config_version = models.PositiveIntegerField(_("config version"))
    rolled_back_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rollback of"),
    )
    warnings_confirmed = models.PositiveIntegerField(_("warnings confirmed"), default=0)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("policy revision")
        verbose_name_plural = _("policy revisions")
        default_permissions = ()

    def __str__(self) -> str:
        return _("Revision %(n)d") % {"n": self.number}

    def get_absolute_url(self) -> str:
        return reverse("policies:revision_detail", kwargs={"uuid": self.uuid})

    @property
    def rule_count(self) -> int:
        return sum(len(p.get("rules", ())) for p in self.snapshot.get("policies", ()))

    @classmethod
    def current(cls) -> PolicyRevision | None:
        return cls.objects.order_by("-number").first()
