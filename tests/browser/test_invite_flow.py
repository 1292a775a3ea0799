"""The identity issue's "done when", in Chromium: an admin invites an operator
limited to one region who must use MFA; the operator accepts, is made to set
up TOTP at first sign-in, then sees only their region; automation works with
an API key of theirs."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.browser.conftest import PASSWORD, sign_in
from tests.browser.conftest import _page as open_tab
from tests.browser.test_mfa_flow import code_from, enter_code
from tests.factories import GatewayFactory, RegionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OPERATOR_PASSWORD = "orbital-mechanics-2031"


@pytest.fixture
def fleet(transactional_db):
    europe, america = RegionFactory(name="Europe"), RegionFactory(name="America")
    GatewayFactory(name="gw-eu-1", region=europe)
    GatewayFactory(name="gw-us-1", region=america)
    get_user_model().objects.create_superuser("boss", "boss@example.com", PASSWORD)
    return europe, america


def test_invited_operator_sets_up_totp_and_sees_only_their_region(browser, live_server, fleet):
    europe, _ = fleet
    admin, page = open_tab(browser, live_server)
    sign_in(page, "boss")

    page.goto("/settings/users/")
    page.get_by_role("link", name="Invite user").click()
    page.get_by_label("Email address").fill("olga@example.com")
    page.get_by_label("First name").fill("Olga")
    page.get_by_label("Operator — ", exact=False).check()
    page.get_by_label("Europe", exact=True).check()
    page.get_by_label("MFA required").check()
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_role("heading", name="Invitation sent to olga@example.com").wait_for()
    link = page.locator("#invitation-link").inner_text().strip()
    admin.close()

    # Olga, in her own browser.
    olga, tab = open_tab(browser, live_server)
    tab.goto(link)
    tab.get_by_label("New password").fill(OPERATOR_PASSWORD)
    tab.get_by_label("Repeat the password").fill(OPERATOR_PASSWORD)
    tab.get_by_role("button", name="Set password and sign in").click()
    # First stop: set up an authenticator; nothing else opens before.
    tab.wait_for_url("**/account/mfa/authenticator/**")
    tab.goto("/gateways/")
    assert "/account/mfa/authenticator/" in tab.url
    tab.get_by_text("Can't scan it? Type this key instead").click()
    secret = tab.locator("#totp-secret").inner_text().replace(" ", "")
    enter_code(tab, "Code from your authenticator app", code_from(secret), "Confirm and turn on")
    tab.get_by_role("button", name="I have saved my codes").click()

    # Only Europe, everywhere she looks.
    tab.goto("/gateways/")
    table = tab.locator("#object-table").inner_text()
    assert "gw-eu-1" in table and "gw-us-1" not in table
    tab.goto("/regions/")
    regions = tab.locator("#object-table").inner_text()
    assert "Europe" in regions and "America" not in regions
    tab.goto("/gateways/add/")
    options = tab.locator("#id_region option").all_inner_texts()
    assert "Europe" in options and "America" not in options
    assert not tab.errors

    # Her API key for automation: read-only gateways, Europe only like her.
    tab.goto("/account/api-keys/new/")
    tab.get_by_label("Name").fill("inventory script")
    tab.get_by_label("Gateways and regions").select_option("read")
    tab.get_by_role("button", name="Create key").click()
    key = tab.locator("#api-key").inner_text().strip()
    assert key.startswith("rck_")
    olga.close()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = api.get("/api/v1/gateways/")
    assert response.status_code == 200, response.content[:300]
    assert [g["name"] for g in response.json()["results"]] == ["gw-eu-1"]
    assert europe.name == "Europe"
