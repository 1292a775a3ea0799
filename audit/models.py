"""The audit log: append-only, hash-chained records of every action.

A record is written in the transaction of the change it describes (so a
rolled-back change leaves no record) and *sealed* into the hash chain right
after that transaction commits (audit/chain.py): sealing gives it its
position ``seq``, the previous record's hash and its own hash. Sealing takes
the lock on the one ``AuditChainHead`` row in a short transaction of its own,
never while the change's transaction holds row locks (docs/decisions.md).

PostgreSQL refuses UPDATE and DELETE of records with a trigger (migration
0002), except the one-time sealing of an unsealed record and deletion by the
archiver (``audit.allow_delete`` set locally in its transaction).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from audit.choices import (
    ACTOR_ICON,
    OUTCOME_STYLE,
    RUN_STATUS_STYLE,
    ActorType,
    Outcome,
    ReportFrequency,
    ReportKind,
    ReportPeriod,
    RunStatus,
    Source,
)
from console.choices import UNKNOWN_STYLE
from console.querysets import RestrictedQuerySet

GENESIS_HASH = "0" * 64


class AuditRecordQuerySet(models.QuerySet):
    def for_object(self, obj):
        from audit.registry import describe

        object_type, object_id, _name = describe(obj)
        return self.filter(object_type=object_type, object_id=object_id)

    def by_user(self, user):
        return self.filter(actor_user_id=user.pk)


class AuditRecord(models.Model):
    """One action: who (with their name at the time), what, on which object,
    the fields before and after (secrets masked), from where, and how it ended."""

    time = models.DateTimeField(_("time"), db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=16, choices=ActorType.choices)
    # The actor's public id: a user's, key's or gateway's uuid, a task's name.
    actor_id = models.CharField(_("actor id"), max_length=255, blank=True)
    actor_name = models.CharField(_("actor"), max_length=255, blank=True)
    # The signed-in user behind the actor (a key's owner), for "recent actions"
    # and the actor filter. No database constraint: a user may be deleted,
    # their records stay (deleting must never touch an audit row).
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_name = models.CharField(_("object"), max_length=255, blank=True)
    # {field: [before, after]}; many-to-many: {field: {"added": [...], "removed": [...]}}.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    ip = models.CharField(_("source IP"), max_length=45, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS
    )
    # Set once, by sealing (audit/chain.py).
    seq = models.BigIntegerField(_("chain position"), null=True, blank=True, unique=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    hash = models.CharField(_("hash"), max_length=64, blank=True)

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("audit record")
        verbose_name_plural = _("audit records")
        # Append-only: no add/change/delete permission exists to grant.
        default_permissions = ("view",)
        permissions = [("export_auditrecord", _("Can export audit records"))]
        indexes = [
            # An object's "History" section: its newest records.
            models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_history"),
            # "Recent actions" of a user, and the actor filter.
            models.Index(fields=["actor_user", "-id"], name="audit_actor_user"),
            # The sealer's "what is not in the chain yet", oldest first.
            models.Index(fields=["id"], condition=Q(seq__isnull=True), name="audit_unsealed"),
        ]

    def __str__(self) -> str:
        target = f" {self.object_name}" if self.object_name else ""
        return f"#{self.pk} {self.action}{target} by {self.actor_name or '—'}"

    def get_absolute_url(self) -> str:
        return reverse("audit:record_detail", kwargs={"pk": self.pk})

    @property
    def outcome_style(self):
        return OUTCOME_STYLE[self.outcome]

    @property
    def actor_icon(self) -> str:
        return ACTOR_ICON.get(self.actor_type, "user")

    @property
    def sealed(self) -> bool:
        return self.seq is not None


class AuditChainHead(models.Model):
    """The last sealed record's position and hash: the one row sealing locks,
    and what tells a truncated chain's tail apart from an intact one."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"chain head #{self.seq} {self.hash[:12]}…"


class AuditArchive(models.Model):
    """The manifest of one archive file: records moved out of the live table
    (compressed JSON Lines), with what is needed to check the file and to
    continue verifying the live chain after it."""

    created = models.DateTimeField(_("created"), auto_now_add=True)
    file_name = models.CharField(_("file"), max_length=255)
    location = models.CharField(_("stored at"), max_length=500, blank=True)
    # s3://bucket/key of the uploaded copy, when AUDIT_ARCHIVE_S3_BUCKET is set.
    remote = models.CharField(_("uploaded to"), max_length=500, blank=True)
    count = models.PositiveIntegerField(_("records"))
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    first_time = models.DateTimeField()
    last_time = models.DateTimeField()
    # The hash before the first record (its prev_hash) and of the last one.
    first_prev_hash = models.CharField(max_length=64)
    last_hash = models.CharField(max_length=64)
    sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)

    class Meta:
        ordering = ["-last_seq"]
        default_permissions = ()
        verbose_name = _("audit archive")

    def __str__(self) -> str:
        return self.file_name

    def manifest(self) -> dict:
        return {
            "file": self.file_name,
            "count": self.count,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "first_time": self.first_time.isoformat(),
            "last_time": self.last_time.isoformat(),
            "first_prev_hash": self.first_prev_hash,
            "last_hash": self.last_hash,
            "sha256": self.sha256,
        }


class ReportSchedule(models.Model):
    """A compliance report emailed to a list of people: the CSV attached, the
    report itself as the HTML body. A beat task sends each schedule once per
    period (audit/report_schedules.py)."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    report = models.CharField(_("report"), max_length=32, choices=ReportKind.choices)
    period = models.CharField(
        _("period"),
        max_length=16,
        choices=ReportPeriod.choices,
        default=ReportPeriod.PREVIOUS_WEEK,
        help_text=_("What each email covers, counted back from the day it is sent (UTC)."),
    )
    frequency = models.CharField(
        _("frequency"),
        max_length=16,
        choices=ReportFrequency.choices,
        default=ReportFrequency.WEEKLY,
        help_text=_("Sent at 06:00 UTC."),
    )
    recipients = models.JSONField(_("recipients"), default=list)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    # Run bookkeeping, written with UPDATE (no audit record per run: each run
    # records an "audit.report" event of its own).
    next_run = models.DateTimeField(_("next run"), null=True, blank=True)
    last_run = models.DateTimeField(_("last run"), null=True, blank=True)
    # The end of the last period sent by the schedule: a period is sent once.
    last_period_end = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(
        _("last result"), max_length=8, choices=RunStatus.choices, blank=True
    )
    last_result = models.CharField(_("last result"), max_length=500, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("report schedule")
        verbose_name_plural = _("report schedules")
        indexes = [
            # The beat task's "what is due": enabled schedules by next run.
            models.Index(fields=["next_run"], condition=Q(enabled=True), name="audit_schedule_due"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        # Schedules are listed on the Reports page; this one's row.
        return reverse("audit:reports") + f"#schedule-{self.uuid}"

    @property
    def last_status_style(self):
        return RUN_STATUS_STYLE.get(self.last_status, UNKNOWN_STYLE)
