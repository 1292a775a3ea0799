from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.choices import UNKNOWN_STYLE, StatusStyle
from console.querysets import RestrictedQuerySet
from security.choices import (
    ACTIVE_INCIDENT_STATUSES,
    ACTIVITY_STYLE,
    ALLOWLIST_SCOPE_STYLE,
    CONTAINMENT_KIND_STYLE,
    CONTAINMENT_STATE_STYLE,
    INCIDENT_STATUS_STYLE,
    RULE_KIND_STYLE,
    SEVERITY_STYLE,
    ActivityKind,
    AllowlistScope,
    Category,
    ContainmentKind,
    ContainmentState,
    IncidentStatus,
    RuleKind,
    Severity,
)


class SecurityEvent(models.Model):
    """A security event reported by a gateway agent.

    ``uuid`` is made by the agent: a retried batch carries the same ids and is
    stored once. The table grows to millions of rows; its indexes serve the
    events list (time range plus one of severity, category, gateway, source).
    """

    uuid = models.UUIDField(_("event id"), unique=True, editable=False)
    gateway = models.ForeignKey(
        "gateways.Gateway", on_delete=models.CASCADE, related_name="security_events"
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    signature = models.CharField(_("signature"), max_length=255, blank=True)
    src_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    src_port = models.PositiveIntegerField(_("source port"), null=True, blank=True)
    dst_ip = models.GenericIPAddressField(_("destination IP"), null=True, blank=True)
    dst_port = models.PositiveIntegerField(_("destination port"), null=True, blank=True)
    protocol = models.CharField(_("protocol"), max_length=10, blank=True)
    message = models.TextField(_("message"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # Set by an operator who has looked at the event ("acknowledge" on its
    # page); cleared again by "unacknowledge". Incidents (a later step) are
    # acknowledged as a whole; an event keeps its own mark.
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    # The incident correlation linked the event to (security.correlation): set
    # once, never moved to another incident. Indexed with the time below.
    incident = models.ForeignKey(
        "security.Incident",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        db_index=False,
        related_name="events",
        verbose_name=_("incident"),
    )

    objects = RestrictedQuerySet.as_manager()
    scope_lookups = ("gateway__region",)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        indexes = [
            # Events list, newest first, optionally for one gateway / severity /
            # category / source: each filter pairs with the time range.
            models.Index(fields=["-occurred_at", "-id"], name="secevent_time_idx"),
            models.Index(fields=["gateway", "-occurred_at"], name="secevent_gw_time_idx"),
            models.Index(fields=["severity", "-occurred_at"], name="secevent_sev_time_idx"),
            models.Index(fields=["category", "-occurred_at"], name="secevent_cat_time_idx"),
            models.Index(fields=["src_ip", "-occurred_at"], name="secevent_src_time_idx"),
            # The destination filter (an address, or a CIDR: on PostgreSQL the
            # column is ``inet`` and ``dst_ip <<= net`` is a range scan of this
            # btree, as for src_ip above).
            models.Index(fields=["dst_ip", "-occurred_at"], name="secevent_dst_time_idx"),
            # An incident's events, newest first (incident page, events list
            # filtered by incident). Partial: most events belong to none.
            models.Index(
                fields=["incident", "-occurred_at", "-id"],
                name="secevent_incident_time_idx",
                condition=models.Q(incident__isnull=False),
            ),
            # "Unacknowledged only", newest first: the triage view. Partial, so
            # it holds only what still needs a look.
            models.Index(
                fields=["-occurred_at", "-id"],
                name="secevent_unack_time_idx",
                condition=models.Q(acknowledged_at__isnull=True),
            ),
        ]
        # Not declared here: the stored search document (a generated tsvector
        # column of to_tsvector('simple', signature || ' ' || message)) and its
        # GIN index, PostgreSQL only, made by migration 0008 and used by
        # security.filtersets.text_search.

    def __str__(self) -> str:
        return f"{self.get_severity_display()} {self.get_category_display()}: {self.signature}"

    def get_absolute_url(self) -> str:
        return reverse("security:event_detail", kwargs={"uuid": self.uuid})

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def severity_style(self) -> StatusStyle:
        return SEVERITY_STYLE.get(self.severity, UNKNOWN_STYLE)


class SavedEventSearch(models.Model):
    """A named query string of the events list, kept per user ("Saved
    searches" on the events page). It belongs to its user alone: no model
    permission, the views look it up among the user's own."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_event_searches",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("query string"), max_length=2000, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved event search")
        verbose_name_plural = _("saved event searches")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="savedeventsearch_user_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        url = reverse("security:event_list")
        return f"{url}?{self.query}" if self.query else url


class SessionPolicy(models.Model):
    """How long console sessions last and how many a user may hold: one row,
    edited on Settings → Sessions & sign-in, read through ``current()``
    (cached; the cache is dropped when it is saved)."""

    idle_timeout_minutes = models.PositiveIntegerField(
        _("idle timeout (minutes)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_("Sign a session out after this long without a request."),
    )
    absolute_lifetime_hours = models.PositiveIntegerField(
        _("absolute lifetime (hours)"),
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(30 * 24)],
        help_text=_("Sign a session out this long after sign-in, however active it is."),
    )
    max_sessions_per_user = models.PositiveIntegerField(
        _("maximum sessions per user"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Signing in once more ends that user's oldest session."),
    )
    reauthentication_minutes = models.PositiveIntegerField(
        _("re-authentication window (minutes)"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_(
            "Sensitive actions (changing roles, creating API keys, publishing policies…) "
            "ask for the password again when the last sign-in is older than this."
        ),
    )
    updated = models.DateTimeField(_("updated"), auto_now=True)

    CACHE_KEY = "security:session-policy:v1"

    class Meta:
        verbose_name = _("session policy")
        verbose_name_plural = _("session policy")
        # A single row: nobody adds or deletes it.
        default_permissions = ("view", "change")

    def __str__(self) -> str:
        return str(_("Session policy"))

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> SessionPolicy:
        """The policy in force (its defaults until an admin saves one)."""
        from django.core.cache import cache

        policy = cache.get(cls.CACHE_KEY)
        if policy is None:
            policy = cls.objects.filter(pk=1).first() or cls(pk=1)
            cache.set(cls.CACHE_KEY, policy, timeout=300)
        return policy

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.idle_timeout_minutes)

    @property
    def absolute_lifetime(self) -> timedelta:
        return timedelta(hours=self.absolute_lifetime_hours)

    @property
    def reauthentication_window(self) -> timedelta:
        return timedelta(minutes=self.reauthentication_minutes)


class UserSessionQuerySet(models.QuerySet):
    def active(self, policy: SessionPolicy | None = None):
        """Sessions that the policy has not timed out yet (a session whose
        browser simply went away stays in the table until it times out)."""
        policy = policy or SessionPolicy.current()
        now = timezone.now()
        return self.filter(
            last_active__gt=now - policy.idle_timeout,
            created__gt=now - policy.absolute_lifetime,
        )


class UserSession(models.Model):
    """One signed-in browser session of a user, shown on "Your sessions".

    ``session_key`` references Django's session store (django_session) so a
    revoked session can be deleted there; it is as secret as that table and is
    never shown: pages and URLs use ``uuid``.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="console_sessions",
        verbose_name=_("user"),
    )
    session_key = models.CharField(_("session key"), max_length=40, unique=True, editable=False)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    device = models.CharField(
        _("device"), max_length=200, blank=True, help_text=_("Browser and system, readable.")
    )
    created = models.DateTimeField(_("signed in"), default=timezone.now)
    last_active = models.DateTimeField(_("last active"), default=timezone.now)

    objects = UserSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-last_active"]
        verbose_name = _("user session")
        verbose_name_plural = _("user sessions")
        # Users see their own sessions; admins act through the users page and
        # Django admin (superusers). No role needs model permissions on it.
        default_permissions = ()
        indexes = [
            # "Your sessions" and the concurrent-session limit: one user's
            # sessions, oldest first.
            models.Index(fields=["user", "created"], name="usersession_user_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.device or _('unknown device')}"


class AllowlistEntryQuerySet(RestrictedQuerySet):
    def unexpired(self, now=None):
        now = now or timezone.now()
        return self.filter(models.Q(expires__isnull=True) | models.Q(expires__gt=now))


class AllowlistEntry(models.Model):
    """A network allowed to reach the console, the API or both.

    While no unexpired entry applies to a part, that part is open to every
    address; as soon as one does, only the listed networks get in. The
    middleware reads the entries from the cache (``security.allowlist``).
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    network = models.CharField(
        _("network"),
        max_length=43,
        help_text=_("An address or a CIDR block: 203.0.113.0/24, 2001:db8::/48, 198.51.100.7."),
    )
    comment = models.CharField(_("comment"), max_length=200, blank=True)
    scope = models.CharField(
        _("applies to"),
        max_length=10,
        choices=AllowlistScope.choices,
        default=AllowlistScope.BOTH,
    )
    expires = models.DateTimeField(
        _("expires"),
        null=True,
        blank=True,
        help_text=_("Optional: the entry stops letting anyone in at this time (UTC)."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    objects = AllowlistEntryQuerySet.as_manager()

    class Meta:
        ordering = ["network"]
        verbose_name = _("IP allowlist entry")
        verbose_name_plural = _("IP allowlist")

    def __str__(self) -> str:
        return self.network

    def get_absolute_url(self) -> str:
        return reverse("security:allowlistentry_edit", kwargs={"uuid": self.uuid})

    @property
    def scope_style(self) -> StatusStyle:
        return ALLOWLIST_SCOPE_STYLE.get(self.scope, UNKNOWN_STYLE)

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()


class CorrelationRule(models.Model):
    """A rule that groups arriving events into incidents (security.correlation).

    Built-in rules (one per kind) are made by a data migration; admins tune
    them on Settings → Correlation rules. ``threshold`` means, by kind: the
    number of distinct gateways one source must reach (distributed scan), the
    number of authentication failures against one gateway from one source
    (brute force), or the z-score above the gateway's usual rate (anomaly).
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=RuleKind.choices)
    description = models.TextField(_("description"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    window_seconds = models.PositiveIntegerField(
        _("window (seconds)"),
        default=300,
        validators=[MinValueValidator(60), MaxValueValidator(24 * 3600)],
        help_text=_("Events are counted over this sliding window."),
    )
    threshold = models.FloatField(
        _("threshold"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text=_(
            "Distributed scan: distinct gateways. Brute force: failures. "
            "Anomaly: standard deviations above the gateway's usual rate."
        ),
    )
    min_events = models.PositiveIntegerField(
        _("minimum events"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text=_(
            "Fewer events than this within the window never fire: the source's events "
            "(distributed scan) or the gateway's (anomaly). Not used by brute force."
        ),
    )
    min_severity = models.CharField(
        _("minimum event severity"),
        max_length=10,
        choices=Severity.choices,
        default=Severity.INFO,
        help_text=_("Events below this severity are not counted."),
    )
    severity_raise = models.CharField(
        _("incident severity at least"),
        max_length=10,
        choices=Severity.choices,
        blank=True,
        help_text=_(
            "The incident takes the highest severity of its events, and at least this one."
        ),
    )
    cooldown_seconds = models.PositiveIntegerField(
        _("extend for (seconds)"),
        default=3600,
        validators=[MinValueValidator(60), MaxValueValidator(7 * 24 * 3600)],
        help_text=_(
            "New matching events join the open incident while its last event is "
            "younger than this; later ones open a new incident."
        ),
    )
    builtin = models.BooleanField(_("built in"), default=False, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    # Console-wide settings: the permission decides, no region scope.
    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("correlation rule")
        verbose_name_plural = _("correlation rules")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("security:correlationrule_edit", kwargs={"uuid": self.uuid})

    @property
    def kind_style(self) -> StatusStyle:
        return RULE_KIND_STYLE.get(self.kind, UNKNOWN_STYLE)

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(seconds=self.cooldown_seconds)


class IncidentQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view") -> IncidentQuerySet:
        """An incident reaches its regions through its gateways (many): it is
        seen when any of them is in the user's scope and changed only when all
        of them are. Subqueries, so an incident is never repeated by the join."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        perm = f"security.{action}_incident"
        if not user.has_perm(perm):
            return self.none()
        from accounts.scope import regions_for

        regions = regions_for(user, perm)
        if regions is None:
            return self
        if not regions:
            return self.none()
        links = Incident.gateways.through.objects
        inside = links.filter(gateway__region__in=regions).values("incident_id")
        if action == "view":
            return self.filter(pk__in=inside)
        outside = links.exclude(gateway__region__in=regions).values("incident_id")
        return self.filter(pk__in=inside).exclude(pk__in=outside)

    def active(self):
        return self.filter(status__in=ACTIVE_INCIDENT_STATUSES)


class Incident(models.Model):
    """What happened, as correlation grouped it: events of one rule and one
    key (a source, a gateway, a gateway and a source) close together in time.

    ``key`` finds the incident to extend: while an incident of that key is
    open or being investigated and its last event is younger than the rule's
    cooldown, new matching events join it.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=255)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_incidents",
        verbose_name=_("assignee"),
    )
    rule = models.ForeignKey(
        CorrelationRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("rule"),
    )
    key = models.CharField(_("correlation key"), max_length=255, editable=False)
    # The attacking source when the rule groups by one (scan, brute force):
    # what containment blocks.
    src_ip = models.GenericIPAddressField(_("source IP"), null=True, blank=True)
    summary = models.TextField(_("summary"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    event_count = models.PositiveIntegerField(_("events"), default=0)
    gateways = models.ManyToManyField(
        "gateways.Gateway",
        related_name="incidents",
        blank=True,
        verbose_name=_("affected gateways"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = IncidentQuerySet.as_manager()
    # Documentation and live subscriptions; restrict() above handles the M2M.
    scope_lookups = ("gateways__region",)

    class Meta:
        ordering = ["-last_seen", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        # Correlation creates incidents; nobody adds one by hand.
        default_permissions = ("view", "change", "delete")
        indexes = [
            models.Index(fields=["-last_seen", "-id"], name="incident_last_seen_idx"),
            models.Index(fields=["key", "-last_seen"], name="incident_key_idx"),
            models.Index(fields=["status", "-last_seen"], name="incident_status_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("security:incident_detail", kwargs={"uuid": self.uuid})

    @property
    def severity_style(self) -> StatusStyle:
        return SEVERITY_STYLE.get(self.severity, UNKNOWN_STYLE)

    @property
    def status_style(self) -> StatusStyle:
        return INCIDENT_STATUS_STYLE.get(self.status, UNKNOWN_STYLE)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_INCIDENT_STATUSES


class IncidentActivity(models.Model):
    """One entry of an incident's timeline: made by correlation (created,
    events added, escalated), by people (status, assignee, note) and by
    containment (containment, containment lifted). Append-only."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="activities", verbose_name=_("incident")
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices)
    text = models.TextField(_("text"), blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("incident activity")
        verbose_name_plural = _("incident activities")
        # Rights follow the incident: the views check the incident's.
        default_permissions = ()
        indexes = [models.Index(fields=["incident", "-at", "-id"], name="incactivity_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:60]}"

    @property
    def style(self) -> StatusStyle:
        return ACTIVITY_STYLE.get(self.kind, UNKNOWN_STYLE)


class GatewayEventRate(models.Model):
    """Events stored per gateway per minute, counted as batches arrive: the
    anomaly rule's baseline (a rolling mean and deviation over these rows)
    without counting the big events table. Old rows are removed by a task."""

    gateway = models.ForeignKey(
        "gateways.Gateway", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    minute = models.DateTimeField(_("minute"))
    count = models.PositiveIntegerField(_("events"), default=0)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["gateway", "minute"], name="gweventrate_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.gateway_id} {self.minute:%Y-%m-%d %H:%M}: {self.count}"


# --- Containment (security.containment, docs/containment.md) -----------------


class ContainmentActionQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view") -> ContainmentActionQuerySet:
        """A containment action holds in one region (``region``) or, for a
        block without one, in the whole fleet. A scoped user sees the actions
        of their regions and the fleet-wide ones (they hold there too), and
        acts on (lifts) only those of their regions: fleet-wide ones need an
        unscoped user."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        perm = f"security.{action}_containmentaction"
        if not user.has_perm(perm):
            return self.none()
        from accounts.scope import regions_for

        regions = regions_for(user, perm)
        if regions is None:
            return self
        if not regions:
            return self.none()
        if action == "view":
            return self.filter(models.Q(region__in=regions) | models.Q(region__isnull=True))
        return self.filter(region__in=regions)

    def active(self):
        return self.filter(lifted_at__isnull=True)


class ContainmentAction(models.Model):
    """What a containment action did and undid: a source blocked (fleet-wide
    or in one region) or a gateway quarantined. The rules it made live in the
    Containment policy (``rule_ids``), published as ``revision``; lifting
    (by a person or at ``expires_at``) removes them in ``lift_revision``."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=ContainmentKind.choices)
    incident = models.ForeignKey(
        Incident,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="containment_actions",
        verbose_name=_("incident"),
    )
    # A block's source: a network in canonical form (a single address is /32 or /128).
    cidr = models.CharField(_("source CIDR"), max_length=49, blank=True)
    gateway = models.ForeignKey(
        "gateways.Gateway",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="containment_actions",
        verbose_name=_("gateway"),
    )
    # Where it holds: a block's region (NULL: the whole fleet), a quarantined
    # gateway's region. The scope check of who may lift it.
    region = models.ForeignKey(
        "gateways.Region",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="containment_actions",
        verbose_name=_("region"),
    )
    target_name = models.CharField(_("target"), max_length=255, blank=True)
    scope_name = models.CharField(_("where"), max_length=255, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    rule_ids = models.JSONField(_("rules"), default=list, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revision = models.ForeignKey(
        "policies.PolicyRevision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revision"),
    )
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lifted by"),
    )
    lift_expired = models.BooleanField(_("lifted at expiry"), default=False)
    lift_revision = models.ForeignKey(
        "policies.PolicyRevision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("lift revision"),
    )

    objects = ContainmentActionQuerySet.as_manager()
    # Documentation; restrict() above handles the fleet-wide (NULL) case.
    scope_lookups = ("region",)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("containment action")
        verbose_name_plural = _("containment actions")
        # view: the Containment page; add: block or quarantine; change: lift.
        default_permissions = ("view", "add", "change")
        indexes = [
            # lift_expired_containment: lifted_at IS NULL AND expires_at <= now.
            models.Index(
                fields=["expires_at"],
                name="containment_expiry_idx",
                condition=models.Q(lifted_at__isnull=True, expires_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.target_name}"

    def get_absolute_url(self) -> str:
        return reverse("security:containmentaction_detail", kwargs={"uuid": self.uuid})

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None

    @property
    def state(self) -> str:
        if self.lifted_at is None:
            return ContainmentState.ACTIVE
        return ContainmentState.EXPIRED if self.lift_expired else ContainmentState.LIFTED

    def get_state_display(self) -> str:
        return ContainmentState(self.state).label

    @property
    def state_style(self) -> StatusStyle:
        return CONTAINMENT_STATE_STYLE.get(self.state, UNKNOWN_STYLE)

    @property
    def kind_style(self) -> StatusStyle:
        return CONTAINMENT_KIND_STYLE.get(self.kind, UNKNOWN_STYLE)
