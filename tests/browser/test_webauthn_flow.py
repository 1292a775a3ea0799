"""A security key as the second factor, in Chromium with its virtual
authenticator (CDP WebAuthn domain): a user who must enrol registers a key
instead of an app, saves the recovery codes, signs out, signs in with the
password and verifies with the key.

WebAuthn needs a secure context: http://localhost counts. The RP id is
"localhost" (the default for ALLOWED_HOSTS' first name), and the allowed
origin is the live server's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django_otp_webauthn.models import WebAuthnCredential

from tests.browser.conftest import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DASHBOARD_HEADING = "Fleet overview"
# WEBAUTHN_SHOTS=/tmp/shots-webauthn saves the key pages at 1440 and 375 px,
# light and dark.
SHOTS = os.environ.get("WEBAUTHN_SHOTS")


def add_virtual_authenticator(page) -> tuple:
    """A USB security key that says yes at once (user present and verified)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def shots(page, name: str) -> None:
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width in (1440, 375):
        page.set_viewport_size({"width": width, "height": 900})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=folder / f"{name}-{width}-{scheme}.png", full_page=True)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size)


def sign_out(page) -> None:
    page.locator("summary[aria-label='User menu']").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/accounts/login/**")


@pytest.fixture
def pilot(transactional_db):
    user = get_user_model().objects.create_user(
        username="pilot", email="pilot@example.com", password=PASSWORD, mfa_required=True
    )
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="gateways", codename="view_gateway")
    )
    return user


@pytest.fixture
def webauthn_origin(settings, live_server):
    # The live server's port is random: the origin is allowed exactly.
    assert live_server.url.startswith("http://localhost:")
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    return live_server.url


def test_enrol_with_a_security_key_then_verify_with_it(page, pilot, webauthn_origin):
    console_errors = []
    page.on(
        "console",
        lambda msg: console_errors.append(msg.text) if msg.type == "error" else None,
    )
    cdp, authenticator_id = add_virtual_authenticator(page)

    # Password first: enrolment offers a key as well as an app.
    sign_in(page, "pilot")
    assert "/account/mfa/authenticator/" in page.url
    page.get_by_text("Use a security key or passkey instead").click()
    page.get_by_label("Name of the key").fill("Desk YubiKey")
    page.get_by_role("button", name="Add security key").click()

    # Registered, named, and the recovery codes made with this first factor.
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    assert len(page.locator("#recovery-codes").inner_text().split()) == 10
    key = WebAuthnCredential.objects.get(user=pilot)
    assert key.name == "Desk YubiKey" and key.confirmed
    assert cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]
    page.get_by_role("button", name="I have saved my codes").click()

    # The overview lists it: name, added, not used yet.
    page.goto("/account/mfa/")
    row = page.locator(".mfa-devices li", has_text="Desk YubiKey")
    row.wait_for()
    assert "Security key or passkey" in row.inner_text()
    assert "added" in row.inner_text() and "not used yet" in row.inner_text()
    shots(page, "overview-with-key")

    # Sign in again: password, then the key.
    sign_out(page)
    sign_in(page, "pilot")
    assert "/account/mfa/verify/" in page.url
    page.goto("/gateways/")  # nothing else opens before the second factor
    assert "/account/mfa/verify/" in page.url
    page.get_by_role("button", name="Use your security key").wait_for()
    shots(page, "verify-with-key")
    page.get_by_role("button", name="Use your security key").click()
    page.wait_for_url("**/gateways/")
    page.goto("/")
    page.get_by_role("heading", name=DASHBOARD_HEADING).wait_for()

    key.refresh_from_db()
    assert key.last_used_at is not None
    page.goto("/account/mfa/")
    assert "used" in page.locator(".mfa-devices li", has_text="Desk YubiKey").inner_text()

    assert not page.errors
    # No script or CSP refusals (a blocked script logs a console error).
    assert not [e for e in console_errors if "Content Security Policy" in e or "Refused" in e]
