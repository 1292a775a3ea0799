"""JWT for the REST API: obtain (with and without a second factor), refresh
rotation, revocation at sign-out, deactivation and on request, and tokens
that are tampered with, expired or of inactive users. Real PostgreSQL and
Redis; nothing mocked."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import Role
from tests.accounts.api_auth_helpers import (
    GATEWAYS_URL,
    REFRESH_URL,
    REVOKE_URL,
    bearer,
    confirmed_totp,
    issue_key,
    obtain,
    obtain_pair,
    roomy_limits,  # noqa: F401  (fixture)
    totp_code,
)
from tests.factories import GatewayFactory, RegionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roomy_limits")]


def refresh(token: str):
    return APIClient().post(REFRESH_URL, {"refresh": token})


# --- Obtain -------------------------------------------------------------------------


def test_obtain_with_username_and_password_gives_a_working_pair(viewer):
    GatewayFactory(name="gw-visible")

    pair = obtain_pair(viewer)

    assert set(pair) == {"access", "refresh"}
    response = bearer(pair["access"]).get(GATEWAYS_URL)
    assert response.status_code == 200
    assert [g["name"] for g in response.json()["results"]] == ["gw-visible"]
    viewer.refresh_from_db()
    assert viewer.last_login is not None


def test_the_token_names_the_user_by_public_id(viewer):
    access = AccessToken(obtain_pair(viewer)["access"])

    assert access["sub"] == str(viewer.uuid)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "viewer", "password": "wrong-password-123"},
        {"username": "nobody", "password": "test-password-123"},
    ],
)
def test_wrong_credentials_are_401_and_store_nothing(viewer, body):
    response = APIClient().post("/api/v1/auth/token/", body)

    assert response.status_code == 401
    assert "access" not in response.json()
    assert OutstandingToken.objects.count() == 0


def test_missing_fields_are_400_with_field_messages(db):
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_an_inactive_user_gets_no_token(viewer):
    viewer.is_active = False
    viewer.save()

    assert obtain("viewer").status_code == 401
    assert OutstandingToken.objects.count() == 0


def test_a_service_account_cannot_obtain_a_token(db):
    from accounts.models import User

    User.objects.create(username="ci", is_service_account=True, password="!")

    assert obtain("ci", password="").status_code in (400, 401)
    assert obtain("ci", password="!").status_code == 401


# --- Second factor --------------------------------------------------------------------


def test_a_user_with_a_device_must_send_the_code(viewer):
    confirmed_totp(viewer)

    response = obtain("viewer")

    assert response.status_code == 400
    assert "otp" in response.json()
    assert OutstandingToken.objects.count() == 0


def test_a_wrong_code_is_401_and_issues_nothing(viewer):
    device = confirmed_totp(viewer)
    wrong = f"{(int(totp_code(device)) + 1) % 10**6:06d}"

    response = obtain("viewer", otp=wrong)

    assert response.status_code == 401
    assert "otp" in response.json()
    assert OutstandingToken.objects.count() == 0


def test_the_current_code_gives_a_pair_once(viewer):
    device = confirmed_totp(viewer)
    code = totp_code(device)

    first = obtain("viewer", otp=code)
    replay = obtain("viewer", otp=code)

    assert first.status_code == 200
    assert set(first.json()) == {"access", "refresh"}
    assert replay.status_code == 401  # a TOTP code is accepted once


def test_a_wrong_password_is_refused_before_the_code_is_asked(viewer):
    confirmed_totp(viewer)

    response = obtain("viewer", password="wrong-password-123")

    assert response.status_code == 401
    assert "otp" not in response.json()


def test_an_unconfirmed_device_asks_no_code(viewer):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=viewer, name="half-set-up", confirmed=False)

    assert obtain("viewer").status_code == 200


def test_mfa_required_without_a_device_is_403(viewer):
    group = Group.objects.create(name="Needs MFA")
    Role.objects.create(group=group, mfa_required=True)
    viewer.groups.add(group)

    response = obtain("viewer")

    assert response.status_code == 403
    assert OutstandingToken.objects.count() == 0


# --- Tampered, expired, inactive --------------------------------------------------------


def test_a_tampered_token_is_401(viewer, operator):
    access = obtain_pair(viewer)["access"]
    header, payload, signature = access.split(".")
    # Same signature, someone else's claims.
    other = obtain_pair(operator)["access"].split(".")[1]

    assert bearer(f"{header}.{other}.{signature}").get(GATEWAYS_URL).status_code == 401
    assert (
        bearer(access[:-2] + ("AA" if access[-2:] != "AA" else "BB")).get(GATEWAYS_URL).status_code
        == 401
    )
    assert bearer("not-a-token").get(GATEWAYS_URL).status_code == 401


def test_an_expired_access_token_is_401(viewer):
    token = AccessToken.for_user(viewer)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1))

    response = bearer(str(token)).get(GATEWAYS_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_an_expired_refresh_token_is_401(viewer):
    from rest_framework_simplejwt.tokens import RefreshToken

    token = RefreshToken.for_user(viewer)
    token.set_exp(from_time=timezone.now() - timedelta(days=30))

    assert refresh(str(token)).status_code == 401


def test_tokens_of_a_deactivated_user_stop_working(viewer):
    pair = obtain_pair(viewer)

    viewer.is_active = False
    viewer.save()

    assert bearer(pair["access"]).get(GATEWAYS_URL).status_code == 401
    assert refresh(pair["refresh"]).status_code == 401
    # Revoked, not merely refused while inactive: reactivating brings none back.
    assert BlacklistedToken.objects.filter(token__user=viewer).count() == 1
    viewer.is_active = True
    viewer.save()
    assert bearer(pair["access"]).get(GATEWAYS_URL).status_code == 401
    assert refresh(pair["refresh"]).status_code == 401


def test_deactivating_with_update_fields_revokes_too(viewer):
    pair = obtain_pair(viewer)

    viewer.is_active = False
    viewer.save(update_fields=["is_active"])

    assert BlacklistedToken.objects.filter(token__jti=_jti(pair["refresh"])).exists()


def test_a_password_change_ends_earlier_tokens(viewer):
    pair = obtain_pair(viewer)

    viewer.set_password("another-password-456")
    viewer.save()

    assert bearer(pair["access"]).get(GATEWAYS_URL).status_code == 401
    assert refresh(pair["refresh"]).status_code == 401


def test_a_deleted_users_refresh_token_is_401(viewer):
    pair = obtain_pair(viewer)
    viewer.delete()

    assert refresh(pair["refresh"]).status_code == 401


# --- Refresh rotation -------------------------------------------------------------------


def _jti(token: str) -> str:
    from rest_framework_simplejwt.tokens import UntypedToken

    return UntypedToken(token, verify=False)["jti"]


def test_refresh_rotates_and_the_old_token_is_refused(viewer):
    pair = obtain_pair(viewer)

    first = refresh(pair["refresh"])
    assert first.status_code == 200
    rotated = first.json()
    assert set(rotated) == {"access", "refresh"}
    assert rotated["refresh"] != pair["refresh"]
    assert bearer(rotated["access"]).get(GATEWAYS_URL).status_code == 200

    again = refresh(pair["refresh"])
    assert again.status_code == 401
    # The new refresh token is outstanding, so sign-out can revoke it too.
    assert OutstandingToken.objects.filter(jti=_jti(rotated["refresh"])).exists()
    assert refresh(rotated["refresh"]).status_code == 200


def test_an_access_token_is_no_refresh_token(viewer):
    pair = obtain_pair(viewer)

    assert refresh(pair["access"]).status_code == 401


def test_refresh_bad_input_is_400(db):
    response = APIClient().post(REFRESH_URL, {}, format="json")

    assert response.status_code == 400
    assert "refresh" in response.json()


# --- Revocation ---------------------------------------------------------------------------


def test_signing_out_of_the_console_revokes_the_users_tokens(viewer):
    pair = obtain_pair(viewer)
    other = obtain_pair(viewer)
    browser = Client()
    browser.force_login(viewer)

    browser.post("/accounts/logout/")

    assert refresh(pair["refresh"]).status_code == 401
    assert refresh(other["refresh"]).status_code == 401
    assert bearer(pair["access"]).get(GATEWAYS_URL).status_code == 401
    # A token obtained after signing out works.
    assert bearer(obtain_pair(viewer)["access"]).get(GATEWAYS_URL).status_code == 200


def test_signing_out_leaves_other_users_tokens_alone(viewer, operator):
    theirs = obtain_pair(operator)
    browser = Client()
    browser.force_login(viewer)

    browser.post("/accounts/logout/")

    assert bearer(theirs["access"]).get(GATEWAYS_URL).status_code == 200
    assert refresh(theirs["refresh"]).status_code == 200


def test_revoke_one_refresh_token(viewer):
    pair = obtain_pair(viewer)
    other = obtain_pair(viewer)

    response = APIClient().post(REVOKE_URL, {"refresh": pair["refresh"]})

    assert response.status_code == 204
    assert refresh(pair["refresh"]).status_code == 401
    assert refresh(other["refresh"]).status_code == 200


def test_revoke_all_ends_access_tokens_too(viewer):
    pair = obtain_pair(viewer)
    other = obtain_pair(viewer)

    response = APIClient().post(REVOKE_URL, {"refresh": pair["refresh"], "all": True})

    assert response.status_code == 204
    assert refresh(other["refresh"]).status_code == 401
    assert bearer(other["access"]).get(GATEWAYS_URL).status_code == 401


def test_revoke_with_a_bad_token_is_401_and_stores_nothing(db):
    response = APIClient().post(REVOKE_URL, {"refresh": "garbage"})

    assert response.status_code == 401
    assert BlacklistedToken.objects.count() == 0


# --- JWT and the rest of the API ------------------------------------------------------------


def test_jwt_requests_need_no_csrf_token(operator):
    region = RegionFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_pair(operator)['access']}")

    response = client.post(
        GATEWAYS_URL,
        {"name": "gw-jwt", "region": region.slug, "public_address": "203.0.113.7"},
    )

    assert response.status_code == 201, response.content


def test_a_session_still_needs_csrf(operator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator)

    response = client.post(GATEWAYS_URL, {"name": "gw-x"})

    assert response.status_code == 403


def test_a_jwt_keeps_its_users_permissions(viewer):
    client = bearer(obtain_pair(viewer)["access"])

    assert client.post(GATEWAYS_URL, {"name": "gw-x"}).status_code == 403


AGENT = "/api/agent/v1/"


@pytest.mark.parametrize("endpoint", ["heartbeat", "events", "config", "enroll"])
def test_the_agent_api_refuses_jwts_and_api_keys(admin_user, endpoint):
    GatewayFactory()
    credentials = [str(AccessToken.for_user(admin_user)), issue_key(admin_user, gateways="write")]
    for credential in credentials:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {credential}")
        if endpoint == "config":
            response = client.get(AGENT + endpoint)
        else:
            response = client.post(
                AGENT + endpoint, json.dumps({}), content_type="application/json"
            )
        assert response.status_code in (400, 401), (endpoint, response.content)
        if endpoint != "enroll":
            assert response.status_code == 401
            assert "authorization" in response.json()["errors"]
