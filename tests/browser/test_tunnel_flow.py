"""What an operator does with tunnels, in Chromium: add one from a gateway's
page, find it in the list, and learn why its gateway cannot be deleted."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_by_cookie
from tests.factories import GatewayFactory, RegionFactory, TunnelFactory
from tunnels.models import Tunnel

pytestmark = pytest.mark.browser


def test_add_a_tunnel_from_a_gateway_and_find_it(page, admin, live_server, screenshot):
    region = RegionFactory(name="Europe West", slug="eu-west")
    hub = GatewayFactory(name="gw-hub-fra", region=region, status="online")
    GatewayFactory(name="gw-spoke-ams", region=region, status="online")
    TunnelFactory(
        name="hub-to-branch",
        gateway_a=hub,
        gateway_b=None,
        remote_address="vpn.branch.example.org",
        remote_subnets="10.40.0.0/16, 10.41.0.0/16",
        state="degraded",
        latency_ms=48.2,
        last_handshake=timezone.now(),
        rx_bytes=3 * 1024**3,
        tx_bytes=750 * 1024**2,
        tags=["branch"],
    )
    sign_in_by_cookie(page, admin, live_server.url)

    # The gateway's page lists its tunnel and offers to add another.
    page.goto(hub.get_absolute_url())
    card = page.locator("#gateway-tunnels")
    expect(card).to_contain_text("hub-to-branch")
    expect(card).to_contain_text("vpn.branch.example.org")
    screenshot(page, "tunnels-01-gateway")
    card.get_by_role("link", name="Add tunnel").click()

    # Gateway A is already chosen; a self tunnel is refused on the field.
    expect(page.get_by_role("heading", name="Add tunnel")).to_be_visible()
    form = page.locator("main form")
    expect(form.get_by_role("combobox", name="Gateway A")).to_have_value(str(hub.pk))
    form.get_by_role("textbox", name="Name", exact=True).fill("fra-ams")
    form.get_by_role("combobox", name="Gateway B").select_option(label="gw-hub-fra")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_gateway_b_error")).to_have_text(
        "A tunnel cannot connect a gateway to itself."
    )
    screenshot(page, "tunnels-02-invalid")

    form.get_by_role("combobox", name="Gateway B").select_option(label="gw-spoke-ams")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".toast-success")).to_contain_text("Created tunnel fra-ams.")
    tunnel = Tunnel.objects.get(name="fra-ams")
    expect(page).to_have_url(re.compile(rf"/tunnels/{tunnel.uuid}/$"))
    expect(page.locator(f"#tunnel-state-{tunnel.uuid}")).to_contain_text("Unknown")

    # The list, filtered to the spoke's tunnels in place.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tunnels").click()
    rows = page.locator("#object-table tbody tr")
    expect(rows).to_have_count(2)
    screenshot(page, "tunnels-03-list")
    page.get_by_role("searchbox").fill("branch")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("hub-to-branch")
    rows.first.get_by_role("link", name="hub-to-branch").click()
    expect(page.get_by_text("3.0\xa0GB")).to_be_visible()
    screenshot(page, "tunnels-04-detail")

    # The hub still carries tunnels: deleting it is refused with the reason.
    page.goto(f"{hub.get_absolute_url()}delete/")
    expect(page.locator(".dependents")).to_contain_text("Tunnels: 2")
    page.get_by_role("button", name="Delete permanently").click()
    expect(page.get_by_role("alert")).to_contain_text("gw-hub-fra cannot be deleted")
    assert page.errors == []
