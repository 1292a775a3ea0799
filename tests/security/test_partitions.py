"""The security events table partitioned by week on PostgreSQL
(security.retention, migration 0007): its keys, partitions made ahead, rows
moved out of the default partition, DETACH + DROP of expired weeks, lock
timeouts, ingest's dedupe across partitions, and the in-place conversion of a
populated table."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.models import AuditRecord
from security import retention
from security.models import SecurityEvent
from security.tasks import enforce_event_retention
from tests.factories import GatewayFactory
from tests.gateways.test_agent_api import enrolled_agent, event
from tests.security.test_events_factories import SecurityEventFactory
from tests.services import require

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL): partitions")


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9


def partition_of(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT tableoid::regclass::text FROM "{retention.TABLE}" WHERE id = %s', [pk]
        )
        return cursor.fetchone()[0]


def weeks() -> list[retention.Partition]:
    with connection.cursor() as cursor:
        return retention.partitions(cursor)


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        return cursor.fetchone()[0]


def constraint_columns(kind: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) "
            "FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype = %s",
            [retention.TABLE, kind],
        )
        return sorted(row[0] for row in cursor.fetchall())


# --- Structure ---------------------------------------------------------------------


def test_events_table_is_partitioned_by_week_with_a_default_partition():
    assert retention.is_partitioned()
    assert exists(retention.DEFAULT_PARTITION)
    found = weeks()
    now = timezone.now()
    # The weeks of the retention period and two ahead, one after the other.
    assert found[0].start <= retention.retention_cutoff(now)
    assert found[-1].end > now + 2 * retention.PARTITION_SPAN
    for earlier, later in zip(found, found[1:], strict=False):
        assert earlier.end == later.start
        assert later.start.weekday() == 0 and later.end - later.start == timedelta(days=7)


def test_keys_include_the_partition_key_and_django_still_sees_id():
    assert constraint_columns("p") == [["id", "occurred_at"]]
    assert constraint_columns("u") == [["uuid", "occurred_at"]]
    assert SecurityEvent._meta.pk.name == "id"
    made = SecurityEventFactory()
    assert SecurityEvent.objects.get(pk=made.pk).uuid == made.uuid
    assert SecurityEvent.objects.get(uuid=made.uuid).pk == made.pk
    assert SecurityEventFactory().pk > made.pk  # ids from the sequence


def test_no_foreign_key_points_at_the_events_table():
    """A foreign key to a partitioned table needs the whole key (id,
    occurred_at): links to events stay on the event's side."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND confrelid = %s::regclass",
            [retention.TABLE],
        )
        assert cursor.fetchall() == []
    for relation in SecurityEvent._meta.related_objects:
        assert relation.many_to_many is False, relation
        assert not relation.one_to_many, f"{relation} points at SecurityEvent"


def test_each_event_lands_in_the_partition_of_its_week():
    now = timezone.now()
    recent = SecurityEventFactory(occurred_at=now)
    month_ago = SecurityEventFactory(occurred_at=now - timedelta(days=30))
    assert partition_of(recent.pk) == retention.partition_name(retention.period_start(now))
    assert partition_of(month_ago.pk) == retention.partition_name(
        retention.period_start(now - timedelta(days=30))
    )
    # Beyond the weeks made ahead: the default partition.
    far = SecurityEventFactory(occurred_at=now + timedelta(days=120))
    assert partition_of(far.pk) == retention.DEFAULT_PARTITION


# --- Partitions made ahead --------------------------------------------------------


def test_the_task_makes_the_weeks_ahead_and_a_second_run_makes_none():
    later = timezone.now() + timedelta(days=40)
    created = retention.ensure_partitions(later)
    assert created, "forty days on, new weeks are needed"
    starts = {p.start for p in weeks()}
    for ahead in range(retention.PARTITIONS_AHEAD + 1):
        assert retention.period_start(later) + ahead * retention.PARTITION_SPAN in starts
    assert retention.ensure_partitions(later) == []


