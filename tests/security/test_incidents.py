"""Incident pages and API: list, detail, status flow, assignee, notes, scope,
query counts (security.views_incidents, security.api)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from security.models import CorrelationRule, Incident, IncidentActivity, SecurityEvent
from tests.factories import GatewayFactory, RegionFactory, user_with_role
from tests.helpers import login_with_second_factor
from tests.security.test_events_factories import SecurityEventFactory

pytestmark = pytest.mark.django_db


def make_incident(gateways, title="Distributed scan from 203.0.113.9", events=3, **fields):
    now = timezone.now()
    incident = Incident.objects.create(
        title=title,
        severity=fields.pop("severity", "high"),
        rule=CorrelationRule.objects.get(kind="distributed_scan"),
        key=f"test:{uuid.uuid4()}",
        src_ip="203.0.113.9",
        first_seen=now - timedelta(minutes=5),
        last_seen=now - timedelta(minutes=1),
        event_count=events * len(gateways),
        **fields,
    )
    incident.gateways.set(gateways)
    for gateway in gateways:
        for _n in range(events):
            SecurityEventFactory(gateway=gateway, incident=incident, src_ip="203.0.113.9")
    IncidentActivity.objects.create(incident=incident, kind="created", text="Opened by a test.")
    return incident


@pytest.fixture
def world():
    north, south = RegionFactory(name="North"), RegionFactory(name="South")
    gw_n, gw_s = GatewayFactory(region=north), GatewayFactory(region=south)
    return {
        "north": north,
        "south": south,
        "gw_n": gw_n,
        "gw_s": gw_s,
        "north_only": make_incident([gw_n], title="North scan"),
        "south_only": make_incident([gw_s], title="South scan"),
        "both": make_incident([gw_n, gw_s], title="Fleet-wide scan"),
    }


def signed_in(client, user):
    login_with_second_factor(client, user)
    return client


@pytest.fixture
def admin(client):
    return signed_in(client, user_with_role("inc-admin", "Admin"))


def titles(response) -> set[str]:
    return {row.record.title for row in response.context["table"].page.object_list}


# --- List -----------------------------------------------------------------------------


def test_list_filters(world, admin):
    url = reverse("security:incident_list")
    assert titles(admin.get(url)) == {"North scan", "South scan", "Fleet-wide scan"}
    Incident.objects.filter(pk=world["south_only"].pk).update(status="resolved", severity="low")
    assert titles(admin.get(url, {"status": "resolved"})) == {"South scan"}
    assert titles(admin.get(url, {"severity": ["high"]})) == {"North scan", "Fleet-wide scan"}
    assert titles(admin.get(url, {"region": world["south"].slug})) == {
        "South scan",
        "Fleet-wide scan",
    }
    assert titles(admin.get(url, {"gateway": world["gw_n"].name})) == {
        "North scan",
        "Fleet-wide scan",
    }
    assert titles(admin.get(url, {"q": "fleet"})) == {"Fleet-wide scan"}
    assert titles(admin.get(url, {"q": "203.0.113.9"})) == {
        "North scan",
        "South scan",
        "Fleet-wide scan",
    }
    assert titles(admin.get(url, {"kind": "brute_force"})) == set()
    rule = CorrelationRule.objects.get(kind="distributed_scan")
    assert len(titles(admin.get(url, {"rule": str(rule.uuid)}))) == 3
    assert titles(admin.get(url, {"assignee": "none", "range": "1h"})) == {
        "North scan",
        "South scan",
        "Fleet-wide scan",
    }


def test_bad_filters_are_a_400_with_messages(world, admin):
    response = admin.get(reverse("security:incident_list"), {"status": "nope", "since": "x"})
    assert response.status_code == 400
    errors = response.context["filterset"].form.errors
    assert "status" in errors and "since" in errors


def test_an_operator_sees_incidents_reaching_their_regions_only(world, client):
    operator = user_with_role("inc-north", "Operator", regions=[world["north"]])
    signed_in(client, operator)
    assert titles(client.get(reverse("security:incident_list"))) == {
        "North scan",
        "Fleet-wide scan",
    }
    south = world["south_only"]
    assert client.get(south.get_absolute_url()).status_code == 404
    assert (
        client.post(
            reverse("security:incident_status", kwargs={"uuid": south.uuid}), {"status": "resolved"}
        ).status_code
        == 404
    )
    # The fleet-wide incident: readable, its north events only, not changeable.
    both = world["both"]
    page = client.get(both.get_absolute_url())
    assert page.status_code == 200
    assert {e.gateway_id for e in page.context["events"].object_list} == {world["gw_n"].pk}
    assert page.context["can_change"] is False
    response = client.post(
        reverse("security:incident_status", kwargs={"uuid": both.uuid}), {"status": "resolved"}
    )
    assert response.status_code == 404
    both.refresh_from_db()
    assert both.status == "open"
    # API: the same.
    api = client.get("/api/v1/incidents/").json()
    assert {row["title"] for row in api["results"]} == {"North scan", "Fleet-wide scan"}
    assert client.get(f"/api/v1/incidents/{south.uuid}/").status_code == 404
    patch = client.patch(
        f"/api/v1/incidents/{both.uuid}/", {"status": "resolved"}, content_type="application/json"
    )
    assert patch.status_code == 404


# --- Detail, status, assignee, notes -------------------------------------------------------


def test_detail_shows_timeline_events_and_containment_panel(world, admin):
    incident = world["both"]
    response = admin.get(incident.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Fleet-wide scan" in body
    assert "Opened by a test." in body
    assert 'id="incident-summary-' in body
    assert "Containment" in body
    assert len(response.context["events"].object_list) == 6
    assert response.context["can_change"] is True


def test_detail_event_rows_are_escaped_and_link_to_each_event(world, admin):
    """The rows are built in Python (views_incidents.incident_event_rows), not
    by the template engine: every value is still escaped."""
    incident = world["north_only"]
    hostile = SecurityEventFactory(
        gateway=world["gw_n"],
        incident=incident,
        signature='<script>alert("sig")</script>',
        src_ip=None,
        dst_ip="10.0.0.9",
        dst_port=None,
        severity="critical",
    )
    SecurityEventFactory(gateway=world["gw_n"], incident=incident, signature="", dst_port=443)
    world["gw_n"].name = "gw-<i>"
    world["gw_n"].save()
    body = admin.get(incident.get_absolute_url()).content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;alert(&quot;sig&quot;)" in body
    assert "gw-&lt;i&gt;" in body and "gw-<i>" not in body
    assert f'href="{hostile.get_absolute_url()}"' in body
    assert "<code>10.0.0.9</code>" in body  # no port: the address alone
    assert ":443</code>" in body
    assert '<td data-label="Signature">—</td>' in body
    assert '<td data-label="Source">—</td>' in body
    assert body.count('data-label="Severity"') == 5


def test_status_flow_is_recorded_on_the_timeline(world, admin):
    incident = world["north_only"]
    url = reverse("security:incident_status", kwargs={"uuid": incident.uuid})
    for status in ("investigating", "resolved", "open", "false_positive"):
        response = admin.post(url, {"status": status, "note": "checked"})
        assert response.status_code == 302
        incident.refresh_from_db()
        assert incident.status == status
    entries = list(
        IncidentActivity.objects.filter(incident=incident, kind="status")
        .order_by("at", "id")
        .values_list("data", flat=True)
    )
    assert [(e["from"], e["to"]) for e in entries] == [
        ("open", "investigating"),
        ("investigating", "resolved"),
        ("resolved", "open"),
        ("open", "false_positive"),
    ]
    # The same status again: nothing recorded.
    admin.post(url, {"status": "false_positive"})
    assert IncidentActivity.objects.filter(incident=incident, kind="status").count() == 4


def test_bad_status_is_a_422_with_the_field_message_and_stores_nothing(world, admin):
    incident = world["north_only"]
    url = reverse("security:incident_status", kwargs={"uuid": incident.uuid})
    response = admin.post(url, {"status": "closed-forever"})
    assert response.status_code == 422
    assert "status" in response.context["status_form"].errors
    incident.refresh_from_db()
    assert incident.status == "open"
    assert not IncidentActivity.objects.filter(incident=incident, kind="status").exists()


def test_assignee_and_back_to_nobody(world, admin):
    incident = world["north_only"]
    operator = user_with_role("inc-op", "Operator")
    viewer = user_with_role("inc-viewer", "Viewer")
    url = reverse("security:incident_assignee", kwargs={"uuid": incident.uuid})
    assert admin.post(url, {"assignee": "inc-op"}).status_code == 302
    incident.refresh_from_db()
    assert incident.assignee == operator
    # A viewer cannot hold incidents: not offered, refused.
    response = admin.post(url, {"assignee": viewer.username})
    assert response.status_code == 422
    incident.refresh_from_db()
    assert incident.assignee == operator
    assert admin.post(url, {"assignee": ""}).status_code == 302
    incident.refresh_from_db()
    assert incident.assignee is None
    texts = list(
        IncidentActivity.objects.filter(incident=incident, kind="assignee")
        .order_by("at", "id")
        .values_list("text", flat=True)
    )
    assert texts == ["Assigned to inc-op.", "Unassigned (was inc-op)."]
    listed = admin.get(reverse("security:incident_list"), {"assignee": "none"})
    assert "North scan" in titles(listed)


def test_a_note_is_added_once_even_when_the_form_is_sent_twice(world, admin):
    incident = world["north_only"]
    url = reverse("security:incident_note", kwargs={"uuid": incident.uuid})
    token = str(uuid.uuid4())
    for _n in range(2):
        assert admin.post(url, {"text": "Blocked at the edge.", "token": token}).status_code == 302
    notes = IncidentActivity.objects.filter(incident=incident, kind="note")
    assert [n.text for n in notes] == ["Blocked at the edge."]
    assert notes[0].actor.username == "inc-admin"
    response = admin.post(url, {"text": "   "})
    assert response.status_code == 422
    assert "text" in response.context["note_form"].errors
    assert notes.count() == 1


@pytest.mark.parametrize("role", ["Viewer", "Auditor"])
def test_readers_see_no_forms_and_cannot_change(world, client, role):
    signed_in(client, user_with_role(f"inc-{role.lower()}", role))
    incident = world["north_only"]
    page = client.get(incident.get_absolute_url())
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="incident-status-form"' not in body
    assert 'id="incident-note-form"' not in body
    for name, data in (
        ("incident_status", {"status": "resolved"}),
        ("incident_assignee", {"assignee": ""}),
        ("incident_note", {"text": "x"}),
    ):
        url = reverse(f"security:{name}", kwargs={"uuid": incident.uuid})
        assert client.post(url, data).status_code == 403
    assert IncidentActivity.objects.filter(incident=incident).count() == 1


# --- Events list link -------------------------------------------------------------------


def test_events_list_filters_by_incident_and_event_links_it(world, admin):
    incident = world["north_only"]
    response = admin.get(reverse("security:event_list"), {"incident": str(incident.uuid)})
    assert response.status_code == 200
    events = response.context["page"]["events"]  # rows (EventRow), not model instances
    linked = SecurityEvent.objects.filter(uuid__in=[e.uuid for e in events], incident=incident)
    assert len(events) == 3 and linked.count() == 3
    detail = admin.get(events[0].get_absolute_url()).content.decode()
    assert incident.get_absolute_url() in detail
    assert admin.get(reverse("security:event_list"), {"incident": "nope"}).status_code == 400


# --- API ----------------------------------------------------------------------------------


def test_api_reads_filters_and_patches(world, admin):
    listing = admin.get("/api/v1/incidents/", {"status": "open", "ordering": "-event_count"})
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert rows[0]["title"] == "Fleet-wide scan"
    assert rows[0]["kind"] == "distributed_scan"
    assert {g["name"] for g in rows[0]["gateways"]} == {world["gw_n"].name, world["gw_s"].name}
    incident = world["north_only"]
    user_with_role("inc-op2", "Operator")
    url = f"/api/v1/incidents/{incident.uuid}/"
    response = admin.patch(
        url, {"status": "investigating", "assignee": "inc-op2"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "investigating"
    assert response.json()["assignee"] == "inc-op2"
    kinds = set(IncidentActivity.objects.filter(incident=incident).values_list("kind", flat=True))
    assert {"status", "assignee"} <= kinds
    # Bad values: 400 with field messages, nothing stored.
    bad = admin.patch(
        url, {"status": "gone", "assignee": "nobody-here"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"status", "assignee"}
    # Read-only fields are ignored, not written.
    admin.patch(url, {"title": "changed", "severity": "low"}, content_type="application/json")
    incident.refresh_from_db()
    assert (incident.title, incident.severity) == ("North scan", "high")
    # No PUT, DELETE or POST to the list.
    assert admin.put(url, {}, content_type="application/json").status_code == 405
    assert admin.delete(url).status_code == 405
    assert admin.post("/api/v1/incidents/", {}, content_type="application/json").status_code == 405


def test_api_notes_with_idempotency_key(world, admin):
    incident = world["north_only"]
    url = f"/api/v1/incidents/{incident.uuid}/notes/"
    first = admin.post(
        url,
        {"text": "Scanner of a partner."},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    again = admin.post(
        url,
        {"text": "Scanner of a partner."},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["text"] == "Scanner of a partner."
    assert IncidentActivity.objects.filter(incident=incident, kind="note").count() == 1
    empty = admin.post(url, {"text": ""}, content_type="application/json")
    assert empty.status_code == 400 and "text" in empty.json()


def test_api_readers_cannot_patch_or_note(world, client):
    signed_in(client, user_with_role("inc-api-viewer", "Viewer"))
    incident = world["north_only"]
    assert client.get(f"/api/v1/incidents/{incident.uuid}/").status_code == 200
    patch = client.patch(
        f"/api/v1/incidents/{incident.uuid}/",
        {"status": "resolved"},
        content_type="application/json",
    )
    assert patch.status_code == 403
    note = client.post(
        f"/api/v1/incidents/{incident.uuid}/notes/", {"text": "x"}, content_type="application/json"
    )
    assert note.status_code == 403


def test_api_events_carry_their_incident(world, admin):
    incident = world["north_only"]
    rows = admin.get("/api/v1/security-events/", {"incident": str(incident.uuid)}).json()
    assert len(rows["results"]) == 3
    assert {row["incident"] for row in rows["results"]} == {str(incident.uuid)}


# --- Query counts --------------------------------------------------------------------------


def grow(world, n):
    gateways = [
        world["gw_n"],
        world["gw_s"],
        *[GatewayFactory(region=world["north"]) for _ in range(3)],
    ]
    for i in range(n):
        make_incident(gateways[: 1 + i % len(gateways)], title=f"Extra {i}", events=2)


@pytest.mark.parametrize(
    "url", ["/security/incidents/", "/api/v1/incidents/", "/settings/correlation-rules/"]
)
def test_list_query_count_does_not_grow(world, admin, count_queries, url):
    small = count_queries(admin, url)
    grow(world, 20)
    assert count_queries(admin, url) == small


def test_detail_query_count_does_not_grow(world, admin, count_queries):
    incident = world["both"]
    url = incident.get_absolute_url()
    small = count_queries(admin, url)
    for gateway in (world["gw_n"], world["gw_s"]):
        for _n in range(30):
            SecurityEventFactory(gateway=gateway, incident=incident)
    for _n in range(30):
        IncidentActivity.objects.create(incident=incident, kind="note", text="more")
    incident.gateways.add(GatewayFactory(region=world["north"]), GatewayFactory())
    assert count_queries(admin, url) == small


# --- Live ------------------------------------------------------------------------------


def test_live_pushes_render_the_row_the_summary_and_a_toast_to_the_regions(world):
    from console import live
    from security import live as security_live

    incident = world["both"]
    topics = live.topics()
    pushes = topics[security_live.INCIDENT_TOPIC].render({incident.pk: live.FULL})
    row, detail = pushes
    assert f'id="row-incident-{incident.uuid}"' in row.html
    assert "Fleet-wide scan" in row.html
    assert row.regions == frozenset({world["north"].pk, world["south"].pk})
    assert live.region_group("security.incident", world["north"].pk) in row.groups
    assert f'id="incident-summary-{incident.uuid}"' in detail.html
    assert detail.groups == [live.object_group("security.incident", incident.pk)]
    toasts = topics[f"{security_live.INCIDENT_TOPIC}.toast"].render({incident.pk: live.FULL})
    assert {push.topic for push in toasts} == {"security.incident", "security.securityevent"}
    assert all(incident.get_absolute_url() in push.html for push in toasts)
    # Only the groups of the incident's regions (and users without limits).
    south_only = world["south_only"]
    pushes = topics[f"{security_live.INCIDENT_TOPIC}.toast"].render({south_only.pk: live.FULL})
    for push in pushes:
        assert live.region_group(push.topic, world["north"].pk) not in push.groups


# --- Correlation rules settings ------------------------------------------------------------


def test_admin_tunes_a_rule_and_bad_values_are_refused(world, admin):
    rule = CorrelationRule.objects.get(kind="brute_force")
    url = reverse("security:correlationrule_edit", kwargs={"uuid": rule.uuid})
    form = {
        "name": rule.name,
        "kind": "anomaly",  # ignored: a built-in rule keeps its kind
        "enabled": "on",
        "description": "",
        "window_seconds": 600,
        "threshold": 20,
        "min_events": 1,
        "min_severity": "low",
        "severity_raise": "critical",
        "cooldown_seconds": 1800,
    }
    assert admin.post(url, form).status_code == 302
    rule.refresh_from_db()
    assert (rule.kind, rule.window_seconds, rule.threshold) == ("brute_force", 600, 20)
    bad = admin.post(url, {**form, "threshold": 1.5, "window_seconds": 5})
    assert bad.status_code == 422
    assert set(bad.context["form"].errors) == {"threshold", "window_seconds"}
    rule.refresh_from_db()
    assert rule.threshold == 20
    # Built-in rules are disabled, not deleted.
    delete = reverse("security:correlationrule_delete", kwargs={"uuid": rule.uuid})
    assert admin.post(delete).status_code == 409
    assert CorrelationRule.objects.filter(pk=rule.pk).exists()


def test_operators_cannot_reach_correlation_rules(world, client):
    signed_in(client, user_with_role("inc-op-rules", "Operator"))
    assert client.get(reverse("security:correlationrule_list")).status_code == 403
