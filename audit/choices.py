"""Actor kinds and outcomes of audit records, with their colour and icon."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from console.choices import StatusStyle


class ActorType(models.TextChoices):
    USER = "user", _("User")
    API_KEY = "api_key", _("API key")
    GATEWAY = "gateway", _("Gateway")
    TASK = "task", _("System task")
    SYSTEM = "system", _("System")
    ANONYMOUS = "anonymous", _("Not signed in")


class Outcome(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")
    DENIED = "denied", _("Denied")


class Source(models.TextChoices):
    WEB = "web", _("Console")
    API = "api", _("REST API")
    ADMIN = "admin", _("Django admin")
    AGENT = "agent", _("Agent API")
    TASK = "task", _("Task")
    SYSTEM = "system", _("Command line / system")


OUTCOME_STYLE = {
    Outcome.SUCCESS: StatusStyle("ok", "circle-check"),
    Outcome.FAILURE: StatusStyle("danger", "circle-x"),
    Outcome.DENIED: StatusStyle("warn", "ban"),
}

ACTOR_ICON = {
    ActorType.USER: "user",
    ActorType.API_KEY: "key-square",
    ActorType.GATEWAY: "server",
    ActorType.TASK: "timer",
    ActorType.SYSTEM: "terminal",
    ActorType.ANONYMOUS: "user-x",
}


class ReportPeriod(models.TextChoices):
    PREVIOUS_DAY = "previous_day", _("Previous day")
    PREVIOUS_WEEK = "previous_week", _("Previous week (Monday to Sunday)")
    PREVIOUS_MONTH = "previous_month", _("Previous month")


class ReportFrequency(models.TextChoices):
    DAILY = "daily", _("Daily")
    WEEKLY = "weekly", _("Weekly, on Mondays")
    MONTHLY = "monthly", _("Monthly, on the 1st")


class RunStatus(models.TextChoices):
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


RUN_STATUS_STYLE = {
    RunStatus.SENT: StatusStyle("ok", "mail-check"),
    RunStatus.FAILED: StatusStyle("danger", "mail-x"),
}


class ReportKind(models.TextChoices):
    """The compliance reports (audit/reports.py ``REPORTS`` has one per value)."""

    ACCESS_REVIEW = "access_review", _("Access review")
    CHANGE_REPORT = "change_report", _("Change report")
    PRIVILEGED_ACTIONS = "privileged_actions", _("Privileged actions")
    FAILED_ACCESS = "failed_access", _("Failed and denied access")
