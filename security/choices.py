from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusStyle


class Severity(models.TextChoices):
    INFO = "info", _("Info")
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


SEVERITY_STYLE = {
    Severity.INFO: StatusStyle("muted", "info"),
    Severity.LOW: StatusStyle("info", "shield"),
    Severity.MEDIUM: StatusStyle("warn", "shield-alert"),
    Severity.HIGH: StatusStyle("danger", "shield-x"),
    Severity.CRITICAL: StatusStyle("danger", "siren"),
}


class Category(models.TextChoices):
    INTRUSION = "intrusion", _("Intrusion")
    PORT_SCAN = "port_scan", _("Port scan")
    AUTH_FAILURE = "auth_failure", _("Authentication failure")
    MALWARE = "malware", _("Malware")
    POLICY_VIOLATION = "policy_violation", _("Policy violation")
    ANOMALY = "anomaly", _("Anomaly")


class AllowlistScope(models.TextChoices):
    """What an IP allowlist entry opens: the web console, the REST API, or both."""

    BOTH = "both", _("Console and API")
    CONSOLE = "console", _("Console only")
    API = "api", _("API only")


ALLOWLIST_SCOPE_STYLE = {
    AllowlistScope.BOTH: StatusStyle("info", "globe"),
    AllowlistScope.CONSOLE: StatusStyle("muted", "monitor"),
    AllowlistScope.API: StatusStyle("muted", "braces"),
}
