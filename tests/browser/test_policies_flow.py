"""What an admin does with access policies, in Chromium: edit a rule, see a
validation error on the field, fix it, simulate, see what changes, publish
(giving the password again), watch a gateway pick the revision up, and roll
back."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from gateways.enrolment import enrol, issue_token
from policies.models import PolicyRevision
from tests.browser.conftest import PASSWORD, sign_in_by_cookie
from tests.factories import GatewayFactory, RegionFactory
from tests.policies.factories import PolicyCategoryFactory, PolicyFactory, RuleFactory

pytestmark = pytest.mark.browser


def heartbeat(credential: str, config_version: int) -> int:
    """The gateway's agent reports the config version it applied."""
    body = {
        "sent_at": "2026-11-25T10:00:00Z",
        "status": "ok",
        "version": "1.8.2",
        "config_version": config_version,
        "metrics": {"cpu_pct": 1, "mem_pct": 1, "rx_bps": 0, "tx_bps": 0, "sessions": 0},
    }
    response = Client().post(
        "/api/agent/v1/heartbeat",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {credential}",
    )
    assert response.status_code == 200, response.content
    return response.json()["config_version"]


def test_edit_validate_simulate_publish_and_roll_back(
    page, admin, live_server, screenshot, settings
):
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9
    region = RegionFactory(name="Europe West")
    gateway = GatewayFactory(name="gw-fra-1", region=region, status="online")
    credential = enrol(issue_token(gateway), version="1.8.2").credential
    policy = PolicyFactory(name="web", priority=10, category=PolicyCategoryFactory(name="Baseline"))
    RuleFactory(policy=policy, dst_cidrs=["10.20.0.0/16"], ports="443", comment="shop")
    RuleFactory(policy=policy, action="deny", protocol="any", ports="", dst_cidrs=["10.0.0.0/8"])
    sign_in_by_cookie(page, admin, live_server.url)

    # The list says what is enforced and that anything unmatched is denied.
    page.goto("/policies/")
    expect(page.locator("#draft-banner")).to_contain_text("Nothing is published yet")
    expect(page.locator(".default-deny").first).to_contain_text("Default: deny")
    page.get_by_role("searchbox").fill("10.20.5.5")
    expect(page.locator("#object-table")).to_contain_text("matches rules 1, 2")
    screenshot(page, "policies-01-list")
    page.get_by_role("link", name="web", exact=True).click()

    # Edit rule 1: a malformed CIDR is refused on its field.
    expect(page.locator("#rules")).to_contain_text("default deny")
    page.get_by_role("link", name="Edit rule 1").click()
    page.get_by_label("Destination CIDRs").fill("10.20.0.1/16")
    page.get_by_label("Ports").fill("443, 8443")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#id_dst_cidrs_error")).to_contain_text(
        "has host bits set: the network is 10.20.0.0/16"
    )
    screenshot(page, "policies-02-invalid")
    page.get_by_label("Destination CIDRs").fill("10.20.0.0/16")
    page.get_by_role("button", name="Save rule").click()
    expect(page.locator(".toast-success")).to_contain_text("Saved rule 1 of web (draft).")
    expect(page.locator("#draft-banner")).to_contain_text("unpublished changes")
    screenshot(page, "policies-03-detail")

    # Simulate: 8443 is allowed by rule 1 in the draft (nothing is published yet).
    page.get_by_role("link", name="Simulate").first.click()
    page.get_by_label("Destination", exact=True).fill("10.20.1.1")
    page.get_by_label("Port").fill("8443")
    page.get_by_label("At gateway").select_option(label="gw-fra-1")
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator("#decision-draft")).to_contain_text("Allow")
    expect(page.locator("#decision-draft")).to_contain_text("by web · rule 1")
    expect(page.locator("#decision-published")).to_contain_text("Nothing published yet")
    screenshot(page, "policies-04-simulate")

    # Publish: the diff, then the password again (the session came from a cookie).
    page.goto("/policies/publish/")
    expect(page.locator("#validation")).to_contain_text("No problems found.")
    expect(page.locator("#changes")).to_contain_text("Added")
    page.get_by_label("What changed and why").fill("Open 8443 for the shop")
    page.get_by_role("button", name="Publish revision").click()
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Confirm|Re-authenticate|Continue", re.I)).click()
    first = PolicyRevision.objects.get(number=1)
    expect(page).to_have_url(re.compile(rf"/policies/revisions/{first.uuid}/$"))
    expect(page.locator(".toast-success")).to_contain_text("Published revision 1")
    expect(page.locator("#rollout")).to_contain_text("0 of 1 gateways applied it")
    screenshot(page, "policies-05-revision")

    # The gateway pulls and reports the new version: the rollout shows it.
    assert heartbeat(credential, 1) == first.config_version
    heartbeat(credential, first.config_version)
    page.reload()
    expect(page.locator("#rollout")).to_contain_text("1 of 1 gateways applied it")

    # A second change, published; then roll back to revision 1.
    page.goto(policy.get_absolute_url())
    page.get_by_role("button", name="Move rule 2 up").click()
    expect(page.locator(".toast-success")).to_contain_text("Moved rule 2 to 1")
    page.goto("/policies/publish/")
    expect(page.locator("#changes")).to_contain_text("Rule 2 moved to 1")
    # Deny 10/8 now comes first: allowing 10.20/16 after it can never match.
    expect(page.locator("#validation")).to_contain_text("Never matches: web · rule 1 (deny)")
    page.get_by_label("What changed and why").fill("Deny first")
    page.get_by_role("button", name="Publish revision").click()
    expect(page.locator("#id_confirm_warnings_error")).to_contain_text("confirm that you publish")
    page.get_by_label("What changed and why").fill("Deny first")
    page.get_by_label("I have read the warnings and publish anyway").check()
    page.get_by_role("button", name="Publish revision").click()
    expect(page.locator(".toast-success")).to_contain_text("Published revision 2")
    page.goto(first.get_absolute_url())
    page.get_by_role("link", name="Roll back to this revision").click()
    expect(page.locator("main")).to_contain_text("Roll back to revision 1?")
    page.get_by_role("button", name="Roll back").click()
    expect(page.locator(".toast-success")).to_contain_text(
        "Rolled back: revision 3 publishes revision 1's policies again."
    )
    expect(page.locator("#rollout")).to_contain_text("0 of 1 gateways applied it")
    screenshot(page, "policies-06-rollback")
    assert PolicyRevision.objects.get(number=3).snapshot == first.snapshot
    assert page.errors == []
