"""Background work of the security app."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from security.models import GatewayEventRate, SessionPolicy, UserSession
from security.sessions import end_sessions

BATCH = 500


@shared_task(soft_time_limit=60, ignore_result=True)
def end_timed_out_sessions() -> int:
    """End sessions past the policy's idle timeout or absolute lifetime.

    The middleware already refuses such a session at its next request; this
    also removes it from the session store and from "Your sessions", and
    closes its live websockets, so an idle tab left open does not keep
    receiving updates. Idempotent: a session is ended once, later runs find
    nothing."""
    policy = SessionPolicy.current()
    ended = 0
    while True:
        stale = list(
            UserSession.objects.exclude(
                pk__in=UserSession.objects.active(policy).values("pk")
            ).order_by("pk")[:BATCH]
        )
        if not stale:
            return ended
        ended += end_sessions(stale, reason="timed out")


@shared_task(
    soft_time_limit=30,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def correlate_events(gateway_id: int, uuids: list[str]) -> int:
    """Correlate one stored batch into incidents (security.correlation).
    Idempotent: a retry links nothing twice. Returns the events linked."""
    from security.correlation import correlate_batch

    return correlate_batch(gateway_id, uuids).linked


# Per-minute counts the anomaly baseline reads: a day is needed, two are kept.
RATE_KEEP = timedelta(days=2)


@shared_task(soft_time_limit=60, ignore_result=True)
def prune_event_rates() -> int:
    """Drop per-minute event counts older than the anomaly baseline needs, in
    batches (the table holds a row per gateway per minute)."""
    cutoff = timezone.now() - RATE_KEEP
    removed = 0
    while True:
        pks = list(
            GatewayEventRate.objects.filter(minute__lt=cutoff).values_list("pk", flat=True)[:BATCH]
        )
        if not pks:
            return removed
        removed += GatewayEventRate.objects.filter(pk__in=pks).delete()[0]


@shared_task(soft_time_limit=600, time_limit=900, ignore_result=True)
def enforce_event_retention() -> dict:
    """Remove security events older than SECURITY_EVENT_RETENTION_DAYS and, on
    PostgreSQL, keep the week partitions ready ahead (security.retention).
    Idempotent: a second run finds nothing to create, drop or delete. A run
    that removed or created something is recorded in the audit log."""
    import audit
    from security.retention import enforce_retention

    result = enforce_retention()
    if result["deleted"] or result.get("partitions_dropped") or result.get("partitions_created"):
        audit.record(
            "securityevent.retention",
            object_type="security.securityevent",
            detail=result,
        )
    return result


@shared_task(soft_time_limit=50, ignore_result=True)
def lift_expired_containment() -> int | None:
    """Lift containment actions past their expiry: every one of a run in one
    policy revision (security.containment). Returns its number, or None
    when nothing expired."""
    from security.containment import lift_expired

    revision = lift_expired()
    return revision.number if revision is not None else None
