"""Live topics through the real Redis channel layer: what a tab subscribes to
(by its page and its user's region scope), what each topic sends, coalescing,
and sockets closed when a user's access changes."""

from __future__ import annotations

import json
import time

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from console import live
from console.consumers import CLOSE_ACCESS_CHANGED
from gateways.agent.ingest import record_heartbeat
from gateways.agent.schemas import Heartbeat
from gateways.live import publish_gateways
from tests.console.test_live import ORIGIN, close, run, session_cookie
from tests.factories import (
    GatewayFactory,
    TunnelFactory,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # tests/console/conftest.py
    pytest.mark.usefixtures("_short_window", "_empty_layer"),
]

VIEW = ("gateways.view_gateway", "gateways.view_region", "tunnels.view_tunnel")


def socket(cookie, watch: str = ""):
    """A tab of the live channel, to connect. What was published before (the
    test's own factories) has gone out first: a round still under way would
    otherwise deliver it to this tab as if the test had caused it."""
    from channels.testing import WebsocketCommunicator

    from console.asgi import application

    assert live._outbox().wait_idle(timeout=10), "the live outbox did not go idle"

    path = f"/ws/live/?watch={watch}" if watch else "/ws/live/"
    return WebsocketCommunicator(application, path, headers=[ORIGIN, cookie])


def heartbeat(status: str = "ok", version: str = "1.8.2", cpu: float = 5, tunnels=()) -> Heartbeat:
    body = {
        "sent_at": timezone.now().isoformat(),
        "status": status,
        "version": version,
        "config_version": 1,
        "metrics": {"cpu_pct": cpu, "mem_pct": 10, "rx_bps": 0, "tx_bps": 0, "sessions": 0},
        "tunnels": list(tunnels),
    }
    return Heartbeat.model_validate_json(json.dumps(body))


async def in_thread(function, *args):
    """Django code from the test's event loop, as a consumer or view runs it."""
    from channels.db import database_sync_to_async

    return await database_sync_to_async(function)(*args)


async def beat(gateway, **fields) -> None:
    """A heartbeat as the agent view stores it (in a worker thread)."""
    from channels.db import database_sync_to_async

    gateway = await database_sync_to_async(type(gateway).objects.get)(pk=gateway.pk)
    await database_sync_to_async(record_heartbeat)(gateway, heartbeat(**fields), timezone.now())


async def receive_all(tab, timeout: float = 1.0) -> list[str]:
    """Every message that arrives within ``timeout`` of the previous one
    (receive_nothing first: a receive that times out cancels the consumer)."""
    messages = []
    while not await tab.receive_nothing(timeout=timeout):
        messages.append(await tab.receive_from())
    return messages


def group_size(group: str) -> int:
    layer = get_channel_layer()

    async def count():
        return await layer.connection(layer.consistent_hash(group)).zcard(layer._group_key(group))

    return count()


def test_a_scoped_user_joins_the_groups_of_their_regions_only(fleet):
    operator_cookie = session_cookie(fleet["operator"])
    admin_cookie = session_cookie(fleet["admin"])
    topic = "gateways.gateway"
    north = live.region_group(topic, fleet["north"].pk)
    south = live.region_group(topic, fleet["south"].pk)
    everywhere = live.region_group(topic, None)

    async def scenario():
        operator, admin = socket(operator_cookie, topic), socket(admin_cookie, topic)
        assert (await operator.connect())[0]
        assert (await admin.connect())[0]
        sizes = [await group_size(g) for g in (north, south, everywhere)]
        await close(operator)
        await close(admin)
        return sizes

    # The operator is in the north group; the admin (no region limit) in "all".
    assert run(scenario()) == [1, 0, 1]


