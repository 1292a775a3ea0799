from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import UNKNOWN_STYLE, StatusStyle
from console.querysets import RestrictedQuerySet
from security.choices import SEVERITY_STYLE, Category, Severity


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
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} {self.get_category_display()}: {self.signature}"

    @property
    def severity_style(self) -> StatusStyle:
        return SEVERITY_STYLE.get(self.severity, UNKNOWN_STYLE)
