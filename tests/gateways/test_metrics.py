"""Gateway metrics over time: raw samples rolled up into 5-minute and hourly
min/avg/max (gateways.tasks.rollup_window, rollup_metrics), pruned past their
retention (prune_metrics), and the status history kept by mark_offline_gateways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from gateways.models import Gateway, GatewayStatusChange, MetricRollup, MetricSample
from gateways.tasks import (
    mark_offline_gateways,
    prune_metrics,
    rollup_metrics,
    rollup_window,
    window_start,
)
from tests.factories import GatewayFactory
from tests.gateways.test_agent_api import enrolled_agent, heartbeat_body

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a whole hour
FIVE = MetricRollup.Period.FIVE_MINUTES
HOUR = MetricRollup.Period.HOUR


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    """The throttle counts per gateway pk in the shared Redis for a minute, and
    pks repeat between tests and runs: only the throttling tests may count."""
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9


ROLLUP_VALUES = [
    "samples",
    *(
        f"{short}_{kind}"
        for short in ("cpu", "mem", "rx", "tx", "sessions")
        for kind in ("min", "avg", "max")
    ),
]


def sample(gateway: Gateway, at: datetime, cpu: float, mem: float, rx: int, tx: int, sessions: int):
    return MetricSample.objects.create(
        gateway=gateway,
        time=at,
        cpu_pct=cpu,
        mem_pct=mem,
        rx_bps=rx,
        tx_bps=tx,
        sessions=sessions,
    )


def rollup_of(gateway: Gateway, period: str, bucket: datetime) -> dict:
    return (
        MetricRollup.objects.filter(gateway=gateway, period=period, bucket=bucket)
        .values(*ROLLUP_VALUES)
        .get()
    )


def all_rollups() -> list[tuple]:
    return sorted(
        MetricRollup.objects.values_list("gateway_id", "period", "bucket", *ROLLUP_VALUES)
    )


@pytest.fixture
def two_gateways():
    return GatewayFactory(), GatewayFactory()


# --- One window -------------------------------------------------------------------------


class TestRollupWindow:
    def test_five_minutes_per_gateway(self, two_gateways):
        a, b = two_gateways
        sample(a, T0, 10.0, 40.0, 1_000, 4_000, 100)
        sample(a, T0 + timedelta(minutes=2), 20.0, 50.0, 2_000, 5_000, 200)
        sample(a, T0 + timedelta(minutes=4, seconds=59), 36.0, 60.0, 6_000, 9_000, 300)
        sample(b, T0 + timedelta(minutes=1), 90.5, 10.0, 7, 8, 5)

        assert rollup_window(FIVE, T0) == 2

        assert rollup_of(a, FIVE, T0) == {
            "samples": 3,
            "cpu_min": 10.0, "cpu_avg": 22.0, "cpu_max": 36.0,
            "mem_min": 40.0, "mem_avg": 50.0, "mem_max": 60.0,
            "rx_min": 1_000, "rx_avg": 3_000.0, "rx_max": 6_000,
            "tx_min": 4_000, "tx_avg": 6_000.0, "tx_max": 9_000,
            "sessions_min": 100, "sessions_avg": 200.0, "sessions_max": 300,
        }  # fmt: skip
        assert rollup_of(b, FIVE, T0) == {
            "samples": 1,
            "cpu_min": 90.5, "cpu_avg": 90.5, "cpu_max": 90.5,
            "mem_min": 10.0, "mem_avg": 10.0, "mem_max": 10.0,
            "rx_min": 7, "rx_avg": 7.0, "rx_max": 7,
            "tx_min": 8, "tx_avg": 8.0, "tx_max": 8,
            "sessions_min": 5, "sessions_avg": 5.0, "sessions_max": 5,
        }  # fmt: skip

    def test_an_hour(self, two_gateways):
        a, _ = two_gateways
        for minute, cpu in [(0, 1.0), (15, 2.0), (30, 3.0), (59, 6.0)]:
            sample(a, T0 + timedelta(minutes=minute), cpu, cpu * 10, minute, 2 * minute, minute)

        assert rollup_window(HOUR, T0) == 1

        row = rollup_of(a, HOUR, T0)
        assert row["samples"] == 4
        assert (row["cpu_min"], row["cpu_avg"], row["cpu_max"]) == (1.0, 3.0, 6.0)
        assert (row["mem_min"], row["mem_avg"], row["mem_max"]) == (10.0, 30.0, 60.0)
        assert (row["rx_min"], row["rx_avg"], row["rx_max"]) == (0, 26.0, 59)
        assert (row["tx_min"], row["tx_avg"], row["tx_max"]) == (0, 52.0, 118)
        assert (row["sessions_min"], row["sessions_avg"], row["sessions_max"]) == (0, 26.0, 59)

    def test_samples_outside_the_window_are_not_counted(self, two_gateways):
        a, _ = two_gateways
        sample(a, T0 - timedelta(microseconds=1), 99.0, 99.0, 99, 99, 99)
        sample(a, T0, 10.0, 10.0, 10, 10, 10)
        sample(a, T0 + timedelta(minutes=5) - timedelta(microseconds=1), 20.0, 20.0, 20, 20, 20)
        sample(a, T0 + timedelta(minutes=5), 99.0, 99.0, 99, 99, 99)

        rollup_window(FIVE, T0)

        row = rollup_of(a, FIVE, T0)
        assert row["samples"] == 2
        assert (row["cpu_min"], row["cpu_avg"], row["cpu_max"]) == (10.0, 15.0, 20.0)
        assert (row["rx_min"], row["rx_max"]) == (10, 20)

    def test_an_empty_window_writes_nothing(self, two_gateways):
        a, _ = two_gateways
        sample(a, T0 + timedelta(minutes=5), 1.0, 1.0, 1, 1, 1)

        assert rollup_window(FIVE, T0) == 0

        assert not MetricRollup.objects.exists()

    def test_a_gateway_without_samples_gets_no_row(self, two_gateways):
        a, b = two_gateways
        sample(a, T0, 1.0, 1.0, 1, 1, 1)

        rollup_window(FIVE, T0)

        assert list(MetricRollup.objects.values_list("gateway_id", flat=True)) == [a.pk]

    def test_recomputing_a_window_replaces_its_row(self, two_gateways):
        a, _ = two_gateways
        sample(a, T0, 10.0, 10.0, 10, 10, 10)
        rollup_window(FIVE, T0)

        sample(a, T0 + timedelta(minutes=1), 30.0, 30.0, 30, 30, 30)  # arrived late
        rollup_window(FIVE, T0)

        assert MetricRollup.objects.count() == 1
        row = rollup_of(a, FIVE, T0)
        assert (row["samples"], row["cpu_avg"], row["rx_max"]) == (2, 20.0, 30)

    def test_large_counters_are_kept_exactly(self, two_gateways):
        a, _ = two_gateways
        big = 2**62
        sample(a, T0, 1.0, 1.0, big, big + 1, 2**31 - 1)
        sample(a, T0 + timedelta(minutes=1), 1.0, 1.0, big + 2, big + 3, 2**31 - 1)

        rollup_window(FIVE, T0)

        row = rollup_of(a, FIVE, T0)
        assert (row["rx_min"], row["rx_max"]) == (big, big + 2)
        assert (row["tx_min"], row["tx_max"]) == (big + 1, big + 3)
        assert row["sessions_max"] == 2**31 - 1


@pytest.mark.parametrize(
    ("moment", "size", "start"),
    [
        (T0 + timedelta(minutes=7, seconds=30), timedelta(minutes=5), T0 + timedelta(minutes=5)),
        (T0 + timedelta(minutes=5), timedelta(minutes=5), T0 + timedelta(minutes=5)),
        (T0 + timedelta(minutes=4, seconds=59), timedelta(minutes=5), T0),
        (T0 + timedelta(minutes=59), timedelta(hours=1), T0),
        (T0 - timedelta(microseconds=1), timedelta(hours=1), T0 - timedelta(hours=1)),
        (T0 + timedelta(hours=13, minutes=58), timedelta(hours=1), T0 + timedelta(hours=13)),
    ],
)
def test_window_start(moment, size, start):
    assert window_start(moment, size) == start


# --- The periodic task -------------------------------------------------------------------

NOW = T0 + timedelta(minutes=7, seconds=30)  # 10:07:30


@pytest.fixture
def samples_around_now(two_gateways):
    a, b = two_gateways
    times = {
        "06:59": T0 - timedelta(hours=3, minutes=1),  # before the hours looked back on
        "07:30": T0 - timedelta(hours=2, minutes=30),
        "09:30": T0 - timedelta(minutes=30),  # before the 5-minute windows looked back on
        "09:36": T0 - timedelta(minutes=24),
        "09:59": T0 - timedelta(minutes=1),
        "10:01": T0 + timedelta(minutes=1),
        "10:06": T0 + timedelta(minutes=6),  # the current, open window
    }
    for name, at in times.items():
        value = float(at.minute)
        sample(a, at, value, value, at.minute, at.minute, at.minute)
        if name in ("09:36", "10:01"):
            sample(b, at, 50.0, 50.0, 5, 5, 5)
    return a, b


def test_rollup_metrics_rolls_up_the_closed_windows(samples_around_now):
    a, b = samples_around_now

    written = rollup_metrics(now=NOW)

    five = dict(
        MetricRollup.objects.filter(gateway=a, period=FIVE).values_list("bucket", "samples")
    )
    # 6 closed 5-minute windows: 09:35 to 10:00; 09:30 is too old, 10:05 still open.
    assert five == {
        T0 - timedelta(minutes=25): 1,  # 09:36
        T0 - timedelta(minutes=5): 1,  # 09:59
        T0: 1,  # 10:01
    }
    hours = dict(
        MetricRollup.objects.filter(gateway=a, period=HOUR).values_list("bucket", "samples")
    )
    # 3 closed hours: 07:00 to 09:00; 06:59 is too old, 10:00 is still open.
    assert hours == {T0 - timedelta(hours=3): 1, T0 - timedelta(hours=1): 3}
    assert MetricRollup.objects.filter(gateway=b).count() == 3  # 09:35, 10:00, hour 09
    assert written == MetricRollup.objects.count() == 8


def test_rollup_metrics_is_idempotent(samples_around_now):
    first = rollup_metrics(now=NOW)
    rows = all_rollups()

    second = rollup_metrics(now=NOW)

    assert second == first
    assert all_rollups() == rows
    assert MetricRollup.objects.count() == len(rows)


def test_a_later_run_catches_up_on_a_late_sample(samples_around_now):
    a, _ = samples_around_now
    rollup_metrics(now=NOW)
    count = MetricRollup.objects.count()

    sample(a, T0 + timedelta(minutes=2), 40.0, 40.0, 40, 40, 40)
    rollup_metrics(now=NOW + timedelta(minutes=5))

    row = rollup_of(a, FIVE, T0)
    assert (row["samples"], row["cpu_min"], row["cpu_max"]) == (2, 1.0, 40.0)
    # The 10:05 window closed meanwhile and gets its row; nothing is duplicated.
    assert MetricRollup.objects.count() == count + 1
    assert MetricRollup.objects.filter(gateway=a, period=FIVE, bucket=T0).count() == 1


def test_heartbeats_through_the_api_are_rolled_up():
    agent = enrolled_agent()
    for cpu in (10.0, 30.0):
        body = heartbeat_body()
        body["metrics"]["cpu_pct"] = cpu
        assert agent.post("heartbeat", body).status_code == 200
    now = timezone.now()

    rollup_metrics(now=now + timedelta(minutes=5))  # their 5-minute window has closed
    rollup_metrics(now=now + timedelta(hours=1))  # and their hour

    for period in (FIVE, HOUR):
        # Two heartbeats may straddle a window boundary: add the windows up.
        rows = MetricRollup.objects.filter(gateway=agent.gateway, period=period)
        assert sum(row.samples for row in rows) == 2
        assert min(row.cpu_min for row in rows) == 10.0
        assert max(row.cpu_max for row in rows) == 30.0


def test_rollup_metrics_runs_as_a_celery_task():
    assert rollup_metrics.apply().get() == 0


# --- Pruning ------------------------------------------------------------------------------


def rollup(gateway: Gateway, bucket: datetime, period: str = HOUR) -> MetricRollup:
    values = dict.fromkeys(ROLLUP_VALUES, 1)
    return MetricRollup.objects.create(gateway=gateway, period=period, bucket=bucket, **values)


def test_prune_drops_only_what_is_past_its_retention(two_gateways, settings):
    settings.METRICS_RAW_RETENTION_HOURS = 48
    settings.METRICS_ROLLUP_RETENTION_DAYS = 90
    a, _ = two_gateways
    now = timezone.now()
    old_sample = sample(a, now - timedelta(hours=48, minutes=1), 1, 1, 1, 1, 1)
    kept_sample = sample(a, now - timedelta(hours=47, minutes=59), 1, 1, 1, 1, 1)
    new_sample = sample(a, now, 1, 1, 1, 1, 1)
    old_rollup = rollup(a, now - timedelta(days=90, minutes=1))
    old_five = rollup(a, now - timedelta(days=91), FIVE)
    kept_rollup = rollup(a, now - timedelta(days=89, hours=23))

    assert prune_metrics() == {"samples": 1, "rollups": 2}

    assert set(MetricSample.objects.values_list("pk", flat=True)) == {
        kept_sample.pk,
        new_sample.pk,
    }
    assert not MetricSample.objects.filter(pk=old_sample.pk).exists()
    assert list(MetricRollup.objects.values_list("pk", flat=True)) == [kept_rollup.pk]
    assert not MetricRollup.objects.filter(pk__in=[old_rollup.pk, old_five.pk]).exists()


def test_prune_reads_the_retention_settings(two_gateways, settings):
    settings.METRICS_RAW_RETENTION_HOURS = 2
    settings.METRICS_ROLLUP_RETENTION_DAYS = 1
    a, _ = two_gateways
    now = timezone.now()
    sample(a, now - timedelta(hours=3), 1, 1, 1, 1, 1)
    kept = sample(a, now - timedelta(hours=1), 1, 1, 1, 1, 1)
    rollup(a, now - timedelta(days=2))
    kept_rollup = rollup(a, now - timedelta(hours=12))

    assert prune_metrics() == {"samples": 1, "rollups": 1}

    assert list(MetricSample.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(MetricRollup.objects.values_list("pk", flat=True)) == [kept_rollup.pk]


def test_prune_with_nothing_old_deletes_nothing(two_gateways):
    a, _ = two_gateways
    sample(a, timezone.now(), 1, 1, 1, 1, 1)

    assert prune_metrics() == {"samples": 0, "rollups": 0}
    assert MetricSample.objects.count() == 1


# --- Status history -------------------------------------------------------------------------


@pytest.fixture
def heartbeat_every_ten_seconds(settings):
    settings.GATEWAY_HEARTBEAT_INTERVAL = 10
    settings.GATEWAY_OFFLINE_AFTER_MISSED = 3


def seen(seconds_ago: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds_ago)


@pytest.mark.usefixtures("heartbeat_every_ten_seconds")
def test_mark_offline_records_a_status_change_for_each_gateway_marked():
    silent_online = GatewayFactory(status="online", last_seen=seen(31))
    silent_degraded = GatewayFactory(status="degraded", last_seen=seen(120))
    never_seen = GatewayFactory(status="online", last_seen=None)
    fresh = GatewayFactory(status="online", last_seen=seen(5))
    maintenance = GatewayFactory(status="maintenance", last_seen=seen(3600))
    pending = GatewayFactory(status="pending", last_seen=None)
    before = timezone.now()

    assert mark_offline_gateways() == 3

    changes = {change.gateway_id: change for change in GatewayStatusChange.objects.all()}
    assert set(changes) == {silent_online.pk, silent_degraded.pk, never_seen.pk}
    assert (changes[silent_online.pk].old_status, changes[silent_online.pk].new_status) == (
        "online",
        "offline",
    )
    assert changes[silent_degraded.pk].old_status == "degraded"
    for change in changes.values():
        assert change.new_status == "offline"
        assert before <= change.time <= timezone.now()
        assert "3 intervals" in change.reason
    for untouched, status in [
        (fresh, "online"),
        (maintenance, "maintenance"),
        (pending, "pending"),
    ]:
        untouched.refresh_from_db()
        assert untouched.status == status


@pytest.mark.usefixtures("heartbeat_every_ten_seconds")
def test_mark_offline_twice_records_each_change_once():
    GatewayFactory(status="online", last_seen=seen(60))

    mark_offline_gateways()
    assert mark_offline_gateways() == 0

    assert GatewayStatusChange.objects.count() == 1


@pytest.mark.usefixtures("heartbeat_every_ten_seconds")
def test_a_gateway_that_comes_back_has_its_whole_history():
    agent = enrolled_agent()
    agent.post("heartbeat", heartbeat_body())
    Gateway.objects.filter(pk=agent.gateway.pk).update(last_seen=seen(60))
    mark_offline_gateways()

    agent.post("heartbeat", heartbeat_body(status="degraded"))

    history = GatewayStatusChange.objects.filter(gateway=agent.gateway).order_by("time", "pk")
    assert list(history.values_list("old_status", "new_status")) == [
        ("pending", "online"),
        ("online", "offline"),
        ("offline", "degraded"),
    ]
    assert agent.refresh().status == "degraded"