def test_events_waiting_in_the_default_partition_move_into_their_new_week():
    now = timezone.now()
    early = [SecurityEventFactory(occurred_at=now + timedelta(days=50, hours=h)) for h in (1, 30)]
    assert {partition_of(e.pk) for e in early} == {retention.DEFAULT_PARTITION}

    retention.ensure_partitions(now + timedelta(days=50))

    for moved in early:
        week = retention.partition_name(retention.period_start(moved.occurred_at))
        assert partition_of(moved.pk) == week
    assert SecurityEvent.objects.filter(pk__in=[e.pk for e in early]).count() == 2
    # Their search document (a generated column, migration 0008) came along.
    from security.filtersets import text_search

    word = early[0].signature.split()[0]
    found = text_search(SecurityEvent.objects.filter(pk__in=[e.pk for e in early]), word)
    assert early[0].pk in set(found.values_list("pk", flat=True))


# --- Removal: DETACH + DROP -----------------------------------------------------


def test_expired_weeks_are_detached_and_dropped_younger_ones_kept(settings):
    settings.SECURITY_EVENT_RETENTION_DAYS = 30
    now = timezone.now()
    cutoff = retention.retention_cutoff(now)
    old = SecurityEventFactory(occurred_at=now - timedelta(days=60))
    older = SecurityEventFactory(occurred_at=now - timedelta(days=45))
    young = SecurityEventFactory(occurred_at=now - timedelta(days=29))
    today = SecurityEventFactory(occurred_at=now)
    old_week = partition_of(old.pk)
    assert exists(old_week)

    result = enforce_event_retention()

    assert old_week in result["partitions_dropped"]
    assert not exists(old_week)
    remaining = set(SecurityEvent.objects.values_list("pk", flat=True))
    assert old.pk not in remaining and older.pk not in remaining
    assert {young.pk, today.pk} <= remaining
    # Every week left ends after the cutoff: nothing older than a week past it.
    assert all(p.end > cutoff for p in weeks())
    assert SecurityEvent.objects.filter(occurred_at__lt=cutoff - timedelta(days=7)).count() == 0
    record = AuditRecord.objects.filter(action="securityevent.retention").latest("id")
    assert old_week in record.detail["partitions_dropped"]
    # Idempotent: the next run finds nothing to do and records nothing.
    again = enforce_event_retention()
    assert again["partitions_dropped"] == [] and again["deleted"] == 0
    assert AuditRecord.objects.filter(action="securityevent.retention").count() == 1


def test_old_stragglers_in_the_default_partition_are_deleted_in_batches(monkeypatch):
    now = timezone.now()
    gateway = GatewayFactory()
    stale = [
        SecurityEventFactory(gateway=gateway, occurred_at=now - timedelta(days=400 + i))
        for i in range(5)
    ]
    future = SecurityEventFactory(gateway=gateway, occurred_at=now + timedelta(days=300))
    assert {partition_of(e.pk) for e in stale} == {retention.DEFAULT_PARTITION}
    statements = []
    real = retention.delete_in_batches

    def counted(cutoff, table=None, batch=None):
        statements.append(table)
        return real(cutoff, table=table, batch=2)

    monkeypatch.setattr(retention, "delete_in_batches", counted)

    result = retention.enforce_retention(now)

    assert result["deleted"] == 5
    assert statements == [retention.DEFAULT_PARTITION]
    assert not SecurityEvent.objects.filter(pk__in=[e.pk for e in stale]).exists()
    assert SecurityEvent.objects.filter(pk=future.pk).exists()  # not old: kept


