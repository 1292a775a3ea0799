"""What the agent API does with what gateways send."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from gateways import live
from gateways.agent import hooks
from gateways.choices import GatewayStatus
from gateways.models import FleetConfig, Gateway, GatewayStatusChange, MetricSample

_HEARTBEAT_STATUS = {"ok": GatewayStatus.ONLINE, "degraded": GatewayStatus.DEGRADED}


def record_heartbeat(gateway: Gateway, heartbeat, now) -> int:
    """Update the gateway's live state, keep the metric sample, record a status
    change, and let other apps (tunnels) take their part — atomically. Returns
    the fleet's config version, for the answer.

    On PostgreSQL the gateway's part is one statement (data-modifying CTEs are
    atomic and each runs once); only a heartbeat with tunnel reports opens a
    transaction around it and the hooks.
    """
    new_status = _HEARTBEAT_STATUS[heartbeat.status]
    # An admin's maintenance flag is not overridden by the agent.
    if gateway.status == GatewayStatus.MAINTENANCE:
        new_status = GatewayStatus.MAINTENANCE
    write = _write_heartbeat_postgresql if connection.vendor == "postgresql" else _write_heartbeat
    if not heartbeat.tunnels:
        version = write(gateway, heartbeat, new_status, now)
        # Live pages, after commit: queues the gateway, nothing more (gateways/live.py).
        live.publish_heartbeat(gateway, new_status, heartbeat.version)
        return version
    with transaction.atomic():
        version = write(gateway, heartbeat, new_status, now)
        for hook in hooks.heartbeat_hooks:
            hook(gateway, heartbeat, now)
        live.publish_heartbeat(gateway, new_status, heartbeat.version)
    return version


def _status_reason(heartbeat) -> str:
    return f"heartbeat: {heartbeat.status}"


def _write_heartbeat(gateway: Gateway, heartbeat, new_status: str, now) -> int:
    metrics = heartbeat.metrics
    with transaction.atomic():
        Gateway.objects.filter(pk=gateway.pk).update(
            status=new_status,
            last_seen=now,
            software_version=heartbeat.version,
            config_version=heartbeat.config_version,
            cpu_pct=metrics.cpu_pct,
            mem_pct=metrics.mem_pct,
            rx_bps=metrics.rx_bps,
            tx_bps=metrics.tx_bps,
            sessions=metrics.sessions,
            updated=now,
        )
        MetricSample.objects.create(
            gateway=gateway,
            time=now,
            cpu_pct=metrics.cpu_pct,
            mem_pct=metrics.mem_pct,
            rx_bps=metrics.rx_bps,
            tx_bps=metrics.tx_bps,
            sessions=metrics.sessions,
        )
        if new_status != gateway.status:
            GatewayStatusChange.objects.create(
                gateway=gateway,
                time=now,
                old_status=gateway.status,
                new_status=new_status,
                reason=_status_reason(heartbeat),
            )
    return current_config_version()


_HEARTBEAT_SQL = f"""
WITH gw AS (
    UPDATE {Gateway._meta.db_table}
    SET status = %(status)s, last_seen = %(now)s, software_version = %(version)s,
        config_version = %(config_version)s, cpu_pct = %(cpu)s, mem_pct = %(mem)s,
        rx_bps = %(rx)s, tx_bps = %(tx)s, sessions = %(sessions)s, updated = %(now)s
    WHERE id = %(gateway)s
    RETURNING id
), sample AS (
    INSERT INTO {MetricSample._meta.db_table}
        (gateway_id, time, cpu_pct, mem_pct, rx_bps, tx_bps, sessions)
    SELECT id, %(now)s, %(cpu)s, %(mem)s, %(rx)s, %(tx)s, %(sessions)s FROM gw
), change AS (
    INSERT INTO {GatewayStatusChange._meta.db_table}
        (gateway_id, time, old_status, new_status, reason)
    SELECT id, %(now)s, %(old_status)s, %(status)s, %(reason)s FROM gw
    WHERE %(old_status)s <> %(status)s
)
SELECT version FROM {FleetConfig._meta.db_table} WHERE id = 1
"""


def _write_heartbeat_postgresql(gateway: Gateway, heartbeat, new_status: str, now) -> int:
    """The gateway row, the metric sample, the status change and the fleet's
    config version in one round trip (the hot path: every gateway, every 10 s)."""
    metrics = heartbeat.metrics
    params = {
        "gateway": gateway.pk,
        "now": now,
        "status": str(new_status),
        "old_status": gateway.status,
        "reason": _status_reason(heartbeat),
        "version": heartbeat.version,
        "config_version": heartbeat.config_version,
        "cpu": metrics.cpu_pct,
        "mem": metrics.mem_pct,
        "rx": metrics.rx_bps,
        "tx": metrics.tx_bps,
        "sessions": metrics.sessions,
    }
    with connection.cursor() as cursor:
        cursor.execute(_HEARTBEAT_SQL, params)
        row = cursor.fetchone()
    return row[0] if row is not None else 1


def store_events(gateway: Gateway, events) -> tuple[int, int]:
    sink = hooks.event_sink.get("default")
    if sink is None:  # pragma: no cover - the security app registers it
        raise RuntimeError("No security event storage is installed.")
    accepted, duplicates = sink(gateway, events)
    if accepted:
        live.publish_events_stored(gateway)  # after commit, to live pages
    return accepted, duplicates


def current_config_version() -> int:
    config = FleetConfig.objects.filter(pk=1).values_list("version", flat=True).first()
    return config if config is not None else 1


def bump_config_version() -> None:
    """Something every gateway may have to apply changed: a new version."""
    if not FleetConfig.objects.filter(pk=1).update(
        version=F("version") + 1, updated=timezone.now()
    ):
        FleetConfig.objects.get_or_create(pk=1, defaults={"version": 2})


def build_config(gateway: Gateway, version: int) -> dict:
    config = {"version": version, "policies": [], "tunnels": []}
    for name, builder in hooks.config_sections.items():
        config[name] = builder(gateway)
    return config
