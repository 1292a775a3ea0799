"""A live re-fetch of a list page (console.js after a reconnect, or polling,
``X-Live-Refresh: 1``) is answered with the list's live element alone: the
same ``#object-table`` the page shows, in the user's scope, without the
layout (console/views/generic.py, docs/live.md)."""

from __future__ import annotations

import lxml.html
import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import (
    GatewayFactory,
    RegionFactory,
    make_fleet,
    scoped_role,
    user_with_role,
)
from tests.security.test_incidents import make_incident, signed_in

pytestmark = pytest.mark.django_db

REFRESH = {"HTTP_X_LIVE_REFRESH": "1"}


def live_elements(html: str) -> dict[str, str]:
    """Each ``[data-live-refresh]`` element with an id, as console.js finds
    it in a re-fetched page (by id), serialized."""
    tree = lxml.html.fromstring(html)
    return {
        el.get("id"): lxml.html.tostring(el, encoding="unicode", with_tail=False)
        for el in tree.xpath("//*[@data-live-refresh][@id]")
    }


def row_ids(html: str) -> set[str]:
    return set(lxml.html.fromstring(html).xpath("//tbody/tr/@id"))


def test_the_refresh_is_the_pages_live_element_alone(
    operator_client, count_queries, django_assert_max_num_queries
):
    make_fleet(12)
    url = reverse("gateways:gateway_list") + "?sort=name&per_page=10"
    page = operator_client.get(url)
    # The refresh may not cost more than the page itself.
    with django_assert_max_num_queries(count_queries(operator_client, url)):
        refresh = operator_client.get(url, **REFRESH)

    assert refresh.status_code == 200
    html = refresh.content.decode()
    # Only the live element: no layout, navigation or filter form.
    assert html.lstrip().startswith('<div id="object-table"')
    assert 'id="sidenav"' not in html and '<form class="filters"' not in html
    assert live_elements(html) == live_elements(page.content.decode())
    assert len(row_ids(html)) == 10
    # One URL, three answers (page, htmx fragment, live element): caches keep them apart.
    assert {"HX-Request", "X-Live-Refresh"} <= {v.strip() for v in refresh["Vary"].split(",")}


def test_the_refresh_keeps_the_users_scope(client):
    north, south = RegionFactory(name="North"), RegionFactory(name="South")
    mine, theirs = GatewayFactory(region=north), GatewayFactory(region=south)
    role = scoped_role("North viewers", [north], "gateways.view_gateway", "gateways.view_region")
    client.force_login(user_with_role("nora", role.group.name))

    html = client.get(reverse("gateways:gateway_list"), **REFRESH).content.decode()
    assert row_ids(html) == {f"row-gateway-{mine.uuid}"}
    assert str(theirs.uuid) not in html


def test_a_refresh_needs_the_permission(outsider_client):
    url = reverse("gateways:gateway_list")
    assert outsider_client.get(url, **REFRESH).status_code == 403
    response = Client().get(url, **REFRESH)  # signed out: the sign-in page (console.js reloads)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_a_refresh_with_a_bad_filter_is_a_400_and_shows_no_rows(operator_client):
    make_fleet(3)
    response = operator_client.get(reverse("gateways:gateway_list"), {"status": "nope"}, **REFRESH)
    assert response.status_code == 400
    assert row_ids(response.content.decode()) == set()


def test_the_incidents_refresh_keeps_its_element_attributes(client):
    gateway = GatewayFactory()
    incident = make_incident([gateway], title="North scan")
    admin = signed_in(client, user_with_role("inc-admin", "Admin"))
    url = reverse("security:incident_list")

    page = admin.get(url).content.decode()
    refresh = admin.get(url, **REFRESH).content.decode()
    assert live_elements(refresh) == live_elements(page)
    box = lxml.html.fromstring(refresh)
    # Hints of the incident topic re-fetch it: console.js reads these attributes.
    assert box.get("data-live-refresh-on") == "security.incident"
    assert "incident-table" in box.get("class")
    assert row_ids(refresh) == {f"row-incident-{incident.uuid}"}