def test_a_heartbeat_that_changes_the_status_reaches_the_row_of_users_who_see_it(fleet):
    operator_cookie = session_cookie(fleet["operator"])
    admin_cookie = session_cookie(fleet["admin"])
    gw_north, gw_south = fleet["gw_north"], fleet["gw_south"]

    async def scenario():
        operator = socket(operator_cookie, "gateways.gateway")
        admin = socket(admin_cookie, "gateways.gateway")
        assert (await operator.connect())[0]
        assert (await admin.connect())[0]
        await beat(gw_south)
        admin_got = await admin.receive_from(timeout=5)
        # The operator's socket never receives the other region's row.
        operator_missed = await operator.receive_nothing(timeout=1)
        await beat(gw_north)
        operator_got = await operator.receive_from(timeout=5)
        await close(operator)
        await close(admin)
        return admin_got, operator_missed, operator_got

    admin_got, operator_missed, operator_got = run(scenario())
    assert f'id="row-gateway-{gw_south.uuid}"' in admin_got
    assert "Online" in admin_got
    assert 'data-live-hint="gateways.gateway"' in admin_got
    assert operator_missed
    assert f'id="row-gateway-{gw_north.uuid}"' in operator_got
    assert str(gw_south.uuid) not in operator_got


def test_the_row_is_the_list_pages_own_row(fleet, client):
    """One rendering path: the pushed row is byte for byte the page's row."""
    admin = fleet["admin"]
    cookie = session_cookie(admin)
    gateway = fleet["gw_north"]

    async def scenario():
        tab = socket(cookie, "gateways.gateway")
        assert (await tab.connect())[0]
        await in_thread(publish_gateways, [gateway.pk])
        got = await tab.receive_from(timeout=5)
        await close(tab)
        return got

    pushed = run(scenario())
    row = pushed.split("<meta", 1)[0].strip()
    client.force_login(admin)
    from tests.helpers import login_with_second_factor

    login_with_second_factor(client, admin)
    page = client.get("/gateways/").content.decode()
    assert row in page


def test_heartbeats_without_a_visible_change_reach_only_the_open_detail_page(fleet):
    cookie = session_cookie(fleet["admin"])
    gateway = fleet["gw_north"]
    GatewayFactory._meta.model.objects.filter(pk=gateway.pk).update(status="online")

    async def scenario():
        listing = socket(cookie, "gateways.gateway")
        detail = socket(cookie, f"gateways.gateway:{gateway.uuid}")
        assert (await listing.connect())[0]
        assert (await detail.connect())[0]
        await beat(gateway, cpu=42.5)
        got = await detail.receive_from(timeout=5)
        nothing_for_the_list = await listing.receive_nothing(timeout=1)
        await close(listing)
        await close(detail)
        return got, nothing_for_the_list

    got, nothing_for_the_list = run(scenario())
    assert f'id="gateway-metrics-{gateway.uuid}"' in got
    assert "42.5" in got
    assert nothing_for_the_list


def test_a_detail_page_of_another_region_is_not_subscribed(fleet):
    cookie = session_cookie(fleet["operator"])
    gateway = fleet["gw_south"]

    async def scenario():
        tab = socket(cookie, f"gateways.gateway:{gateway.uuid},gateways.gateway:not-a-uuid")
        assert (await tab.connect())[0]
        size = await group_size(live.object_group("gateways.gateway", gateway.pk))
        await in_thread(publish_gateways, [gateway.pk])
        nothing = await tab.receive_nothing(timeout=1)
        await close(tab)
        return size, nothing

    assert run(scenario()) == (0, True)


def test_changes_of_one_gateway_within_the_window_are_coalesced(fleet, settings):
    settings.LIVE_COALESCE_MS = 800
    cookie = session_cookie(fleet["admin"])
    gateway = fleet["gw_north"]

    async def scenario():
        tab = socket(cookie, "gateways.gateway")
        assert (await tab.connect())[0]
        started = time.monotonic()
        for status in ("ok", "degraded", "ok", "degraded"):
            await beat(gateway, status=status)
        messages = await receive_all(tab, timeout=1.5)
        elapsed = time.monotonic() - started
        await close(tab)
        return messages, elapsed

    messages, elapsed = run(scenario())
    # The first change at once, the three others folded into one at the end of
    # the window, showing the last state.
    assert len(messages) == 2, messages
    assert "Degraded" in messages[-1]
    assert elapsed < 5


