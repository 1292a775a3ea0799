"""Uptime of a gateway, computed from its status changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from gateways.choices import REPORTING_STATUSES

UP_STATUSES = frozenset(str(status) for status in REPORTING_STATUSES)


def uptime_ratio(
    changes: Iterable[tuple[datetime, str]], start: datetime, end: datetime
) -> float | None:
    """The share of the window ``[start, end)`` the gateway spent online or degraded.

    ``changes`` are ``(time, new_status)`` pairs in ascending time; they may
    begin before ``start`` (the latest one at or before ``start`` gives the
    status the window opens with) and later ones are ignored.

    The rule: from one change to the next the gateway had the status the first
    one set. Time before the first known change is *unknown* and is left out of
    both the up time and the window, so a gateway enrolled two hours ago that
    has been online since shows 100 %, not 8 %. Only ``online`` and
    ``degraded`` count as up (``pending``, ``offline`` and ``maintenance`` do
    not). Returns ``None`` when no part of the window is known.
    """
    known = up = 0.0
    current: str | None = None
    since = start
    for time, status in changes:
        if time >= end:
            break
        if time > since:
            if current is not None:
                span = (time - since).total_seconds()
                known += span
                if current in UP_STATUSES:
                    up += span
            since = time
        current = status
    if current is not None and end > since:
        span = (end - since).total_seconds()
        known += span
        if current in UP_STATUSES:
            up += span
    if known <= 0:
        return None
    return up / known