@pytest.mark.django_db(transaction=True)
def test_a_busy_table_makes_the_drop_give_up_instead_of_waiting(monkeypatch, settings):
    """A long query holds the table: the DETACH waits at most the lock
    timeout, the run goes on, and the next run drops the week."""
    now = timezone.now()
    old_start = retention.period_start(now - timedelta(days=200))
    with transaction.atomic(), connection.cursor() as cursor:
        name = retention.create_partition(cursor, old_start, old_start + retention.PARTITION_SPAN)
    try:
        monkeypatch.setattr(retention, "LOCK_TIMEOUT", "300ms")
        params = connection.get_connection_params()
        keys = ("dbname", "user", "host", "port")
        with psycopg.connect(**{key: params[key] for key in keys if key in params}) as other:
            # An open transaction that read the table: ACCESS SHARE held.
            other.execute(f'SELECT count(*) FROM "{retention.TABLE}"').fetchall()
            started = timezone.now()
            result = retention.enforce_retention(now)
            assert (timezone.now() - started) < timedelta(seconds=20)
            assert name not in result["partitions_dropped"]
            assert exists(name)
            other.rollback()
        assert name in retention.enforce_retention(now)["partitions_dropped"]
        assert not exists(name)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{name}"')


# --- Ingest after partitioning ----------------------------------------------------


def test_a_retried_batch_across_weeks_is_stored_once():
    agent = enrolled_agent()
    now = timezone.now()
    batch = [
        event(occurred_at=(now - timedelta(days=days)).isoformat())
        for days in (0, 8, 20, -200)  # three weeks and the default partition
    ]
    first = agent.post("events", {"events": batch})
    assert first.status_code == 202 and first.json() == {"accepted": 4, "duplicates": 0}
    again = agent.post("events", {"events": batch})
    assert again.json() == {"accepted": 0, "duplicates": 4}
    # A batch that repeats one event and adds one: only the new one is stored.
    extra = event(occurred_at=now.isoformat())
    mixed = agent.post("events", {"events": [batch[1], extra, extra]})
    assert mixed.json() == {"accepted": 1, "duplicates": 2}
    stored = SecurityEvent.objects.filter(gateway=agent.gateway)
    assert stored.count() == 5
    assert {str(u) for u in stored.values_list("uuid", flat=True)} == {
        *(e["id"] for e in batch),
        extra["id"],
    }
    partitions_used = {partition_of(pk) for pk in stored.values_list("pk", flat=True)}
    assert retention.DEFAULT_PARTITION in partitions_used and len(partitions_used) == 4


# --- Converting a populated table ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_converts_a_populated_table_in_place_and_back():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("security")
    before = [("security", "0006_containment")]
    gateway = GatewayFactory()
    now = timezone.now()
    try:
        executor.migrate(before)
        assert not retention.is_partitioned()
        times = [now - timedelta(days=d) for d in (0, 3, 10, 50, 200)] + [now + timedelta(days=100)]
        with connection.cursor() as cursor:
            for moment in times:
                cursor.execute(
                    f'INSERT INTO "{retention.TABLE}" (uuid, gateway_id, occurred_at, '
                    "received_at, severity, category, signature, protocol, message, details) "
                    "VALUES (%s, %s, %s, now(), 'high', 'intrusion', 'sig', 'tcp', 'm', '{}') "
                    "RETURNING id",
                    [uuid.uuid4(), gateway.pk, moment],
                )
            cursor.execute(f'SELECT id, uuid, occurred_at FROM "{retention.TABLE}" ORDER BY id')
            rows = cursor.fetchall()

        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)

        assert retention.is_partitioned()
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT id, uuid, occurred_at FROM "{retention.TABLE}" ORDER BY id')
            assert cursor.fetchall() == rows
        assert partition_of(rows[0][0]) == retention.partition_name(retention.period_start(now))
        # Older than the retention period, or far ahead: the default partition.
        assert partition_of(rows[4][0]) == retention.DEFAULT_PARTITION
        assert partition_of(rows[5][0]) == retention.DEFAULT_PARTITION
        # Ids go on after the largest, indexes and keys are back.
        assert SecurityEventFactory(gateway=gateway).pk > rows[-1][0]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s", [retention.TABLE]
            )
            indexes = {name for (name,) in cursor.fetchall()}
        assert {index.name for index in SecurityEvent._meta.indexes} <= indexes
        assert "secevent_search_idx" in indexes  # migration 0008, after 0007
        assert constraint_columns("f") == [["acknowledged_by_id"], ["gateway_id"], ["incident_id"]]
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
