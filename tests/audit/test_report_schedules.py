"""Scheduled reports: when they are due and what they cover, the form, the
beat task sending each period once, Send now, and the email itself through a
real SMTP server (aiosmtpd on loopback), attachment included."""

from __future__ import annotations

import csv
import email
import io
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.choices import ReportFrequency, ReportPeriod, RunStatus
from audit.models import AuditRecord, ReportSchedule
from audit.report_schedules import claim, next_run_after, period_for, send_due
from audit.tasks import send_due_reports
from tests.accounts.test_invitation_email import free_port, smtp_server, smtp_settings  # noqa: F401
from tests.factories import user_with_role
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- when, and which period ----------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "moment", "expected"),
    [
        (ReportFrequency.DAILY, "2026-03-10T05:59", "2026-03-10T06:00"),
        (ReportFrequency.DAILY, "2026-03-10T06:00", "2026-03-11T06:00"),
        (ReportFrequency.WEEKLY, "2026-03-10T12:00", "2026-03-16T06:00"),  # a Tuesday
        (ReportFrequency.WEEKLY, "2026-03-16T05:00", "2026-03-16T06:00"),  # that Monday
        (ReportFrequency.MONTHLY, "2026-03-01T05:00", "2026-03-01T06:00"),
        (ReportFrequency.MONTHLY, "2026-03-01T07:00", "2026-04-01T06:00"),
        (ReportFrequency.MONTHLY, "2026-12-15T00:00", "2027-01-01T06:00"),
    ],
)
def test_next_run(frequency, moment, expected):
    assert next_run_after(frequency, at(moment)) == at(expected)


@pytest.mark.parametrize(
    ("period", "moment", "start", "end"),
    [
        (ReportPeriod.PREVIOUS_DAY, "2026-03-10T06:00", "2026-03-09T00:00", "2026-03-10T00:00"),
        (ReportPeriod.PREVIOUS_WEEK, "2026-03-16T06:00", "2026-03-09T00:00", "2026-03-16T00:00"),
        (ReportPeriod.PREVIOUS_WEEK, "2026-03-18T06:00", "2026-03-09T00:00", "2026-03-16T00:00"),
        (ReportPeriod.PREVIOUS_MONTH, "2026-03-01T06:00", "2026-02-01T00:00", "2026-03-01T00:00"),
        (ReportPeriod.PREVIOUS_MONTH, "2026-01-01T06:00", "2025-12-01T00:00", "2026-01-01T00:00"),
    ],
)
def test_period(period, moment, start, end):
    assert period_for(period, at(moment)) == (at(start), at(end))


# --- the form --------------------------------------------------------------------------


@pytest.fixture
def auditor_client(auditor):
    return login_with_second_factor(Client(), auditor)


def form_data(**changes):
    data = {
        "name": "Weekly changes",
        "report": "change_report",
        "period": "previous_week",
        "frequency": "weekly",
        "recipients": "ciso@example.com\nAudit@Example.com, audit@example.com",
        "enabled": "on",
    }
    data.update(changes)
    return data


