"""Session security: recorded sessions, idle and absolute timeouts, the
concurrent-session limit, revocation (own, everywhere, websockets), session
id rotation, recent authentication and the policy page."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.urls import reverse

from security import allowlist
from security import sessions as tracking
from security.models import SessionPolicy, UserSession
from tests.factories import user_with_perms

PASSWORD = "correct-horse-battery-staple"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def new_address() -> str:
    """A documentation address per test: allauth's and axes' counters live
    in the shared Redis and database and must not carry over."""
    return f"198.51.100.{uuid.uuid4().int % 250 + 1}"


def make_user(username: str | None = None, *perms: str, **fields):
    user = user_with_perms(username or f"u{uuid.uuid4().hex[:8]}", *perms, **fields)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(user, address: str | None = None, user_agent: str = CHROME) -> Client:
    """A browser signed in through the real sign-in form (so allauth records
    the authentication, as recent-auth checks need)."""
    client = Client(REMOTE_ADDR=address or new_address(), HTTP_USER_AGENT=user_agent)
    response = client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:800]
    return client


def session_of(client: Client):
    return client.session


def shift(client: Client, **seconds_ago: float) -> None:
    """Move the session's login/activity times into the past."""
    session = client.session
    now = time.time()
    if "login" in seconds_ago:
        session[tracking.LOGIN_AT] = now - seconds_ago["login"]
    if "seen" in seconds_ago:
        session[tracking.SEEN_AT] = now - seconds_ago["seen"]
    session.save()


def signed_in(client: Client) -> bool:
    response = client.get(reverse("account"))
    return response.status_code == 200


@pytest.fixture(autouse=True)
def _fresh_policy(db):
    # Rolled-back tests leave no trace in the database but may in Redis.
    cache.delete(SessionPolicy.CACHE_KEY)
    allowlist.invalidate()
    yield
    cache.delete(SessionPolicy.CACHE_KEY)
    allowlist.invalidate()


def set_policy(**values) -> SessionPolicy:
    policy = SessionPolicy.current()
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save()
    return policy


# --- Recording and rotation ---------------------------------------------------------


def test_sign_in_records_the_session_with_a_readable_device(db):
    user = make_user()
    client = sign_in(user, address="203.0.113.9")
    record = UserSession.objects.get(user=user)
    assert record.session_key == client.session.session_key
    assert record.device == "Chrome 131 on Windows"
    assert record.ip_address == "203.0.113.9"
    assert client.session[tracking.SESSION_ID] == str(record.uuid)


def test_session_id_rotates_at_sign_in(db):
    user = make_user()
    client = Client(REMOTE_ADDR=new_address())
    # An anonymous session first (as a visitor would have, or an attacker
    # would plant): signing in must not keep its key.
    anonymous = client.session
    anonymous["planted"] = True
    anonymous.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = anonymous.session_key
    before = anonymous.session_key
    response = client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD})
    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after and after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert signed_in(client)


def test_sign_out_removes_the_record(db):
    user = make_user()
    client = sign_in(user)
    assert UserSession.objects.filter(user=user).count() == 1
    client.post(reverse("account_logout"))
    assert not UserSession.objects.filter(user=user).exists()


