"""Security events in Chromium: filter, save the search, open an event,
acknowledge it; the pages render at desktop and phone width in light and dark
(SHOTS_DIR=… saves screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from security.models import SavedEventSearch, SecurityEvent
from tests.browser.conftest import sign_in
from tests.factories import GatewayFactory, RegionFactory
from tests.security.test_events_factories import SecurityEventFactory, make_events

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shoot(page, name: str) -> None:
    folder = os.environ.get("SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
        # The first screens alone, readable at a glance (the full page of a long list is not).
        width = page.viewport_size["width"]
        clip = {"x": 0, "y": 0, "width": width, "height": 1400}
        page.screenshot(path=str(Path(folder) / f"{name}-top.png"), full_page=True, clip=clip)


@pytest.fixture
def fleet(transactional_db):
    north = RegionFactory(name="North", slug="north")
    south = RegionFactory(name="South", slug="south")
    gateways = [
        GatewayFactory(name="edge-oslo-1", region=north),
        GatewayFactory(name="edge-lyon-2", region=south),
    ]
    make_events(gateways, 1_005)
    scan = SecurityEventFactory(
        gateway=gateways[0],
        severity="critical",
        category="port_scan",
        signature="ET SCAN Nmap SYN scan",
        message="1,000 ports probed in 4 seconds from one address.",
        src_ip="192.0.2.66",
        src_port=41234,
        dst_ip="10.0.0.5",
        dst_port=22,
        details={"flow": {"packets": 1000, "bytes": 60000}, "rule": {"sid": 2009582, "rev": 3}},
    )
    for port in (23, 80, 443):
        SecurityEventFactory(
            gateway=gateways[1],
            severity="high",
            category="port_scan",
            signature="ET SCAN Nmap SYN scan",
            src_ip="192.0.2.66",
            dst_port=port,
        )
    return scan


def test_filter_save_open_and_acknowledge(page, live_server, admin, fleet):
    sign_in(page, admin.username)
    page.goto("/security/events/")
    expect(page.locator("#result-count")).to_contain_text("1,000+ events")
    page.get_by_role("searchbox").fill("nmap")
    expect(page.locator("#result-count")).to_contain_text("4 events")
    assert "q=nmap" in page.url
    # The save form came with the new results (out of band) and carries the filter.
    expect(page.locator("#saved-search-query")).to_have_value("q=nmap")
    page.get_by_placeholder("Name this search").fill("Nmap scans")
    page.get_by_role("button", name="Save search").click()
    expect(page.get_by_role("link", name="Nmap scans")).to_be_visible()
    assert SavedEventSearch.objects.get(user=admin).query == "q=nmap"
    page.get_by_role("link", name="ET SCAN Nmap SYN scan").first.click()
    expect(page.get_by_role("heading", name="More from this source")).to_be_visible()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged the event.")).to_be_visible()
    assert SecurityEvent.objects.filter(acknowledged_at__isnull=False).count() == 1
    assert not page.errors


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 375])
def test_pages_render(browser, live_server, admin, fleet, scheme, width):
    SavedEventSearch.objects.create(
        user=admin, name="Critical scans", query="category=port_scan&severity=critical"
    )
    SavedEventSearch.objects.create(
        user=admin, name="South, last day", query="range=24h&region=south"
    )
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": width, "height": 900},
        color_scheme=scheme,
        is_mobile=width < 500,
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda error: tab.errors.append(error))
    try:
        sign_in(tab, admin.username)
        name = f"{width}-{scheme}"
        for path, shot in (
            ("/security/events/", "list"),
            (
                "/security/events/?severity=high&severity=critical&range=7d&src=192.0.2.0/24",
                "list-filtered",
            ),
            ("/security/events/?q=nothing-matches-this", "list-empty"),
            (fleet.get_absolute_url(), "detail"),
        ):
            response = tab.goto(path)
            assert response.status == 200, path
            shoot(tab, f"events-{shot}-{name}")
        tab.goto("/security/events/?port=22")
        tab.get_by_text("More filters").click() if not tab.locator(
            ".more-filters[open]"
        ).count() else None
        shoot(tab, f"events-more-filters-{name}")
        assert not tab.errors
    finally:
        context.close()
