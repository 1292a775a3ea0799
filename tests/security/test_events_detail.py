"""An event's page, acknowledgement, saved searches and streamed exports."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest
from django.urls import reverse

from audit.models import AuditRecord
from security import exports
from security.models import SavedEventSearch, SecurityEvent
from tests.factories import GatewayFactory, RegionFactory, user_with_role
from tests.helpers import login_with_second_factor
from tests.security.test_events_factories import SecurityEventFactory, make_events

pytestmark = pytest.mark.django_db

LIST = reverse("security:event_list")
EXPORT = reverse("security:event_export")


@pytest.fixture
def region():
    return RegionFactory(name="North", slug="north")


@pytest.fixture
def gateway(region):
    return GatewayFactory(name="gw-north", region=region)


def signed_in(client, role="Operator", regions=()):
    user = user_with_role(f"user-{role.lower()}-{len(regions)}", role, regions=regions)
    login_with_second_factor(client, user)
    return user


# --- Event page ------------------------------------------------------------------


def test_event_page_shows_every_field_details_and_the_same_source(client, gateway):
    event = SecurityEventFactory(
        gateway=gateway,
        signature="ET SCAN Nmap",
        message="probe <script>",
        details={"flow": {"packets": 12}, "rule": "2009582"},
        src_ip="198.51.100.4",
    )
    other = SecurityEventFactory(gateway=gateway, src_ip="198.51.100.4", signature="second")
    SecurityEventFactory(gateway=gateway, src_ip="192.0.2.1", signature="unrelated")
    far = SecurityEventFactory(
        gateway=GatewayFactory(region=RegionFactory()), src_ip="198.51.100.4", signature="far"
    )
    signed_in(client, regions=[gateway.region])
    response = client.get(event.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("ET SCAN Nmap", "198.51.100.4", "gw-north", str(event.uuid), "2009582"):
        assert text in body
    assert "probe &lt;script&gt;" in body  # escaped
    assert '"packets": 12' in body.replace("&quot;", '"')  # pretty-printed JSON
    assert gateway.get_absolute_url() in body
    assert [e.pk for e in response.context["same_source"]] == [other.pk]  # scoped: not far
    assert far.pk not in [e.pk for e in response.context["same_source"]]
    assert "src=198.51.100.4" in response.context["same_source_url"]


def test_acknowledge_and_unacknowledge(client, gateway):
    event = SecurityEventFactory(gateway=gateway)
    user = signed_in(client)
    page = client.get(event.get_absolute_url())
    assert reverse("security:event_acknowledge", args=[event.uuid]).encode() in page.content
    url = reverse("security:event_acknowledge", args=[event.uuid])
    assert client.get(url).status_code == 200  # asks to confirm
    response = client.post(url)
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.acknowledged_at is not None and event.acknowledged_by == user
    first = event.acknowledged_at
    client.post(url)  # a retried POST keeps the first mark
    event.refresh_from_db()
    assert event.acknowledged_at == first
    client.post(reverse("security:event_unacknowledge", args=[event.uuid]))
    event.refresh_from_db()
    assert event.acknowledged_at is None and event.acknowledged_by is None


def test_a_viewer_reads_but_cannot_acknowledge(client, gateway):
    event = SecurityEventFactory(gateway=gateway)
    signed_in(client, role="Viewer")
    page = client.get(event.get_absolute_url())
    assert page.status_code == 200
    assert b"event_acknowledge" not in page.content
    assert reverse("security:event_acknowledge", args=[event.uuid]).encode() not in page.content
    response = client.post(reverse("security:event_acknowledge", args=[event.uuid]))
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.acknowledged_at is None


# --- Saved searches ----------------------------------------------------------------


def test_save_list_replace_and_delete_a_search(client, gateway):
    user = signed_in(client)
    response = client.post(
        reverse("security:event_search_save"),
        {"name": "Critical scans", "query": "severity=critical&category=port_scan&older=abc"},
    )
    search = SavedEventSearch.objects.get(user=user)
    # The cursor is not part of a search; the query is kept in a stable order.
    assert search.query == "category=port_scan&severity=critical"
    assert response.url == f"{LIST}?category=port_scan&severity=critical"
    page = client.get(LIST)
    assert b"Critical scans" in page.content
    # Saving the same name again replaces its query.
    client.post(
        reverse("security:event_search_save"), {"name": "Critical scans", "query": "severity=high"}
    )
    assert SavedEventSearch.objects.get(user=user).query == "severity=high"
    # Another user neither sees nor deletes it.
    other = signed_in(client, role="Viewer")
    assert list(client.get(LIST).context["saved_searches"]) == []
    delete = reverse("security:event_search_delete", args=[search.uuid])
    assert client.post(delete).status_code == 404
    assert SavedEventSearch.objects.filter(user=user).exists()
    assert not SavedEventSearch.objects.filter(user=other).exists()
    login_with_second_factor(client, user)
    assert client.post(delete).status_code == 302
    assert not SavedEventSearch.objects.exists()


def test_a_search_without_a_name_is_refused_and_stores_nothing(client, gateway):
    signed_in(client)
    response = client.post(reverse("security:event_search_save"), {"name": "  ", "query": "q=x"})
    assert response.status_code == 302
    assert not SavedEventSearch.objects.exists()
    assert "Give the search a name." in [str(m) for m in client.get(LIST).context["messages"]]


# --- Export ------------------------------------------------------------------------


def test_csv_and_jsonl_export_the_current_filter_and_are_audited(client, gateway):
    SecurityEventFactory(gateway=gateway, severity="high", signature="=cmd|' /C calc'!A0")
    SecurityEventFactory(gateway=gateway, severity="low", signature="low one")
    user = signed_in(client)
    response = client.get(EXPORT, {"format": "csv", "severity": "high"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == list(exports.EXPORT_FIELDS)
    assert len(rows) == 2
    assert rows[1][exports.EXPORT_FIELDS.index("signature")].startswith("'=")  # no formula
    record = AuditRecord.objects.filter(action="securityevent.export").latest("id")
    assert record.actor_user_id == user.pk
    assert record.detail["format"] == "csv"
    assert record.detail["filters"] == {"severity": ["high"]}

    response = client.get(EXPORT, {"format": "jsonl", "q": "low"})
    lines = b"".join(response.streaming_content).splitlines()
    assert [json.loads(line)["signature"] for line in lines] == ["low one"]
    assert json.loads(lines[0])["gateway"] == "gw-north"


def test_export_refuses_bad_filters_and_formats(client, gateway):
    signed_in(client)
    assert client.get(EXPORT, {"src": "nope"}).status_code == 400
    assert client.get(EXPORT, {"format": "xlsx"}).status_code == 400
    assert not AuditRecord.objects.filter(action="securityevent.export").exists()


def test_export_memory_stays_bounded_on_a_large_set(gateway):
    """Streaming 20,000 rows must not hold them: the peak stays near that of
    2,000 rows (one chunk), not ten times it."""
    make_events([gateway], 20_000)
    queryset = SecurityEvent.objects.order_by("-occurred_at", "-id")

    def peak(rows: int) -> int:
        tracemalloc.start()
        for _line in exports.stream(queryset[:rows], "jsonl"):
            pass
        _current, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(2_000), peak(20_000)
    assert large < small * 2, (small, large)