def test_session_cookie_is_http_only_and_same_site(db):
    user = make_user()
    client = sign_in(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    # Secure follows HTTPS (on in production; the deploy check covers it).
    assert settings.SESSION_COOKIE_SECURE == settings.HTTPS


# --- Timeouts ------------------------------------------------------------------------


def test_idle_timeout_signs_out(db):
    user = make_user()
    client = sign_in(user)
    shift(client, seen=29 * 60)
    assert signed_in(client)
    shift(client, seen=31 * 60)
    response = client.get(reverse("account"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not UserSession.objects.filter(user=user).exists()
    assert not signed_in(client)


def test_idle_timeout_follows_the_policy(db):
    set_policy(idle_timeout_minutes=5)
    user = make_user()
    client = sign_in(user)
    shift(client, seen=6 * 60)
    assert not signed_in(client)


def test_absolute_lifetime_signs_out_even_an_active_session(db):
    user = make_user()
    client = sign_in(user)
    shift(client, login=11 * 3600, seen=10)
    assert signed_in(client)
    shift(client, login=12 * 3600 + 60, seen=10)
    response = client.get(reverse("account"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))
    assert b"maximum length of 12 hours" in response.content


def test_activity_is_written_at_most_once_a_minute(db, django_assert_max_num_queries):
    user = make_user()
    client = sign_in(user)
    record = UserSession.objects.get(user=user)
    seen = client.session[tracking.SEEN_AT]
    client.get(reverse("account"))
    assert client.session[tracking.SEEN_AT] == seen  # not rewritten
    shift(client, seen=120)
    UserSession.objects.filter(pk=record.pk).update(last_active=record.created)
    client.get(reverse("account"))
    assert client.session[tracking.SEEN_AT] > seen
    record.refresh_from_db()
    assert record.last_active > record.created


def test_a_session_from_before_tracking_is_ended(db):
    user = make_user()
    client = sign_in(user)
    session = client.session
    del session[tracking.SESSION_ID]
    session.save()
    assert not signed_in(client)


# --- Concurrent sessions -----------------------------------------------------------


def test_signing_in_beyond_the_limit_ends_the_oldest_session(db):
    set_policy(max_sessions_per_user=2)
    user = make_user()
    first, second = sign_in(user), sign_in(user)
    third = sign_in(user)
    assert UserSession.objects.filter(user=user).count() == 2
    assert not signed_in(first)
    assert signed_in(second) and signed_in(third)


def test_timed_out_sessions_do_not_count_against_the_limit(db):
    set_policy(max_sessions_per_user=1)
    user = make_user()
    old = sign_in(user)
    UserSession.objects.filter(user=user).update(
        last_active=UserSession.objects.get().created.replace(year=2000)
    )
    new = sign_in(user)
    assert signed_in(new)
    assert not signed_in(old)
    assert UserSession.objects.filter(user=user).count() == 1


# --- Your sessions -------------------------------------------------------------------


def test_your_sessions_lists_only_your_active_sessions(db):
    user, other = make_user(), make_user()
    mine = sign_in(user)
    sign_in(
        user,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
        "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    )
    sign_in(other)
    page = mine.get(reverse("security:my_sessions")).content.decode()
    assert "This session" in page
    assert "Mobile Safari 17 on iOS" in page
    assert page.count("/sign-out/") == 2  # two sessions, none of the other user's


def test_revoking_another_of_your_sessions_signs_it_out(db):
    user = make_user()
    laptop, phone = sign_in(user), sign_in(user)
    phone_record = UserSession.objects.get(session_key=phone.session.session_key)
    response = laptop.post(reverse("security:session_revoke", args=[phone_record.uuid]))
    assert response.status_code == 302
    assert not signed_in(phone)
    assert signed_in(laptop)


def test_revoking_the_current_session_asks_first(db):
    user = make_user()
    client = sign_in(user)
    record = UserSession.objects.get(user=user)
    url = reverse("security:session_revoke", args=[record.uuid])
    response = client.post(url)
    assert response.status_code == 200
    assert b"Sign out this session?" in response.content
    assert signed_in(client)
    response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    assert not signed_in(client)
    assert not UserSession.objects.filter(user=user).exists()


def test_someone_elses_session_cannot_be_revoked(db):
    user, other = make_user(), make_user()
    client, victim = sign_in(user), sign_in(other)
    record = UserSession.objects.get(user=other)
    response = client.post(reverse("security:session_revoke", args=[record.uuid]))
    assert response.status_code == 404
    assert signed_in(victim)


def test_sign_out_other_sessions_keeps_this_one(db):
    user = make_user()
    here, there, elsewhere = sign_in(user), sign_in(user), sign_in(user)
    here.post(reverse("security:session_revoke_others"))
    assert signed_in(here)
    assert not signed_in(there) and not signed_in(elsewhere)


def test_end_all_sessions_signs_the_user_out_everywhere(db):
    user, other = make_user(), make_user()
    a, b, c = sign_in(user), sign_in(user), sign_in(other)
    assert tracking.end_all_sessions(user) == 2
    assert not signed_in(a) and not signed_in(b)
    assert signed_in(c)


def test_anonymous_cannot_see_sessions(client):
    response = client.get(reverse("security:my_sessions"))
    assert response.status_code == 302


# --- Websockets ------------------------------------------------------------------------


def _socket(client: Client) -> WebsocketCommunicator:
    from console.asgi import application

    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[(b"origin", b"http://localhost"), (b"cookie", cookie.encode())],
    )


def _run(coroutine):
    async def main():
        try:
            return await asyncio.wait_for(coroutine, timeout=20)
        finally:
            await database_sync_to_async(connections.close_all)()

    return asyncio.run(main())


@pytest.mark.django_db(transaction=True)
def test_revocation_closes_the_sessions_websockets():
    from console.consumers import CLOSE_UNAUTHENTICATED

    user = make_user()
    laptop, phone = sign_in(user), sign_in(user)
    phone_record = UserSession.objects.get(session_key=phone.session.session_key)

    async def scenario():
        laptop_socket, phone_socket = _socket(laptop), _socket(phone)
        assert (await laptop_socket.connect())[0]
        assert (await phone_socket.connect())[0]
        # One session ended: only its socket closes.
        await database_sync_to_async(tracking.end_sessions)([phone_record], reason="test")
        phone_closed = await phone_socket.receive_output(timeout=5)
        assert await laptop_socket.receive_nothing(timeout=0.5)
        # Everywhere: the rest close too.
        await database_sync_to_async(tracking.end_all_sessions)(user)
        laptop_closed = await laptop_socket.receive_output(timeout=5)
        await laptop_socket.disconnect()
        await phone_socket.disconnect()
        return phone_closed, laptop_closed

    phone_closed, laptop_closed = _run(scenario())
    assert phone_closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    assert laptop_closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


# --- Recent authentication and the policy page ----------------------------------------


def test_policy_page_permissions(db):
    url = reverse("security:session_policy")
    assert Client().get(url).status_code == 302
    assert sign_in(make_user()).get(url).status_code == 403
    reader = sign_in(make_user(None, "security.view_sessionpolicy"))
    page = reader.get(url)
    assert page.status_code == 200
    assert b"Only admins can change" in page.content
    assert reader.post(url, {"idle_timeout_minutes": 1}).status_code == 403
    assert SessionPolicy.current().idle_timeout_minutes == 30


def test_admin_changes_the_policy(db):
    admin = make_user(None, is_superuser=True, is_staff=True)
    client = sign_in(admin)
    url = reverse("security:session_policy")
    data = {
        "idle_timeout_minutes": 15,
        "absolute_lifetime_hours": 8,
        "max_sessions_per_user": 3,
        "reauthentication_minutes": 5,
    }
    response = client.post(url, data)
    assert response.status_code == 302
    policy = SessionPolicy.current()
    assert (policy.idle_timeout_minutes, policy.max_sessions_per_user) == (15, 3)
    bad = client.post(url, {**data, "idle_timeout_minutes": 0, "max_sessions_per_user": "x"})
    assert bad.status_code == 422
    assert b"Ensure this value is greater than or equal to 1" in bad.content
    longer = client.post(url, {**data, "idle_timeout_minutes": 600, "absolute_lifetime_hours": 1})
    assert longer.status_code == 422
    assert b"cannot be longer than the absolute lifetime" in longer.content


def test_sensitive_actions_need_recent_authentication(db):
    admin = make_user(None, is_superuser=True, is_staff=True)
    url = reverse("security:session_policy")
    data = {
        "idle_timeout_minutes": 20,
        "absolute_lifetime_hours": 8,
        "max_sessions_per_user": 3,
        "reauthentication_minutes": 10,
    }
    # Signed in without a password check in this session (as after a long
    # session): asked for the password, and the change waits.
    stale = Client(REMOTE_ADDR=new_address())
    stale.force_login(admin)
    response = stale.post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert SessionPolicy.current().idle_timeout_minutes == 30
    # The password given: the suspended change goes through.
    response = stale.post(response["Location"], {"password": PASSWORD})
    assert SessionPolicy.current().idle_timeout_minutes == 20
    # Just signed in: not asked again; outside the window: asked again.
    fresh = sign_in(admin)
    assert fresh.get(reverse("security:allowlistentry_add")).status_code == 200
    session = fresh.session
    records = session["account_authentication_methods"]
    for record in records:
        record["at"] -= 11 * 60
    session["account_authentication_methods"] = records
    session.save()
    response = fresh.get(reverse("security:allowlistentry_add"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_settings_and_account_pages_link_the_new_pages(db):
    admin = sign_in(make_user(None, is_superuser=True))
    settings_page = admin.get(reverse("settings")).content.decode()
    assert reverse("security:session_policy") in settings_page
    assert reverse("security:allowlistentry_list") in settings_page
    account_page = sign_in(make_user()).get(reverse("account")).content.decode()
    assert reverse("security:my_sessions") in account_page


def test_user_model_is_custom():
    assert get_user_model()._meta.label == "accounts.User"
