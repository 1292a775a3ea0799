"""Security events retention (security.retention, the beat task
security.tasks.enforce_event_retention): only events past
SECURITY_EVENT_RETENTION_DAYS go, on PostgreSQL (whole weeks; see
test_partitions.py for the partition mechanics) and on the embedded SQLite
database (batched DELETE, run in a process of its own against a real SQLite
file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from security import retention
from security.models import SecurityEvent
from security.tasks import enforce_event_retention
from tests.factories import GatewayFactory
from tests.security.test_events_factories import SecurityEventFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_default_is_ninety_days():
    assert django_settings.SECURITY_EVENT_RETENTION_DAYS == 90 or os.environ.get(
        "SECURITY_EVENT_RETENTION_DAYS"
    )


def test_the_task_is_scheduled():
    entry = django_settings.CELERY_BEAT_SCHEDULE["security.enforce_event_retention"]
    assert entry["task"] == "security.tasks.enforce_event_retention"
    assert entry["schedule"] <= 3600


def test_retention_removes_only_events_past_the_period(settings):
    """PostgreSQL removes whole weeks: everything a week older than the
    cutoff is gone, everything younger than the cutoff stays."""
    settings.SECURITY_EVENT_RETENTION_DAYS = 20
    now = timezone.now()
    gateway = GatewayFactory()
    ages = (0, 1, 10, 19, 28, 35, 60, 85)
    events = {
        age: SecurityEventFactory(gateway=gateway, occurred_at=now - timedelta(days=age))
        for age in ages
    }

    enforce_event_retention()

    kept = set(SecurityEvent.objects.values_list("pk", flat=True))
    for age in (0, 1, 10, 19):
        assert events[age].pk in kept, f"{age} days old: younger than 20, kept"
    for age in (28, 35, 60, 85):
        assert events[age].pk not in kept, f"{age} days old: past 20 days and a week, removed"


def test_batched_delete_removes_only_old_rows_a_batch_at_a_time():
    """The portable path (SQLite; any table that is not partitioned): DELETE
    by id, ``batch`` rows per statement, each its own transaction."""
    now = timezone.now()
    cutoff = now - timedelta(days=30)
    gateway = GatewayFactory()
    old = [
        SecurityEventFactory(gateway=gateway, occurred_at=cutoff - timedelta(hours=h))
        for h in range(1, 6)
    ]
    young = [
        SecurityEventFactory(gateway=gateway, occurred_at=cutoff + timedelta(hours=h))
        for h in range(1, 3)
    ]
    with CaptureQueriesContext(connection) as queries:
        removed = retention.delete_in_batches(cutoff, batch=2)
    assert removed == 5
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 2 + 2 + 1
    assert not SecurityEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert SecurityEvent.objects.filter(pk__in=[e.pk for e in young]).count() == 2
    assert retention.delete_in_batches(cutoff, batch=2) == 0


SQLITE_SCRIPT = """
import json
from datetime import timedelta
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from gateways.models import Gateway, Region
from security import retention
from security.models import SecurityEvent
from security.tasks import enforce_event_retention
import uuid

region = Region.objects.create(name="R", slug="r")
gateway = Gateway.objects.create(name="gw", region=region, public_address="10.0.0.1")
now = timezone.now()
ids = {}
for age in (0, 10, 89, 91, 120, 400):
    for n in range(3):
        event = SecurityEvent.objects.create(
            uuid=uuid.uuid4(), gateway=gateway, occurred_at=now - timedelta(days=age, minutes=n),
            severity="high", category="intrusion",
        )
        ids.setdefault(age, []).append(event.pk)
retention.BATCH = 4
with CaptureQueriesContext(connection) as queries:
    result = enforce_event_retention()
kept = set(SecurityEvent.objects.values_list("pk", flat=True))
with connection.cursor() as cursor:
    cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'security_securityevent'")
    table_sql = cursor.fetchone()[0]
print(json.dumps({
    "vendor": connection.vendor,
    "partitioned": retention.is_partitioned(),
    "deleted": result["deleted"],
    "deletes": sum(1 for q in queries.captured_queries if q["sql"].startswith("DELETE")),
    "kept": {str(age): [pk in kept for pk in pks] for age, pks in ids.items()},
    "uuid_unique": '"uuid" char(32) NOT NULL UNIQUE' in table_sql,
}))
"""


def test_sqlite_migration_is_a_no_op_and_retention_deletes_in_batches(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/console.sqlite3",
        "TESTING": "1",
        "HTTPS": "0",
        "SECURITY_EVENT_RETENTION_DAYS": "90",
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    migrated = subprocess.run(
        [*manage, "migrate", "--noinput"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    ran = subprocess.run(
        [*manage, "shell", "-c", SQLITE_SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert report["vendor"] == "sqlite" and report["partitioned"] is False
    assert report["uuid_unique"], "SQLite's table is as before: uuid unique on its own"
    assert report["kept"] == {
        "0": [True] * 3,
        "10": [True] * 3,
        "89": [True] * 3,
        "91": [False] * 3,
        "120": [False] * 3,
        "400": [False] * 3,
    }
    assert report["deleted"] == 9
    assert report["deletes"] == 3  # 4 + 4 + 1
