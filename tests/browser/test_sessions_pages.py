"""Sessions & sign-in, IP allowlist and Your sessions in Chromium: a person
signs in, sees their sessions, signs another one out; the pages render at
desktop and phone width in light and dark (SHOTS_DIR=… saves screenshots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from security import allowlist
from security.models import AllowlistEntry, SessionPolicy, UserSession
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROME_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def shoot(page, name: str) -> None:
    folder = os.environ.get("SHOTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture(autouse=True)
def _clean_caches():
    cache.delete(SessionPolicy.CACHE_KEY)
    allowlist.invalidate()
    yield
    allowlist.invalidate()


def test_your_sessions_sign_out_another_browser(browser, live_server, admin):
    contexts = []
    try:
        pages = []
        for agent in (CHROME_UA, None):
            options = {"base_url": live_server.url, "viewport": {"width": 1440, "height": 900}}
            if agent:
                options["user_agent"] = agent
            context = browser.new_context(**options)
            context.set_default_timeout(10_000)
            contexts.append(context)
            tab = context.new_page()
            sign_in(tab, admin.username)
            pages.append(tab)
        laptop, other = pages
        laptop.goto("/account/sessions/")
        assert laptop.get_by_text("This session").is_visible()
        assert laptop.get_by_text("Chrome 131 on Mac OS X").is_visible()
        assert UserSession.objects.filter(user=admin).count() == 2
        # Sign the other browser out from here.
        laptop.locator("tr", has_not_text="This session").get_by_role(
            "button", name="Sign out"
        ).click()
        laptop.wait_for_url("**/account/sessions/")
        expect(laptop.get_by_text("Signed out").first).to_be_visible()
        other.goto("/account/")
        assert "/accounts/login/" in other.url
        # The current session asks before signing out.
        laptop.get_by_role("button", name="Sign out…").click()
        # expect() waits for the confirmation page (is_visible() would not).
        expect(laptop.get_by_role("heading", name="Sign out this session?")).to_be_visible()
        laptop.get_by_role("button", name="Sign out").click()
        laptop.wait_for_url("**/accounts/login/**")
    finally:
        for context in contexts:
            context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 375])
def test_pages_render(browser, live_server, admin, scheme, width):
    AllowlistEntry.objects.create(network="127.0.0.0/8", comment="This machine", scope="both")
    AllowlistEntry.objects.create(network="203.0.113.0/24", comment="Head office", scope="console")
    AllowlistEntry.objects.create(network="2001:db8::/48", comment="Automation", scope="api")
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": width, "height": 900},
        color_scheme=scheme,
        user_agent=CHROME_UA,
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
            ("/settings/", "settings"),
            ("/settings/sessions/", "policy"),
            ("/settings/allowlist/", "allowlist"),
            ("/settings/allowlist/add/", "allowlist-add"),
            ("/account/sessions/", "my-sessions"),
        ):
            response = tab.goto(path)
            assert response.status == 200, path
            shoot(tab, f"{shot}-{name}")
        # Editing away the entry that lets this browser in is refused.
        tab.goto("/settings/allowlist/")
        tab.get_by_role("link", name="127.0.0.0/8").click()
        tab.get_by_label("Network").fill("192.0.2.0/24")
        tab.get_by_role("button", name="Save").click()
        expect(tab.get_by_text("would lock you out").first).to_be_visible()
        shoot(tab, f"allowlist-refused-{name}")
        assert not tab.errors
    finally:
        context.close()
        # Deleted (not only flushed away) so that the cached allowlist goes too.
        AllowlistEntry.objects.all().delete()
