"""Live fan-out in the process (console/fanout.py) and what a tab that names
its rows receives (console/consumers.py), through the real Redis channel layer."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

from console import fanout, live
from gateways.live import publish_gateways
from tests.browser.test_live import PrivateRedis
from tests.console.test_live import close, run, session_cookie
from tests.console.test_live_topics import group_size, in_thread, receive_all, socket
from tests.factories import GatewayFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # tests/console/conftest.py
    pytest.mark.usefixtures("_short_window", "_empty_layer"),
]

TOPIC = "gateways.gateway"


def row_id(gateway) -> str:
    return f"row-gateway-{gateway.uuid}"


async def open_tab(cookie, message: str | None = None):
    """A list tab, connected, having sent ``message`` (what console.js
    sends) if any."""
    tab = socket(cookie, TOPIC)
    assert (await tab.connect())[0]
    if message is not None:
        await tab.send_to(text_data=message)
        await asyncio.sleep(0.1)
    return tab


def test_tabs_of_one_process_are_one_member_of_a_group(fleet):
    cookie = session_cookie(fleet["admin"])
    everywhere = live.region_group(TOPIC, None)

    async def scenario():
        tabs = [socket(cookie, TOPIC) for _ in range(3)]
        for tab in tabs:
            assert (await tab.connect())[0]
        members = await group_size(everywhere)
        await in_thread(publish_gateways, [fleet["gw_north"].pk])
        got = ["".join(await receive_all(tab, timeout=0.5)) for tab in tabs]
        await close(tabs[0])
        after_one_left = await group_size(everywhere)
        for tab in tabs[1:]:
            await close(tab)
        return members, got, after_one_left, await group_size(everywhere)

    members, got, after_one_left, after_all_left = run(scenario())
    assert members == 1
    assert all(row_id(fleet["gw_north"]) in html for html in got), got
    assert after_one_left == 1
    assert after_all_left == 0


def test_a_tab_gets_the_rows_it_shows_and_only_hints_of_others(fleet):
    cookie = session_cookie(fleet["admin"])
    shown, other = fleet["gw_north"], fleet["gw_south"]

    async def scenario():
        tab = await open_tab(cookie, json.dumps({"show": [row_id(shown)]}))
        await in_thread(publish_gateways, [other.pk])
        other_got = await tab.receive_from(timeout=5)
        await in_thread(publish_gateways, [shown.pk])
        shown_got = await tab.receive_from(timeout=5)
        await close(tab)
        return other_got, shown_got

    other_got, shown_got = run(scenario())
    assert other_got == '<meta data-live-hint="gateways.gateway">'
    assert row_id(shown) in shown_got and row_id(other) not in shown_got


def test_hints_of_rows_not_shown_come_once_per_window_and_the_last_one_at_its_end(fleet):
    """Five other rows change at once: one hint at once, one more at the end
    of the window (the counters must see the last change), not five."""
    cookie = session_cookie(fleet["admin"])
    others = [GatewayFactory(region=fleet["north"]) for _ in range(5)]

    async def scenario():
        tab = await open_tab(cookie, json.dumps({"show": []}))
        await in_thread(publish_gateways, [others[0].pk])
        first = await tab.receive_from(timeout=5)
        for gateway in others[1:]:
            await in_thread(publish_gateways, [gateway.pk])
        rest = await receive_all(tab, timeout=1.0)
        await close(tab)
        return [first, *rest]

    got = run(scenario())
    assert got == ['<meta data-live-hint="gateways.gateway">'] * 2


def test_a_tab_that_names_no_rows_gets_every_row(fleet):
    """Before console.js names its rows (and for a client that never does),
    a list tab gets what it did before: every row of its regions."""
    cookie = session_cookie(fleet["admin"])

    async def scenario():
        tab = await open_tab(cookie)
        await in_thread(publish_gateways, [fleet["gw_south"].pk])
        got = await tab.receive_from(timeout=5)
        await close(tab)
        return got

    assert row_id(fleet["gw_south"]) in run(scenario())


@pytest.mark.parametrize(
    "message",
    ["not json", json.dumps(["show"]), json.dumps({"show": "row-x"}), json.dumps({"show": [1]})],
    ids=["text", "list", "string", "numbers"],
)
def test_malformed_messages_from_the_page_change_nothing_or_name_nothing(fleet, message):
    cookie = session_cookie(fleet["admin"])

    async def scenario():
        tab = await open_tab(cookie, message)
        await in_thread(publish_gateways, [fleet["gw_south"].pk])
        got = await tab.receive_from(timeout=5)
        await close(tab)
        return got

    got = run(scenario())
    # Still connected; a list of non-strings names no row (only the hint).
    assert 'data-live-hint="gateways.gateway"' in got


def test_fragments_queued_in_one_turn_go_out_as_one_message(fleet):
    cookie = session_cookie(fleet["admin"])

    async def scenario():
        tab = socket(cookie, TOPIC)
        assert (await tab.connect())[0]
        hub = fanout.hub(get_channel_layer())
        (consumer,) = hub.groups[live.region_group(TOPIC, None)].members
        consumer.deliver({"type": "live.fragment", "html": "<p id='a'></p>", "id": "t-1"})
        consumer.deliver({"type": "live.fragment", "html": "<p id='b'></p>", "id": "t-2"})
        consumer.deliver({"type": "live.fragment", "html": "<p id='a'></p>", "id": "t-1"})
        got = await receive_all(tab, timeout=0.5)
        await close(tab)
        return got

    assert run(scenario()) == ["<p id='a'></p><p id='b'></p>"]


class Member:
    """A tab as the hub sees it."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self.asked_back = 0

    def deliver(self, message: dict) -> None:
        self.got.append(message["html"])

    def come_back(self) -> None:
        self.asked_back += 1


