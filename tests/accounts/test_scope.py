"""Region scope: a scoped user sees and changes only their regions, on every
path (pages, detail, search, filters, dropdowns, API, saves)."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from gateways.models import Gateway, Region
from security.models import SecurityEvent
from tests.factories import (
    GatewayFactory,
    RegionFactory,
    TunnelFactory,
    scoped_role,
    user_with_role,
)
from tunnels.models import Tunnel


@pytest.fixture
def world(db):
    eu, us = RegionFactory(name="Europe", slug="eu"), RegionFactory(name="America", slug="us")
    gw_eu = GatewayFactory(name="gw-eu-1", region=eu)
    gw_eu2 = GatewayFactory(name="gw-eu-2", region=eu)
    gw_us = GatewayFactory(name="gw-us-1", region=us)
    return {
        "eu": eu,
        "us": us,
        "gw_eu": gw_eu,
        "gw_eu2": gw_eu2,
        "gw_us": gw_us,
        "t_eu": TunnelFactory(name="t-eu", gateway_a=gw_eu, gateway_b=gw_eu2),
        "t_cross": TunnelFactory(name="t-cross", gateway_a=gw_eu, gateway_b=gw_us),
        "t_us_site": TunnelFactory(
            name="t-us-site",
            gateway_a=gw_us,
            gateway_b=None,
            remote_address="198.51.100.7",
            remote_subnets="10.9.0.0/16",
        ),
    }


@pytest.fixture
def eu_operator(world):
    return user_with_role("eu-op", "Operator", regions=[world["eu"]])


def signed_in(user, api=False):
    client = APIClient() if api else Client()
    client.force_login(user)
    return client


def names(qs):
    return sorted(qs.values_list("name", flat=True))


def test_user_cap_limits_every_model(world, eu_operator):
    assert names(Region.objects.restrict(eu_operator)) == ["Europe"]
    assert names(Gateway.objects.restrict(eu_operator)) == ["gw-eu-1", "gw-eu-2"]
    # A tunnel is seen when either end is in scope, changed when both are.
    assert names(Tunnel.objects.restrict(eu_operator)) == ["t-cross", "t-eu"]
    assert names(Tunnel.objects.restrict(eu_operator, "change")) == ["t-eu"]


def test_remote_site_end_does_not_count(world):
    us_op = user_with_role("us-op", "Operator", regions=[world["us"]])
    assert names(Tunnel.objects.restrict(us_op, "change")) == ["t-us-site"]


def test_role_scopes_are_a_union_and_unscoped_role_is_everywhere(world):
    eu_view = scoped_role("EU readers", [world["eu"]], "gateways.view_gateway")
    us_view = scoped_role("US readers", [world["us"]], "gateways.view_gateway")
    both = user_with_role("both")
    both.groups.add(eu_view.group, us_view.group)
    assert names(Gateway.objects.restrict(both)) == ["gw-eu-1", "gw-eu-2", "gw-us-1"]

    one = user_with_role("one")
    one.groups.add(eu_view.group)
    assert names(Gateway.objects.restrict(one)) == ["gw-eu-1", "gw-eu-2"]

    wide = user_with_role("wide", "Viewer")
    wide.groups.add(eu_view.group)
    assert names(Gateway.objects.restrict(wide)) == ["gw-eu-1", "gw-eu-2", "gw-us-1"]


def test_scope_is_per_permission(world):
    """EU operators who may read everywhere: change in EU, view all."""
    eu_change = scoped_role("EU changers", [world["eu"]], "gateways.change_gateway")
    user = user_with_role("mixed", "Viewer")
    user.groups.add(eu_change.group)
    assert len(Gateway.objects.restrict(user, "view")) == 3
    assert names(Gateway.objects.restrict(user, "change")) == ["gw-eu-1", "gw-eu-2"]


def test_security_events_follow_their_gateway(world, eu_operator):
    import uuid
    from datetime import UTC, datetime

    for gw in (world["gw_eu"], world["gw_us"]):
        SecurityEvent.objects.create(
            uuid=uuid.uuid4(),
            gateway=gw,
            occurred_at=datetime.now(UTC),
            severity="high",
            category="port_scan",
            signature=f"scan on {gw.name}",
            src_ip="203.0.113.9",
        )
    assert list(
        SecurityEvent.objects.restrict(eu_operator).values_list("gateway__name", flat=True)
    ) == ["gw-eu-1"]


def test_superuser_is_never_limited(world, admin_user):
    admin_user.regions.set([world["eu"]])
    assert Gateway.objects.restrict(admin_user).count() == 3


def test_pages_show_only_the_scope(world, eu_operator):
    client = signed_in(eu_operator)
    page = client.get(reverse("gateways:gateway_list")).content.decode()
    assert "gw-eu-1" in page
    assert "gw-us-1" not in page
    # Search and filters cannot reach outside either.
    assert (
        "gw-us-1" not in client.get(reverse("gateways:gateway_list") + "?q=gw-us").content.decode()
    )
    response = client.get(reverse("gateways:gateway_list") + "?region=us")
    assert "gw-us-1" not in response.content.decode()
    assert client.get(world["gw_us"].get_absolute_url()).status_code == 404
    assert client.get(world["us"].get_absolute_url()).status_code == 404
    tunnels = client.get(reverse("tunnels:tunnel_list")).content.decode()
    assert "t-cross" in tunnels
    assert "t-us-site" not in tunnels
    assert client.get(world["t_cross"].get_absolute_url()).status_code == 200
    assert (
        client.get(reverse("tunnels:tunnel_edit", args=[world["t_cross"].uuid])).status_code == 404
    )
    assert client.get(reverse("tunnels:tunnel_edit", args=[world["t_eu"].uuid])).status_code == 200


def test_dropdowns_offer_only_the_scope(world, eu_operator):
    client = signed_in(eu_operator)
    form = client.get(reverse("gateways:gateway_add")).content.decode()
    assert "Europe" in form
    assert "America" not in form
    tunnel_form = client.get(reverse("tunnels:tunnel_add")).content.decode()
    assert "gw-eu-2" in tunnel_form
    assert "gw-us-1" not in tunnel_form


def test_cannot_move_an_object_out_of_scope(world, eu_operator):
    client = signed_in(eu_operator)
    gw = world["gw_eu"]
    response = client.post(
        reverse("gateways:gateway_edit", args=[gw.uuid]),
        {"name": gw.name, "region": world["us"].pk, "capacity_mbps": 1000},
    )
    assert response.status_code == 422
    gw.refresh_from_db()
    assert gw.region == world["eu"]


def test_api_follows_the_scope(world, eu_operator):
    api = signed_in(eu_operator, api=True)
    listed = api.get("/api/v1/gateways/").json()
    assert sorted(g["name"] for g in listed["results"]) == ["gw-eu-1", "gw-eu-2"]
    assert api.get(f"/api/v1/gateways/{world['gw_us'].uuid}/").status_code == 404
    assert api.get("/api/v1/gateways/?region=us").status_code in (200, 400)
    assert not [g for g in api.get("/api/v1/gateways/?region=us").json().get("results", [])]
    moved = api.patch(
        f"/api/v1/gateways/{world['gw_eu'].uuid}/", {"region": str(world["us"].uuid)}, format="json"
    )
    assert moved.status_code == 400
    world["gw_eu"].refresh_from_db()
    assert world["gw_eu"].region == world["eu"]
    created = api.post(
        "/api/v1/gateways/",
        {"name": "gw-new", "region": str(world["us"].uuid), "capacity_mbps": 10},
        format="json",
    )
    assert created.status_code == 400
    assert not Gateway.objects.filter(name="gw-new").exists()
    tunnels = api.get("/api/v1/tunnels/").json()["results"]
    assert sorted(t["name"] for t in tunnels) == ["t-cross", "t-eu"]
    assert api.delete(f"/api/v1/tunnels/{world['t_cross'].uuid}/").status_code == 404
    assert Tunnel.objects.filter(pk=world["t_cross"].pk).exists()


@pytest.fixture
def eu_changer(world):
    """Reads everywhere, changes tunnels in Europe only."""
    role = scoped_role("EU tunnel changers", [world["eu"]], "tunnels.change_tunnel")
    user = user_with_role("eu-changer", "Viewer")
    user.groups.add(role.group)
    return user


def test_edit_page_refuses_a_save_that_leaves_the_scope(world, eu_changer):
    client = signed_in(eu_changer)
    tunnel = world["t_eu"]
    url = reverse("tunnels:tunnel_edit", args=[tunnel.uuid])
    form = client.get(url)
    assert form.status_code == 200
    data = {
        "name": tunnel.name,
        "gateway_a": world["gw_eu"].pk,
        "gateway_b": GatewayFactory(region=world["us"]).pk,  # offered: the user may see it
        "protocol": "wireguard",
        "mtu": 1420,
        "enabled": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 422
    assert "outside the regions you manage" in response.content.decode()
    tunnel.refresh_from_db()
    assert tunnel.gateway_b == world["gw_eu2"]


def test_api_refuses_a_save_that_leaves_the_scope(world, eu_changer):
    api = signed_in(eu_changer, api=True)
    tunnel = world["t_eu"]
    response = api.patch(
        f"/api/v1/tunnels/{tunnel.uuid}/",
        {"gateway_b": str(GatewayFactory(region=world["us"]).uuid)},
        format="json",
    )
    assert response.status_code == 403
    assert "outside the regions" in response.json()["detail"]
    tunnel.refresh_from_db()
    assert tunnel.gateway_b == world["gw_eu2"]
