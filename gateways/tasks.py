from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Max, Min, Q
from django.utils import timezone

from gateways import live
from gateways.agent import hooks
from gateways.choices import REPORTING_STATUSES, GatewayStatus
from gateways.models import Gateway, GatewayStatusChange, MetricRollup, MetricSample

logger = logging.getLogger(__name__)


def offline_cutoff():
    silence = settings.GATEWAY_HEARTBEAT_INTERVAL * settings.GATEWAY_OFFLINE_AFTER_MISSED
    return timezone.now() - timedelta(seconds=silence)


@shared_task(soft_time_limit=30)
def mark_offline_gateways() -> int:
    """Mark gateways offline that missed three heartbeats, recording each change.

    The candidates are locked (skipping rows a heartbeat holds), then updated
    with the same conditions: idempotent, safe when two runs overlap, and a
    heartbeat that lands meanwhile is not overwritten.
    """
    silent = Q(last_seen__lt=offline_cutoff()) | Q(last_seen__isnull=True)
    now = timezone.now()
    with transaction.atomic():
        candidates = dict(
            Gateway.objects.select_for_update(skip_locked=True)
            .filter(silent, status__in=REPORTING_STATUSES)
            .values_list("pk", "status")
        )
        if not candidates:
            return 0
        marked = Gateway.objects.filter(
            silent, pk__in=candidates, status__in=REPORTING_STATUSES
        ).update(status=GatewayStatus.OFFLINE, updated=now)
        GatewayStatusChange.objects.bulk_create(
            GatewayStatusChange(
                gateway_id=pk,
                time=now,
                old_status=old,
                new_status=GatewayStatus.OFFLINE,
                reason=f"no heartbeat for {settings.GATEWAY_OFFLINE_AFTER_MISSED} intervals",
            )
            for pk, old in candidates.items()
        )
        # Other apps drop what these gateways can no longer vouch for (tunnels).
        for hook in hooks.offline_hooks:
            hook(list(candidates), now)
        # Their rows on live pages, after commit (gateways/live.py).
        live.publish_gateways(candidates)
    logger.info("marked gateways offline", extra={"count": marked})
    return marked


PERIODS = {
    MetricRollup.Period.FIVE_MINUTES: timedelta(minutes=5),
    MetricRollup.Period.HOUR: timedelta(hours=1),
}
# Closed windows recomputed on every run: a missed run or a late sample is
# caught up by the next one, and recomputing a window gives the same rows.
LOOKBACK_WINDOWS = {MetricRollup.Period.FIVE_MINUTES: 6, MetricRollup.Period.HOUR: 3}

_FIELDS = {
    "cpu": "cpu_pct",
    "mem": "mem_pct",
    "rx": "rx_bps",
    "tx": "tx_bps",
    "sessions": "sessions",
}


def window_start(moment, size: timedelta):
    epoch = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = (moment - epoch) // size
    return epoch + steps * size


def rollup_window(period: str, start) -> int:
    """Aggregate the raw samples of [start, start + period) per gateway."""
    end = start + PERIODS[period]
    aggregates = {}
    for short, field in _FIELDS.items():
        aggregates[f"{short}_min"] = Min(field)
        aggregates[f"{short}_avg"] = Avg(field)
        aggregates[f"{short}_max"] = Max(field)
    rows = (
        MetricSample.objects.filter(time__gte=start, time__lt=end)
        .values("gateway_id")
        .annotate(samples=Count("pk"), **aggregates)
        .order_by()
    )
    rollups = [MetricRollup(period=period, bucket=start, **row) for row in rows]
    if rollups:
        MetricRollup.objects.bulk_create(
            rollups,
            update_conflicts=True,
            unique_fields=["gateway", "period", "bucket"],
            update_fields=["samples", *aggregates],
        )
    return len(rollups)


@shared_task(soft_time_limit=120)
def rollup_metrics(now=None) -> int:
    """Roll raw samples up into 5-minute and hourly min/avg/max."""
    now = now or timezone.now()
    written = 0
    for period, size in PERIODS.items():
        current = window_start(now, size)
        for back in range(LOOKBACK_WINDOWS[period], 0, -1):
            written += rollup_window(period, current - back * size)
    return written


@shared_task(soft_time_limit=300)
def prune_metrics() -> dict:
    """Drop raw samples past their window (48 h) and rollups past 90 days."""
    now = timezone.now()
    raw, _ = MetricSample.objects.filter(
        time__lt=now - timedelta(hours=settings.METRICS_RAW_RETENTION_HOURS)
    ).delete()
    rolled, _ = MetricRollup.objects.filter(
        bucket__lt=now - timedelta(days=settings.METRICS_ROLLUP_RETENTION_DAYS)
    ).delete()
    return {"samples": raw, "rollups": rolled}
