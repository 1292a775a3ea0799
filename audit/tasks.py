"""Audit log upkeep: seal what a crashed process left unsealed, verify the
chain every night, archive past the retention period."""

from __future__ import annotations

import logging

from celery import shared_task

import audit
from audit.choices import Outcome

logger = logging.getLogger("audit")


@shared_task(soft_time_limit=50)
def seal_audit_records() -> int:
    from audit.chain import seal_pending

    return seal_pending()


@shared_task(soft_time_limit=3000, time_limit=3600)
def verify_audit_chain() -> bool:
    """Nightly: the whole live chain. A broken chain is logged as an error,
    recorded, and raised as an alert once the alerts app offers a hook."""
    from audit.chain import verify_chain

    result = verify_chain()
    audit.record(
        "audit.verify",
        detail={"checked": result.checked, "summary": result.summary()},
        outcome=Outcome.SUCCESS if result.ok else Outcome.FAILURE,
    )
    if not result.ok:
        logger.error("audit chain broken: %s", result.summary())
        _raise_alert(result.summary())
    return result.ok


def _raise_alert(message: str) -> None:
    try:
        from alerts.hooks import raise_system_alert  # the alerts issue (not built yet)
    except ImportError:
        return
    raise_system_alert("audit.chain_broken", message)


@shared_task(soft_time_limit=3000, time_limit=3600)
def archive_audit_records() -> int:
    from audit.archive import archive_expired

    archive = archive_expired()
    return archive.count if archive else 0


@shared_task(
    bind=True,
    soft_time_limit=60,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=12,
)
def forward_audit_records(self, first_seq: int, last_seq: int) -> int:
    """Send sealed records first_seq..last_seq to AUDIT_FORWARD_URL; retried
    with backoff while the receiver is unreachable."""
    from audit.forwarding import send
    from audit.models import AuditRecord

    entries = AuditRecord.objects.filter(seq__gte=first_seq, seq__lte=last_seq).order_by("seq")
    return send(entries)


@shared_task(soft_time_limit=600, time_limit=900)
def send_due_reports() -> int:
    """Email the scheduled reports that are due (each period once, however
    often this runs: audit/report_schedules.py)."""
    from audit.report_schedules import send_due

    return send_due()
