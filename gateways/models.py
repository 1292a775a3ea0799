from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager

from console.choices import UNKNOWN_STYLE, StatusStyle
from console.querysets import RestrictedQuerySet
from gateways.choices import GATEWAY_STATUS_STYLE, GatewayStatus
from gateways.validators import validate_address

gateway_name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    _("Use letters, digits, dots, dashes and underscores, starting with a letter or digit."),
)


class Region(models.Model):
    """A geographic or organisational group of gateways; the unit of access scope."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(
        _("slug"),
        max_length=100,
        unique=True,
        help_text=_("Short identifier used in filters, URLs of scripts and the API."),
    )
    description = models.TextField(_("description"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    # Region scope (console/querysets.py): a scoped user sees only their regions.
    scope_lookups = ("pk",)

    class Meta:
        ordering = ["name"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("gateways:region_detail", kwargs={"uuid": self.uuid})


class GatewayQuerySet(RestrictedQuerySet):
    def status_summary(self) -> list[dict]:
        """One entry per status, in the order of the choices, with its count and style."""
        return self.count_by("status", GatewayStatus, GATEWAY_STATUS_STYLE)


class Gateway(models.Model):
    """A Rustronaut secure edge gateway managed by the console."""

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(
        _("name"), max_length=100, unique=True, validators=[gateway_name_validator]
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="gateways", verbose_name=_("region")
    )
    tags = TaggableManager(_("tags"), blank=True)
    description = models.TextField(_("description"), blank=True)
    public_address = models.CharField(
        _("public address"),
        max_length=255,
        blank=True,
        validators=[validate_address],
        help_text=_("The address the gateway is reached at: an IP address or a host name."),
    )
    software_version = models.CharField(_("software version"), max_length=50, blank=True)
    # What the agent called its host when it enrolled (AGENT_PROTOCOL.md
    # "hostname"): tells an admin which machine holds the credential.
    hostname = models.CharField(_("agent hostname"), max_length=255, blank=True, editable=False)
    capacity_mbps = models.PositiveIntegerField(
        _("capacity (Mbps)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
    )
    status = models.CharField(
        _("status"), max_length=20, choices=GatewayStatus.choices, default=GatewayStatus.PENDING
    )
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    enabled = models.BooleanField(
        _("enabled"),
        default=True,
        help_text=_("A disabled gateway's agent calls are refused (403)."),
    )
    # Set and cleared by containment (security.containment): while set, the
    # Containment policy tells this gateway to drop all but management traffic.
    quarantined = models.BooleanField(_("quarantined"), default=False, editable=False)
    # SHA-256 of the agent credential; the credential itself is shown once.
    # NULL, not "", when there is none: many gateways may lack one under UNIQUE.
    credential_hash = models.CharField(  # noqa: DJ001
        max_length=64, unique=True, null=True, editable=False
    )
    credential_issued = models.DateTimeField(_("credential issued"), null=True, editable=False)
    config_version = models.PositiveIntegerField(
        _("applied config version"), null=True, blank=True, editable=False
    )
    # The latest heartbeat's metrics, kept on the row so lists need no join.
    cpu_pct = models.FloatField(_("CPU %"), null=True, editable=False)
    mem_pct = models.FloatField(_("memory %"), null=True, editable=False)
    rx_bps = models.BigIntegerField(_("received bit/s"), null=True, editable=False)
    tx_bps = models.BigIntegerField(_("sent bit/s"), null=True, editable=False)
    sessions = models.PositiveIntegerField(_("sessions"), null=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = GatewayQuerySet.as_manager()
    scope_lookups = ("region",)

    class Meta:
        ordering = ["name"]
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")
        indexes = [
            # mark_offline_gateways: status IN (online, degraded) AND last_seen < cutoff.
            models.Index(fields=["status", "last_seen"], name="gateway_status_seen_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("gateways:gateway_detail", kwargs={"uuid": self.uuid})

    @property
    def status_style(self) -> StatusStyle:
        return GATEWAY_STATUS_STYLE.get(self.status, UNKNOWN_STYLE)


class EnrollmentToken(models.Model):
    """A one-time token that lets an agent enrol as a gateway.

    Only a SHA-256 of the token is stored: the token is shown once, when issued.
    """

    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="enrollment_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    expires = models.DateTimeField(_("expires"))
    used = models.DateTimeField(_("used"), null=True, blank=True)
    revoked = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("enrolment token")
        verbose_name_plural = _("enrolment tokens")

    def __str__(self) -> str:
        return f"{self.gateway} token of {self.created:%Y-%m-%d %H:%M}"

    @property
    def state(self) -> str:
        if self.used:
            return "used"
        if self.revoked:
            return "revoked"
        if self.expires <= timezone.now():
            return "expired"
        return "valid"


class GatewayStatusChange(models.Model):
    """Every change of a gateway's status, so uptime over any window can be computed."""

    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="status_changes")
    time = models.DateTimeField(_("time"), default=timezone.now)
    old_status = models.CharField(max_length=20, choices=GatewayStatus.choices, blank=True)
    new_status = models.CharField(max_length=20, choices=GatewayStatus.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-time", "-pk"]
        # Status history on the gateway page and uptime: WHERE gateway = ? ORDER BY time.
        indexes = [models.Index(fields=["gateway", "time"], name="status_change_gw_time_idx")]
        verbose_name = _("gateway status change")

    def __str__(self) -> str:
        return f"{self.gateway_id}: {self.old_status or '—'} → {self.new_status} at {self.time}"

    @property
    def old_status_style(self) -> StatusStyle:
        return GATEWAY_STATUS_STYLE.get(self.old_status, UNKNOWN_STYLE)

    @property
    def new_status_style(self) -> StatusStyle:
        return GATEWAY_STATUS_STYLE.get(self.new_status, UNKNOWN_STYLE)

    def get_new_status_display(self) -> str:
        return GatewayStatus(self.new_status).label


class MetricSample(models.Model):
    """One heartbeat's metrics, kept raw for METRICS_RAW_RETENTION."""

    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="+")
    time = models.DateTimeField(_("time"))
    cpu_pct = models.FloatField()
    mem_pct = models.FloatField()
    rx_bps = models.BigIntegerField()
    tx_bps = models.BigIntegerField()
    sessions = models.PositiveIntegerField()

    class Meta:
        # Detail page (last 24 h of one gateway) and the rollup task (a time window).
        indexes = [
            models.Index(fields=["gateway", "time"], name="metric_gw_time_idx"),
            models.Index(fields=["time"], name="metric_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.gateway_id} at {self.time}"


class MetricRollup(models.Model):
    """Min/avg/max of the samples of one gateway over a 5-minute or hourly bucket."""

    class Period(models.TextChoices):
        FIVE_MINUTES = "5m", _("5 minutes")
        HOUR = "1h", _("1 hour")

    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=2, choices=Period.choices)
    bucket = models.DateTimeField(_("bucket start"))
    samples = models.PositiveIntegerField()
    cpu_min = models.FloatField()
    cpu_avg = models.FloatField()
    cpu_max = models.FloatField()
    mem_min = models.FloatField()
    mem_avg = models.FloatField()
    mem_max = models.FloatField()
    rx_min = models.BigIntegerField()
    rx_avg = models.FloatField()
    rx_max = models.BigIntegerField()
    tx_min = models.BigIntegerField()
    tx_avg = models.FloatField()
    tx_max = models.BigIntegerField()
    sessions_min = models.PositiveIntegerField()
    sessions_avg = models.FloatField()
    sessions_max = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "period", "bucket"], name="rollup_unique_bucket"
            )
        ]
        indexes = [models.Index(fields=["period", "bucket"], name="rollup_period_bucket_idx")]

    def __str__(self) -> str:
        return f"{self.gateway_id} {self.period} from {self.bucket}"


class FleetConfig(models.Model):
    """The single row holding the fleet's configuration version.

    Any change that alters what a gateway must apply (tunnels, published
    policies) bumps it; agents compare it in every heartbeat answer and pull
    their configuration when it is newer.
    """

    version = models.PositiveIntegerField(default=1)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("fleet configuration version")

    def __str__(self) -> str:
        return f"configuration version {self.version}"


class RetiredCredential(models.Model):
    """The digest of a deleted gateway's credential: its agent is told 403
    ("deleted"), as AGENT_PROTOCOL.md requires, instead of 401 ("unknown")."""

    credential_hash = models.CharField(max_length=64, unique=True)
    gateway_name = models.CharField(max_length=100)
    retired = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.gateway_name} (deleted {self.retired:%Y-%m-%d})"
