"""What the agent API does with what gateways send."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gateways.agent import hooks
from gateways.choices import GatewayStatus
from gateways.models import FleetConfig, Gateway, GatewayStatusChange, MetricSample

_HEARTBEAT_STATUS = {"ok": GatewayStatus.ONLINE, "degraded": GatewayStatus.DEGRADED}


def record_heartbeat(gateway: Gateway, heartbeat, now) -> None:
    """Update the gateway's live state, keep the metric sample, record a status
    change, and let other apps (tunnels) take their part — in one transaction."""
    metrics = heartbeat.metrics
    new_status = _HEARTBEAT_STATUS[heartbeat.status]
    # An admin's maintenance flag is not overridden by the agent.
    if gateway.status == GatewayStatus.MAINTENANCE:
        new_status = GatewayStatus.MAINTENANCE
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
                reason=f"heartbeat: {heartbeat.status}",
            )
        for hook in hooks.heartbeat_hooks:
            hook(gateway, heartbeat, now)


def store_events(gateway: Gateway, events) -> tuple[int, int]:
    sink = hooks.event_sink.get("default")
    if sink is None:  # pragma: no cover - the security app registers it
        raise RuntimeError("No security event storage is installed.")
    return sink(gateway, events)


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
