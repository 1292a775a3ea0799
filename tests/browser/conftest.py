"""Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Playwright's sync API keeps an asyncio loop running in the main thread, which
Django takes for async code and would refuse ORM calls from the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.services import CHROMIUM_ARGS, chromium_path, require

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

# expect() waits 5 s by default; on a loaded 2-core machine (CI runs the
# suite on two workers) a page can take longer: as long as actions wait.
try:
    from playwright.sync_api import expect as _expect
except ImportError:  # pragma: no cover - Playwright is a test dependency
    pass
else:
    _expect.set_options(timeout=10_000)

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Module scope, so that Playwright (and its
    running event loop) is stopped before tests of other modules run."""
    executable = chromium_path()
    require(executable is not None, "Chromium (set CHROMIUM_PATH or install Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, live_server, **context_options):
    context = browser.new_context(base_url=live_server.url, **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = page.errors = []  # uncaught exceptions in the page's scripts
    page.on("pageerror", lambda error: errors.append(error))
    return context, page


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab (own cookies) at desktop size, on the live server."""
    context, tab = _page(browser, live_server, viewport={"width": 1280, "height": 900})
    yield tab
    context.close()


@pytest.fixture
def phone_page(browser, live_server):
    """A fresh tab at a phone's width."""
    context, tab = _page(
        browser,
        live_server,
        viewport={"width": 375, "height": 740},
        is_mobile=True,
        has_touch=True,
    )
    yield tab
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` saves var/screenshots/<name>.png when SCREENSHOTS=1."""
    enabled = os.environ.get("SCREENSHOTS") == "1"
    folder = Path(settings.BASE_DIR) / "var" / "screenshots"

    def take(page, name: str) -> None:
        if enabled:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=folder / f"{name}.png", full_page=True)

    return take


@pytest.fixture
def admin(django_user_model, transactional_db):
    return django_user_model.objects.create_superuser(
        username="captain", email="captain@example.com", password=PASSWORD
    )


def sign_in(page, username: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person does."""
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def sign_in_by_cookie(page, user, base_url: str) -> None:
    """Skip the form: give the tab the session cookie of a signed-in test client."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    page.context.add_cookies([{"name": name, "value": client.cookies[name].value, "url": base_url}])
