"""Set-based storage of agent event batches.

PostgreSQL: one statement per batch. The batch travels as one array per
column, ``unnest`` turns them into rows, ``ON CONFLICT (uuid, occurred_at) DO
NOTHING`` skips events already stored (a retry, or a retry racing its
original, carries the same id and time) and ``RETURNING`` counts what was
really stored. The conflict target is (uuid, occurred_at), not uuid alone:
the table is partitioned by occurred_at (security.retention) and PostgreSQL
unique constraints on a partitioned table must include the partition key.
No model instances are built, so a 1,000-event batch costs one round trip
and little Python.

Other databases (the embedded SQLite): look the ids up, then ``bulk_create``.
"""

from __future__ import annotations

import json

from django.db import connection
from django.utils import timezone

from security.models import SecurityEvent

# Column name -> the array type its values travel as (PostgreSQL).
_COLUMNS = {
    "uuid": "uuid[]",
    "occurred_at": "timestamptz[]",
    "severity": "text[]",
    "category": "text[]",
    "signature": "text[]",
    "src_ip": "inet[]",
    "src_port": "int[]",
    "dst_ip": "inet[]",
    "dst_port": "int[]",
    "protocol": "text[]",
    "message": "text[]",
    "details": "text[]",  # JSON text, cast per row: jsonb[] literals are costlier
}

_INSERT = (
    "INSERT INTO {table} (gateway_id, received_at, {columns}) "
    "SELECT %s, %s, {values} FROM unnest({arrays}) AS batch({columns}) "
    "ON CONFLICT (uuid, occurred_at) DO NOTHING RETURNING 1"
).format(
    table=SecurityEvent._meta.db_table,
    columns=", ".join(_COLUMNS),
    values=", ".join(f"{name}::jsonb" if name == "details" else name for name in _COLUMNS),
    arrays=", ".join(f"%s::{kind}" for kind in _COLUMNS.values()),
)


def _unique(events) -> list:
    """The first event of each id: an id twice in a batch is stored once."""
    unique = {}
    for event in events:
        unique.setdefault(event.id, event)
    return list(unique.values())


def _ip(value) -> str | None:
    return str(value) if value is not None else None


def store_events(gateway, events) -> tuple[int, int]:
    """Store a validated batch; answer (accepted, duplicates)."""
    unique = _unique(events)
    if not unique:
        return 0, len(events)
    if connection.vendor == "postgresql":
        accepted = _insert_postgresql(gateway.pk, unique)
    else:
        accepted = _insert_portable(gateway.pk, unique)
    if accepted:
        # Incidents: correlated after commit, off the agent's request.
        from security.correlation import schedule

        schedule(gateway.pk, [event.id for event in unique])
    return accepted, len(events) - accepted


def _insert_postgresql(gateway_pk: int, events: list) -> int:
    arrays = [
        [event.id for event in events],
        [event.occurred_at for event in events],
        [event.severity for event in events],
        [event.category for event in events],
        [event.signature for event in events],
        [_ip(event.src_ip) for event in events],
        [event.src_port for event in events],
        [_ip(event.dst_ip) for event in events],
        [event.dst_port for event in events],
        [event.protocol for event in events],
        [event.message for event in events],
        [json.dumps(event.details) for event in events],
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [gateway_pk, timezone.now(), *arrays])
        return len(cursor.fetchall())


def _insert_portable(gateway_pk: int, events: list) -> int:
    existing = set(
        SecurityEvent.objects.filter(uuid__in=[event.id for event in events]).values_list(
            "uuid", flat=True
        )
    )
    rows = [
        SecurityEvent(
            uuid=event.id,
            gateway_id=gateway_pk,
            occurred_at=event.occurred_at,
            severity=event.severity,
            category=event.category,
            signature=event.signature,
            src_ip=_ip(event.src_ip),
            src_port=event.src_port,
            dst_ip=_ip(event.dst_ip),
            dst_port=event.dst_port,
            protocol=event.protocol,
            message=event.message,
            details=event.details,
        )
        for event in events
        if event.id not in existing
    ]
    if rows:
        SecurityEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)
