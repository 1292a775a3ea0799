"""What an admin does with gateways, in Chromium: sign in, add, find, delete."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from gateways.models import Gateway
from tests.browser.conftest import sign_in, sign_in_by_cookie
from tests.factories import GatewayFactory, RegionFactory

pytestmark = pytest.mark.browser

NAME = "gw-e2e-lisbon-01"


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def table_rows(page):
    return page.locator("#object-table tbody tr")


def test_add_find_and_delete_a_gateway(page, admin, screenshot):
    region = RegionFactory(name="Europe West", slug="eu-west")
    RegionFactory(name="Asia East", slug="asia-east")
    GatewayFactory(name="gw-e2e-porto-02", region=region)
    GatewayFactory(name="gw-other-03", region=region)

    # Sign in through the form.
    sign_in(page, admin.username)
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    screenshot(page, "01-dashboard")

    # Gateways, then "Add gateway".
    main_nav(page).get_by_role("link", name="Gateways").click()
    expect(page).to_have_url(re.compile(r"/gateways/$"))
    expect(page.get_by_role("heading", name="Gateways", exact=True)).to_be_visible()
    expect(table_rows(page)).to_have_count(2)
    page.get_by_role("link", name="Add gateway").click()
    expect(page.get_by_role("heading", name="Add gateway")).to_be_visible()

    form = page.locator("main form")
    form.get_by_role("textbox", name="Name", exact=True).fill(NAME)
    form.get_by_role("combobox", name="Region").select_option(label="Europe West")
    address = form.get_by_role("textbox", name="Public address")
    address.fill("203.0.113.10")
    # The help text is tied to its field for screen readers.
    expect(address).to_have_accessible_description(re.compile(r"^The address the gateway"))
    form.get_by_role("textbox", name="Tags").fill("edge, pci")
    screenshot(page, "02-add-gateway")
    page.get_by_role("button", name="Save").click()

    # The success toast, on the new gateway's page.
    expect(page.locator(".toast-success")).to_contain_text(f"Created gateway {NAME}.")
    gateway = Gateway.objects.get(name=NAME)
    expect(page).to_have_url(re.compile(rf"/gateways/{gateway.uuid}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(NAME)
    details = page.locator("dl.props").first
    expect(details).to_contain_text("Europe West")
    expect(details).to_contain_text("203.0.113.10")
    expect(details.locator("a.tag")).to_have_text(["edge", "pci"])
    assert gateway.region == region
    assert sorted(gateway.tags.names()) == ["edge", "pci"]
    screenshot(page, "03-gateway-created")

    # Back to the list; the search narrows it in place, through htmx.
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Gateways").click()
    expect(table_rows(page)).to_have_count(3)
    page.evaluate("window.__samePage = true")
    page.get_by_role("searchbox").press_sequentially("lisbon")
    expect(page).to_have_url(re.compile(r"[?&]q=lisbon"))
    expect(table_rows(page)).to_have_count(1)
    expect(table_rows(page).first).to_contain_text(NAME)
    expect(page.locator("#result-count")).to_contain_text("1 result")
    assert page.evaluate("window.__samePage") is True, "the search reloaded the whole page"
    screenshot(page, "04-search")

    # Open it, delete it, confirm.
    table_rows(page).first.get_by_role("link", name=NAME).click()
    expect(page).to_have_url(re.compile(rf"/gateways/{gateway.uuid}/$"))
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Delete gateway {NAME}?")
    screenshot(page, "05-confirm-delete")
    page.get_by_role("button", name="Delete permanently").click()

    expect(page.locator(".toast-success")).to_contain_text(f"Deleted gateway {NAME}.")
    expect(page).to_have_url(re.compile(r"/gateways/$"))
    expect(table_rows(page)).to_have_count(2)
    expect(page.locator("#object-table")).not_to_contain_text(NAME)
    assert not Gateway.objects.filter(name=NAME).exists()
    screenshot(page, "06-deleted")

    assert page.errors == []


def test_navigation_toggle_opens_the_side_navigation_on_a_phone(
    phone_page, admin, live_server, screenshot
):
    page = phone_page
    sign_in_by_cookie(page, admin, live_server.url)
    page.goto("/")
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()

    toggle = page.get_by_role("button", name="Menu")
    sidenav = page.locator("#sidenav")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(sidenav).not_to_be_in_viewport()

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(sidenav).to_be_in_viewport(ratio=1)
    screenshot(page, "07-phone-navigation")

    # Escape closes it, and the button says so.
    page.keyboard.press("Escape")
    expect(sidenav).not_to_be_in_viewport()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidenav).to_be_in_viewport(ratio=1)

    # From the open navigation, a page is one tap away.
    sidenav.get_by_role("link", name="Gateways").click()
    expect(page).to_have_url(re.compile(r"/gateways/$"))
    expect(sidenav).not_to_be_in_viewport()

    assert page.errors == []
