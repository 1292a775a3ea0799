"""The live console's background requests (re-fetches after a reconnect,
polling while websockets cannot connect) carry ``X-Live-Refresh: 1`` and are
no session activity: a tab left open that only polls still reaches the idle
timeout (security/middleware.py, docs/live.md)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from security import sessions as tracking
from security.models import UserSession
from tests.security.test_sessions import make_user, shift, sign_in

pytestmark = pytest.mark.django_db

POLL = {"HTTP_X_LIVE_REFRESH": "1"}


def test_polling_does_not_count_as_activity():
    user = make_user(None, "gateways.view_gateway")
    client = sign_in(user)
    record = UserSession.objects.get(user=user)
    shift(client, seen=10 * 60)
    seen = client.session[tracking.SEEN_AT]
    UserSession.objects.filter(pk=record.pk).update(last_active=record.created)

    for _ in range(3):
        assert client.get(reverse("gateways:gateway_list"), **POLL).status_code == 200

    assert client.session[tracking.SEEN_AT] == seen
    record.refresh_from_db()
    assert record.last_active == record.created

    # A request the person makes moves it.
    assert client.get(reverse("gateways:gateway_list")).status_code == 200
    assert client.session[tracking.SEEN_AT] > seen
    record.refresh_from_db()
    assert record.last_active > record.created


def test_a_tab_that_only_polls_reaches_the_idle_timeout():
    user = make_user(None, "gateways.view_gateway")
    client = sign_in(user)
    shift(client, seen=29 * 60)
    # Still within the timeout: the poll is answered, and changes nothing.
    assert client.get(reverse("gateways:gateway_list"), **POLL).status_code == 200
    shift(client, seen=31 * 60)
    response = client.get(reverse("gateways:gateway_list"), **POLL)
    # Signed out: the re-fetch lands on the sign-in page (console.js reloads then).
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not UserSession.objects.filter(user=user).exists()
    assert client.get(reverse("account")).status_code == 302
