"""Scheduled compliance reports: when each schedule is due, which period it
covers, and sending it by email (Django's email backend): the report as the
HTML body, its CSV attached.

A schedule is due at 06:00 UTC on its day (every day, Mondays, or the 1st).
The beat task (``audit.tasks.send_due_reports``) claims a due schedule with
one conditional UPDATE that moves ``next_run`` on and sets the period it is
about to send; a second run of the task (a redelivery, two beat processes)
finds nothing left to claim, so each period is sent once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

import audit
from audit.choices import Outcome, ReportFrequency, ReportPeriod, RunStatus
from audit.models import ReportSchedule

logger = logging.getLogger("audit")

SEND_HOUR = 6  # UTC: after the night's chain check and archiving


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _first_of_month(moment: datetime) -> datetime:
    return _utc(moment).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _add_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month)


def next_run_after(frequency: str, moment: datetime) -> datetime:
    """The first sending time strictly after ``moment``."""
    day = _utc(moment).replace(hour=SEND_HOUR, minute=0, second=0, microsecond=0)
    if frequency == ReportFrequency.DAILY:
        return day if day > moment else day + timedelta(days=1)
    if frequency == ReportFrequency.WEEKLY:
        monday = day - timedelta(days=day.weekday())
        return monday if monday > moment else monday + timedelta(days=7)
    first = day.replace(day=1)
    return first if first > moment else _add_month(first)


def period_for(period: str, moment: datetime) -> tuple[datetime, datetime]:
    """The whole day, week (Monday to Monday) or month before ``moment``."""
    today = _utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == ReportPeriod.PREVIOUS_DAY:
        return today - timedelta(days=1), today
    if period == ReportPeriod.PREVIOUS_WEEK:
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday
    end = _first_of_month(moment)
    start = (end - timedelta(days=1)).replace(day=1)
    return start, end


def build_email(schedule: ReportSchedule, after: datetime, before: datetime):
    from audit.reports import REPORTS

    report = REPORTS[schedule.report]
    data = report.data(after, before)
    context = {
        "report": report,
        "schedule": schedule,
        "after": after,
        "before": before,
        "body": report.render_body(data, links=False),
    }
    subject = f"{report.title}: {after:%Y-%m-%d} – {before - timedelta(seconds=1):%Y-%m-%d}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("audit/report_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(schedule.recipients),
    )
    message.attach_alternative(render_to_string("audit/report_email.html", context), "text/html")
    message.attach(report.filename(after, before, "csv"), report.csv_text(data), "text/csv")
    return message


def send_report(schedule: ReportSchedule, after: datetime, before: datetime, now=None) -> bool:
    """Build and email one report; the outcome is kept on the schedule and
    recorded in the audit log. Never raises for a mail server's refusal."""
    now = now or timezone.now()
    try:
        build_email(schedule, after, before).send(fail_silently=False)
    except Exception as exc:  # SMTP refusals, an unreachable server, a bad address
        # The exception's type and text: an SMTP error carries no credentials.
        result = f"{type(exc).__name__}: {exc}"[:500]
        status = RunStatus.FAILED
        logger.warning("scheduled report %s could not be sent: %s", schedule.uuid, result)
    else:
        count = len(schedule.recipients)
        result = f"Sent to {count} recipient{'s' if count != 1 else ''}."
        status = RunStatus.SENT
    ReportSchedule.objects.filter(pk=schedule.pk).update(
        last_run=now, last_status=status, last_result=result
    )
    schedule.last_run, schedule.last_status, schedule.last_result = now, status, result
    audit.record(
        "audit.report.send",
        schedule,
        detail={
            "report": schedule.report,
            "after": after.isoformat(),
            "before": before.isoformat(),
            "recipients": len(schedule.recipients),
            "result": result,
        },
        outcome=Outcome.SUCCESS if status == RunStatus.SENT else Outcome.FAILURE,
    )
    return status == RunStatus.SENT


def claim(schedule: ReportSchedule, now: datetime) -> tuple[datetime, datetime] | None:
    """Take a due schedule's run: one conditional UPDATE, so of two task
    runs only one gets it, and a period already sent is never sent again.
    After an outage that missed several sending times, the latest one is
    sent (the most recent complete period), not each missed one."""
    slot = schedule.next_run
    while (following := next_run_after(schedule.frequency, slot)) <= now:
        slot = following
    after, before = period_for(schedule.period, slot)
    claimed = (
        ReportSchedule.objects.filter(pk=schedule.pk, enabled=True, next_run=schedule.next_run)
        .filter(Q(last_period_end__isnull=True) | Q(last_period_end__lt=before))
        .update(next_run=next_run_after(schedule.frequency, now), last_period_end=before)
    )
    return (after, before) if claimed else None


def send_due(now: datetime | None = None) -> int:
    """Send every schedule that is due; returns how many were sent."""
    now = now or timezone.now()
    sent = 0
    due = ReportSchedule.objects.filter(enabled=True, next_run__lte=now).order_by("next_run")
    for schedule in due:
        period = claim(schedule, now)
        if period is None:
            # Sent for this period already (or taken by another run): only
            # move the next run on if it is still in the past.
            ReportSchedule.objects.filter(
                pk=schedule.pk, next_run=schedule.next_run, last_period_end__isnull=False
            ).update(next_run=next_run_after(schedule.frequency, now))
            continue
        if send_report(schedule, *period, now=now):
            sent += 1
    return sent