def test_auditor_schedules_a_report(auditor_client, auditor):
    response = auditor_client.post(reverse("audit:reportschedule_add"), form_data())
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get()
    assert schedule.recipients == ["ciso@example.com", "Audit@Example.com"]  # one per address
    assert schedule.created_by == auditor
    assert schedule.next_run == next_run_after("weekly", schedule.created)
    assert schedule.next_run > timezone.now()
    assert AuditRecord.objects.filter(
        action="create", object_type="audit.reportschedule", object_id=str(schedule.uuid)
    ).exists()
    hub = auditor_client.get(reverse("audit:reports")).content.decode()
    assert "Weekly changes" in hub and "ciso@example.com" in hub
    assert schedule.next_run.strftime("%Y-%m-%d %H:%M") in hub


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        ("", "Enter at least one email address."),
        ("ciso@example.com, not-an-address", "Not an email address: not-an-address."),
        (" ".join(f"u{i}@example.com" for i in range(51)), "At most 50 recipients"),
    ],
)
def test_bad_recipients_are_refused_and_nothing_is_stored(auditor_client, recipients, message):
    response = auditor_client.post(
        reverse("audit:reportschedule_add"), form_data(recipients=recipients)
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not ReportSchedule.objects.exists()


def test_an_unknown_report_or_frequency_is_refused(auditor_client):
    for field, value in (("report", "everything"), ("frequency", "hourly")):
        response = auditor_client.post(
            reverse("audit:reportschedule_add"), form_data(**{field: value})
        )
        assert response.status_code == 422
    assert not ReportSchedule.objects.exists()


def test_changing_the_frequency_moves_the_next_run(auditor_client):
    auditor_client.post(reverse("audit:reportschedule_add"), form_data(frequency="monthly"))
    schedule = ReportSchedule.objects.get()
    url = reverse("audit:reportschedule_edit", kwargs={"uuid": schedule.uuid})
    assert auditor_client.post(url, form_data(frequency="daily")).status_code == 302
    schedule.refresh_from_db()
    assert schedule.next_run - timezone.now() <= timedelta(days=1)


def test_viewers_and_operators_cannot_schedule():
    for role in ("Viewer", "Operator"):
        client = login_with_second_factor(Client(), user_with_role(f"s-{role}", role))
        assert client.post(reverse("audit:reportschedule_add"), form_data()).status_code == 403
    assert not ReportSchedule.objects.exists()


# --- sending -------------------------------------------------------------------------------


def known_changes(after: datetime) -> list[AuditRecord]:
    """Three configuration changes an hour into the period, one sign-in."""
    moment = after + timedelta(hours=1)
    rows = [
        AuditRecord(
            time=moment,
            actor_type="user",
            actor_name="alice",
            action=action,
            object_type="gateways.gateway",
            object_id=f"id-{i}",
            object_name=f"edge-{i}",
            ip="192.0.2.10",
            source="web",
        )
        for i, action in enumerate(("create", "update", "delete"))
    ]
    rows.append(
        AuditRecord(
            time=moment, actor_type="user", actor_name="alice", action="login", source="web"
        )
    )
    return AuditRecord.objects.bulk_create(rows)


def due_schedule(**fields) -> ReportSchedule:
    now = timezone.now()
    values = {
        "name": "Daily changes",
        "report": "change_report",
        "period": ReportPeriod.PREVIOUS_DAY,
        "frequency": ReportFrequency.DAILY,
        "recipients": ["ciso@example.com", "audit@example.com"],
        # Due: the last sending time before now.
        "next_run": next_run_after(ReportFrequency.DAILY, now - timedelta(days=1)),
        **fields,
    }
    return ReportSchedule.objects.create(**values)


def parse(envelope):
    return email.message_from_bytes(envelope.content, policy=policy.default)


def test_the_beat_task_sends_each_period_once(smtp_server, smtp_settings):  # noqa: F811
    controller, inbox = smtp_server
    smtp_settings(controller.port)
    schedule = due_schedule()
    due = schedule.next_run
    after, before = period_for(schedule.period, due)
    changes = known_changes(after)
    # Outside the period: not in the report.
    known_changes(after - timedelta(days=2))

    assert send_due_reports.apply().get() == 1
    assert send_due_reports.apply().get() == 0  # the task again: nothing more is due
    assert send_due() == 0

    assert len(inbox.messages) == 1
    envelope = inbox.messages[0]
    assert sorted(envelope.rcpt_tos) == ["audit@example.com", "ciso@example.com"]
    message = parse(envelope)
    assert message["Subject"].startswith("Change report: ")
    html = message.get_body(("html",)).get_content()
    assert "Change report" in html and "edge-1" in html and "alice" in html
    assert "href=" not in html.split("<body>")[1]  # no links into the console
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == f"change-report-{after:%Y%m%d}-{before:%Y%m%d}.csv"
    lines = list(csv.reader(io.StringIO(attachment.get_content())))
    assert lines[0] == ["# Change report", after.isoformat(), before.isoformat()]
    assert lines[2][:6] == ["gateways.gateway", "alice", "3", "1", "1", "1"]
    records = [line for line in lines if line and line[0].isdigit()]
    assert [int(line[0]) for line in records] == [r.pk for r in changes[:3]]
    assert [line[3] for line in records] == ["create", "update", "delete"]

    schedule.refresh_from_db()
    assert schedule.last_status == RunStatus.SENT
    assert schedule.last_result == "Sent to 2 recipients."
    assert schedule.last_period_end == before
    assert schedule.next_run > timezone.now()
    run = AuditRecord.objects.get(action="audit.report.send")
    assert run.object_id == str(schedule.uuid) and run.outcome == "success"
    assert run.detail["before"] == before.isoformat()


def test_a_claimed_run_cannot_be_claimed_again():
    schedule = due_schedule()
    stale = ReportSchedule.objects.get(pk=schedule.pk)  # what a second worker read
    assert claim(schedule, timezone.now()) is not None
    assert claim(stale, timezone.now()) is None


def test_after_an_outage_the_latest_period_is_sent_once(smtp_server, smtp_settings):  # noqa: F811
    controller, inbox = smtp_server
    smtp_settings(controller.port)
    now = timezone.now()
    # Due five days ago; the task did not run since.
    schedule = due_schedule(next_run=next_run_after(ReportFrequency.DAILY, now - timedelta(days=6)))
    assert send_due(now) == 1
    assert send_due(now) == 0
    # The run that fell due last (whatever the time of day the test runs at:
    # between midnight and the schedule's hour it is yesterday's).
    latest = next_run_after(ReportFrequency.DAILY, now - timedelta(days=1))
    assert latest <= now < next_run_after(ReportFrequency.DAILY, latest)
    after, before = period_for(ReportPeriod.PREVIOUS_DAY, latest)
    schedule.refresh_from_db()
    assert schedule.last_period_end == before
    assert parse(inbox.messages[0])["Subject"] == (
        f"Change report: {after:%Y-%m-%d} – {after:%Y-%m-%d}"
    )


def test_a_period_already_sent_is_not_sent_again(smtp_server, smtp_settings):  # noqa: F811
    controller, inbox = smtp_server
    smtp_settings(controller.port)
    schedule = due_schedule()
    _after, before = period_for(schedule.period, schedule.next_run)
    # Sent already (say, before someone re-saved the schedule with its old time).
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_period_end=before)
    assert send_due() == 0
    assert inbox.messages == []
    schedule.refresh_from_db()
    assert schedule.next_run > timezone.now()  # and it moved on


