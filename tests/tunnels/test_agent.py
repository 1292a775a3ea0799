"""What tunnels plug into the agent API: the config section a gateway pulls,
the per-tunnel reports of its heartbeats, and a new config version when a
tunnel changes. Driven through gateways.agent.ingest, as the agent views do."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gateways.agent.ingest import build_config, current_config_version, record_heartbeat
from gateways.agent.schemas import Heartbeat
from tests.factories import GatewayFactory, TunnelFactory
from tunnels.agent import tunnel_config
from tunnels.models import Tunnel

pytestmark = pytest.mark.django_db


def heartbeat(*reports: dict) -> Heartbeat:
    """A heartbeat as the agent view parses it, with the given tunnel reports."""
    body = {
        "sent_at": timezone.now().isoformat(),
        "status": "ok",
        "version": "1.8.2",
        "config_version": 1,
        "metrics": {"cpu_pct": 5, "mem_pct": 10, "rx_bps": 0, "tx_bps": 0, "sessions": 0},
        "tunnels": list(reports),
    }
    return Heartbeat.model_validate_json(json.dumps(body))


def report(tunnel: Tunnel, state: str = "up", **fields) -> dict:
    return {"tunnel_id": str(tunnel.uuid), "state": state, **fields}


class TestConfigSection:
    def test_each_end_gets_the_tunnel_with_the_other_as_peer(self):
        a = GatewayFactory(name="gw-a", public_address="198.51.100.1")
        b = GatewayFactory(name="gw-b", public_address="gw-b.example.net")
        tunnel = TunnelFactory(name="a-b", gateway_a=a, gateway_b=b, protocol="ipsec", mtu=1380)

        [at_a] = build_config(a, 1)["tunnels"]
        [at_b] = build_config(b, 1)["tunnels"]

        assert at_a == {
            "tunnel_id": str(tunnel.uuid),
            "name": "a-b",
            "protocol": "ipsec",
            "mtu": 1380,
            "end": "a",
            "peer": {
                "type": "gateway",
                "gateway_id": str(b.uuid),
                "name": "gw-b",
                "address": "gw-b.example.net",
            },
        }
        assert at_b["end"] == "b"
        assert at_b["peer"]["gateway_id"] == str(a.uuid)
        assert at_b["peer"]["address"] == "198.51.100.1"

    def test_a_remote_site(self):
        gateway = GatewayFactory()
        TunnelFactory(
            gateway_a=gateway,
            gateway_b=None,
            remote_address="vpn.example.org",
            remote_subnets="10.1.0.0/16, 10.2.0.0/16",
        )
        [entry] = build_config(gateway, 1)["tunnels"]
        assert entry["peer"] == {
            "type": "site",
            "address": "vpn.example.org",
            "subnets": ["10.1.0.0/16", "10.2.0.0/16"],
        }

    def test_only_its_enabled_tunnels_by_name(self):
        gateway = GatewayFactory()
        TunnelFactory(name="zulu", gateway_b=gateway)
        TunnelFactory(name="alpha", gateway_a=gateway)
        TunnelFactory(name="off", gateway_a=gateway, enabled=False)
        TunnelFactory(name="elsewhere")
        names = [entry["name"] for entry in build_config(gateway, 1)["tunnels"]]
        assert names == ["alpha", "zulu"]

    def test_is_one_query_however_many_tunnels(self, django_assert_num_queries):
        gateway = GatewayFactory()
        TunnelFactory.create_batch(5, gateway_a=gateway)
        TunnelFactory.create_batch(5, gateway_b=gateway)
        # The tunnels section alone: the policies app adds its own query to
        # build_config (the latest revision; tests/policies/test_agent.py).
        with django_assert_num_queries(1):
            assert len(tunnel_config(gateway)) == 10


class TestHeartbeatReports:
    def test_end_a_records_the_live_state(self):
        tunnel = TunnelFactory()
        now = timezone.now()

        record_heartbeat(
            tunnel.gateway_a,
            heartbeat(report(tunnel, "up", latency_ms=12.5, rx_bytes=1000, tx_bytes=2000)),
            now,
        )

        tunnel.refresh_from_db()
        assert tunnel.state == "up"
        assert (tunnel.latency_ms, tunnel.rx_bytes, tunnel.tx_bytes) == (12.5, 1000, 2000)
        assert tunnel.last_handshake == now
        assert tunnel.state_changed == now

    def test_state_changed_moves_only_when_the_state_does(self):
        tunnel = TunnelFactory()
        first = timezone.now()
        later = first + timedelta(seconds=30)
        record_heartbeat(tunnel.gateway_a, heartbeat(report(tunnel, "up")), first)
        record_heartbeat(tunnel.gateway_a, heartbeat(report(tunnel, "up", rx_bytes=5)), later)
        tunnel.refresh_from_db()
        assert (tunnel.state_changed, tunnel.last_handshake, tunnel.rx_bytes) == (
            first,
            later,
            5,
        )

        down = later + timedelta(seconds=30)
        record_heartbeat(tunnel.gateway_a, heartbeat(report(tunnel, "down")), down)
        tunnel.refresh_from_db()
        assert tunnel.state == "down"
        assert tunnel.state_changed == down
        assert tunnel.last_handshake == later  # a down tunnel shook no hands
        assert tunnel.latency_ms is None

    def test_end_b_and_strangers_change_nothing(self):
        tunnel = TunnelFactory()
        disabled = TunnelFactory(gateway_a=tunnel.gateway_a, enabled=False)
        stranger = GatewayFactory()
        now = timezone.now()

        record_heartbeat(tunnel.gateway_b, heartbeat(report(tunnel, "down")), now)
        record_heartbeat(stranger, heartbeat(report(tunnel, "down")), now)
        record_heartbeat(tunnel.gateway_a, heartbeat(report(disabled, "up")), now)
        unknown = {"tunnel_id": "00000000-0000-4000-8000-000000000000", "state": "up"}
        record_heartbeat(tunnel.gateway_a, heartbeat(unknown), now)

        assert set(Tunnel.objects.values_list("state", "state_changed")) == {("unknown", None)}

    def test_updated_stays_the_configuration_time(self):
        tunnel = TunnelFactory()
        updated = tunnel.updated
        record_heartbeat(
            tunnel.gateway_a, heartbeat(report(tunnel)), timezone.now() + timedelta(hours=1)
        )
        tunnel.refresh_from_db()
        assert tunnel.updated == updated

    def test_queries_do_not_grow_with_the_reports(self):
        hub = GatewayFactory()

        def queries(n):
            tunnels = TunnelFactory.create_batch(n, gateway_a=hub)
            beat = heartbeat(*(report(t, "degraded", latency_ms=3.0) for t in tunnels))
            with CaptureQueriesContext(connection) as context:
                record_heartbeat(hub, beat, timezone.now())
            return len(context.captured_queries)

        assert queries(2) == queries(40)
        assert Tunnel.objects.filter(state="degraded").count() == 42


class TestConfigVersion:
    def test_adding_changing_and_removing_a_tunnel_bump_it(
        self, django_capture_on_commit_callbacks
    ):
        start = current_config_version()
        with django_capture_on_commit_callbacks(execute=True):
            tunnel = TunnelFactory()
        assert current_config_version() == start + 1
        with django_capture_on_commit_callbacks(execute=True):
            tunnel.mtu = 1300
            tunnel.save()
        assert current_config_version() == start + 2
        with django_capture_on_commit_callbacks(execute=True):
            tunnel.delete()
        assert current_config_version() == start + 3

    def test_heartbeats_do_not_bump_it(self, django_capture_on_commit_callbacks):
        tunnel = TunnelFactory()
        start = current_config_version()
        with django_capture_on_commit_callbacks(execute=True):
            record_heartbeat(tunnel.gateway_a, heartbeat(report(tunnel)), timezone.now())
        assert current_config_version() == start

    def test_nothing_is_bumped_when_the_transaction_rolls_back(
        self, django_capture_on_commit_callbacks
    ):
        start = current_config_version()
        with django_capture_on_commit_callbacks() as callbacks:
            TunnelFactory()
        assert len(callbacks) >= 1  # waiting for the commit, not run yet
        assert current_config_version() == start


class TestGatewayGoesOffline:
    """mark_offline_gateways: the tunnels a silent gateway speaks for (end A)
    become unknown instead of showing a stale "up"."""

    @pytest.fixture(autouse=True)
    def _ten_second_heartbeats(self, settings):
        settings.GATEWAY_HEARTBEAT_INTERVAL = 10
        settings.GATEWAY_OFFLINE_AFTER_MISSED = 3

    def test_tunnels_of_the_silent_end_a_become_unknown(self):
        from gateways.tasks import mark_offline_gateways

        long_ago = timezone.now() - timedelta(minutes=5)
        silent = GatewayFactory(status="online", last_seen=long_ago)
        alive = GatewayFactory(status="online", last_seen=timezone.now())
        other = GatewayFactory(status="online", last_seen=timezone.now())
        handshake = timezone.now() - timedelta(minutes=6)
        spoken_for = TunnelFactory(
            gateway_a=silent,
            gateway_b=other,
            state="up",
            latency_ms=12.5,
            rx_bytes=100,
            tx_bytes=200,
            last_handshake=handshake,
        )
        to_site = TunnelFactory(
            gateway_a=silent,
            gateway_b=None,
            remote_address="198.51.100.7",
            remote_subnets="10.7.0.0/16",
            state="degraded",
        )
        # End A is alive and keeps reporting this one: it is left as reported.
        reported_by_alive = TunnelFactory(gateway_a=alive, gateway_b=silent, state="down")
        elsewhere = TunnelFactory(state="up")

        assert mark_offline_gateways() == 1

        for tunnel in (spoken_for, to_site, reported_by_alive, elsewhere):
            tunnel.refresh_from_db()
        assert (spoken_for.state, to_site.state) == ("unknown", "unknown")
        assert spoken_for.latency_ms is None
        assert spoken_for.state_changed is not None
        # The last facts known stay.
        assert (spoken_for.rx_bytes, spoken_for.tx_bytes) == (100, 200)
        assert spoken_for.last_handshake == handshake
        assert reported_by_alive.state == "down"
        assert elsewhere.state == "up"

    def test_a_heartbeat_after_coming_back_sets_the_state_again(self):
        from gateways.tasks import mark_offline_gateways

        gateway = GatewayFactory(status="online", last_seen=timezone.now() - timedelta(minutes=5))
        tunnel = TunnelFactory(gateway_a=gateway, state="up")
        mark_offline_gateways()
        tunnel.refresh_from_db()
        assert tunnel.state == "unknown"

        gateway.refresh_from_db()
        record_heartbeat(gateway, heartbeat(report(tunnel, "up")), timezone.now())

        tunnel.refresh_from_db()
        assert tunnel.state == "up"

    def test_one_query_for_the_tunnels_whatever_their_number(self):
        from gateways.tasks import mark_offline_gateways
        from tunnels.agent import forget_state_of_offline_gateways

        gateways = [GatewayFactory() for _ in range(3)]
        for gw in gateways:
            TunnelFactory(gateway_a=gw, state="up")
        with CaptureQueriesContext(connection) as few:
            forget_state_of_offline_gateways([gateways[0].pk], timezone.now())
        for gw in gateways:
            TunnelFactory(gateway_a=gw, state="up")
        with CaptureQueriesContext(connection) as many:
            forget_state_of_offline_gateways([gw.pk for gw in gateways], timezone.now())
        assert len(few) == len(many) == 1
        assert mark_offline_gateways() == 0  # the never-seen factory gateways are pending