def test_when_redis_goes_away_the_hubs_tabs_are_asked_to_come_back():
    """A Redis of the test's own, stopped under the hub: its tabs reconnect
    (and re-fetch) instead of waiting on a group that no longer exists."""
    server = PrivateRedis()
    server.start()

    async def scenario():
        layer = RedisChannelLayer(hosts=[{"address": server.url}], expiry=30)
        hub = fanout.Hub(layer)
        tabs = [Member(), Member()]
        for tab in tabs:
            await hub.join(tab, ["live.test"])
        await layer.group_send("live.test", {"type": "live.fragment", "html": "x", "id": "1"})
        for _ in range(50):
            if all(tab.got for tab in tabs):
                break
            await asyncio.sleep(0.05)
        delivered = [tab.got for tab in tabs]
        server.stop()
        for _ in range(200):
            if all(tab.asked_back for tab in tabs):
                break
            await asyncio.sleep(0.05)
        asked = [tab.asked_back for tab in tabs]
        left = dict(hub.groups)
        await layer.close_pools()
        return delivered, asked, left

    try:
        delivered, asked, left = asyncio.run(scenario())
    finally:
        server.stop()
    assert delivered == [["x"], ["x"]]
    assert asked == [1, 1]
    assert left == {}


def test_a_page_without_counters_over_the_topic_gets_no_hints_of_other_rows(fleet):
    cookie = session_cookie(fleet["admin"])
    shown, other = fleet["gw_north"], fleet["gw_south"]

    async def scenario():
        tab = await open_tab(cookie, json.dumps({"show": [row_id(shown)], "hints": []}))
        await in_thread(publish_gateways, [other.pk])
        nothing = await tab.receive_nothing(timeout=1)
        await in_thread(publish_gateways, [shown.pk])
        got = await tab.receive_from(timeout=5)
        await close(tab)
        return nothing, got

    nothing, got = run(scenario())
    assert nothing
    assert row_id(shown) in got
