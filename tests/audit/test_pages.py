"""The audit pages, exports, the API, history on object pages, recent actions,
archive round trip and the access review report."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

import audit
from audit.archive import archive_before, import_archive, read_archive
from audit.chain import seal_pending, verify_chain
from audit.models import AuditArchive, AuditRecord
from audit.views import export_rows
from tests.audit.conftest import tamper
from tests.factories import GatewayFactory, RegionFactory, scoped_role, user_with_role
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_client(auditor):
    return login_with_second_factor(Client(), auditor)


def bulk_records(n: int, **fields) -> None:
    now = timezone.now()
    AuditRecord.objects.bulk_create(
        [
            AuditRecord(
                time=now,
                actor_type="system",
                actor_name="bulk",
                action=fields.get("action", "test.bulk"),
                source="system",
                detail={"i": i, "pad": "x" * 200},
            )
            for i in range(n)
        ],
        batch_size=1000,
    )


# --- list, filters, keyset pagination -------------------------------------------------------


def test_list_filters_and_pages_by_keyset(auditor_client):
    region = RegionFactory(name="Filtered region")
    bulk_records(120)
    url = reverse("audit:record_list")
    response = auditor_client.get(url)
    assert response.status_code == 200
    page = response.context["page"]
    assert len(page["records"]) == 50 and page["older"] and not page["newer"]
    older = auditor_client.get(url + response.context["older_url"]).context["page"]
    assert older["records"][0].pk == page["records"][-1].pk - 1
    assert older["newer"]
    back = auditor_client.get(f"{url}?newer={older['newer']}").context["page"]
    assert [r.pk for r in back["records"]] == [r.pk for r in page["records"]]

    found = auditor_client.get(url, {"q": "Filtered region"}).context["page"]["records"]
    assert [r.object_id for r in found] == [str(region.uuid)]
    by_type = auditor_client.get(url, {"object_type": "gateways.region"}).context["page"]
    assert {r.object_type for r in by_type["records"]} == {"gateways.region"}
    assert auditor_client.get(url, {"ip": "not-an-ip"}).status_code == 400
    assert auditor_client.get(url, {"ip": "10.0.0.0/8"}).status_code == 200
    hx = auditor_client.get(url, HTTP_HX_REQUEST="true")
    assert b"<html" not in hx.content and b"audit-table" in hx.content


def test_list_query_count_does_not_grow(auditor_client, count_queries):
    bulk_records(20)
    url = reverse("audit:record_list")
    few = count_queries(auditor_client, url)
    bulk_records(500)
    assert count_queries(auditor_client, url) == few


def test_detail_shows_the_diff_field_by_field(auditor_client):
    region = RegionFactory(description="before text")
    region.description = "after text"
    region.save()
    entry = AuditRecord.objects.filter(object_id=str(region.uuid), action="update").get()
    response = auditor_client.get(entry.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert "before text" in body and "after text" in body
    assert response.context["diff"] == [
        {
            "label": "Description",
            "name": "description",
            "before": "before text",
            "after": "after text",
        }
    ]
    assert (
        auditor_client.get(reverse("audit:record_detail", kwargs={"pk": 10**12})).status_code == 404
    )


def test_only_auditor_and_admin_see_the_log():
    url = reverse("audit:record_list")
    for role, allowed in (
        ("Viewer", False),
        ("Operator", False),
        ("Auditor", True),
        ("Admin", True),
    ):
        user = user_with_role(f"u-{role}", role)
        client = login_with_second_factor(Client(), user)
        assert (client.get(url).status_code == 200) is allowed, role


def test_nothing_can_be_changed_through_the_api_or_admin(admin_client):
    entry = audit.record("test.event")
    api = APIClient()
    api.force_authenticate(user_with_role("api-admin", "Admin"))
    detail = f"/api/v1/audit-events/{entry.pk}/"
    assert api.get(detail).status_code == 200
    for method in ("put", "patch", "delete"):
        assert getattr(api, method)(detail, {}).status_code in (403, 405)
    assert api.post("/api/v1/audit-events/", {}).status_code in (403, 405)
    change = reverse("admin:audit_auditrecord_change", args=[entry.pk])
    assert admin_client.get(change).status_code == 200  # shown, read-only
    admin_client.post(change, {"action": "forged"})
    delete = reverse("admin:audit_auditrecord_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.action == "test.event"


def test_api_lists_with_a_cursor_and_filters():
    bulk_records(30, action="test.api")
    api = APIClient()
    api.force_authenticate(user_with_role("api-auditor", "Auditor"))
    response = api.get("/api/v1/audit-events/", {"action": "test.api", "page_size": 10})
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 10 and body["next"] and "cursor=" in body["next"]
    assert api.get(body["next"]).json()["results"][0]["id"] < body["results"][-1]["id"]
    viewer = APIClient()
    viewer.force_authenticate(user_with_role("api-viewer", "Viewer"))
    assert viewer.get("/api/v1/audit-events/").status_code == 403


# --- verify button -------------------------------------------------------------------


def test_verify_button_reports_the_first_broken_link(auditor_client):
    made = [audit.record("test.event") for _ in range(3)]
    seal_pending()
    response = auditor_client.post(reverse("audit:verify"), HTTP_HX_REQUEST="true")
    assert b"Chain intact" in response.content
    victim = AuditRecord.objects.get(pk=made[1].pk)
    tamper("UPDATE audit_auditrecord SET object_name = 'x' WHERE id = %s", [victim.pk])
    response = auditor_client.post(reverse("audit:verify"), HTTP_HX_REQUEST="true")
    assert f"#{victim.seq}".encode() in response.content
    assert victim.get_absolute_url().encode() in response.content


# --- history and recent actions ----------------------------------------------------------


def test_object_pages_show_their_history(admin_client):
    gateway = GatewayFactory()
    gateway.description = "changed for history"
    gateway.save()
    for obj in (gateway, gateway.region):
        body = admin_client.get(obj.get_absolute_url()).content.decode()
        assert 'id="history"' in body
    body = admin_client.get(gateway.get_absolute_url()).content.decode()
    assert "description" in body


def test_operators_see_history_only_in_their_scope():
    home, away = RegionFactory(), RegionFactory()
    inside, outside = GatewayFactory(region=home), GatewayFactory(region=away)
    role = scoped_role("Home gw", [home], "gateways.view_gateway")
    user = user_with_role("scoped-op", role.group.name)
    client = login_with_second_factor(Client(), user)
    response = client.get(inside.get_absolute_url())
    assert response.status_code == 200 and b'id="history"' in response.content
    # No link into the log: opening records needs the audit permission.
    assert reverse("audit:record_list").encode() not in response.content
    assert client.get(outside.get_absolute_url()).status_code == 404


def test_recent_actions_on_the_account_page_and_dashboard():
    user = user_with_role("doer", "Operator")
    client = login_with_second_factor(Client(), user)
    client.post(reverse("gateways:region_add"), {"name": "Mine", "slug": "mine", "description": ""})
    for url in (reverse("account"), reverse("dashboard")):
        body = client.get(url).content.decode()
        assert "Your recent actions" in body and "Mine" in body


def test_history_costs_one_query_whatever_the_history(admin_client, count_queries):
    gateway = GatewayFactory()
    url = gateway.get_absolute_url()
    few = count_queries(admin_client, url)
    for i in range(30):
        gateway.description = f"change {i}"
        gateway.save()
    assert count_queries(admin_client, url) == few


# --- export ------------------------------------------------------------------------------


def test_export_jsonl_carries_the_chain_head_and_verifiable_records(auditor_client):
    for _ in range(3):
        audit.record("test.export")
    seal_pending()
    response = auditor_client.get(reverse("audit:export"), {"format": "jsonl", "action": "test."})
    assert response.status_code == 200 and response.streaming
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    header, rows = lines[0], lines[1:]
    head = AuditRecord.objects.filter(seq__isnull=False).order_by("-seq").first()
    assert header["chain_head"]["seq"] >= head.seq - 1
    assert [r["action"] for r in rows] == ["test.export"] * 3
    from audit.chain import compute_hash

    assert all(compute_hash(r) == r["hash"] for r in rows)
    assert AuditRecord.objects.filter(action="audit.export").count() == 1


def test_export_csv(auditor_client):
    audit.record("test.csv")
    response = auditor_client.get(reverse("audit:export"), {"format": "csv", "action": "test.csv"})
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].startswith("id,seq,time")
    assert "test.csv" in text and text.splitlines()[-1].startswith("# chain head")


def test_export_needs_its_permission():
    user = user_with_role("view-only", "Viewer")
    client = login_with_second_factor(Client(), user)
    assert client.get(reverse("audit:export")).status_code == 403


def test_streamed_export_memory_is_bounded():
    def peak(n):
        AuditRecord.objects.filter(action="test.bulk").delete() if False else None
        tracemalloc.start()
        total = sum(1 for _ in export_rows(AuditRecord.objects.filter(action="test.bulk")))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return total, top

    bulk_records(1000)
    small_n, small = peak(1000)
    bulk_records(9000)
    large_n, large = peak(10000)
    assert (small_n, large_n) == (1000, 10000)
    # Ten times the rows, not ten times the memory (chunks of 1,000 rows).
    assert large < small * 2.5


# --- archive -------------------------------------------------------------------------------


def test_archive_remove_import_round_trip(tmp_path):
    for i in range(5):
        audit.record("test.old", detail={"i": i})
    seal_pending()
    old = list(AuditRecord.objects.filter(seq__isnull=False).order_by("seq"))
    before = list(export_rows(AuditRecord.objects.filter(pk__in=[r.pk for r in old])))
    later = timezone.now() + timedelta(seconds=1)
    archive = archive_before(later, directory=tmp_path)
    assert archive is not None and archive.count == len(old)
    assert not AuditRecord.objects.filter(pk__in=[r.pk for r in old]).exists()
    manifest = json.loads((tmp_path / f"{archive.file_name}.manifest.json").read_text())
    assert manifest["count"] == len(old) and manifest["last_hash"] == old[-1].hash
    assert list(read_archive(tmp_path / archive.file_name)) == before
    # The live chain continues from the archive.
    audit.record("test.new")
    seal_pending()
    assert verify_chain().ok
    result, created = import_archive(tmp_path / archive.file_name)
    assert result.ok and created == len(old)
    after = list(export_rows(AuditRecord.objects.filter(pk__in=[r.pk for r in old])))
    assert after == before
    assert verify_chain().ok
    assert AuditArchive.objects.count() == 1


def test_import_refuses_an_altered_archive(tmp_path):
    for _ in range(3):
        audit.record("test.old")
    seal_pending()
    archive = archive_before(timezone.now() + timedelta(seconds=1), directory=tmp_path)
    path = tmp_path / archive.file_name
    rows = list(read_archive(path))
    rows[1]["actor_name"] = "someone else"
    with gzip.open(path, "wt") as out:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True) + "\n")
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("audit_import", str(path), stdout=StringIO())
    (tmp_path / f"{archive.file_name}.manifest.json").unlink()
    with pytest.raises(CommandError, match="altered"):
        call_command("audit_import", str(path), "--verify-only", stdout=StringIO())


# --- reports ----------------------------------------------------------------------------------


def test_access_review_on_known_data(auditor_client):
    from accounts.models.api_keys import ApiKey

    alice = user_with_role("alice", "Operator")
    ApiKey.issue(alice, "alice-ci", {"gateways": "read"})
    Client().post(reverse("account_login"), {"login": "alice", "password": "test-password-123"})
    url = reverse("audit:access_review")
    response = auditor_client.get(url)
    assert response.status_code == 200
    row = next(r for r in response.context["rows"] if r["user"] == alice)
    assert row["roles"] == ["Operator"]
    assert row["mfa"] == []
    assert row["source"] == "local"
    assert row["sign_ins"] == 1
    assert [k["name"] for k in row["api_keys"]] == [
        "alice-ci (" + alice.api_keys.get().prefix + "…)"
    ]
    csv_response = auditor_client.get(url, {"format": "csv"})
    csv_text = b"".join(csv_response.streaming_content).decode()
    line = next(line for line in csv_text.splitlines() if line.startswith("alice,"))
    assert "Operator" in line and "alice-ci" in line
    printable = auditor_client.get(url, {"format": "print"}).content.decode()
    assert "window.print" in printable
