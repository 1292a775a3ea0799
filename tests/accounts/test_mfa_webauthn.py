"""Security keys (accounts/mfa/webauthn.py): who may reach the WebAuthn
endpoints, and the ceremonies run end to end with a software authenticator
(an EC P-256 key, "none" attestation) so that the server's real signature
checks run. The browser's side is tested in tests/browser/test_webauthn_flow.py."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from webauthn.helpers import bytes_to_base64url

from accounts.mfa import policy
from accounts.mfa.webauthn import NEW_KEY_SESSION_KEY
from tests.factories import user_with_perms

pytestmark = pytest.mark.django_db

ORIGIN = "http://localhost:8000"
REGISTER_BEGIN = reverse("otp_webauthn:credential-registration-begin")
REGISTER_COMPLETE = reverse("otp_webauthn:credential-registration-complete")
AUTH_BEGIN = reverse("otp_webauthn:credential-authentication-begin")
AUTH_COMPLETE = reverse("otp_webauthn:credential-authentication-complete")
KEY_ADDED = reverse("accounts:mfa:security_key_added")
CEREMONIES = [REGISTER_BEGIN, REGISTER_COMPLETE, AUTH_BEGIN, AUTH_COMPLETE]


class SoftKey:
    """What a security key answers, computed here."""

    def __init__(self, rp_id: str = "localhost", origin: str = ORIGIN):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.rp_id, self.origin = rp_id, origin
        self.counter = 0

    def _public_cose(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _authenticator_data(self, attested: bool) -> bytes:
        self.counter += 1
        flags = 0x01 | 0x04 | (0x40 if attested else 0)  # user present, verified, attested
        data = hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags])
        data += struct.pack(">I", self.counter)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self._public_cose()
        return data

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def _credential(self, response: dict) -> dict:
        encoded = bytes_to_base64url(self.credential_id)
        return {
            "id": encoded,
            "rawId": encoded,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        }

    def register(self, options: dict) -> dict:
        client_data = self._client_data("webauthn.create", options["challenge"])
        attestation = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": self._authenticator_data(True)}
        )
        return self._credential(
            {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["usb"],
            }
        )

    def sign(self, options: dict) -> dict:
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = self._authenticator_data(False)
        signature = self.private.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return self._credential(
            {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
            }
        )


@pytest.fixture(autouse=True)
def relying_party(settings):
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [ORIGIN]


def post_json(client, url: str, data: dict | None = None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def signed_in(user) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def verified(user) -> Client:
    device = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    client = signed_in(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def register(client, key: SoftKey, name: str | None = None):
    options = post_json(client, REGISTER_BEGIN).json()
    response = post_json(client, REGISTER_COMPLETE, key.register(options))
    if name is not None and response.status_code == 200:
        client.post(KEY_ADDED, {"name": name})
    return response


def is_verified(client) -> bool:
    return bool(client.session.get(DEVICE_ID_SESSION_KEY))


@pytest.fixture
def member():
    return user_with_perms("member", "gateways.view_gateway")


@pytest.fixture
def must_enrol():
    return user_with_perms("mustenrol", "gateways.view_gateway", mfa_required=True)


# --- Settings ---------------------------------------------------------------------


def test_passwordless_sign_in_is_off(settings):
    assert settings.OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN is False
    assert "django_otp_webauthn" in settings.INSTALLED_APPS


def test_env_origins_refuses_what_is_not_a_secure_origin(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from console.env import env_origins

    monkeypatch.setenv(
        "WEBAUTHN_ALLOWED_ORIGINS", "https://console.example.com,http://localhost:8000"
    )
    assert env_origins("WEBAUTHN_ALLOWED_ORIGINS", []) == [
        "https://console.example.com",
        "http://localhost:8000",
    ]
    for bad in (
        "http://console.example.com",
        "https://console.example.com/",
        "console.example.com",
    ):
        monkeypatch.setenv("WEBAUTHN_ALLOWED_ORIGINS", bad)
        with pytest.raises(ImproperlyConfigured, match="WEBAUTHN_ALLOWED_ORIGINS"):
            env_origins("WEBAUTHN_ALLOWED_ORIGINS", [])


# --- Who may reach the endpoints ----------------------------------------------------


@pytest.mark.parametrize("url", [*CEREMONIES, KEY_ADDED])
def test_anonymous_is_sent_to_sign_in(url):
    response = post_json(Client(HTTP_HOST="localhost"), url)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert not WebAuthnCredential.objects.exists()


@pytest.mark.parametrize("url", [REGISTER_BEGIN, REGISTER_COMPLETE])
def test_user_who_owes_the_verify_step_cannot_add_a_key(member, url):
    TOTPDevice.objects.create(user=member, name="Phone", confirmed=True)
    response = post_json(signed_in(member), url)
    assert response.status_code == 302
    assert response["Location"].startswith("/account/mfa/verify/")


@pytest.mark.parametrize("url", [AUTH_BEGIN, AUTH_COMPLETE])
def test_user_at_the_enrol_step_cannot_verify(must_enrol, url):
    response = post_json(signed_in(must_enrol), url)
    assert response.status_code == 302
    assert response["Location"].startswith("/account/mfa/authenticator/")


def test_registration_options_are_for_a_second_factor(member):
    options = post_json(verified(member), REGISTER_BEGIN).json()
    assert options["rp"] == {"name": "Rustronaut Console", "id": "localhost"}
    # Passwordless off: discoverable credentials are not demanded.
    assert options["authenticatorSelection"]["residentKey"] == "preferred"


# --- Registering a key --------------------------------------------------------------


def test_first_key_of_a_user_who_must_enrol_makes_recovery_codes(must_enrol, caplog):
    client = signed_in(must_enrol)
    caplog.set_level(logging.INFO, logger="accounts.mfa")
    response = register(client, SoftKey())
    assert response.status_code == 200
    key = WebAuthnCredential.objects.get(user=must_enrol)
    assert key.name == "Security key" and key.confirmed
    assert is_verified(client)  # the enrolment counts as this session's second factor
    assert policy.recovery_codes_left(must_enrol) == 10
    assert "mfa.device.confirmed" in caplog.messages

    # The page names it, then shows the codes (kept for the forced user's next page).
    response = client.post(KEY_ADDED, {"name": "Desk YubiKey", "next": "/gateways/"})
    assert response.status_code == 302
    assert response["Location"] == "/account/mfa/recovery-codes/?next=%2Fgateways%2F"
    key.refresh_from_db()
    assert key.name == "Desk YubiKey"
    assert client.get("/gateways/").status_code == 200


def test_another_key_keeps_the_recovery_codes(member):
    client = verified(member)
    codes = policy.generate_recovery_codes(member)
    register(client, SoftKey())
    response = client.post(KEY_ADDED, {"name": ""})
    assert response["Location"] == reverse("accounts:mfa:overview")
    assert WebAuthnCredential.objects.get(user=member).name == "Security key"
    assert StaticDevice.objects.get(user=member).token_set.filter(token=codes[0].replace("-", ""))


def test_naming_needs_the_key_just_registered(member):
    other = user_with_perms("other")
    theirs = SoftKey()
    register(verified(other), theirs)
    their_key = WebAuthnCredential.objects.get(user=other)
    client = verified(member)
    session = client.session
    session[NEW_KEY_SESSION_KEY] = their_key.pk  # not this user's key
    session.save()
    client.post(KEY_ADDED, {"name": "Mine now"})
    their_key.refresh_from_db()
    assert their_key.name == "Security key"


def test_a_tampered_registration_is_refused(member):
    client = verified(member)
    options = post_json(client, REGISTER_BEGIN).json()
    answer = SoftKey(origin="https://evil.example").register(options)
    response = post_json(client, REGISTER_COMPLETE, answer)
    assert response.status_code == 422
    assert not WebAuthnCredential.objects.exists()


# --- Verifying with a key -----------------------------------------------------------


@pytest.fixture
def member_with_key(member):
    key = SoftKey()
    register(verified(member), key)
    return member, key


def test_verify_with_own_key(member_with_key, caplog):
    member, key = member_with_key
    client = signed_in(member)
    assert client.get("/gateways/").status_code == 302  # owes the second factor
    caplog.set_level(logging.INFO, logger="accounts.mfa")
    options = post_json(client, AUTH_BEGIN).json()
    assert [c["id"] for c in options["allowCredentials"]] == [bytes_to_base64url(key.credential_id)]
    response = post_json(client, f"{AUTH_COMPLETE}?next=/gateways/", key.sign(options))
    assert response.status_code == 200
    assert response.json()["redirect_url"] == "/gateways/"
    assert client.get("/gateways/").status_code == 200
    assert "mfa.verify.succeeded" in caplog.messages
    stored = WebAuthnCredential.objects.get(user=member)
    assert stored.last_used_at is not None and stored.sign_count == key.counter


def test_next_to_another_host_is_ignored(member_with_key):
    member, key = member_with_key
    client = signed_in(member)
    options = post_json(client, AUTH_BEGIN).json()
    response = post_json(client, f"{AUTH_COMPLETE}?next=https://evil.example/", key.sign(options))
    assert response.json()["redirect_url"] == "/"


def test_a_signed_answer_works_once(member_with_key):
    member, key = member_with_key
    client = signed_in(member)
    options = post_json(client, AUTH_BEGIN).json()
    answer = key.sign(options)
    assert post_json(client, AUTH_COMPLETE, answer).status_code == 200
    # Same answer again, in a fresh session: the challenge was used up.
    replay = signed_in(member)
    post_json(replay, AUTH_BEGIN)
    assert post_json(replay, AUTH_COMPLETE, answer).status_code == 422
    assert not is_verified(replay)


def test_another_users_key_is_refused(member_with_key, caplog):
    member, _ = member_with_key
    intruder = user_with_perms("intruder")
    intruder_key = SoftKey()
    register(verified(intruder), intruder_key)
    # The member signs in and answers with a key that is not theirs.
    client = signed_in(member)
    caplog.set_level(logging.INFO, logger="accounts.mfa")
    options = post_json(client, AUTH_BEGIN).json()
    response = post_json(client, AUTH_COMPLETE, intruder_key.sign(options))
    assert response.status_code == 403
    assert response.json()["code"] == "credential_user_mismatch"
    assert not is_verified(client)
    assert client.get("/gateways/").status_code == 302
    assert "mfa.verify.failed" in caplog.messages


def test_another_users_key_cannot_be_removed(member_with_key):
    member, _ = member_with_key
    key = WebAuthnCredential.objects.get(user=member)
    outsider = user_with_perms("outsider")
    client = verified(outsider)
    url = reverse("accounts:mfa:remove_device", kwargs={"kind": "webauthn", "pk": key.pk})
    assert client.get(url).status_code == 404
    assert client.post(url, {"password": "whatever"}).status_code == 404
    assert WebAuthnCredential.objects.filter(pk=key.pk).exists()


def test_removing_a_key_asks_for_proof(member_with_key):
    member, _ = member_with_key
    member.set_password("test-password-123")
    member.save()
    key = WebAuthnCredential.objects.get(user=member)
    client = verified(member)
    url = reverse("accounts:mfa:remove_device", kwargs={"kind": "webauthn", "pk": key.pk})
    assert client.post(url, {}).status_code == 422
    assert client.post(url, {"password": "test-password-123"}).status_code == 302
    assert not WebAuthnCredential.objects.filter(pk=key.pk).exists()


def test_reset_mfa_removes_keys(member_with_key):
    member, _ = member_with_key
    policy.reset_mfa(member)
    assert not WebAuthnCredential.objects.filter(user=member).exists()


# --- Pages ----------------------------------------------------------------------


def test_overview_lists_keys_and_offers_to_add_one(member_with_key):
    member, _ = member_with_key
    client = verified(member)
    response = client.get("/account/mfa/")
    html = response.content.decode()
    assert "Security key or passkey" in html and "added" in html
    assert 'id="passkey-register-button"' in html
    assert 'id="otp_webauthn_config"' in html
    nonce = response.wsgi_request.csp_nonce
    assert f'otp_webauthn_register.js" nonce="{nonce}"' in html
    csp = response["Content-Security-Policy"]
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_verify_page_offers_the_key(member_with_key):
    member, _ = member_with_key
    html = signed_in(member).get("/account/mfa/verify/").content.decode()
    assert "Use your security key" in html
    assert "otp_webauthn_auth.js" in html


def test_enrolment_offers_a_key(must_enrol):
    html = signed_in(must_enrol).get("/account/mfa/authenticator/").content.decode()
    assert "Use a security key or passkey instead" in html
    assert "otp_webauthn_register.js" in html


def test_pages_at_an_ip_address_explain_where_keys_work(member):
    client = verified(member)
    client.defaults["HTTP_HOST"] = "127.0.0.1"
    html = client.get("/account/mfa/").content.decode()
    assert 'id="security-key-elsewhere"' in html
    assert "passkey-register-button" not in html


def test_package_scripts_are_served_from_the_installed_package():
    from django.contrib.staticfiles import finders

    found = finders.find("django_otp_webauthn/otp_webauthn_auth.js")
    assert found and "site-packages" in found
    assert finders.find("django_otp_webauthn/otp_webauthn_register.js")
