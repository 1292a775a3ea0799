"""Compliance reports on known data: the change report, privileged actions,
failed and denied access (page, CSV, printable), the Reports page, who may
see them, and what they cost."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

import audit
from audit.models import AuditRecord
from audit.reports import LIST_LIMIT, REPORTS
from tests.factories import RegionFactory, user_with_role
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_client(auditor):
    return login_with_second_factor(Client(), auditor)


def period(**extra):
    """Only what the test does from now on (for ten minutes)."""
    now = timezone.now()
    return {
        "after": now.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "before": (now + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S"),
        **extra,
    }


def csv_of(window: dict) -> dict:
    return {**window, "format": "csv"}


def csv_lines(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# --- change report ----------------------------------------------------------------


def test_change_report_groups_by_object_type_and_actor(auditor_client, auditor):
    window = period()
    region = RegionFactory(name="Change region")
    region.name = "Renamed region"
    region.save()
    other = RegionFactory(name="Gone region")
    other.delete()
    with audit.acting_as(audit.Actor.system("tester")):
        RegionFactory(name="By the tester")
    # Not configuration changes: sign-ins, refusals, the audit log's own actions.
    audit.record("login", actor=auditor)
    audit.record("permission.denied", outcome="denied", detail={"path": "/x/"})
    audit.record("audit.export", detail={"format": "csv"})
    audit.record("securityevent.export", object_type="security.securityevent")

    response = auditor_client.get(reverse("audit:change_report"), window)
    assert response.status_code == 200
    data = REPORTS["change_report"].data(*response.context["form"].period())
    by_type = {t["object_type"]: t for t in data["types"]}
    assert set(by_type) == {"gateways.region"}
    regions = by_type["gateways.region"]
    assert regions["label"] == "Region" and regions["count"] == 5
    by_actor = {g["actor_name"]: g for g in regions["actors"]}
    # The test run itself is a system actor named after its process.
    default = next(name for name in by_actor if name != "tester")
    assert len(by_actor) == 2 and "tester" in by_actor
    assert (
        by_actor[default]["created"],
        by_actor[default]["changed"],
        by_actor[default]["deleted"],
    ) == (2, 1, 1)
    assert by_actor["tester"]["count"] == 1
    assert [r.action for r in data["records"]] == ["create", "update", "create", "delete", "create"]
    # Each listed change links to its record.
    body = response.content.decode()
    for record in data["records"]:
        assert f'href="{record.get_absolute_url()}"' in body
    assert "Renamed region" in body

    lines = csv_lines(auditor_client.get(reverse("audit:change_report"), csv_of(window)))
    assert lines[0][0] == "# Change report"
    assert lines[1][:3] == ["object_type", "actor", "changes"]
    group_rows = [line for line in lines if line and line[0] == "gateways.region"]
    expected = sorted([(default, "4"), ("tester", "1")])
    assert sorted((row[1], row[2]) for row in group_rows[:2]) == expected
    record_ids = [line[0] for line in lines if line and line[0].isdigit()]
    assert record_ids == [str(r.pk) for r in data["records"]]
    assert AuditRecord.objects.filter(action="audit.report", detail__format="csv").exists()


def test_change_report_lists_at_most_the_limit_and_the_csv_all(auditor_client):
    window = period()
    now = timezone.now()
    AuditRecord.objects.bulk_create(
        [
            AuditRecord(
                time=now,
                actor_type="system",
                actor_name="bulk",
                action="update",
                object_type="gateways.gateway",
                object_id=str(i),
                object_name=f"gw-{i}",
                source="system",
            )
            for i in range(LIST_LIMIT + 5)
        ]
    )
    response = auditor_client.get(reverse("audit:change_report"), window)
    data = REPORTS["change_report"].data(*response.context["form"].period())
    assert data["truncated"] and len(data["records"]) == LIST_LIMIT
    assert data["total"] == LIST_LIMIT + 5
    assert "the CSV has them all" in response.content.decode()
    lines = csv_lines(auditor_client.get(reverse("audit:change_report"), csv_of(window)))
    assert len([line for line in lines if line and line[0].isdigit()]) == LIST_LIMIT + 5


# --- privileged actions ----------------------------------------------------------------


def test_privileged_actions_on_known_data(auditor_client):
    from accounts.mfa.events import record as mfa_record
    from accounts.models import ApiKey, Role
    from tests.factories import scoped_role

    window = period()
    admin = user_with_role("priv-admin", "Admin")
    target = user_with_role("priv-target", "Viewer")
    target.groups.add(Role.objects.get(group__name="Operator").group)  # a role assignment
    scoped_role("Priv role", [], "gateways.view_gateway")  # a role with its permissions
    mfa_record("mfa.reset", target, actor=admin)
    ApiKey.issue(target, "priv-key", {"gateways": "read"})
    audit.record("policy.publish", actor=admin, object_type="policies.policyrevision")
    audit.record("policy.rollback", actor=admin, object_type="policies.policyrevision")
    audit.record("backup.restore", actor=admin, object_type="backups.backup", object_name="b1")
    # security.ContainmentAction (another app) is recorded as any model is.
    audit.record(
        "create",
        actor=admin,
        object_type="security.containmentaction",
        object_name="Block 203.0.113.9",
    )
    # Not privileged.
    audit.record("update", actor=admin, object_type="gateways.gateway", object_name="gw")
    audit.record("mfa.verify.succeeded", actor=target)

    response = auditor_client.get(reverse("audit:privileged_actions"), window)
    assert response.status_code == 200
    data = REPORTS["privileged_actions"].data(*response.context["form"].period())
    counts = {k["key"]: k["count"] for k in data["kinds"]}
    assert counts["policy"] == 2
    assert counts["mfa_reset"] == 1
    assert counts["api_key"] == 1
    assert counts["restore"] == 1
    assert counts["containment"] == 1
    assert counts["assignment"] >= 1  # the Operator role given to the user
    assert counts["role"] >= 1  # the new role and its permissions
    assigned = [r for r in data["records"] if r.kind == "assignment"]
    assert any(r.action == "user.roles_change" and r.object_name == "priv-target" for r in assigned)
    assert not [r for r in data["records"] if r.object_type == "gateways.gateway"]
    assert not [r for r in data["records"] if r.action == "mfa.verify.succeeded"]
    body = response.content.decode()
    assert "Block 203.0.113.9" in body and "Containment actions" in body

    lines = csv_lines(auditor_client.get(reverse("audit:privileged_actions"), csv_of(window)))
    assert ["containment", "1", "1"] in lines
    header = next(line for line in lines if line and line[0] == "record")
    assert header[-1] == "kind"
    kinds = [line[-1] for line in lines if line and line[0].isdigit()]
    assert kinds.count("restore") == 1 and kinds.count("policy") == 2


# --- failed and denied access ---------------------------------------------------------


def test_failed_access_groups_by_source_ip_and_user(auditor_client, settings):
    from accounts.mfa.events import record as mfa_record

    settings.AXES_ENABLED = False
    window = period()
    user_with_role("fa-user", "Viewer")
    viewer = user_with_role("fa-viewer", "Viewer")
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(3):
        attacker.post(reverse("account_login"), {"login": "fa-user", "password": "wrong-one-1"})
    attacker.post(reverse("account_login"), {"login": "admin", "password": "wrong-one-1"})
    denied = login_with_second_factor(Client(REMOTE_ADDR="203.0.113.20"), viewer)
    assert denied.get(reverse("audit:record_list")).status_code == 403
    request = RequestFactory().get("/accounts/mfa/verify/", REMOTE_ADDR="203.0.113.20")
    mfa_record("mfa.verify.failed", viewer, request, device_type="totp", reason="wrong code")
    # Not failed access: a successful sign-in and a failed task.
    audit.record("login", actor=viewer)
    audit.record("task.failed", outcome="failure", object_type="celery.task")

    response = auditor_client.get(reverse("audit:failed_access"), window)
    assert response.status_code == 200
    data = REPORTS["failed_access"].data(*response.context["form"].period())
    assert data["total"] == 6
    by_ip = {g["ip"]: g for g in data["by_ip"]}
    assert set(by_ip) == {"198.51.100.7", "203.0.113.20"}
    assert by_ip["198.51.100.7"]["count"] == 4
    assert by_ip["198.51.100.7"]["failed_logins"] == 4
    assert by_ip["198.51.100.7"]["users"] == 2
    assert (by_ip["203.0.113.20"]["denials"], by_ip["203.0.113.20"]["mfa_sso"]) == (1, 1)
    by_user = {g["actor_name"]: g for g in data["by_user"]}
    assert by_user["fa-user"]["count"] == 3 and by_user["admin"]["count"] == 1
    assert by_user["fa-viewer"]["count"] == 2 and by_user["fa-viewer"]["addresses"] == 1
    assert data["by_ip"][0]["ip"] == "198.51.100.7"  # the busiest first

    lines = csv_lines(auditor_client.get(reverse("audit:failed_access"), csv_of(window)))
    assert lines[2][:7] == ["198.51.100.7", "2", "4", "4", "0", "0", "0"]
    users = [line for line in lines if line and line[0] == "fa-viewer"]
    assert users[0][1:7] == ["1", "2", "0", "0", "1", "1"]


# --- the page, formats, periods, permissions, cost ------------------------------------


@pytest.mark.parametrize("slug", list(REPORTS))
def test_every_report_answers_page_csv_and_print(auditor_client, slug):
    url = reverse(f"audit:{slug}")
    page = auditor_client.get(url)
    assert page.status_code == 200
    assert "window.print" not in page.content.decode()
    assert 'href="?format=csv"' in page.content.decode()
    printable = auditor_client.get(url, {"format": "print"}).content.decode()
    assert "window.print" in printable and "print-footer" in printable
    assert csv_lines(auditor_client.get(url, {"format": "csv"}))[0][0].startswith("# ")


def test_a_bad_period_is_a_400_with_the_field_named(auditor_client):
    url = reverse("audit:change_report")
    response = auditor_client.get(url, {"after": "2026-02-01T00:00", "before": "2026-01-01T00:00"})
    assert response.status_code == 400
    assert "Choose an end after the start." in response.content.decode()
    response = auditor_client.get(url, {"after": "yesterday", "format": "csv"})
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    assert not AuditRecord.objects.filter(action="audit.report").exists()


def test_reports_page_lists_the_four_reports_and_is_linked_from_the_log(auditor_client):
    log = auditor_client.get(reverse("audit:record_list")).content.decode()
    assert f'href="{reverse("audit:reports")}"' in log
    hub = auditor_client.get(reverse("audit:reports")).content.decode()
    for report in REPORTS.values():
        assert f'href="{report.url}"' in hub
    assert 'id="schedules"' in hub


@pytest.mark.parametrize(("role", "status"), [("Viewer", 403), ("Operator", 403), ("Admin", 200)])
def test_only_auditors_and_admins_see_reports(role, status):
    client = login_with_second_factor(Client(), user_with_role(f"r-{role}", role))
    for name in ("reports", *REPORTS):
        assert client.get(reverse(f"audit:{name}")).status_code == status, name


def _bulk(n: int, start: int = 0) -> None:
    now = timezone.now()
    rows = []
    for i in range(start, start + n):
        rows.append(
            AuditRecord(
                time=now,
                actor_type="user",
                actor_name=f"user-{i % 7}",
                action=("update", "login.failed", "policy.publish")[i % 3],
                object_type="gateways.gateway",
                object_id=str(i),
                object_name=f"gw-{i}",
                ip=f"198.51.100.{i % 50}",
                outcome="failure" if i % 3 == 1 else "success",
                source="web",
            )
        )
    AuditRecord.objects.bulk_create(rows)


@pytest.mark.parametrize("slug", ["change_report", "privileged_actions", "failed_access"])
def test_report_query_count_does_not_grow(auditor_client, count_queries, slug):
    url = reverse(f"audit:{slug}") + "?" + urlencode(period())
    _bulk(30)
    small = count_queries(auditor_client, url)
    _bulk(900, start=30)
    assert count_queries(auditor_client, url) == small
