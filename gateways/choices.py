from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusStyle


class GatewayStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ONLINE = "online", _("Online")
    DEGRADED = "degraded", _("Degraded")
    OFFLINE = "offline", _("Offline")
    MAINTENANCE = "maintenance", _("Maintenance")


GATEWAY_STATUS_STYLE = {
    GatewayStatus.PENDING: StatusStyle("muted", "hourglass"),
    GatewayStatus.ONLINE: StatusStyle("ok", "circle-check"),
    GatewayStatus.DEGRADED: StatusStyle("warn", "triangle-alert"),
    GatewayStatus.OFFLINE: StatusStyle("danger", "circle-x"),
    GatewayStatus.MAINTENANCE: StatusStyle("info", "wrench"),
}

# Statuses that a heartbeat keeps alive; a silent gateway in one of them goes offline.
REPORTING_STATUSES = (GatewayStatus.ONLINE, GatewayStatus.DEGRADED)