def test_paused_schedules_are_not_sent(smtp_server, smtp_settings):  # noqa: F811
    controller, inbox = smtp_server
    smtp_settings(controller.port)
    due_schedule(enabled=False)
    assert send_due() == 0 and inbox.messages == []


def test_an_unreachable_mail_server_is_the_last_result(smtp_settings):  # noqa: F811
    smtp_settings(free_port())  # nobody listens there
    schedule = due_schedule()
    assert send_due() == 0
    schedule.refresh_from_db()
    assert schedule.last_status == RunStatus.FAILED
    assert "Connection refused" in schedule.last_result or "Error" in schedule.last_result
    assert schedule.next_run > timezone.now()  # not retried every five minutes
    assert AuditRecord.objects.get(action="audit.report.send").outcome == "failure"


def test_send_now_sends_once_and_shows_the_result(auditor_client, smtp_server, smtp_settings):  # noqa: F811
    controller, inbox = smtp_server
    smtp_settings(controller.port)
    schedule = due_schedule(report="failed_access", next_run=timezone.now() + timedelta(days=1))
    url = reverse("audit:reportschedule_send", kwargs={"uuid": schedule.uuid})
    confirm = auditor_client.get(url)
    assert confirm.status_code == 200 and "Send now" in confirm.content.decode()
    assert inbox.messages == []
    response = auditor_client.post(url, follow=True)
    assert response.status_code == 200
    assert "Sent Daily changes: Sent to 2 recipients." in response.content.decode()
    assert auditor_client.post(url).status_code == 302  # a double click
    assert len(inbox.messages) == 1
    (attachment,) = list(parse(inbox.messages[0]).iter_attachments())
    assert attachment.get_filename().startswith("failed-access-")
    schedule.refresh_from_db()
    assert schedule.last_status == RunStatus.SENT
    assert schedule.next_run > timezone.now() + timedelta(hours=23)  # unchanged
    hub = auditor_client.get(reverse("audit:reports")).content.decode()
    assert "Sent to 2 recipients." in hub


def test_delete_asks_first(auditor_client):
    schedule = due_schedule()
    url = reverse("audit:reportschedule_delete", kwargs={"uuid": schedule.uuid})
    assert "Daily changes" in auditor_client.get(url).content.decode()
    assert ReportSchedule.objects.exists()
    assert auditor_client.post(url).status_code == 302
    assert not ReportSchedule.objects.exists()
