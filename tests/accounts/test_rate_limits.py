"""API rate limits per client IP, per user and per API key, counted in the
real Redis: reached → 429 with Retry-After, and open again after the window.

Small limits through settings; each test uses its own client address and
starts at the beginning of a window, so runs and workers do not collide."""

from __future__ import annotations

import random
import time

import pytest
from rest_framework.test import APIClient

from accounts.api_auth.throttling import IpRateThrottle
from tests.accounts.api_auth_helpers import (
    GATEWAYS_URL,
    PASSWORD,
    ROOMY,
    TOKEN_URL,
    bearer,
    issue_key,
)

pytestmark = pytest.mark.django_db

WINDOW = 2


@pytest.fixture
def limits(settings):
    def set_limits(**changes):
        settings.API_RATE_LIMITS = {**ROOMY, **{k: (v, WINDOW) for k, v in changes.items()}}

    return set_limits


@pytest.fixture
def address():
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def window_start():
    """Wait for a fresh window, so the counting starts at zero."""
    time.sleep(WINDOW - time.time() % WINDOW + 0.05)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= WINDOW


def test_the_throttles_count_in_the_shared_cache():
    from django.core.cache import cache

    assert IpRateThrottle.cache is cache


def test_token_endpoint_per_ip(limits, viewer, address):
    limits(token=3)
    client = APIClient(REMOTE_ADDR=address)
    body = {"username": "viewer", "password": "wrong-password-123"}
    window_start()

    answers = [client.post(TOKEN_URL, body).status_code for _ in range(3)]
    assert answers == [401, 401, 401]
    assert_throttled(client.post(TOKEN_URL, {"username": "viewer", "password": PASSWORD}))
    # Another address is not held back.
    assert APIClient(REMOTE_ADDR=address + "0").post(TOKEN_URL, body).status_code == 401

    window_start()
    assert client.post(TOKEN_URL, {"username": "viewer", "password": PASSWORD}).status_code == 200


def test_requests_without_a_user_per_ip(limits, viewer, address):
    limits(ip=2)
    client = APIClient(REMOTE_ADDR=address)
    body = {"username": "viewer", "password": "wrong-password-123"}
    window_start()

    assert [client.post(TOKEN_URL, body).status_code for _ in range(2)] == [401, 401]
    assert_throttled(client.post(TOKEN_URL, body))

    window_start()
    assert client.post(TOKEN_URL, body).status_code == 401


def test_per_user_whatever_the_credential(limits, viewer, address):
    limits(user=3)
    session = APIClient(REMOTE_ADDR=address)
    session.force_login(viewer)
    key = bearer(issue_key(viewer, gateways="read"))
    window_start()

    assert session.get(GATEWAYS_URL).status_code == 200
    assert key.get(GATEWAYS_URL).status_code == 200
    assert session.get(GATEWAYS_URL).status_code == 200
    assert_throttled(key.get(GATEWAYS_URL))
    assert_throttled(session.get(GATEWAYS_URL))

    window_start()
    assert session.get(GATEWAYS_URL).status_code == 200


def test_per_key(limits, viewer, operator):
    limits(key=2)
    first = bearer(issue_key(viewer, gateways="read"))
    second = bearer(issue_key(viewer, gateways="read"))
    window_start()

    assert [first.get(GATEWAYS_URL).status_code for _ in range(2)] == [200, 200]
    assert_throttled(first.get(GATEWAYS_URL))
    assert second.get(GATEWAYS_URL).status_code == 200  # each key counts alone

    window_start()
    assert first.get(GATEWAYS_URL).status_code == 200


def test_a_throttled_request_changes_nothing(limits, operator):
    from gateways.models import Gateway
    from tests.factories import RegionFactory

    region = RegionFactory()
    limits(key=1)
    client = bearer(issue_key(operator, gateways="write"))
    window_start()

    assert client.get(GATEWAYS_URL).status_code == 200
    response = client.post(
        GATEWAYS_URL, {"name": "gw-late", "region": region.slug, "public_address": "203.0.113.5"}
    )

    assert_throttled(response)
    assert not Gateway.objects.filter(name="gw-late").exists()
