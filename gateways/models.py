from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.urls import reverse
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
        counts = dict(self.values_list("status").annotate(n=models.Count("pk")).order_by())
        return [
            {
                "value": status.value,
                "label": status.label,
                "count": counts.get(status.value, 0),
                "style": GATEWAY_STATUS_STYLE[status],
            }
            for status in GatewayStatus
        ]


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
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = GatewayQuerySet.as_manager()

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
