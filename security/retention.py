"""Security events retention: keep SECURITY_EVENT_RETENTION_DAYS, remove the rest.

PostgreSQL: the events table is partitioned by ``occurred_at`` (migration
0004_partition_security_events; docs/decisions.md "Security events retention").
One partition per week (Monday 00:00 UTC to the next), named
``security_securityevent_pYYYYMMDD`` after its Monday, plus a DEFAULT partition
that catches what no week partition covers (an agent whose clock is wildly
off, a week the beat task has not prepared yet). The beat task
(``security.tasks.enforce_event_retention``):

- creates the week partitions from the retention cutoff's week to
  PARTITIONS_AHEAD weeks ahead (empty tables, attached under a short lock;
  rows that already sit in the default partition for that week are moved into
  it first);
- removes a week once all of it is past the cutoff: DETACH + DROP, a catalog
  change however many rows the week holds — no row-by-row DELETE, no bloat,
  no long lock. So an event is kept at least SECURITY_EVENT_RETENTION_DAYS
  and at most a week longer;
- deletes, in small batches, the default partition's rows older than the
  cutoff (there should be few).

Other databases (the embedded SQLite) and a PostgreSQL table that is not
partitioned: batched ``DELETE`` by id, BATCH rows at a time, each its own
short transaction.

Every DDL statement runs with a lock_timeout: when a long query holds the
table, the statement gives up instead of queueing everyone behind it, and
the next run tries again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

TABLE = "security_securityevent"
DEFAULT_PARTITION = f"{TABLE}_default"
PARTITION_PREFIX = f"{TABLE}_p"
# One partition per week. Daily partitions would make retention exact to the
# day, but 90 days would be ~100 partitions and PostgreSQL plans a query over
# every partition it cannot prune at plan time (every events-list query: its
# time bounds are parameters or now()): with ~100 partitions of 11 indexes the
# planning alone took longer than the whole page's SQL (docs/decisions.md).
PARTITION_SPAN = timedelta(days=7)
# Week partitions made ahead of time, so that events never land in the default
# partition because beat runs were missed.
PARTITIONS_AHEAD = 2
# Rows per DELETE where rows are deleted (SQLite; the default partition).
BATCH = 5000
# How long a DDL statement waits for the table before it gives up.
LOCK_TIMEOUT = "3s"
# (uuid, occurred_at): ingest's ON CONFLICT target (security.ingest).
UUID_CONSTRAINT = "secevent_uuid_time_uniq"

_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Events older than this are removed."""
    now = now or timezone.now()
    return now - timedelta(days=settings.SECURITY_EVENT_RETENTION_DAYS)


def period_start(moment: datetime) -> datetime:
    """The Monday 00:00 UTC at or before ``moment``: its partition's lower bound."""
    day = moment.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), time.min, tzinfo=UTC)


def partition_name(start: datetime) -> str:
    return f"{PARTITION_PREFIX}{start:%Y%m%d}"


def is_partitioned(using_connection=None) -> bool:
    """Whether the events table is a partitioned table (PostgreSQL after
    migration 0004)."""
    conn = using_connection or connection
    if conn.vendor != "postgresql":
        return False
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)",
            [TABLE],
        )
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def _parse_bound(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def partitions(cursor) -> list[Partition]:
    """The range partitions of the events table, oldest first (not the default)."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        [TABLE],
    )
    found = []
    for name, bound in cursor.fetchall():
        match = _BOUND.search(bound or "")
        if match:  # the DEFAULT partition has no range
            found.append(Partition(name, _parse_bound(match[1]), _parse_bound(match[2])))
    return sorted(found, key=lambda p: p.start)


def _lock_timeout(cursor) -> None:
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _lock_not_available(error: OperationalError) -> bool:
    """The statement gave up waiting for a lock (SQLSTATE 55P03)."""
    return getattr(error.__cause__, "sqlstate", None) == "55P03"


def stored_columns(cursor) -> list[str]:
    """The events table's columns that hold values (not generated ones)."""
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
        [TABLE],
    )
    return [column for (column,) in cursor.fetchall()]


