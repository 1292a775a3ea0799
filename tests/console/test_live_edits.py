"""Edits through the UI and the REST API publish live (gateways/live.py,
tunnels/live.py): other watchers' rows follow an edit, a deleted object's row
goes, a created one makes list pages re-fetch their table — within the
editor's region scope only."""

from __future__ import annotations

from functools import partial

import pytest
from django.test import Client

from tests.console.test_live import close, run, session_cookie
from tests.console.test_live_topics import (
    VIEW,
    in_thread,
    receive_all,
    socket,
)
from tests.factories import (
    GatewayFactory,
    RegionFactory,
    TunnelFactory,
    user_with_perms,
    user_with_role,
)
from tests.factories import scoped_role as make_scoped_role
from tests.helpers import login_with_second_factor

# The layer emptied first (tests/console/conftest.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("_empty_layer")]

EDIT = (
    "gateways.add_gateway",
    "gateways.change_gateway",
    "gateways.delete_gateway",
    "gateways.change_region",
    "tunnels.change_tunnel",
)


@pytest.fixture
def world(settings):
    settings.LIVE_COALESCE_MS = 100
    north, south = RegionFactory(name="North"), RegionFactory(name="South")
    role = make_scoped_role("North watchers", [north], *VIEW)
    editor = user_with_perms("editor", *VIEW, *EDIT)
    browser = Client()
    login_with_second_factor(browser, editor)
    return {
        "north": north,
        "south": south,
        "gw_north": GatewayFactory(name="gw-north", region=north),
        "gw_south": GatewayFactory(name="gw-south", region=south),
        "watcher": user_with_perms("watcher", *VIEW),
        "operator": user_with_role("nora", role.group.name),
        "editor": browser,
    }


def watch(world, topic: str):
    """A list tab of the unlimited watcher and one of the north operator."""
    return socket(session_cookie(world["watcher"]), topic), socket(
        session_cookie(world["operator"]), topic
    )


def edit_gateway(world, gateway, **changes):
    data = {
        "name": gateway.name,
        "region": gateway.region_id,
        "public_address": "",
        "capacity_mbps": "",
        "software_version": "",
        "tags": "",
        "description": "",
        **changes,
    }
    response = world["editor"].post(f"/gateways/{gateway.uuid}/edit/", data)
    assert response.status_code == 302, response.content[:2000]


def test_an_edit_in_the_ui_changes_the_row_for_watchers_who_see_it(world):
    watcher_tab, operator_tab = watch(world, "gateways.gateway")
    gw_north, gw_south = world["gw_north"], world["gw_south"]

    async def scenario():
        assert (await watcher_tab.connect())[0]
        assert (await operator_tab.connect())[0]
        await receive_all(watcher_tab, 0.5)  # whatever the fixtures' saves sent
        await receive_all(operator_tab, 0.3)
        await in_thread(partial(edit_gateway, world, gw_south, name="gw-south-renamed"))
        watcher_got = await receive_all(watcher_tab)
        operator_got = await receive_all(operator_tab)
        await in_thread(partial(edit_gateway, world, gw_north, name="gw-north-renamed"))
        operator_later = await receive_all(operator_tab)
        await close(watcher_tab)
        await close(operator_tab)
        return "".join(watcher_got), operator_got, "".join(operator_later)

    watcher_got, operator_got, operator_later = run(scenario())
    assert f'id="row-gateway-{gw_south.uuid}"' in watcher_got
    assert "gw-south-renamed" in watcher_got
    # The operator is limited to the north: nothing of the south reaches them.
    assert operator_got == []
    assert f'id="row-gateway-{gw_north.uuid}"' in operator_later
    assert "gw-north-renamed" in operator_later


def test_a_delete_in_the_ui_removes_the_row(world):
    watcher_tab, operator_tab = watch(world, "gateways.gateway")
    gateway = world["gw_north"]

    def delete():
        response = world["editor"].post(f"/gateways/{gateway.uuid}/delete/")
        assert response.status_code == 302, response.content[:2000]

    async def scenario():
        assert (await watcher_tab.connect())[0]
        assert (await operator_tab.connect())[0]
        await receive_all(watcher_tab, 0.5)
        await receive_all(operator_tab, 0.3)
        await in_thread(delete)
        got = ["".join(await receive_all(tab)) for tab in (watcher_tab, operator_tab)]
        await close(watcher_tab)
        await close(operator_tab)
        return got

    for got in run(scenario()):
        assert f'<tr id="row-gateway-{gateway.uuid}" hx-swap-oob="delete"></tr>' in got
        assert '<meta data-live-hint="gateways.gateway" data-live-rows>' in got


def test_a_gateway_created_through_the_api_makes_lists_of_its_region_refetch(world):
    watcher_tab, operator_tab = watch(world, "gateways.gateway")

    def create():
        response = world["editor"].post(
            "/api/v1/gateways/",
            {"name": "gw-new", "region": world["south"].slug},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content[:2000]

    async def scenario():
        assert (await watcher_tab.connect())[0]
        assert (await operator_tab.connect())[0]
        await receive_all(watcher_tab, 0.5)
        await receive_all(operator_tab, 0.3)
        await in_thread(create)
        got = ["".join(await receive_all(tab)) for tab in (watcher_tab, operator_tab)]
        await close(watcher_tab)
        await close(operator_tab)
        return got

    watcher_got, operator_got = run(scenario())
    assert '<meta data-live-hint="gateways.gateway" data-live-rows>' in watcher_got
    assert operator_got == ""  # a gateway of the south


def test_a_region_renamed_updates_its_row_and_its_gateways_rows(world):
    north = world["north"]
    gateway = world["gw_north"]
    region_tab = socket(session_cookie(world["watcher"]), "gateways.region")
    gateway_tab = socket(session_cookie(world["watcher"]), "gateways.gateway")

    def rename():
        data = {"name": "Far North", "slug": north.slug, "description": ""}
        response = world["editor"].post(f"/regions/{north.uuid}/edit/", data)
        assert response.status_code == 302, response.content[:2000]

    async def scenario():
        assert (await region_tab.connect())[0]
        assert (await gateway_tab.connect())[0]
        await receive_all(region_tab, 0.5)
        await receive_all(gateway_tab, 0.3)
        await in_thread(rename)
        got = ["".join(await receive_all(tab)) for tab in (region_tab, gateway_tab)]
        await close(region_tab)
        await close(gateway_tab)
        return got

    region_got, gateway_got = run(scenario())
    assert f'id="row-region-{north.uuid}"' in region_got
    assert "Far North" in region_got
    assert f'id="row-gateway-{gateway.uuid}"' in gateway_got
    assert "Far North" in gateway_got


def test_a_tunnel_edit_changes_its_row(world):
    tunnel = TunnelFactory(name="t-north", gateway_a=world["gw_north"])
    tab = socket(session_cookie(world["watcher"]), "tunnels.tunnel")

    def rename():
        obj = type(tunnel).objects.get(pk=tunnel.pk)
        obj.name = "t-north-renamed"
        obj.save()

    async def scenario():
        assert (await tab.connect())[0]
        await receive_all(tab, 0.5)
        await in_thread(rename)
        got = "".join(await receive_all(tab))
        await close(tab)
        return got

    got = run(scenario())
    assert f'id="row-tunnel-{tunnel.uuid}"' in got
    assert "t-north-renamed" in got
