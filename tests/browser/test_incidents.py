"""Incidents in Chromium: from the list to an incident opened by correlation,
change its status, add a note; the pages render at desktop and phone width in
light and dark (SHOTS_DIR=… saves screenshots)."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from security.correlation import correlate_batch, ensure_builtin_rules
from security.models import Incident, IncidentActivity, SecurityEvent
from tests.browser.conftest import sign_in
from tests.factories import GatewayFactory, RegionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shoot(page, name: str) -> None:
    folder = os.environ.get("SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def incident(transactional_db):
    """A distributed scan, stored and correlated as the agent API does."""
    ensure_builtin_rules()  # a transactional test starts from flushed tables
    north = RegionFactory(name="North", slug="north")
    gateways = [GatewayFactory(name=f"edge-{n}", region=north) for n in range(4)]
    at = timezone.now() - timedelta(minutes=2)
    for gateway in gateways:
        batch = [
            SecurityEvent(
                uuid=uuid.uuid4(),
                gateway=gateway,
                occurred_at=at + timedelta(seconds=n),
                severity="low",
                category="port_scan",
                signature="ET SCAN Nmap SYN scan",
                src_ip="198.51.100.77",
                dst_ip="10.0.0.9",
                dst_port=20 + n,
                protocol="tcp",
            )
            for n in range(3)
        ]
        SecurityEvent.objects.bulk_create(batch)
        correlate_batch(gateway.pk, [e.uuid for e in batch])
    return Incident.objects.get()


def test_list_open_change_status_and_note(page, live_server, admin, incident):
    sign_in(page, admin.username)
    page.goto("/")
    page.get_by_role("link", name="Incidents").first.click()
    expect(page.get_by_role("heading", name="Incidents")).to_be_visible()
    page.get_by_role("link", name=incident.title).click()
    expect(page.get_by_role("heading", name=incident.title)).to_be_visible()
    expect(page.locator("#incident-events tbody tr")).to_have_count(12)
    page.get_by_label("Status").select_option("investigating")
    page.get_by_label("Why (optional)").fill("Looking at the source")
    page.get_by_role("button", name="Set status").click()
    expect(page.get_by_text("Status set to Investigating.")).to_be_visible()
    expect(page.locator("#incident-timeline")).to_contain_text("Status changed")
    page.get_by_label("Note").fill("A partner's scanner, confirmed by phone.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    expect(page.locator("#incident-timeline")).to_contain_text("confirmed by phone")
    incident.refresh_from_db()
    assert incident.status == "investigating"
    assert IncidentActivity.objects.filter(incident=incident, kind="note").count() == 1
    # Keyboard: the filter bar's search box answers Enter.
    page.goto("/security/incidents/")
    page.get_by_role("searchbox").fill("198.51.100.77")
    page.get_by_role("searchbox").press("Enter")
    expect(page.get_by_role("link", name=incident.title)).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 375])
def test_pages_render(browser, live_server, admin, incident, scheme, width):
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": width, "height": 900},
        color_scheme=scheme,
        is_mobile=width < 500,
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda error: errors.append(error))
    try:
        sign_in(tab, admin.username)
        name = f"{width}-{scheme}"
        for path, shot in (
            ("/security/incidents/", "list"),
            ("/security/incidents/?status=resolved", "list-empty"),
            (incident.get_absolute_url(), "detail"),
            ("/settings/correlation-rules/", "rules"),
            (f"/settings/correlation-rules/{incident.rule.uuid}/edit/", "rule-edit"),
        ):
            response = tab.goto(path)
            assert response.status == 200, path
            shoot(tab, f"incidents-{shot}-{name}")
        assert not errors
    finally:
        context.close()
