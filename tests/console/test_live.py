"""The live websocket (/ws/live/): who may connect, and what reaches the tab."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client

from console import live
from console.asgi import application
from console.consumers import CLOSE_UNAUTHENTICATED
from tests.factories import user_with_perms

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")
FRAGMENT = "<div id='x' hx-swap-oob='true'>fresh</div>"


def session_cookie(user) -> tuple[bytes, bytes]:
    """The cookie header of a browser signed in as ``user``."""
    client = Client()
    client.force_login(user)
    name = settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


def communicator(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/live/", headers=list(headers))


async def close(socket: WebsocketCommunicator) -> None:
    """Disconnect, and check the consumer ends by itself: a consumer that keeps
    running (polling Redis for a channel nobody reads) is only stopped by the
    communicator cancelling it at the timeout."""
    started = time.monotonic()
    await socket.disconnect(timeout=3)
    assert time.monotonic() - started < 2, "the consumer kept running after disconnect"


async def try_connect(socket: WebsocketCommunicator) -> tuple[bool, int | None]:
    """Connect; a refused socket is then closed as a server would."""
    connected, code = await socket.connect()
    if not connected:
        await close(socket)
    return connected, code


def run(coroutine):
    async def main():
        try:
            return await asyncio.wait_for(coroutine, timeout=20)
        finally:
            # The consumer reads the session and user in asgiref's worker thread,
            # whose connection CONN_MAX_AGE keeps open: close it, or the test
            # database cannot be dropped at the end.
            await database_sync_to_async(connections.close_all)()

    return asyncio.run(main())


def test_anonymous_is_refused():
    async def scenario():
        return await try_connect(communicator(ORIGIN))

    assert run(scenario()) == (False, CLOSE_UNAUTHENTICATED)


def test_a_forged_session_is_refused():
    async def scenario():
        forged = (b"cookie", f"{settings.SESSION_COOKIE_NAME}=forged".encode())
        return await try_connect(communicator(ORIGIN, forged))

    assert run(scenario()) == (False, CLOSE_UNAUTHENTICATED)


def test_an_inactive_user_is_refused():
    user = user_with_perms("gone")
    cookie = session_cookie(user)
    user.is_active = False
    user.save()

    async def scenario():
        return await try_connect(communicator(ORIGIN, cookie))

    assert run(scenario()) == (False, CLOSE_UNAUTHENTICATED)


def test_signed_in_user_connects_and_receives_their_fragments():
    user = user_with_perms("watcher")
    other = user_with_perms("other")
    cookie = session_cookie(user)

    async def scenario():
        socket = communicator(ORIGIN, cookie)
        connected, _ = await socket.connect()
        assert connected
        layer = get_channel_layer()
        # Another user's notification does not reach this tab...
        await layer.group_send(live.user_group(other.pk), {"type": "live.fragment", "html": "no"})
        assert await socket.receive_nothing(timeout=0.3)
        # ...its own user's does, as the fragment itself.
        await layer.group_send(
            live.user_group(user.pk), {"type": "live.fragment", "html": FRAGMENT}
        )
        received = await socket.receive_from(timeout=5)
        await close(socket)
        return received

    assert run(scenario()) == FRAGMENT


def test_an_idle_tab_is_not_cut_by_a_socket_timeout():
    """Each consumer waits on Redis in BZPOPMIN calls of ``brpop_timeout`` seconds.
    A socket timeout no longer than that (redis-py 8 defaults to 5 s, the same
    as the wait) raises TimeoutError in every tab idle for 5 s and closes it
    (django/channels_redis#422). Checked on the layer's own connection settings,
    which is instant, rather than by idling a socket for over 5 s."""
    layer = get_channel_layer()
    pool = layer.create_pool(0)
    # What a connection of the pool gets, redis-py's defaults included.
    socket_timeout = pool.connection_class(**pool.connection_kwargs).socket_timeout
    assert socket_timeout is None or socket_timeout > layer.brpop_timeout + 1


def test_closed_tabs_stop_their_consumer():
    """Closing a tab cancels its wait on the layer; the consumer must end then,
    not keep polling Redis for a channel nobody reads."""
    cookie = session_cookie(user_with_perms("closer"))

    async def scenario():
        for _ in range(5):
            socket = communicator(ORIGIN, cookie)
            assert (await socket.connect())[0]
            await close(socket)

    run(scenario())


def test_every_tab_of_the_user_receives_the_fragment():
    user = user_with_perms("two-tabs")
    cookie = session_cookie(user)

    async def scenario():
        tabs = [communicator(ORIGIN, cookie) for _ in range(2)]
        for tab in tabs:
            assert (await tab.connect())[0]
        await get_channel_layer().group_send(
            live.user_group(user.pk), {"type": "live.fragment", "html": FRAGMENT}
        )
        received = [await tab.receive_from(timeout=5) for tab in tabs]
        for tab in tabs:
            await close(tab)
        return received

    assert run(scenario()) == [FRAGMENT, FRAGMENT]


def test_a_closed_tab_leaves_its_group():
    user = user_with_perms("leaver")
    cookie = session_cookie(user)

    async def scenario():
        socket = communicator(ORIGIN, cookie)
        assert (await socket.connect())[0]
        layer = get_channel_layer()
        group_key = layer._group_key(live.user_group(user.pk))
        connection = layer.connection(layer.consistent_hash(live.user_group(user.pk)))
        assert await connection.zcard(group_key) == 1
        await close(socket)
        return await connection.zcard(group_key)

    assert run(scenario()) == 0


@pytest.mark.parametrize(
    "origin",
    [b"http://evil.example.com", b"https://localhost.evil.example.com", None],
    ids=["foreign", "lookalike", "missing"],
)
def test_a_foreign_origin_is_refused(origin):
    cookie = session_cookie(user_with_perms("victim"))
    headers = [cookie] + ([(b"origin", origin)] if origin else [])

    async def scenario():
        connected, _ = await try_connect(communicator(*headers))
        return connected

    assert run(scenario()) is False
