from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager

from console.choices import UNKNOWN_STYLE, StatusStyle
from console.querysets import RestrictedQuerySet
from gateways.models import Gateway, gateway_name_validator
from gateways.validators import validate_address
from tunnels.choices import TUNNEL_STATE_STYLE, TunnelProtocol, TunnelState
from tunnels.validators import parse_subnets, validate_subnets

MTU_MIN, MTU_MAX, MTU_DEFAULT = 576, 9000, 1420

SELF_TUNNEL_MESSAGE = _("A tunnel cannot connect a gateway to itself.")


class TunnelQuerySet(RestrictedQuerySet):
    def with_gateway(self, gateway: Gateway) -> TunnelQuerySet:
        """Tunnels with ``gateway`` at either end, enabled or not."""
        return self.filter(Q(gateway_a=gateway) | Q(gateway_b=gateway))

    def for_gateway(self, gateway: Gateway) -> TunnelQuerySet:
        """The tunnels ``gateway`` must run: enabled, with it at either end."""
        return self.with_gateway(gateway).filter(enabled=True)

    def state_summary(self) -> list[dict]:
        """One entry per state, in the order of the choices, with its count and style."""
        return self.count_by("state", TunnelState, TUNNEL_STATE_STYLE)


class Tunnel(models.Model):
    """An encrypted tunnel from a gateway to another gateway or to a remote site.

    The far end is either ``gateway_b`` (both ends are ours) or a remote site
    described by ``remote_address`` and ``remote_subnets``, never both. A pair of
    gateways has at most one tunnel, whichever end is called A.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(
        _("name"), max_length=100, unique=True, validators=[gateway_name_validator]
    )
    gateway_a = models.ForeignKey(
        Gateway,
        # A gateway that still carries tunnels cannot disappear silently: the
        # delete page (409) and the API (409) say why.
        on_delete=models.PROTECT,
        related_name="tunnels_as_a",
        verbose_name=_("gateway A"),
    )
    gateway_b = models.ForeignKey(
        Gateway,
        on_delete=models.PROTECT,
        related_name="tunnels_as_b",
        null=True,
        blank=True,
        verbose_name=_("gateway B"),
        help_text=_("Leave empty when the far end is a remote site."),
    )
    remote_address = models.CharField(
        _("remote address"),
        max_length=255,
        blank=True,
        validators=[validate_address],
        help_text=_("The remote site's IP address or host name."),
    )
    remote_subnets = models.TextField(
        _("remote subnets"),
        blank=True,
        validators=[validate_subnets],
        help_text=_(
            "Networks behind the remote site, comma-separated: 10.20.0.0/16, 2001:db8:20::/48."
        ),
    )
    protocol = models.CharField(
        _("protocol"),
        max_length=20,
        choices=TunnelProtocol.choices,
        default=TunnelProtocol.WIREGUARD,
    )
    enabled = models.BooleanField(
        _("enabled"),
        default=True,
        help_text=_("A disabled tunnel stays on record but its gateways take it down."),
    )
    mtu = models.PositiveIntegerField(
        _("MTU"),
        default=MTU_DEFAULT,
        validators=[MinValueValidator(MTU_MIN), MaxValueValidator(MTU_MAX)],
        help_text=_("Bytes, %(min)d to %(max)d.") % {"min": MTU_MIN, "max": MTU_MAX},
    )
    description = models.TextField(_("description"), blank=True)
    tags = TaggableManager(_("tags"), blank=True)

    # Live state, written by the gateways' heartbeats (by uuid), read-only
    # everywhere else. Kept on the row so the list can sort and filter by it.
    state = models.CharField(
        _("state"), max_length=20, choices=TunnelState.choices, default=TunnelState.UNKNOWN
    )
    latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True)
    last_handshake = models.DateTimeField(_("last handshake"), null=True, blank=True)
    rx_bytes = models.PositiveBigIntegerField(_("received bytes"), default=0)
    tx_bytes = models.PositiveBigIntegerField(_("sent bytes"), default=0)
    state_changed = models.DateTimeField(_("state changed"), null=True, blank=True)

    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    objects = TunnelQuerySet.as_manager()
    # Seen when either end is in the user's regions, changed only when both are.
    scope_lookups = ("gateway_a__region", "gateway_b__region")

    class Meta:
        ordering = ["name"]
        verbose_name = _("tunnel")
        verbose_name_plural = _("tunnels")
        constraints = [
            models.CheckConstraint(
                condition=~Q(gateway_a=F("gateway_b")),
                name="tunnel_not_to_itself",
                violation_error_message=SELF_TUNNEL_MESSAGE,
            ),
            models.CheckConstraint(
                condition=(
                    Q(gateway_b__isnull=False, remote_address="")
                    | (Q(gateway_b__isnull=True) & ~Q(remote_address=""))
                ),
                name="tunnel_far_end_gateway_or_site",
                violation_error_message=_("The far end is a gateway or a remote site."),
            ),
            # A partial unique index over the unordered pair: A–B and B–A are
            # the same tunnel. clean() checks it first for a readable message;
            # this keeps it true under concurrent writes. Remote-site tunnels
            # (gateway_b NULL) are outside it.
            models.UniqueConstraint(
                Least("gateway_a", "gateway_b"),
                Greatest("gateway_a", "gateway_b"),
                condition=Q(gateway_b__isnull=False),
                name="tunnel_unique_gateway_pair",
                violation_error_message=_("These two gateways already have a tunnel."),
            ),
        ]
        # for_gateway() (a gateway's config pull) reads gateway_a OR gateway_b:
        # the two foreign-key indexes serve it, so no extra index here.

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("tunnels:tunnel_detail", kwargs={"uuid": self.uuid})

    @property
    def state_style(self) -> StatusStyle:
        return TUNNEL_STATE_STYLE.get(self.state, UNKNOWN_STYLE)

    @property
    def is_remote_site(self) -> bool:
        return self.gateway_b_id is None

    @property
    def far_end_label(self) -> str:
        """Gateway B's name, or the remote site's address."""
        if self.gateway_b is not None:
            return self.gateway_b.name
        return self.remote_address

    @property
    def remote_subnet_list(self) -> list[str]:
        return [item.strip() for item in self.remote_subnets.split(",") if item.strip()]

    def clean(self) -> None:
        super().clean()
        errors: dict[str, ValidationError] = {}
        try:
            networks = parse_subnets(self.remote_subnets)
        except ValidationError:
            networks = None  # clean_fields() has reported it on the field
        if networks is not None:
            # One spelling per network, so the gateways get a canonical list.
            self.remote_subnets = ", ".join(dict.fromkeys(str(n) for n in networks))

        if self.gateway_b_id is not None:
            if self.remote_address:
                errors["remote_address"] = ValidationError(
                    _(
                        "A tunnel ends at gateway B or at a remote site, not both: "
                        "clear the remote address or gateway B."
                    ),
                    code="far_end_both",
                )
            if self.remote_subnets:
                errors["remote_subnets"] = ValidationError(
                    _("Remote subnets describe a remote site: clear them or gateway B."),
                    code="far_end_both",
                )
            if self.gateway_b_id == self.gateway_a_id:
                errors["gateway_b"] = ValidationError(SELF_TUNNEL_MESSAGE, code="self_tunnel")
            elif self.gateway_a_id is not None and (duplicate := self._same_pair()):
                errors["gateway_b"] = ValidationError(
                    _("%(a)s and %(b)s already have a tunnel: %(tunnel)s."),
                    code="duplicate_pair",
                    params={"a": self.gateway_a, "b": self.gateway_b, "tunnel": duplicate},
                )
        else:
            if not self.remote_address:
                errors["remote_address"] = ValidationError(
                    _("Choose gateway B, or give the address of the remote site."),
                    code="far_end_missing",
                )
            if networks == []:
                errors["remote_subnets"] = ValidationError(
                    _("Give at least one network behind the remote site."),
                    code="subnets_missing",
                )
        if errors:
            raise ValidationError(errors)

    def _same_pair(self) -> Tunnel | None:
        """Another tunnel between the same two gateways, in either direction."""
        a, b = self.gateway_a_id, self.gateway_b_id
        others = Tunnel.objects.filter(
            Q(gateway_a_id=a, gateway_b_id=b) | Q(gateway_a_id=b, gateway_b_id=a)
        )
        if self.pk is not None:
            others = others.exclude(pk=self.pk)
        return others.only("name").first()
