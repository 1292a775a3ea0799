from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from gateways.choices import REPORTING_STATUSES, GatewayStatus
from gateways.models import Gateway

logger = logging.getLogger(__name__)


def offline_cutoff():
    silence = settings.GATEWAY_HEARTBEAT_INTERVAL * settings.GATEWAY_OFFLINE_AFTER_MISSED
    return timezone.now() - timedelta(seconds=silence)


@shared_task(soft_time_limit=30)
def mark_offline_gateways() -> int:
    """Mark gateways offline that missed three heartbeats.

    One conditional UPDATE: idempotent, safe when two runs overlap, and a
    heartbeat that lands meanwhile is not overwritten (it moves ``last_seen``
    past the cutoff).
    """
    silent = Q(last_seen__lt=offline_cutoff()) | Q(last_seen__isnull=True)
    marked = Gateway.objects.filter(silent, status__in=REPORTING_STATUSES).update(
        status=GatewayStatus.OFFLINE, updated=timezone.now()
    )
    if marked:
        logger.info("marked gateways offline", extra={"count": marked})
    return marked
