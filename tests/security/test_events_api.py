"""/api/v1/security-events/: read-only, the list's filters, cursor pages, scope."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from security.models import SecurityEvent
from tests.factories import GatewayFactory, RegionFactory, user_with_role
from tests.security.test_events_factories import SecurityEventFactory, make_events

pytestmark = pytest.mark.django_db

URL = reverse("api:securityevent-list")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def fleet():
    north, south = RegionFactory(slug="north"), RegionFactory(slug="south")
    return GatewayFactory(name="gw-n", region=north), GatewayFactory(name="gw-s", region=south)


def test_cursor_pages_cover_every_event_once_newest_first(api, fleet, fresh_throttles):
    make_events(list(fleet), 250)
    api.force_authenticate(user_with_role("api-viewer", "Viewer"))
    seen, url = [], URL + "?page_size=100"
    while url:
        response = api.get(url)
        assert response.status_code == 200
        assert "count" not in response.data
        seen.extend(row["id"] for row in response.data["results"])
        url = response.data["next"]
    expected = SecurityEvent.objects.order_by("-occurred_at", "-id").values_list("uuid", flat=True)
    assert seen == [str(u) for u in expected]


def test_filters_are_the_lists(api, fleet, fresh_throttles):
    gw_n, gw_s = fleet
    SecurityEventFactory(
        gateway=gw_n, severity="high", signature="ET SCAN Nmap", src_ip="192.0.2.5"
    )
    SecurityEventFactory(gateway=gw_s, severity="low", signature="other")
    api.force_authenticate(user_with_role("api-admin", "Admin"))

    def names(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.data
        return [row["signature"] for row in response.data["results"]]

    assert names(severity="high") == ["ET SCAN Nmap"]
    assert names(q="nmap") == ["ET SCAN Nmap"]
    assert names(src="192.0.2.0/24") == ["ET SCAN Nmap"]
    assert names(region="south") == ["other"]
    assert api.get(URL, {"src": "nope"}).status_code == 400
    row = api.get(URL, {"severity": "high"}).data["results"][0]
    assert row["gateway_name"] == "gw-n" and row["region"] == "north"


def test_scope_and_read_only(api, fleet, fresh_throttles):
    gw_n, gw_s = fleet
    SecurityEventFactory(gateway=gw_n, signature="mine")
    theirs = SecurityEventFactory(gateway=gw_s, signature="theirs")
    operator = user_with_role("api-op", "Operator", regions=[gw_n.region])
    api.force_authenticate(operator)
    assert [r["signature"] for r in api.get(URL).data["results"]] == ["mine"]
    detail = reverse("api:securityevent-detail", args=[theirs.uuid])
    assert api.get(detail).status_code == 404
    assert api.post(URL, {}).status_code in (403, 405)  # no add permission exists
    assert api.delete(detail).status_code in (403, 404, 405)


def test_in_the_openapi_schema(client, fresh_throttles):
    from tests.factories import user_with_perms

    client.force_login(user_with_perms("schema-reader"))
    response = client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/security-events/" in paths
    params = {p["name"] for p in paths["/api/v1/security-events/"]["get"]["parameters"]}
    assert {"cursor", "severity", "src", "q", "range"} <= params
