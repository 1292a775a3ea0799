"""The cache while Redis is down (console/cache.py): reads miss, writes are
dropped, counters start again — nothing raises — and it is used again once
Redis answers. A Redis of this test's own is stopped and started again (the
machine's Redis is everyone else's)."""

from __future__ import annotations

import time

import pytest

from console import cache as resilient
from tests.browser.test_live import PrivateRedis


@pytest.fixture
def redis_server():
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_cache(url: str):
    return resilient.ResilientRedisCache(
        url,
        {"KEY_PREFIX": "down-test", "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2}},
    )


def test_a_stopped_redis_makes_an_empty_cache_and_a_restarted_one_is_used_again(
    redis_server, monkeypatch
):
    monkeypatch.setattr(resilient, "outage", resilient._Outage())
    monkeypatch.setattr(resilient, "RETRY_AFTER_SECONDS", 0.3)
    cache = make_cache(redis_server.url)
    cache.set("kept", "yes", 60)
    assert cache.get("kept") == "yes"

    redis_server.stop()
    started = time.monotonic()
    assert cache.get("kept") is None
    assert cache.get("kept", "fallback") == "fallback"
    assert cache.get_many(["kept", "other"]) == {}
    assert cache.set("new", 1) is None
    assert cache.add("lock", 1) is True
    assert cache.incr("counter") == 1
    assert cache.has_key("kept") is False
    assert cache.delete("kept") is False
    assert cache.get_or_set("computed", lambda: 42) == 42
    # One failed connection attempt, then no more until RETRY_AFTER_SECONDS.
    assert time.monotonic() - started < 1
    assert resilient.outage.down

    redis_server.start()
    time.sleep(0.4)
    cache = make_cache(redis_server.url)
    cache.set("back", "yes", 60)
    assert cache.get("back") == "yes"
    assert not resilient.outage.down


def test_while_down_calls_do_not_wait_for_redis_again(monkeypatch):
    monkeypatch.setattr(resilient, "outage", resilient._Outage())
    from tests.browser.test_live import free_port

    cache = make_cache(f"redis://127.0.0.1:{free_port()}/0")
    assert cache.get("x") is None  # the one attempt
    assert resilient.outage.down

    class Recorder:
        calls: list = []

        def get(self, key, default):
            self.calls.append(key)
            return "from redis"

    recorder = Recorder()
    with monkeypatch.context() as patch:
        patch.setattr(resilient.ResilientRedisCache, "_cache", property(lambda self: recorder))
        assert cache.get("x") is None
        assert Recorder.calls == []  # within RETRY_AFTER_SECONDS: Redis is not asked
        patch.setattr(resilient, "outage", resilient._Outage())
        assert cache.get("x") == "from redis"  # and asked again afterwards


def test_a_round_that_fails_to_send_is_sent_again(monkeypatch):
    """Redis restarting: the first command on a pooled connection fails. What
    the outbox had not sent goes in its next round, to the groups that did not
    get it, with the same message id; nothing is sent twice."""
    import asyncio

    from console import live

    sent: list[tuple[str, str, str]] = []
    failures = [1]

    class FlakyLayer:
        async def group_send(self, group, message):
            if group == "g2" and failures:
                failures.pop()
                raise ConnectionError("Redis restarting")
            sent.append((group, message["html"], message["id"]))

    monkeypatch.setattr("channels.layers.get_channel_layer", lambda: FlakyLayer())
    outbox = live.Outbox()
    pushes = [
        live.Push("a", "<a>", ["g1", "g2"]),
        live.Push("b", "<b>", ["g2"]),
        live.Push("c", "<c>", ["g3"]),
    ]
    with pytest.raises(ConnectionError):
        asyncio.run(outbox._send(pushes))
    # g2's failure stopped g2 only: its pushes wait, the other groups got theirs.
    assert sorted((group, html) for group, html, _ in sent) == [("g1", "<a>"), ("g3", "<c>")]
    assert [push.key for push in pushes] == ["a", "b"]
    first_id = sent[0][2] if sent[0][0] == "g1" else sent[1][2]
    outbox._requeue({"gateways.gateway": {7: live.FULL}}, pushes)
    assert outbox.pending == {("gateways.gateway", 7): live.FULL}

    again = list(outbox.pushes)
    sent.clear()
    asyncio.run(outbox._send(again))
    # The rest: g2 gets both, in their order; g1 and g3 nothing twice.
    assert [(group, html) for group, html, _ in sent] == [("g2", "<a>"), ("g2", "<b>")]
    assert sent[0][2] == first_id  # the same message: a tab in g1 and g2 keeps one
    assert again == []


def test_a_round_sends_its_groups_side_by_side(monkeypatch):
    """Each group_send waits on Redis: a round sends to its groups at once
    (up to SEND_CONCURRENCY), each group's fragments still in order."""
    import asyncio

    from console import live

    running = 0
    most = 0
    order: dict[str, list[str]] = {}

    class SlowLayer:
        async def group_send(self, group, message):
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1
            order.setdefault(group, []).append(message["html"])

    monkeypatch.setattr("channels.layers.get_channel_layer", lambda: SlowLayer())
    groups = [f"g{n}" for n in range(live.SEND_CONCURRENCY * 2)]
    pushes = [live.Push(str(n), f"<{n}>", groups) for n in range(3)]
    asyncio.run(live.Outbox()._send(pushes))
    assert most == live.SEND_CONCURRENCY
    assert order == {group: ["<0>", "<1>", "<2>"] for group in groups}
    assert pushes == []


def test_cache_objects_of_every_request_share_one_connection(redis_server):
    """Django keeps a cache object per context, and under ASGI each request
    and each websocket is one: they must share the process's pool, not open a
    Redis connection each (console/cache.py ResilientRedisCache._cache)."""
    import asyncio

    import redis
    from asgiref.sync import ThreadSensitiveContext, sync_to_async

    def received() -> int:
        with redis.Redis.from_url(redis_server.url) as client:
            return client.info("stats")["total_connections_received"]

    def request(n: int) -> str | None:
        cache = make_cache(redis_server.url)  # what caches["default"] makes per context
        cache.set(f"request-{n}", "seen", 60)
        return cache.get(f"request-{n}")

    async def one(n: int):
        async with ThreadSensitiveContext():
            return await sync_to_async(request)(n)

    async def many():
        return [await asyncio.create_task(one(n)) for n in range(20)]

    before = received()
    assert asyncio.run(many()) == ["seen"] * 20
    # One connection of the pool (the INFO calls count one each).
    assert received() - before <= 3
