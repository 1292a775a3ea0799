from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusStyle
from policies import evaluation


class RuleAction(models.TextChoices):
    ALLOW = evaluation.ALLOW, _("Allow")
    DENY = evaluation.DENY, _("Deny")


RULE_ACTION_STYLE = {
    RuleAction.ALLOW: StatusStyle("ok", "circle-check"),
    RuleAction.DENY: StatusStyle("danger", "ban"),
}


class RuleProtocol(models.TextChoices):
    ANY = evaluation.ANY, _("Any")
    TCP = evaluation.TCP, _("TCP")
    UDP = evaluation.UDP, _("UDP")
    ICMP = evaluation.ICMP, _("ICMP")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


def _service_label(name: str) -> str:
    ports = ", ".join(
        f"{proto}/{lo}" if lo == hi else f"{proto}/{lo}-{hi}"
        for proto, lo, hi in evaluation.SERVICES[name]
    )
    return f"{name} ({ports})"


SERVICE_CHOICES = [(name, _service_label(name)) for name in sorted(evaluation.SERVICES)]


class IssueLevel(models.TextChoices):
    ERROR = "error", _("Error")
    WARNING = "warning", _("Warning")


ISSUE_LEVEL_STYLE = {
    IssueLevel.ERROR: StatusStyle("danger", "circle-x"),
    IssueLevel.WARNING: StatusStyle("warn", "triangle-alert"),
}
