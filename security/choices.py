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


SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


def max_severity(*values: str) -> str:
    """The highest of ``values`` (blanks ignored); info when none."""
    ranked = [value for value in values if value in SEVERITY_RANK]
    return max(ranked, key=SEVERITY_RANK.__getitem__) if ranked else Severity.INFO


class IncidentStatus(models.TextChoices):
    OPEN = "open", _("Open")
    INVESTIGATING = "investigating", _("Investigating")
    RESOLVED = "resolved", _("Resolved")
    FALSE_POSITIVE = "false_positive", _("False positive")


# Statuses in which an incident still takes new events of its key.
ACTIVE_INCIDENT_STATUSES = (IncidentStatus.OPEN, IncidentStatus.INVESTIGATING)

INCIDENT_STATUS_STYLE = {
    IncidentStatus.OPEN: StatusStyle("danger", "circle-alert"),
    IncidentStatus.INVESTIGATING: StatusStyle("warn", "search"),
    IncidentStatus.RESOLVED: StatusStyle("ok", "circle-check"),
    IncidentStatus.FALSE_POSITIVE: StatusStyle("muted", "circle-slash"),
}


class ActivityKind(models.TextChoices):
    CREATED = "created", _("Created")
    EVENTS_ADDED = "events_added", _("Events added")
    ESCALATED = "escalated", _("Escalated")
    STATUS = "status", _("Status changed")
    ASSIGNEE = "assignee", _("Assignee changed")
    NOTE = "note", _("Note")
    CONTAINMENT = "containment", _("Containment")
    CONTAINMENT_LIFTED = "containment_lifted", _("Containment lifted")


ACTIVITY_STYLE = {
    ActivityKind.CREATED: StatusStyle("danger", "siren"),
    ActivityKind.EVENTS_ADDED: StatusStyle("info", "list-plus"),
    ActivityKind.ESCALATED: StatusStyle("danger", "trending-up"),
    ActivityKind.STATUS: StatusStyle("info", "flag"),
    ActivityKind.ASSIGNEE: StatusStyle("info", "user"),
    ActivityKind.NOTE: StatusStyle("muted", "message-square"),
    ActivityKind.CONTAINMENT: StatusStyle("warn", "shield-ban"),
    ActivityKind.CONTAINMENT_LIFTED: StatusStyle("ok", "shield-check"),
}


class RuleKind(models.TextChoices):
    DISTRIBUTED_SCAN = "distributed_scan", _("Distributed scan")
    BRUTE_FORCE = "brute_force", _("Brute force")
    ANOMALY = "anomaly", _("Anomaly (burst above baseline)")


RULE_KIND_STYLE = {
    RuleKind.DISTRIBUTED_SCAN: StatusStyle("warn", "radar"),
    RuleKind.BRUTE_FORCE: StatusStyle("danger", "key-round"),
    RuleKind.ANOMALY: StatusStyle("info", "activity"),
}


# --- Containment (security.containment, docs/containment.md) -----------------


class ContainmentKind(models.TextChoices):
    BLOCK_SOURCE = "block_source", _("Block source")
    QUARANTINE_GATEWAY = "quarantine_gateway", _("Quarantine gateway")


class ContainmentState(models.TextChoices):
    ACTIVE = "active", _("Active")
    EXPIRED = "expired", _("Expired")
    LIFTED = "lifted", _("Lifted")


CONTAINMENT_KIND_STYLE = {
    ContainmentKind.BLOCK_SOURCE: StatusStyle("danger", "shield-ban"),
    ContainmentKind.QUARANTINE_GATEWAY: StatusStyle("warn", "shield-alert"),
}

CONTAINMENT_STATE_STYLE = {
    ContainmentState.ACTIVE: StatusStyle("danger", "shield-ban"),
    ContainmentState.EXPIRED: StatusStyle("muted", "clock"),
    ContainmentState.LIFTED: StatusStyle("ok", "shield-check"),
}
