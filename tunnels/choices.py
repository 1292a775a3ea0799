from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusStyle


class TunnelProtocol(models.TextChoices):
    WIREGUARD = "wireguard", _("WireGuard")
    IPSEC = "ipsec", _("IPsec")


class TunnelState(models.TextChoices):
    """What the gateways last reported about a tunnel; unknown until they do."""

    UNKNOWN = "unknown", _("Unknown")
    UP = "up", _("Up")
    DOWN = "down", _("Down")
    DEGRADED = "degraded", _("Degraded")


TUNNEL_STATE_STYLE: dict[str, StatusStyle] = {
    TunnelState.UNKNOWN: StatusStyle("muted", "circle-question-mark"),
    TunnelState.UP: StatusStyle("ok", "circle-check"),
    TunnelState.DOWN: StatusStyle("danger", "circle-x"),
    TunnelState.DEGRADED: StatusStyle("warn", "triangle-alert"),
}
