"""Shared by the API-authentication tests (test_jwt, test_api_keys,
test_rate_limits)."""

from __future__ import annotations

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import ApiKey

PASSWORD = "test-password-123"  # tests.factories.user_with_perms
TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
REVOKE_URL = "/api/v1/auth/token/revoke/"
KEYS_URL = "/api/v1/auth/keys/"
GATEWAYS_URL = "/api/v1/gateways/"
REGIONS_URL = "/api/v1/regions/"
TUNNELS_URL = "/api/v1/tunnels/"

ROOMY = {"ip": (10**6, 60), "user": (10**6, 60), "key": (10**6, 60), "token": (10**6, 60)}


@pytest.fixture
def roomy_limits(settings):
    """Rate limits count in the shared Redis: only the rate-limit tests may
    reach one."""
    settings.API_RATE_LIMITS = ROOMY


def bearer(credential: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}")
    return client


def obtain(username: str, password: str = PASSWORD, **extra):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password, **extra})


def obtain_pair(user) -> dict:
    response = obtain(user.username)
    assert response.status_code == 200, response.content
    return response.json()


def confirmed_totp(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def totp_code(device: TOTPDevice, drift: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift + drift)
    return f"{totp.token():0{device.digits}d}"


def issue_key(owner, **scopes) -> str:
    _api_key, key = ApiKey.issue(owner=owner, name="test key", scopes=scopes)
    return key


def fresh_login(client, user):
    """Signed in as if the password was just given: sensitive pages (which
    ask for recent authentication) let the request through."""
    import time

    from allauth.account.internal.flows import login as allauth_login

    client.force_login(user)
    session = client.session
    session[allauth_login.AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time(), "username": user.get_username()}
    ]
    session[allauth_login._AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
    return client
