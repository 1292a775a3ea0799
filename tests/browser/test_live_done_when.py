"""Issue 7's "done when", in Chromium against the console's server: an admin and an
operator limited to one region, side by side, both on the fleet list.

- heartbeats through the agent API change rows in both tabs within a second;
- the operator's socket never receives a row of another region (every frame
  it receives is checked, not only what the page shows);
- the server cutting the connections, and the channel layer's Redis
  restarting, leave both pages correct without a reload: they reconnect by
  themselves and re-fetch what changed meanwhile.
"""

from __future__ import annotations

import time

from playwright.sync_api import expect

from console import live
from gateways.enrolment import enrol, issue_token
from gateways.models import Gateway
from tests.browser import test_live as kit
from tests.browser.test_live import (
    expect_state,
    heartbeat,
    mark_page,
    open_tab,
    row,
    same_document,
    send_to_group,
    shot,
)
from tests.factories import GatewayFactory, RegionFactory, scoped_role, user_with_role

server = (
    kit.server
)  # uvicorn (console/server.py), with the channel layer on a Redis of the test's own

# What a row of the list changes to within a second of a heartbeat's answer.
WITHIN_A_SECOND = 1_000


def enrolled(name: str, region) -> tuple[Gateway, str]:
    gateway = GatewayFactory(name=name, region=region)
    credential = enrol(issue_token(gateway), version="1.8.2").credential
    Gateway.objects.filter(pk=gateway.pk).update(status="offline")
    return gateway, credential


def frames_of(page) -> list[str]:
    """Every text frame the page's websockets receive, from now on."""
    frames: list[str] = []

    def watch(socket):
        socket.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", watch)
    return frames


def beat_and_see(server, credential, rows, status, label) -> None:
    """A heartbeat through the agent API; each of ``rows`` shows ``label``
    within a second of its answer."""
    heartbeat(server, credential, status=status)
    deadline = time.monotonic() + WITHIN_A_SECOND / 1000
    for locator in rows:
        remaining = max(50, (deadline - time.monotonic()) * 1000)
        expect(locator).to_contain_text(label, timeout=remaining)


def test_admin_and_region_operator_watch_the_fleet_side_by_side(browser, server, admin):
    north, south = RegionFactory(name="North"), RegionFactory(name="South")
    gw_north, north_credential = enrolled("gw-north", north)
    gw_south, south_credential = enrolled("gw-south", south)
    role = scoped_role("North operators", [north], "gateways.view_gateway", "gateways.view_region")
    operator = user_with_role("nora", role.group.name)

    admin_page = open_tab(browser, server, admin, width=720)
    operator_page = open_tab(browser, server, operator, width=720)
    operator_frames = frames_of(operator_page)
    for page in (admin_page, operator_page):
        page.goto("/gateways/")
        expect_state(page, "live")
        mark_page(page)
    expect(row(admin_page, gw_south)).to_contain_text("Offline")
    expect(row(operator_page, gw_north)).to_contain_text("Offline")
    expect(row(operator_page, gw_south)).to_have_count(0)

    # Heartbeats: both tabs follow the north gateway, only the admin the south.
    beat_and_see(
        server,
        north_credential,
        [row(admin_page, gw_north), row(operator_page, gw_north)],
        "ok",
        "Online",
    )
    beat_and_see(server, south_credential, [row(admin_page, gw_south)], "ok", "Online")
    shot(admin_page, "done-when-admin")
    shot(operator_page, "done-when-operator")

    # The server cuts both connections (as a web process draining for a
    # restart does); what changes meanwhile is not published, only a re-fetch
    # can show it.
    Gateway.objects.filter(pk__in=[gw_north.pk, gw_south.pk]).update(status="degraded")
    send_to_group(live.user_group(admin.pk), {"type": "live.reconnect"})
    send_to_group(live.user_group(operator.pk), {"type": "live.reconnect"})
    for page in (admin_page, operator_page):
        expect_state(page, "live")
        expect(row(page, gw_north)).to_contain_text("Degraded", timeout=10_000)
    expect(row(admin_page, gw_south)).to_contain_text("Degraded")
    beat_and_see(
        server,
        north_credential,
        [row(admin_page, gw_north), row(operator_page, gw_north)],
        "ok",
        "Online",
    )

    # The channel layer's Redis restarts.
    server.redis.stop()
    try:
        for page in (admin_page, operator_page):
            expect(page.locator("#live-status")).not_to_have_attribute("data-state", "live")
        Gateway.objects.filter(pk__in=[gw_north.pk, gw_south.pk]).update(status="offline")
    finally:
        server.redis.start()
    for page in (admin_page, operator_page):
        expect_state(page, "live", timeout=45_000)
        expect(row(page, gw_north)).to_contain_text("Offline", timeout=10_000)
    expect(row(admin_page, gw_south)).to_contain_text("Offline")
    beat_and_see(
        server,
        north_credential,
        [row(admin_page, gw_north), row(operator_page, gw_north)],
        "degraded",
        "Degraded",
    )
    beat_and_see(server, south_credential, [row(admin_page, gw_south)], "ok", "Online")

    # Never a reload, and never a byte of the south on the operator's socket.
    for page in (admin_page, operator_page):
        assert same_document(page)
        assert page.errors == []
    assert operator_frames, "the operator's socket received nothing"
    assert not [f for f in operator_frames if str(gw_south.uuid) in f]
    expect(row(operator_page, gw_south)).to_have_count(0)
