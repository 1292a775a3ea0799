"""MFA: who must use it, the pages, codes that work once, throttling, and
nothing reachable between password and second factor."""

from __future__ import annotations

import logging
import re
import time

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import policy
from accounts.models import Role
from tests.factories import user_with_perms

pytestmark = pytest.mark.django_db

PASSWORD = "test-password-123"
VERIFY_URL = "/account/mfa/verify/"
ENROL_URL = "/account/mfa/authenticator/"
OVERVIEW_URL = "/account/mfa/"
DOWNLOAD_URL = "/account/mfa/recovery-codes/rustronaut-recovery-codes.txt"


def code_for(device: TOTPDevice, offset: int = 0) -> str:
    """The code the user's app shows now (``offset`` steps later)."""
    device.refresh_from_db()
    generator = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    generator.time = time.time() + offset * device.step
    return f"{generator.token():0{device.digits}d}"


def with_totp(user, confirmed: bool = True) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=confirmed)


def signed_in(user) -> Client:
    """A client past the password and nothing else, as after the login form
    (the form itself is driven in tests/browser/test_mfa_flow.py; here it
    would run into the login rate limit)."""
    client = Client()
    client.force_login(user)
    return client


def verified(user, device) -> Client:
    client = signed_in(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def member():
    return user_with_perms("member", "gateways.view_gateway")


@pytest.fixture
def must_enrol():
    return user_with_perms("mustenrol", "gateways.view_gateway", mfa_required=True)


# --- Policy ---------------------------------------------------------------------


def test_required_by_user_flag_or_by_role(member, must_enrol):
    assert not policy.mfa_required_for(member)
    assert policy.mfa_required_for(must_enrol)

    group = Group.objects.create(name="Night shift")
    Role.objects.create(group=group, mfa_required=True)
    member.groups.add(group)
    member = type(member).objects.get(pk=member.pk)  # the answer is cached per user object
    assert policy.mfa_required_for(member)


def test_builtin_admin_role_requires_mfa(member):
    admin_role = Role.objects.get(group__name="Admin")
    assert admin_role.mfa_required
    member.groups.add(admin_role.group)
    assert policy.mfa_required_for(member)


def test_only_confirmed_devices_count(member):
    with_totp(member, confirmed=False)
    assert not policy.user_has_confirmed_device(member)
    member = type(member).objects.get(pk=member.pk)
    with_totp(member)
    assert policy.user_has_confirmed_device(member)


def test_reset_mfa_deletes_every_device(member):
    with_totp(member)
    policy.generate_recovery_codes(member)
    policy.reset_mfa(member)
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert not StaticDevice.objects.filter(user=member).exists()
    assert not policy.user_has_confirmed_device(member)


# --- Nothing between password and second factor ----------------------------------


def test_user_who_needs_nothing_passes_through(member):
    client = signed_in(member)
    assert client.get("/").status_code == 200


def test_must_enrol_reaches_only_enrolment(must_enrol):
    client = signed_in(must_enrol)
    response = client.get("/gateways/?status=online")
    assert response.status_code == 302
    assert response["Location"] == ENROL_URL + "?next=%2Fgateways%2F%3Fstatus%3Donline"
    assert client.get("/").url == ENROL_URL
    # Not even the verify page, the overview, the admin or another account page.
    for url in (VERIFY_URL, OVERVIEW_URL, "/admin/", "/account/", "/settings/"):
        assert client.get(url).url.startswith(ENROL_URL), url
    assert client.get(ENROL_URL).status_code == 200


def test_pending_user_gets_403_json_from_the_api_and_hx_redirect(must_enrol):
    client = signed_in(must_enrol)
    response = client.get("/api/v1/gateways/")
    assert response.status_code == 403
    assert response.json()["code"] == "mfa_required"
    response = client.post("/api/v1/regions/", {"name": "x"})
    assert response.status_code == 403

    response = client.get("/gateways/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == ENROL_URL


def test_pending_user_may_sign_out_and_reach_health_and_static(must_enrol):
    client = signed_in(must_enrol)
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/console/console.css").status_code == 200
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_agent_api_is_not_affected(must_enrol):
    client = signed_in(must_enrol)
    response = client.post("/api/agent/v1/heartbeat", {}, content_type="application/json")
    # The agent API answers for itself (no gateway credential), never "mfa_required".
    assert b"mfa_required" not in response.content


def test_user_with_a_device_must_verify_and_cannot_enrol_another(member):
    with_totp(member)
    client = signed_in(member)
    response = client.get("/gateways/")
    assert response.url == VERIFY_URL + "?next=%2Fgateways%2F"
    # Adding a new authenticator would skip the one they have: not reachable.
    assert client.get(ENROL_URL).url.startswith(VERIFY_URL)
    assert client.post(ENROL_URL, {"code": "123456"}).url.startswith(VERIFY_URL)
    assert client.get(OVERVIEW_URL).url.startswith(VERIFY_URL)


def test_unknown_url_redirects_pending_user_too(member):
    with_totp(member)
    client = signed_in(member)
    assert client.get("/no/such/page/").url.startswith(VERIFY_URL)


# --- Verify -------------------------------------------------------------------------


def test_verify_with_totp_then_the_console_opens(member):
    device = with_totp(member)
    client = signed_in(member)
    response = client.get(VERIFY_URL + "?next=/gateways/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'autocomplete="one-time-code"' in page
    assert 'inputmode="numeric"' in page

    response = client.post(
        VERIFY_URL, {"method": "totp", "totp-code": code_for(device), "next": "/gateways/"}
    )
    assert response.status_code == 302
    assert response.url == "/gateways/"
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/gateways/").status_code == 200


def test_verify_refuses_a_redirect_elsewhere(member):
    device = with_totp(member)
    client = signed_in(member)
    response = client.post(
        VERIFY_URL,
        {"method": "totp", "totp-code": code_for(device), "next": "https://evil.example/"},
    )
    assert response.url == "/"


def test_wrong_code_is_422_with_a_message(member):
    with_totp(member)
    client = signed_in(member)
    response = client.post(VERIFY_URL, {"method": "totp", "totp-code": "12"})
    assert response.status_code == 422
    assert "Enter the 6 digits" in response.content.decode()
    response = client.post(VERIFY_URL, {"method": "totp", "totp-code": "000000"})
    assert response.status_code in {422, 429}
    assert client.get("/").status_code == 302


def test_bad_method_is_400(member):
    with_totp(member)
    client = signed_in(member)
    assert client.post(VERIFY_URL, {"method": "sms"}).status_code == 400


def test_a_totp_code_cannot_be_replayed(member):
    device = with_totp(member)
    code = code_for(device)
    first = signed_in(member)
    assert first.post(VERIFY_URL, {"method": "totp", "totp-code": code}).status_code == 302

    second = signed_in(member)
    response = second.post(VERIFY_URL, {"method": "totp", "totp-code": code})
    assert response.status_code == 422
    assert "not right" in response.content.decode()
    assert second.get("/").status_code == 302


def test_guessing_is_throttled(member, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 30
    device = with_totp(member)
    client = signed_in(member)
    assert client.post(VERIFY_URL, {"method": "totp", "totp-code": "000000"}).status_code == 422
    # Locked for 30 s now: even the right code is not checked.
    response = client.post(VERIFY_URL, {"method": "totp", "totp-code": code_for(device)})
    assert response.status_code == 429
    assert re.search(r"Too many attempts\. Wait (\d+) seconds", response.content.decode())
    assert client.get("/").status_code == 302


def test_recovery_codes_are_throttled_too(member, settings):
    settings.OTP_STATIC_THROTTLE_FACTOR = 30
    with_totp(member)
    codes = policy.generate_recovery_codes(member)
    client = signed_in(member)
    wrong = {"method": "recovery", "recovery-code": "aaaaa-aaaaa"}
    assert client.post(VERIFY_URL, wrong).status_code == 422
    right = {"method": "recovery", "recovery-code": codes[0]}
    assert client.post(VERIFY_URL, right).status_code == 429


def test_a_recovery_code_works_once(member):
    with_totp(member)
    codes = policy.generate_recovery_codes(member)
    client = signed_in(member)
    # Typed with capitals and spaces: still the code.
    typed = codes[0].upper().replace("-", " ")
    response = client.post(VERIFY_URL, {"method": "recovery", "recovery-code": typed})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert policy.recovery_codes_left(member) == len(codes) - 1

    again = signed_in(member)
    response = again.post(VERIFY_URL, {"method": "recovery", "recovery-code": codes[0]})
    assert response.status_code == 422


def test_verify_page_for_a_user_who_owes_nothing_redirects(member):
    client = signed_in(member)
    assert client.get(VERIFY_URL).url == "/"


# --- Enrolment ------------------------------------------------------------------------


def codes_on(page: str) -> list[str]:
    block = re.search(r'<pre id="recovery-codes".*?</pre>', page, re.S).group(0)
    return re.findall(r"\b[a-z2-7]{5}-[a-z2-7]{5}\b", block)


def secret_on(page: str) -> str:
    return re.search(r'data-totp-secret="([A-Z2-7]+)"', page).group(1)


def test_forced_enrolment_flow(must_enrol):
    client = signed_in(must_enrol)
    response = client.get(ENROL_URL + "?next=/gateways/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page  # the QR code, inline
    secret = secret_on(page)
    # Reloading shows the same secret until it is confirmed.
    assert secret_on(client.get(ENROL_URL).content.decode()) == secret
    device = TOTPDevice.objects.get(user=must_enrol)
    assert not device.confirmed

    response = client.post(ENROL_URL, {"code": "999999", "next": "/gateways/"})
    assert response.status_code in {422, 429}
    device.throttle_reset()

    response = client.post(ENROL_URL, {"code": code_for(device), "next": "/gateways/"})
    assert response.status_code == 302
    assert response.url == "/account/mfa/recovery-codes/?next=%2Fgateways%2F"
    device.refresh_from_db()
    assert device.confirmed

    codes = codes_on(client.get(response.url).content.decode())
    assert len(codes) == policy.RECOVERY_CODE_COUNT

    download = client.get(DOWNLOAD_URL)
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/plain")
    assert "attachment" in download["Content-Disposition"]
    assert all(code in download.content.decode() for code in codes)

    response = client.post("/account/mfa/recovery-codes/done/", {"next": "/gateways/"})
    assert response.url == "/gateways/"
    # Shown once: gone now.
    assert client.get("/account/mfa/recovery-codes/").url == OVERVIEW_URL
    assert (
        client.get("/account/mfa/recovery-codes/rustronaut-recovery-codes.txt").status_code == 404
    )
    assert client.get("/gateways/").status_code == 200


def test_voluntary_enrolment_uses_the_console_layout(member):
    client = signed_in(member)
    page = client.get(ENROL_URL).content.decode()
    assert 'id="sidenav"' in page
    assert 'ws-connect="/ws/live/' in page  # the console layout, with its live channel


def test_second_authenticator_is_refused(member):
    device = with_totp(member)
    client = verified(member, device)
    assert client.get(ENROL_URL).url == OVERVIEW_URL


def test_regenerating_recovery_codes_invalidates_the_old_ones(member):
    device = with_totp(member)
    old = policy.generate_recovery_codes(member)
    client = verified(member, device)
    response = client.post("/account/mfa/recovery-codes/regenerate/")
    assert response.url == "/account/mfa/recovery-codes/"
    new = codes_on(client.get(response.url).content.decode())
    assert len(new) == policy.RECOVERY_CODE_COUNT
    assert not set(new) & set(old)
    stored = set(StaticToken.objects.filter(device__user=member).values_list("token", flat=True))
    assert stored == {policy.normalise_code(code) for code in new}


def test_regenerate_needs_a_device_and_post(member):
    client = signed_in(member)
    assert client.get("/account/mfa/recovery-codes/regenerate/").status_code == 405
    client.post("/account/mfa/recovery-codes/regenerate/")
    assert not StaticDevice.objects.filter(user=member).exists()


# --- Overview and removal -----------------------------------------------------------------


def test_overview_shows_status_devices_and_codes_left(member):
    device = with_totp(member)
    policy.generate_recovery_codes(member)
    client = verified(member, device)
    page = client.get(OVERVIEW_URL).content.decode()
    assert "Phone" in page
    assert 'id="recovery-codes-left">10<' in page
    assert f"/account/mfa/devices/totp/{device.pk}/remove/" in page


def test_account_page_links_to_the_overview(member):
    client = signed_in(member)
    assert OVERVIEW_URL in client.get("/account/").content.decode()


def test_remove_device_needs_proof(member):
    device = with_totp(member)
    policy.generate_recovery_codes(member)
    client = verified(member, device)
    url = f"/account/mfa/devices/totp/{device.pk}/remove/"
    assert client.get(url).status_code == 200
    assert client.post(url, {}).status_code == 422
    response = client.post(url, {"password": "wrong password"})
    assert response.status_code == 422
    assert "password is not right" in response.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

    response = client.post(url, {"password": PASSWORD})
    assert response.url == OVERVIEW_URL
    assert not TOTPDevice.objects.filter(user=member).exists()
    # Recovery codes back up a device; with none left they go too.
    assert not StaticDevice.objects.filter(user=member).exists()
    # Nothing required, nothing left: the user goes on.
    assert client.get("/").status_code == 200


def test_remove_device_with_a_current_code(must_enrol):
    device = with_totp(must_enrol)
    client = verified(must_enrol, device)
    url = f"/account/mfa/devices/totp/{device.pk}/remove/"
    response = client.post(url, {"code": code_for(device, offset=1)})
    assert response.url == OVERVIEW_URL
    # MFA is required: straight back to enrolment.
    assert client.get("/").url == ENROL_URL


def test_cannot_remove_someone_elses_device(member, must_enrol):
    theirs = with_totp(must_enrol)
    mine = with_totp(member)
    client = verified(member, mine)
    url = f"/account/mfa/devices/totp/{theirs.pk}/remove/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"password": PASSWORD}).status_code == 404
    assert TOTPDevice.objects.filter(pk=theirs.pk).exists()


def test_anonymous_is_sent_to_sign_in(client):
    for url in (OVERVIEW_URL, VERIFY_URL, ENROL_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


# --- Audit trail --------------------------------------------------------------------------


def test_events_are_logged_without_codes(member, caplog):
    from accounts.mfa.events import mfa_event

    received = []

    def listener(sender, **kwargs):
        received.append(kwargs["event"])

    mfa_event.connect(listener)
    try:
        device = with_totp(member)
        codes = policy.generate_recovery_codes(member)
        client = signed_in(member)
        with caplog.at_level(logging.INFO, logger="accounts.mfa"):
            client.post(VERIFY_URL, {"method": "recovery", "recovery-code": "bbbbb-bbbbb"})
            device.throttle_reset()
            code = code_for(device)
            client.post(VERIFY_URL, {"method": "totp", "totp-code": code})
    finally:
        mfa_event.disconnect(listener)
    assert received == ["mfa.recovery_codes.generated", "mfa.verify.failed", "mfa.verify.succeeded"]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "mfa.verify.succeeded" in logged
    assert code not in logged
    assert "bbbbb" not in logged
    assert not any(c.replace("-", "") in logged for c in codes)


def test_verify_code_for_the_token_endpoint(member, settings):
    from accounts.mfa.forms import Throttled

    device = with_totp(member)
    codes = policy.generate_recovery_codes(member)
    code = code_for(device)
    assert policy.verify_code(member, code)
    assert not policy.verify_code(member, code)  # replayed
    assert policy.verify_code(member, codes[0])
    settings.OTP_STATIC_THROTTLE_FACTOR = 30
    assert not policy.verify_code(member, codes[0])  # used up
    with pytest.raises(Throttled):
        policy.verify_code(member, codes[1])
