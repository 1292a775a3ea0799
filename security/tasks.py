"""Background work of the security app."""

from __future__ import annotations

from celery import shared_task

from security.models import SessionPolicy, UserSession
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
