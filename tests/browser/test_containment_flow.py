"""Containment in Chromium (docs/containment.md): from an incident, block its
source in one region with an expiry, give the password again, land back on
the incident with the block on its timeline and in its containment panel,
see the gateway's config carry the deny rule; then lift it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from gateways.enrolment import enrol, issue_token
from policies.models import PolicyRevision
from security.models import ContainmentAction, Incident
from tests.browser.conftest import PASSWORD, sign_in_by_cookie
from tests.factories import GatewayFactory, RegionFactory

pytestmark = pytest.mark.browser


def config_of(credential: str) -> dict:
    from django.test import Client

    response = Client().get("/api/agent/v1/config", HTTP_AUTHORIZATION=f"Bearer {credential}")
    assert response.status_code == 200, response.content
    return response.json()


def test_incident_block_then_lift(page, admin, live_server, screenshot, settings):
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9
    region = RegionFactory(name="Europe West")
    gateway = GatewayFactory(name="gw-fra-1", region=region, status="online")
    credential = enrol(issue_token(gateway), version="1.8.2").credential
    now = timezone.now()
    incident = Incident.objects.create(
        title="Distributed scan from 203.0.113.9",
        severity="high",
        key="scan:203.0.113.9",
        src_ip="203.0.113.9",
        first_seen=now - timedelta(minutes=3),
        last_seen=now,
        event_count=40,
    )
    incident.gateways.set([gateway])
    sign_in_by_cookie(page, admin, live_server.url)

    page.goto(incident.get_absolute_url())
    panel = page.locator("#incident-containment")
    expect(panel).to_contain_text("Nothing contained yet")
    screenshot(page, "containment-01-incident")
    panel.get_by_role("link", name="Block 203.0.113.9").click()

    # The form is the confirmation: pre-filled, nothing done yet.
    expect(page.get_by_label("Source address or network")).to_have_value("203.0.113.9")
    assert PolicyRevision.objects.count() == 0
    page.get_by_label("Where").select_option(label="Gateways in Europe West")
    page.get_by_label("24 hours").check()
    page.get_by_label("Reason").fill("Port scan against the DMZ")
    screenshot(page, "containment-02-block-form")
    page.get_by_role("button", name="Block and publish").click()

    # The session came from a cookie: the password first, then the block.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Confirm|Re-authenticate|Continue", re.I)).click()

    expect(page).to_have_url(re.compile(rf"{incident.get_absolute_url()}$"))
    expect(page.locator(".toast-success")).to_contain_text("published as policy revision 1")
    expect(page.locator("#incident-timeline")).to_contain_text("Blocked 203.0.113.9/32")
    expect(panel).to_contain_text("203.0.113.9/32")
    expect(panel).to_contain_text("Active")
    screenshot(page, "containment-03-incident-blocked")

    action = ContainmentAction.objects.get()
    assert action.region == region
    remaining = action.expires_at - timezone.now()
    assert timedelta(hours=23, minutes=58) < remaining <= timedelta(hours=24)
    deny = config_of(credential)["policies"][0]
    assert deny["policy"] == "Containment" and deny["action"] == "deny"
    assert deny["sources"]["cidrs"] == ["203.0.113.9/32"]

    # Lift, from the panel, with a confirmation page.
    panel.get_by_role("link", name="Lift").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lift")
    screenshot(page, "containment-04-lift-confirm")
    page.get_by_role("button", name="Lift and publish").click()
    expect(page).to_have_url(re.compile(rf"{incident.get_absolute_url()}$"))
    expect(page.locator("#incident-timeline")).to_contain_text("Lifted")
    expect(panel).to_contain_text("Lifted")
    assert PolicyRevision.objects.count() == 2
    assert [p for p in config_of(credential)["policies"] if p["policy"] == "Containment"] == []

    page.goto("/security/containment/")
    expect(page.locator("#object-table")).to_contain_text("203.0.113.9/32")
    screenshot(page, "containment-05-list")
    assert page.errors == []
