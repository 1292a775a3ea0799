"""What the tunnels app plugs into the gateway agent API (gateways.agent.hooks):
the ``tunnels`` section of the configuration a gateway pulls, the per-tunnel
reports of its heartbeats, and a new configuration version when tunnels change.

gateways never imports tunnels; TunnelsConfig.ready() registers these.
"""

from __future__ import annotations

from django.db import transaction

from gateways.agent.ingest import bump_config_version
from gateways.models import Gateway
from tunnels import live
from tunnels.choices import TunnelState
from tunnels.models import Tunnel

# What a heartbeat writes, and nothing else (``updated`` keeps meaning "the
# tunnel's configuration changed").
LIVE_STATE_FIELDS = [
    "state",
    "latency_ms",
    "rx_bytes",
    "tx_bytes",
    "last_handshake",
    "state_changed",
]

# States in which the tunnel passes traffic, so its peers have shaken hands.
_WORKING = {TunnelState.UP, TunnelState.DEGRADED}


def tunnel_config(gateway: Gateway) -> list[dict]:
    """The enabled tunnels with ``gateway`` at either end, as the agent applies them."""
    tunnels = Tunnel.objects.for_gateway(gateway).select_related("gateway_a", "gateway_b")
    return [_entry(tunnel, gateway) for tunnel in tunnels]


def _entry(tunnel: Tunnel, gateway: Gateway) -> dict:
    if tunnel.gateway_b is None:
        peer = {
            "type": "site",
            "address": tunnel.remote_address,
            "subnets": tunnel.remote_subnet_list,
        }
    else:
        other = tunnel.gateway_b if tunnel.gateway_a_id == gateway.pk else tunnel.gateway_a
        peer = {
            "type": "gateway",
            "gateway_id": str(other.uuid),
            "name": other.name,
            "address": other.public_address,
        }
    return {
        "tunnel_id": str(tunnel.uuid),
        "name": tunnel.name,
        "protocol": tunnel.protocol,
        "mtu": tunnel.mtu,
        "end": "a" if tunnel.gateway_a_id == gateway.pk else "b",
        "peer": peer,
    }


def record_tunnel_reports(gateway: Gateway, heartbeat, now) -> None:
    """Store the per-tunnel reports of a heartbeat, inside its transaction.

    End A speaks for a tunnel: both ends report a tunnel between two gateways,
    and taking one side keeps the byte counters in one perspective (received
    = received at A) instead of flipping at every heartbeat. Reports of tunnels
    the gateway is not end A of, disabled ones or unknown ids change nothing.
    """
    reports = {report.tunnel_id: report for report in heartbeat.tunnels}
    if not reports:
        return
    tunnels = list(Tunnel.objects.filter(gateway_a=gateway, enabled=True, uuid__in=reports))
    changed = []
    for tunnel in tunnels:
        report = reports[tunnel.uuid]
        if tunnel.state != report.state:
            tunnel.state_changed = now
            changed.append(tunnel.pk)
        tunnel.state = report.state
        tunnel.latency_ms = report.latency_ms
        tunnel.rx_bytes = report.rx_bytes
        tunnel.tx_bytes = report.tx_bytes
        # The agent does not send handshake times: a heartbeat that finds the
        # tunnel passing traffic is the latest moment we know it had one.
        if report.state in _WORKING:
            tunnel.last_handshake = now
    Tunnel.objects.bulk_update(tunnels, LIVE_STATE_FIELDS, batch_size=500)
    # Live pages, after commit (tunnels/live.py): rows of changed states, the
    # pages of the others.
    same = set(changed)
    live.publish_tunnels(changed, [t.pk for t in tunnels if t.pk not in same])


def forget_state_of_offline_gateways(gateway_pks: list[int], now) -> int:
    """Gateways went offline: the tunnels they speak for (end A) become
    *unknown*, not a stale "up". The console cannot tell a dead gateway from one
    that lost its way to the console, so "down" would be a guess; the latency
    is dropped for the same reason, while byte counters and the last handshake
    stay, as the last facts known. End A's next heartbeat sets the state again.
    (mark_offline_gateways, inside its transaction; one UPDATE.)"""
    live.publish_tunnels_of_gateways(gateway_pks)  # after commit (tunnels/live.py)
    return (
        Tunnel.objects.filter(gateway_a__in=gateway_pks)
        .exclude(state=TunnelState.UNKNOWN)
        .update(state=TunnelState.UNKNOWN, latency_ms=None, state_changed=now)
    )


def bump_config_after_commit(sender, instance: Tunnel, **kwargs) -> None:
    """A tunnel was added, changed or removed: its gateways must pull again.
    (post_save / post_delete; heartbeats use bulk_update, which sends neither.)"""
    transaction.on_commit(bump_config_version)
