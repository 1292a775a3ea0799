"""Failed sign-ins: django-axes locks an account and an address out after
AXES_FAILURE_LIMIT failures, on our page, records every attempt, and lets go
after the cool-off or when an admin unlocks."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from axes.utils import reset
from django.test import Client
from django.urls import reverse

from security import allowlist
from tests.security.test_sessions import PASSWORD, make_user, new_address

LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limit(settings, db):
    settings.AXES_FAILURE_LIMIT = LIMIT
    allowlist.invalidate()  # an allowlist cached by an earlier test would refuse us


def attempt(login: str, password: str, address: str) -> object:
    client = Client(REMOTE_ADDR=address)
    return client.post(reverse("account_login"), {"login": login, "password": password})


def test_an_account_is_locked_after_too_many_failures(db):
    user = make_user()
    for _ in range(LIMIT - 1):
        assert attempt(user.username, "wrong", new_address()).status_code == 200
    locked = attempt(user.username, "wrong", new_address())
    assert locked.status_code == 429
    assert b"Sign-in temporarily locked" in locked.content
    assert b"try again in 15 minutes" in locked.content
    assert locked["Retry-After"] == str(15 * 60)
    # Even the right password, from anywhere, while locked.
    assert attempt(user.username, PASSWORD, new_address()).status_code == 429
    # Typing the email address instead counts for the same account.
    assert attempt(user.email.upper(), PASSWORD, new_address()).status_code == 429


def test_an_address_is_locked_after_failures_on_any_accounts(db):
    address = new_address()
    for _ in range(LIMIT):
        attempt(f"nobody-{uuid.uuid4().hex[:6]}", "wrong", address)
    user = make_user()
    assert attempt(user.username, PASSWORD, address).status_code == 429
    # The account itself is not locked: from elsewhere it signs in.
    assert attempt(user.username, PASSWORD, new_address()).status_code == 302


def test_lockout_ends_after_the_cool_off(db):
    user = make_user()
    for _ in range(LIMIT):
        attempt(user.username, "wrong", new_address())
    assert attempt(user.username, PASSWORD, new_address()).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.first().attempt_time - timedelta(minutes=16)
    )
    assert attempt(user.username, PASSWORD, new_address()).status_code == 302


def test_an_admin_unlocks_an_account(db):
    user = make_user()
    for _ in range(LIMIT):
        attempt(user.username, "wrong", new_address())
    assert attempt(user.username, PASSWORD, new_address()).status_code == 429
    # What "delete" on Django admin's access attempts does.
    reset(username=user.username)
    assert attempt(user.username, PASSWORD, new_address()).status_code == 302


def test_a_success_resets_the_account_count(db):
    user = make_user()
    for _ in range(LIMIT - 1):
        attempt(user.username, "wrong", new_address())
    assert attempt(user.username, PASSWORD, new_address()).status_code == 302
    for _ in range(LIMIT - 1):
        attempt(user.username, "wrong", new_address())
    assert attempt(user.username, PASSWORD, new_address()).status_code == 302


def test_every_attempt_is_recorded_without_the_password(db):
    user = make_user()
    address = new_address()
    attempt(user.username, "wrong-secret", address)
    attempt(user.username, PASSWORD, address)
    failure = AccessFailureLog.objects.get(username=user.username)
    assert failure.ip_address == address
    assert "wrong-secret" not in (
        AccessAttempt.objects.filter(username=user.username)
        .values_list("post_data", flat=True)
        .first()
        or ""
    )
    assert AccessLog.objects.filter(username=user.username, ip_address=address).exists()


def test_lockout_page_for_the_api_is_json(rf, db):
    from security.lockout import lockout_response

    response = lockout_response(rf.post("/api/v1/token/"))
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
