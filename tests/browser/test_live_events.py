"""New security events on an open events list, in Chromium against the console's server:
on the newest page the new rows appear on top by themselves; on a page that
does not show new events where they arrive (oldest first, an older page) a
"N new events — show" bar appears instead, and showing reloads the list.
The events come through the agent API, as a gateway sends them."""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.browser import test_live as kit
from tests.browser.test_live import expect_state, mark_page, open_tab, same_document, shot

# The live browser tests' fixtures: the console's server on a private channel-layer Redis,
# and a gateway with its agent credential.
server = kit.server
fleet = kit.fleet


def send_events(server, credential: str, signatures: list[str], minutes_ago: int = 0) -> None:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    events = [
        {
            "id": str(uuid.uuid4()),
            "occurred_at": (at + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "severity": "high",
            "category": "port_scan",
            "signature": signature,
            "src_ip": "203.0.113.9",
            "dst_ip": "10.0.0.5",
            "protocol": "tcp",
        }
        for i, signature in enumerate(signatures)
    ]
    request = urllib.request.Request(
        f"{server.url}/api/agent/v1/events",
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202


def test_new_events_appear_on_the_newest_page_and_as_a_bar_elsewhere(browser, server, admin, fleet):
    send_events(server, fleet["credential"], ["ET SCAN old one"], minutes_ago=30)
    page = open_tab(browser, server, admin)
    page.goto("/security/events/")
    expect_state(page, "live")
    expect(page.locator("#result-count")).to_contain_text("1 event")
    mark_page(page)

    # The newest page: the rows arrive on top, no bar.
    send_events(server, fleet["credential"], ["ET SCAN fresh A", "ET SCAN fresh B"])
    rows = page.locator("#event-table tbody tr")
    expect(rows).to_have_count(3, timeout=10_000)
    expect(rows.first).to_contain_text("ET SCAN fresh B")
    expect(page.locator("#event-new-bar")).to_have_count(0)
    assert same_document(page)

    # Oldest first: new events would land at the end, so a bar says how many.
    page.goto("/security/events/?sort=oldest")
    expect_state(page, "live")
    mark_page(page)
    bar = page.locator("#event-new-bar")
    expect(bar).to_be_hidden()
    send_events(server, fleet["credential"], ["ET SCAN fresh C"])
    expect(bar).to_be_visible(timeout=10_000)
    expect(bar).to_contain_text("1 new event")
    send_events(server, fleet["credential"], ["ET SCAN fresh D", "ET SCAN fresh E"])
    expect(bar).to_contain_text("3 new events", timeout=10_000)
    # The rows shown did not move meanwhile.
    expect(page.locator("#event-table tbody tr")).to_have_count(3)
    shot(page, "events-new-bar-1440-light")
    assert same_document(page)

    bar.get_by_role("link", name="show").click()
    expect(page.locator("#event-table tbody tr")).to_have_count(6)
    expect(page.locator("#event-table tbody tr").first).to_contain_text("ET SCAN fresh E")
    expect(page.locator("#event-new-bar")).to_have_count(0)
    assert same_document(page)
    assert page.errors == []


def test_the_new_events_bar_looks_right(browser, server, admin, fleet):
    send_events(server, fleet["credential"], ["ET SCAN old one"], minutes_ago=30)
    for width, height in ((1440, 900), (375, 740)):
        for dark in (False, True):
            page = open_tab(browser, server, admin, width, height, dark)
            page.goto("/security/events/?sort=oldest")
            expect_state(page, "live")
            send_events(server, fleet["credential"], ["ET SCAN more"])
            expect(page.locator("#event-new-bar")).to_be_visible(timeout=10_000)
            shot(page, f"events-new-bar-{width}-{'dark' if dark else 'light'}")
            page.context.close()
