"""Two-factor authentication as a person goes through it, in Chromium: forced
enrolment right after the password, a real TOTP computed here from the secret
the page shows, recovery codes, signing in again with the app and with a
recovery code (once), and a replayed code refused."""

from __future__ import annotations

import time
from base64 import b32decode
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django_otp.oath import TOTP

from tests.browser.conftest import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DASHBOARD_HEADING = "Fleet overview"


def code_from(secret: str, steps_ahead: int = 0) -> str:
    """What an authenticator app holding ``secret`` shows (``steps_ahead``
    periods of 30 s later)."""
    generator = TOTP(b32decode(secret))
    generator.time = time.time() + 30 * steps_ahead
    return f"{generator.token():06d}"


def sign_out(page) -> None:
    page.locator("summary[aria-label='User menu']").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/accounts/login/**")


def enter_code(page, label: str, code: str, button: str) -> None:
    page.get_by_label(label).fill(code)
    page.get_by_role("button", name=button).click()


@pytest.fixture
def pilot(transactional_db):
    """A user whose account must use a second factor, with no device yet."""
    user = get_user_model().objects.create_user(
        username="pilot", email="pilot@example.com", password=PASSWORD, mfa_required=True
    )
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="gateways", codename="view_gateway")
    )
    return user


def test_forced_enrolment_then_sign_in_with_the_app_and_a_recovery_code(page, pilot):
    # Password first: the console sends the user straight to enrolment...
    sign_in(page, "pilot")
    assert "/account/mfa/authenticator/" in page.url
    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
    assert page.locator(".mfa-qr svg").is_visible()
    # ...and nothing else opens until it is done.
    page.goto("/gateways/")
    assert "/account/mfa/authenticator/" in page.url

    # The app: read the key as a person would ("Can't scan it?").
    page.get_by_text("Can't scan it? Type this key instead").click()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert page.locator("#totp-secret").get_attribute("data-totp-secret") == secret
    first_code = code_from(secret)
    enter_code(page, "Code from your authenticator app", first_code, "Confirm and turn on")

    # Recovery codes, shown once, downloadable.
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    codes = page.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as .txt").click()
    download = download_info.value
    assert download.suggested_filename == "rustronaut-recovery-codes.txt"
    saved = Path(download.path()).read_text()
    assert all(code in saved for code in codes)
    page.get_by_role("button", name="I have saved my codes").click()
    # On to the page first asked for.
    page.wait_for_url("**/gateways/")
    assert not page.errors

    # Sign in again: the second step asks for a code; the one used already is refused.
    sign_out(page)
    sign_in(page, "pilot")
    assert "/account/mfa/verify/" in page.url
    enter_code(page, "Code from your authenticator app", first_code, "Verify")
    page.get_by_text("That code is not right").wait_for()
    assert "/account/mfa/verify/" in page.url
    page.wait_for_timeout(1100)  # the throttle after one failure: 1 s
    enter_code(page, "Code from your authenticator app", code_from(secret, 1), "Verify")
    page.get_by_role("heading", name=DASHBOARD_HEADING).wait_for()

    # Lost phone: a recovery code works, once.
    sign_out(page)
    sign_in(page, "pilot")
    page.get_by_text("Lost your device? Use a recovery code").click()
    enter_code(page, "Recovery code", codes[0], "Use recovery code")
    page.get_by_role("heading", name=DASHBOARD_HEADING).wait_for()

    sign_out(page)
    sign_in(page, "pilot")
    page.get_by_text("Lost your device? Use a recovery code").click()
    enter_code(page, "Recovery code", codes[0], "Use recovery code")
    page.get_by_text("That recovery code is not right, or it was used already.").wait_for()
    assert "/account/mfa/verify/" in page.url

    # The overview counts what is left.
    page.wait_for_timeout(1100)
    page.get_by_label("Recovery code").fill(codes[1])
    page.get_by_role("button", name="Use recovery code").click()
    page.get_by_role("heading", name=DASHBOARD_HEADING).wait_for()
    page.goto("/account/mfa/")
    assert page.locator("#recovery-codes-left").inner_text() == "8"
    assert not page.errors