def create_partition(cursor, start: datetime, end: datetime) -> str:
    """Make the partition [start, end) and attach it; called in a transaction.

    The table is made outside the partitioned one and attached: ATTACH needs
    only a SHARE UPDATE EXCLUSIVE lock on the events table (inserts and reads
    go on), where CREATE TABLE … PARTITION OF would take an exclusive one. Its
    CHECK constraint spares ATTACH a scan of the new table. Rows the default
    partition holds for the range move in first: ATTACH refuses to leave them
    there."""
    name = partition_name(start)
    bounds = [start, end]
    _lock_timeout(cursor)
    cursor.execute(
        f'CREATE TABLE "{name}" (LIKE "{TABLE}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
        "INCLUDING STORAGE INCLUDING GENERATED)"
    )
    cursor.execute(
        f'ALTER TABLE "{name}" ADD CONSTRAINT "{name}_range" '
        "CHECK (occurred_at IS NOT NULL AND occurred_at >= %s AND occurred_at < %s)",
        bounds,
    )
    # Generated columns (the search document) are computed again, not copied.
    columns = ", ".join(f'"{column}"' for column in stored_columns(cursor))
    cursor.execute(
        f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" '
        "WHERE occurred_at >= %s AND occurred_at < %s RETURNING *) "
        f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM moved',
        bounds,
    )
    if cursor.rowcount:
        logger.info("moved %d events from the default partition into %s", cursor.rowcount, name)
    cursor.execute(
        f'ALTER TABLE "{TABLE}" ATTACH PARTITION "{name}" FOR VALUES FROM (%s) TO (%s)',
        bounds,
    )
    cursor.execute(f'ALTER TABLE "{name}" DROP CONSTRAINT "{name}_range"')
    return name


def ensure_partitions(now: datetime | None = None, ahead: int = PARTITIONS_AHEAD) -> list[str]:
    """Week partitions from the retention cutoff's week to ``ahead`` weeks
    after this one, each made once (a partition that exists is left alone). Answers
    the names created."""
    now = now or timezone.now()
    first = period_start(retention_cutoff(now))
    last = period_start(now) + ahead * PARTITION_SPAN
    created = []
    with connection.cursor() as cursor:
        existing = {p.start for p in partitions(cursor)}
    start = first
    while start <= last:
        if start not in existing:
            # One transaction per partition: a lock timeout loses one week's
            # partition until the next run, not the others.
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    created.append(create_partition(cursor, start, start + PARTITION_SPAN))
            except OperationalError as error:
                if not _lock_not_available(error):
                    raise
                logger.warning("events partition %s: table busy, next run", partition_name(start))
        start += PARTITION_SPAN
    return created


def drop_expired_partitions(now: datetime | None = None) -> list[str]:
    """DETACH and DROP every partition entirely older than the cutoff."""
    cutoff = retention_cutoff(now)
    dropped = []
    with connection.cursor() as cursor:
        expired = [p for p in partitions(cursor) if p.end <= cutoff]
    for partition in expired:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                _lock_timeout(cursor)
                # Not CONCURRENTLY: PostgreSQL refuses it while a default
                # partition exists. Plain DETACH is a catalog change, held for
                # milliseconds, bounded by the lock timeout when it must wait.
                # Foreign key checks still pending for rows written earlier
                # in the same transaction (a caller's atomic block) would
                # block the DROP: run them now, then defer again as usual.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{partition.name}"')
                cursor.execute(f'DROP TABLE "{partition.name}"')
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        except OperationalError as error:
            if not _lock_not_available(error):
                raise
            logger.warning("events partition %s: table busy, next run", partition.name)
            continue
        dropped.append(partition.name)
    return dropped


def delete_in_batches(cutoff: datetime, table: str | None = None, batch: int | None = None) -> int:
    """DELETE the rows older than ``cutoff``, ``batch`` ids at a time, each
    batch its own transaction: no long lock, no huge transaction. ``table``:
    one partition (PostgreSQL's default partition), else the events table
    through the ORM (any database)."""
    from security.models import SecurityEvent

    batch = batch or BATCH
    removed = 0
    while True:
        with transaction.atomic():
            if table is None:
                ids = list(
                    SecurityEvent.objects.filter(occurred_at__lt=cutoff)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:batch]
                )
                if ids:
                    # No model instances, no signals: events are not audited
                    # one by one (audit/registry.py ignores them) and nothing
                    # cascades from them.
                    SecurityEvent.objects.filter(pk__in=ids)._raw_delete(SecurityEvent.objects.db)
                count = len(ids)
            else:
                with connection.cursor() as cursor:
                    cursor.execute(
                        f'DELETE FROM "{table}" WHERE id IN (SELECT id FROM "{table}" '
                        "WHERE occurred_at < %s LIMIT %s)",
                        [cutoff, batch],
                    )
                    count = cursor.rowcount
        removed += count
        if count < batch:
            return removed


def enforce_retention(now: datetime | None = None) -> dict:
    """One run of the retention task: what it created, dropped and deleted."""
    now = now or timezone.now()
    cutoff = retention_cutoff(now)
    if not is_partitioned():
        return {"cutoff": cutoff.isoformat(), "deleted": delete_in_batches(cutoff)}
    created = ensure_partitions(now)
    dropped = drop_expired_partitions(now)
    deleted = delete_in_batches(cutoff, table=DEFAULT_PARTITION)
    return {
        "cutoff": cutoff.isoformat(),
        "partitions_created": created,
        "partitions_dropped": dropped,
        "deleted": deleted,
    }
