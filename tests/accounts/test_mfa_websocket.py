"""The live websocket refuses a user who passed the password but still owes
the second factor (close code 4401, "sign in again")."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from console.consumers import CLOSE_UNAUTHENTICATED
from tests.console.test_live import ORIGIN, close, communicator, run, try_connect
from tests.factories import user_with_perms

pytestmark = pytest.mark.django_db(transaction=True)


def cookie_for(user, device=None) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    name = settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


def connect(cookie):
    async def scenario():
        connected, code = await try_connect(communicator(ORIGIN, cookie))
        return connected, code

    return run(scenario())


def connects(cookie) -> bool:
    async def scenario():
        socket = communicator(ORIGIN, cookie)
        connected, _ = await socket.connect()
        if connected:
            await close(socket)
        return connected

    return run(scenario())


def test_unverified_user_with_a_device_is_refused():
    user = user_with_perms("half-in")
    TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    assert connect(cookie_for(user)) == (False, CLOSE_UNAUTHENTICATED)


def test_user_who_must_enrol_is_refused():
    user = user_with_perms("must-enrol", mfa_required=True)
    assert connect(cookie_for(user)) == (False, CLOSE_UNAUTHENTICATED)


def test_verified_user_connects():
    user = user_with_perms("all-in")
    device = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    assert connects(cookie_for(user, device))


def test_user_who_owes_nothing_connects():
    user = user_with_perms("plain")
    assert connects(cookie_for(user))