def test_a_tunnel_state_change_reaches_its_row_and_its_page(fleet):
    cookie = session_cookie(fleet["operator"])
    tunnel = TunnelFactory(gateway_a=fleet["gw_north"], gateway_b=fleet["gw_south"])

    async def scenario():
        listing = socket(cookie, "tunnels.tunnel")
        detail = socket(cookie, f"tunnels.tunnel:{tunnel.uuid}")
        assert (await listing.connect())[0]
        assert (await detail.connect())[0]
        report = {"tunnel_id": str(tunnel.uuid), "state": "up", "latency_ms": 12.5}
        await beat(fleet["gw_north"], tunnels=[report])
        row = await listing.receive_from(timeout=5)
        card = await detail.receive_from(timeout=5)
        await close(listing)
        await close(detail)
        return row, card

    row, card = run(scenario())
    # A tunnel between two regions is seen by a user of either.
    assert f'id="row-tunnel-{tunnel.uuid}"' in row
    assert f'id="tunnel-state-{tunnel.uuid}"' in card
    assert f'id="tunnel-badge-{tunnel.uuid}"' in card
    assert "12.5 ms" in card


def test_the_offline_task_pushes_gateway_and_tunnel_rows(fleet):
    from gateways.models import Gateway
    from gateways.tasks import mark_offline_gateways

    cookie = session_cookie(fleet["admin"])
    gateway = fleet["gw_north"]
    tunnel = TunnelFactory(gateway_a=gateway, state="up")
    Gateway.objects.filter(pk=gateway.pk).update(
        status="online", last_seen=timezone.now() - timezone.timedelta(hours=1)
    )

    async def scenario():
        from channels.db import database_sync_to_async

        tab = socket(cookie, "gateways.gateway,tunnels.tunnel")
        assert (await tab.connect())[0]
        await database_sync_to_async(mark_offline_gateways)()
        messages = await receive_all(tab, timeout=1.5)
        await close(tab)
        return "".join(messages)

    got = run(scenario())
    assert f'id="row-gateway-{gateway.uuid}"' in got
    assert f'id="row-tunnel-{tunnel.uuid}"' in got


def test_new_security_events_hint_users_of_the_region(fleet):
    from gateways.agent.ingest import store_events
    from gateways.agent.schemas import EventBatch

    operator = fleet["operator"]
    fleet["role"].group.permissions.add(Permission.objects.get(codename="view_securityevent"))
    cookie = session_cookie(operator)

    def batch(event_id: str):
        event = {
            "id": event_id,
            "occurred_at": timezone.now().isoformat(),
            "severity": "high",
            "category": "intrusion",
            "signature": "test",
            "message": "hello",
        }
        return EventBatch.model_validate_json(json.dumps({"events": [event]})).events

    async def scenario():
        from channels.db import database_sync_to_async

        tab = socket(cookie, "security.securityevent")
        assert (await tab.connect())[0]
        south_events = batch("0b6a1f0e-8a51-4c55-9a0a-3f5f1d7e9a10")
        await database_sync_to_async(store_events)(fleet["gw_south"], south_events)
        other_region = await tab.receive_nothing(timeout=1)
        north_events = batch("1b6a1f0e-8a51-4c55-9a0a-3f5f1d7e9a10")
        await database_sync_to_async(store_events)(fleet["gw_north"], north_events)
        got = await tab.receive_from(timeout=5)
        await close(tab)
        return other_region, got

    other_region, got = run(scenario())
    assert other_region
    assert got == '<meta data-live-hint="security.securityevent">'


