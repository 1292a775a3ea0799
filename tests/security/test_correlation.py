"""Correlation of arriving events into incidents (security.correlation)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from security.correlation import correlate_batch
from security.ingest import store_events
from security.models import (
    CorrelationRule,
    GatewayEventRate,
    Incident,
    IncidentActivity,
    SecurityEvent,
)
from tests.factories import GatewayFactory, RegionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet():
    north, south = RegionFactory(name="North"), RegionFactory(name="South")
    return [GatewayFactory(region=north if i < 3 else south) for i in range(6)]


@pytest.fixture(autouse=True)
def inline(settings):
    settings.SECURITY_CORRELATE_INLINE = True


def event(at, *, src="203.0.113.50", category="port_scan", severity="low", **extra):
    return SimpleNamespace(
        id=uuid.uuid4(),
        occurred_at=at,
        severity=severity,
        category=category,
        signature=extra.get("signature", "ET SCAN Nmap SYN scan"),
        src_ip=src,
        src_port=extra.get("src_port", 40000),
        dst_ip=extra.get("dst_ip", "10.1.2.3"),
        dst_port=extra.get("dst_port", 22),
        protocol="tcp",
        message=extra.get("message", "probe"),
        details={},
    )


def feed(gateway, events, django_capture_on_commit_callbacks):
    """Store a batch the way the agent API does and run what it schedules
    after commit (correlation, inline in tests)."""
    with django_capture_on_commit_callbacks(execute=True):
        return store_events(gateway, events)


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def _send(gateway, events):
        return feed(gateway, events, django_capture_on_commit_callbacks)

    return _send


def scan(at, src="203.0.113.50", ports=4, severity="low"):
    return [
        event(at + timedelta(seconds=n), src=src, dst_port=20 + n, severity=severity)
        for n in range(ports)
    ]


def noise(rng, at, count, span=timedelta(minutes=10)):
    """The fleet's everyday background, like the simulator's: random sources
    of three /24s, every category, spread over ``span``."""
    categories = ["port_scan"] * 35 + ["auth_failure"] * 20 + ["policy_violation"] * 20
    categories += ["anomaly"] * 15 + ["intrusion"] * 6 + ["malware"] * 4
    nets = ("203.0.113", "198.51.100", "192.0.2")
    out = []
    for _n in range(count):
        out.append(
            event(
                at + span * rng.random(),
                src=f"{rng.choice(nets)}.{rng.randint(1, 254)}",
                category=rng.choice(categories),
                severity=rng.choice(["info", "low", "medium", "high"]),
            )
        )
    return out


# --- Distributed scan ------------------------------------------------------------------


def test_a_source_across_gateways_opens_one_incident(fleet, send):
    at = timezone.now() - timedelta(minutes=1)
    for gateway in fleet[:3]:
        send(gateway, scan(at))
    incident = Incident.objects.get()
    assert incident.rule.kind == "distributed_scan"
    assert incident.src_ip == "203.0.113.50"
    assert incident.event_count == 12
    assert set(incident.gateways.all()) == set(fleet[:3])
    assert incident.title == "Distributed scan from 203.0.113.50 across 3 gateways"
    # The highest of its events (low) raised by the rule (high).
    assert incident.severity == "high"
    assert incident.status == "open"
    assert SecurityEvent.objects.filter(incident=incident).count() == 12
    assert incident.first_seen == at
    assert incident.last_seen == at + timedelta(seconds=3)
    created = IncidentActivity.objects.get(incident=incident)
    assert created.kind == "created"
    assert "Distributed scan" in created.text


def test_two_gateways_or_too_few_events_do_not_fire(fleet, send):
    at = timezone.now() - timedelta(minutes=1)
    for gateway in fleet[:2]:
        send(gateway, scan(at, ports=6))
    # Three gateways but one probe each: a source seen by chance, not a scan.
    for gateway in fleet[3:6]:
        send(gateway, scan(at, src="198.51.100.9", ports=1))
    assert not Incident.objects.exists()
    assert not SecurityEvent.objects.filter(incident__isnull=False).exists()


def test_a_source_spread_beyond_the_window_does_not_fire(fleet, send):
    at = timezone.now() - timedelta(hours=1)
    for n, gateway in enumerate(fleet[:3]):
        send(gateway, scan(at + timedelta(minutes=10 * n)))
    assert not Incident.objects.exists()


def test_later_events_of_the_source_extend_the_open_incident(fleet, send):
    at = timezone.now() - timedelta(minutes=5)
    for gateway in fleet[:3]:
        send(gateway, scan(at))
    incident = Incident.objects.get()
    send(fleet[4], scan(at + timedelta(minutes=3)))
    send(fleet[0], scan(at + timedelta(minutes=4), ports=2))
    incident.refresh_from_db()
    assert Incident.objects.count() == 1
    assert incident.event_count == 18
    assert incident.gateways.count() == 4
    assert incident.title == "Distributed scan from 203.0.113.50 across 4 gateways"
    assert incident.last_seen == at + timedelta(minutes=4, seconds=1)
    reached = IncidentActivity.objects.get(incident=incident, kind="events_added")
    assert fleet[4].name in reached.text
    # Other sources in the same batches are not swallowed.
    send(fleet[0], scan(at + timedelta(minutes=4), src="192.0.2.77", ports=2))
    assert SecurityEvent.objects.filter(src_ip="192.0.2.77", incident__isnull=False).count() == 0


def test_new_severity_escalates_the_incident_on_its_timeline(fleet, send):
    at = timezone.now() - timedelta(minutes=5)
    for gateway in fleet[:3]:
        send(gateway, scan(at))
    incident = Incident.objects.get()
    assert incident.severity == "high"
    send(fleet[1], scan(at + timedelta(minutes=1), ports=1, severity="critical"))
    incident.refresh_from_db()
    assert incident.severity == "critical"
    escalated = IncidentActivity.objects.get(incident=incident, kind="escalated")
    assert escalated.data == {"from": "high", "to": "critical"}
    # No escalation entry when the severity stays.
    send(fleet[1], scan(at + timedelta(minutes=2), ports=1, severity="medium"))
    assert IncidentActivity.objects.filter(incident=incident, kind="escalated").count() == 1


def test_a_resolved_or_cooled_down_incident_is_not_extended(fleet, send):
    at = timezone.now() - timedelta(hours=3)
    for gateway in fleet[:3]:
        send(gateway, scan(at))
    first = Incident.objects.get()
    # Two hours later (cooldown one hour): a new incident.
    for gateway in fleet[:3]:
        send(gateway, scan(at + timedelta(hours=2)))
    second = Incident.objects.exclude(pk=first.pk).get()
    assert second.event_count == 12
    first.refresh_from_db()
    assert first.event_count == 12
    # Resolved: the next scan opens a third one at once.
    Incident.objects.filter(pk=second.pk).update(status="resolved")
    for gateway in fleet[3:6]:
        send(gateway, scan(at + timedelta(hours=2, minutes=5)))
    assert Incident.objects.count() == 3


def test_a_disabled_rule_does_nothing(fleet, send):
    CorrelationRule.objects.filter(kind="distributed_scan").update(enabled=False)
    at = timezone.now() - timedelta(minutes=1)
    for gateway in fleet[:4]:
        send(gateway, scan(at))
    assert not Incident.objects.exists()


# --- Brute force -------------------------------------------------------------------


def failures(at, n, src="198.51.100.23", span=timedelta(seconds=60)):
    return [
        event(at + span * i / n, src=src, category="auth_failure", severity="medium")
        for i in range(n)
    ]


def test_repeated_failures_against_one_gateway_open_a_brute_force_incident(fleet, send):
    at = timezone.now() - timedelta(minutes=2)
    send(fleet[2], failures(at, 6))
    assert not Incident.objects.exists()
    send(fleet[2], failures(at + timedelta(seconds=61), 6))
    incident = Incident.objects.get()
    assert incident.rule.kind == "brute_force"
    assert incident.event_count == 12
    assert list(incident.gateways.all()) == [fleet[2]]
    assert incident.title == f"Brute-force logins against {fleet[2].name} from 198.51.100.23"
    assert incident.severity == "high"
    assert "12 failed logins" in incident.summary


def test_failures_spread_over_gateways_or_sources_do_not_fire(fleet, send):
    at = timezone.now() - timedelta(minutes=2)
    send(fleet[0], failures(at, 6))
    send(fleet[1], failures(at, 6))
    send(fleet[0], [*failures(at, 5, src="192.0.2.1"), *failures(at, 5, src="192.0.2.2")])
    assert not Incident.objects.exists()


# --- Anomaly ------------------------------------------------------------------------


def history(gateway, end, per_minute, hours=3, seed=7):
    """Per-minute counts of the past ``hours``: the usual rate, with jitter."""
    rng = random.Random(seed)
    start = end.replace(second=0, microsecond=0) - timedelta(hours=hours)
    GatewayEventRate.objects.bulk_create(
        [
            GatewayEventRate(
                gateway=gateway,
                minute=start + timedelta(minutes=m),
                count=max(0, per_minute + rng.randint(-2, 2)),
            )
            for m in range(hours * 60 - 10)
        ]
    )


def burst(at, n, category="policy_violation"):
    return [
        event(
            at + timedelta(milliseconds=100 * i),
            src=f"192.0.2.{i % 200 + 1}",
            category=category,
            severity="low",
        )
        for i in range(n)
    ]


def test_a_burst_above_the_gateways_usual_rate_opens_an_anomaly_incident(fleet, send):
    now = timezone.now().replace(second=30, microsecond=0)
    history(fleet[3], now, per_minute=4)
    send(fleet[3], burst(now - timedelta(seconds=20), 120))
    incident = Incident.objects.get()
    assert incident.rule.kind == "anomaly"
    assert incident.title.startswith(f"Event burst on {fleet[3].name}: ")
    ratio, z = incident.details["ratio"], incident.details["z"]
    # Usual: ~4 a minute, 20 per 5-minute window; now 120 (+ history overlap).
    assert ratio >= 4
    assert z >= 4
    assert f"× usual rate (z={z:.1f})" in incident.title
    assert incident.event_count == 120
    assert incident.severity == "medium"


def test_a_steady_rate_does_not_look_anomalous(fleet, send):
    now = timezone.now().replace(second=30, microsecond=0)
    history(fleet[3], now, per_minute=40)
    send(fleet[3], burst(now - timedelta(seconds=20), 60))
    assert not Incident.objects.exists()


def test_a_gateway_without_history_is_not_anomalous(fleet, send):
    now = timezone.now()
    send(fleet[3], burst(now - timedelta(seconds=20), 200))
    assert not Incident.objects.exists()


def test_a_burst_another_rule_explains_is_not_a_second_incident(fleet, send):
    now = timezone.now().replace(second=30, microsecond=0)
    history(fleet[2], now, per_minute=2)
    send(fleet[2], failures(now - timedelta(seconds=25), 80, span=timedelta(seconds=20)))
    assert [i.rule.kind for i in Incident.objects.all()] == ["brute_force"]


# --- Noise, retries, cost ----------------------------------------------------------------


def test_the_fleets_normal_noise_opens_no_incident(fleet, send):
    rng = random.Random(8)
    start = timezone.now() - timedelta(hours=1)
    for gateway in fleet:
        history(gateway, start, per_minute=10, seed=gateway.pk)
    # An hour of background at ~1 event/s across the fleet, each event seen
    # by a random gateway, sent as agents do: a batch per gateway every 30 s.
    events = noise(rng, start, 3600, span=timedelta(hours=1))
    ticks: dict[tuple[int, int], list] = {}
    for e in events:
        tick = int((e.occurred_at - start).total_seconds() // 30)
        ticks.setdefault((tick, rng.randrange(len(fleet))), []).append(e)
    for (_tick, gateway), batch in sorted(ticks.items()):
        send(fleet[gateway], batch)
    assert SecurityEvent.objects.count() == len(events)
    assert list(Incident.objects.values_list("title", flat=True)) == []


def test_noise_does_not_hide_a_real_scan(fleet, send):
    rng = random.Random(9)
    at = timezone.now() - timedelta(minutes=3)
    for gateway in fleet[:4]:
        send(gateway, [*noise(rng, at, 20, span=timedelta(minutes=2)), *scan(at)])
    incident = Incident.objects.get()
    assert incident.event_count == 16
    assert set(
        SecurityEvent.objects.filter(incident=incident).values_list("src_ip", flat=True)
    ) == {"203.0.113.50"}


def test_a_retried_batch_links_each_event_once(fleet, send):
    at = timezone.now() - timedelta(minutes=1)
    batches = [scan(at) for _g in fleet[:3]]
    for gateway, batch in zip(fleet[:3], batches, strict=True):
        send(gateway, batch)
    # The agent retries the last batch; the worker retries the task.
    assert send(fleet[2], batches[2]) == (0, 4)
    outcome = correlate_batch(fleet[2].pk, [e.id for e in batches[2]])
    assert outcome.linked == 0
    incident = Incident.objects.get()
    assert incident.event_count == 12
    assert IncidentActivity.objects.filter(incident=incident).count() == 1


def test_per_minute_counts_are_recounted_not_added(fleet, send):
    at = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)
    batch = [event(at + timedelta(seconds=i * 20), src=f"192.0.2.{i}") for i in range(6)]
    send(fleet[0], batch)
    correlate_batch(fleet[0].pk, [e.id for e in batch])
    counts = dict(GatewayEventRate.objects.values_list("minute", "count"))
    assert counts == {
        datetime(2026, 1, 1, 12, 0, tzinfo=UTC): 3,
        datetime(2026, 1, 1, 12, 1, tzinfo=UTC): 3,
    }


@pytest.mark.parametrize("scenario", ["noise", "extend"])
def test_query_count_does_not_grow_with_the_batch(fleet, send, scenario, monkeypatch):
    at = timezone.now() - timedelta(minutes=3)
    if scenario == "extend":
        for gateway in fleet[:3]:
            send(gateway, scan(at))
    counts = []
    for size in (10, 300):
        if scenario == "extend":
            batch = scan(at + timedelta(minutes=1), ports=size)
        else:
            batch = noise(random.Random(size), at, size, span=timedelta(minutes=2))
        SecurityEvent.objects.bulk_create(
            SecurityEvent(
                uuid=e.id,
                gateway=fleet[1],
                occurred_at=e.occurred_at,
                severity=e.severity,
                category=e.category,
                src_ip=e.src_ip,
            )
            for e in batch
        )
        # Each batch finds the anomaly baseline uncached (as the first batch of a minute does).
        monkeypatch.setattr(
            "security.correlation.cache", LocMemCache(f"baseline-{uuid.uuid4()}", {})
        )
        with CaptureQueriesContext(connection) as context:
            outcome = correlate_batch(fleet[1].pk, [e.id for e in batch])
        counts.append(len(context.captured_queries))
        if scenario == "extend":
            assert outcome.linked == size
    assert counts[0] == counts[1], counts
    assert counts[1] <= 20


def test_old_rate_counts_are_pruned_without_audit_records(fleet):
    from audit.models import AuditRecord
    from security.tasks import prune_event_rates

    now = timezone.now().replace(second=0, microsecond=0)
    GatewayEventRate.objects.bulk_create(
        [
            GatewayEventRate(gateway=fleet[0], minute=now - timedelta(days=3, minutes=m), count=1)
            for m in range(5)
        ]
        + [GatewayEventRate(gateway=fleet[0], minute=now - timedelta(hours=1), count=4)]
    )
    before = AuditRecord.objects.count()
    assert prune_event_rates() == 5
    assert list(GatewayEventRate.objects.values_list("count", flat=True)) == [4]
    assert AuditRecord.objects.count() == before