def test_a_notification_is_a_toast_on_every_tab_of_the_user(fleet):
    cookie = session_cookie(fleet["admin"])
    user = fleet["admin"]

    async def scenario():
        tab = socket(cookie)
        assert (await tab.connect())[0]
        await in_thread(live.notify, user.pk, "Backup finished", "success")
        got = await tab.receive_from(timeout=5)
        await close(tab)
        return got

    got = run(scenario())
    assert got.startswith('<div hx-swap-oob="beforeend:#toasts">')
    assert "toast-success" in got
    assert "Backup finished" in got


def test_health_is_pushed_when_it_changes(fleet, settings, monkeypatch):
    from console import health

    settings.LIVE_HEALTH_SECONDS = 1
    cookie = session_cookie(fleet["admin"])
    state = {"celery": True}

    def celery():
        if not state["celery"]:
            raise RuntimeError("no worker answered")
        return "ok"

    monkeypatch.setitem(health.CHECKS, "celery", celery)
    monkeypatch.setattr(live._outbox(), "health_html", None)

    async def scenario():
        tab = socket(cookie)
        assert (await tab.connect())[0]
        first = await tab.receive_from(timeout=5)
        state["celery"] = False
        second = await tab.receive_from(timeout=5)
        await close(tab)
        return first, second

    first, second = run(scenario())
    assert first.strip().startswith('<span id="system-health"')
    assert 'role="status" hidden>' in first
    assert "background workers" in second and 'role="status" hidden>' not in second


# --- Access changes close the user's sockets ----------------------------------------


def change_then_expect_close(user, change) -> int:
    cookie = session_cookie(user)

    async def scenario():
        from channels.db import database_sync_to_async

        tab = socket(cookie, "gateways.gateway")
        assert (await tab.connect())[0]
        await database_sync_to_async(change)()
        output = await tab.receive_output(timeout=5)
        await tab.wait(timeout=1)
        return output

    output = run(scenario())
    assert output["type"] == "websocket.close", output
    return output["code"]


def test_a_new_role_closes_the_sockets(fleet):
    user = fleet["operator"]
    viewer = Group.objects.get(name="Viewer")
    assert change_then_expect_close(user, lambda: user.groups.add(viewer)) == CLOSE_ACCESS_CHANGED


def test_a_removed_role_closes_the_sockets(fleet):
    user, group = fleet["operator"], fleet["role"].group
    assert change_then_expect_close(user, lambda: user.groups.remove(group)) == CLOSE_ACCESS_CHANGED


def test_a_changed_own_scope_closes_the_sockets(fleet):
    user, south = fleet["admin"], fleet["south"]
    assert change_then_expect_close(user, lambda: user.regions.add(south)) == CLOSE_ACCESS_CHANGED


def test_a_changed_role_scope_closes_its_members_sockets(fleet):
    role, south = fleet["role"], fleet["south"]
    assert (
        change_then_expect_close(fleet["operator"], lambda: role.regions.add(south))
        == CLOSE_ACCESS_CHANGED
    )


def test_changed_role_permissions_close_its_members_sockets(fleet):
    group = fleet["role"].group
    perm = Permission.objects.get(codename="change_gateway")
    assert (
        change_then_expect_close(fleet["operator"], lambda: group.permissions.add(perm))
        == CLOSE_ACCESS_CHANGED
    )


def test_deactivation_closes_the_sockets(fleet):
    user = fleet["operator"]

    def deactivate():
        user.is_active = False
        user.save()

    assert change_then_expect_close(user, deactivate) == CLOSE_ACCESS_CHANGED


def test_a_login_saving_last_login_closes_nothing(fleet):
    user = fleet["operator"]
    cookie = session_cookie(user)

    async def scenario():
        from channels.db import database_sync_to_async

        tab = socket(cookie, "gateways.gateway")
        assert (await tab.connect())[0]
        user.last_login = timezone.now()
        await database_sync_to_async(user.save)(update_fields=["last_login"])
        user.first_name = "Nora"
        await database_sync_to_async(user.save)()
        nothing = await tab.receive_nothing(timeout=1)
        await close(tab)
        return nothing

    assert run(scenario())
