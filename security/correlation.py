"""Correlation: grouping events into incidents as their batches arrive.

``security.ingest.store_events`` hands each stored batch (its gateway and event
ids) to :func:`correlate_batch` after commit, through the Celery task
``security.tasks.correlate_events`` — the agent's request stays one INSERT.
Per batch, in one transaction:

1. the batch's events not linked yet are loaded (a retried batch or a retried
   task finds them linked: an event joins one incident, once);
2. the gateway's per-minute counts (``GatewayEventRate``) for the batch's
   minutes are recounted from the events table — a recount, not an
   increment, so a retry cannot count twice;
3. each enabled rule looks at the events still unlinked, in the order
   distributed scan, brute force, anomaly: an event taken by one rule is not
   offered to the next.

A rule either *extends* the active incident of the same key (status open or
investigating, last event younger than the rule's cooldown) or, when its
threshold is met within its window, *opens* a new incident and links every
unlinked matching event of the window. The cost is a fixed number of queries
per rule plus a few per incident touched, whatever the batch size.

Batches are correlated one at a time (a PostgreSQL advisory lock held for the
transaction), so two workers never open two incidents for one key.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.db.models.functions import Greatest, TruncMinute

from security.choices import (
    SEVERITY_RANK,
    ActivityKind,
    Category,
    RuleKind,
    Severity,
    max_severity,
)
from security.models import (
    CorrelationRule,
    GatewayEventRate,
    Incident,
    IncidentActivity,
    SecurityEvent,
)

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key: "correlation" (any constant of our own).
ADVISORY_LOCK = 0x5EC1_0C0E
RULE_ORDER = {RuleKind.DISTRIBUTED_SCAN: 0, RuleKind.BRUTE_FORCE: 1, RuleKind.ANOMALY: 2}
# The anomaly rule's baseline: this many hours of windows before the current one.
BASELINE_HOURS = 24
# ... of which at least this many must exist (a new gateway has no usual rate).
MIN_BASELINE_WINDOWS = 3


@dataclass
class Outcome:
    """What one batch did: for live pages, tests and the task's log line."""

    created: list[int] = field(default_factory=list)
    extended: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    linked: int = 0

    @property
    def touched(self) -> list[int]:
        return list(dict.fromkeys(self.created + self.extended))


@dataclass
class Hit:
    """A key a rule fired for: which events belong to it (``match``), from
    when (``since``), and how the incident reads."""

    key: str
    match: Q
    since: datetime
    title: str
    summary: str
    src_ip: str | None = None
    details: dict = field(default_factory=dict)


def ensure_builtin_rules() -> None:
    """The built-in rules, as migration 0005 makes them, where none of a kind
    is left (a flushed database: tests that truncate tables, ``flush``)."""
    from importlib import import_module

    builtin = import_module("security.migrations.0005_builtin_correlation_rules").BUILTIN
    for values in builtin:
        CorrelationRule.objects.get_or_create(
            kind=values["kind"], builtin=True, defaults=dict(values)
        )


def severities_from(minimum: str) -> list[str]:
    floor = SEVERITY_RANK.get(minimum, 0)
    return [value for value in Severity.values if SEVERITY_RANK[value] >= floor]


def enabled_rules() -> list[CorrelationRule]:
    rules = list(CorrelationRule.objects.filter(enabled=True))
    return sorted(rules, key=lambda rule: (RULE_ORDER.get(rule.kind, 9), rule.pk))


def correlate_batch(gateway_id: int, uuids) -> Outcome:
    """Correlate the events ``uuids`` of gateway ``gateway_id`` (one stored
    batch). Idempotent."""
    from gateways.models import Gateway

    outcome = Outcome()
    uuids = [str(value) for value in uuids]
    if not uuids:
        return outcome
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK])
        batch = list(
            SecurityEvent.objects.filter(gateway_id=gateway_id, uuid__in=uuids).values(
                "id", "occurred_at", "severity", "category", "src_ip", "incident_id"
            )
        )
        if not batch:
            return outcome
        gateway = Gateway.objects.only("pk", "name", "region_id").get(pk=gateway_id)
        _recount_rates(gateway_id, [event["occurred_at"] for event in batch])
        pending = [event for event in batch if event["incident_id"] is None]
        for rule in enabled_rules():
            if not pending:
                break
            runner = RUNNERS.get(rule.kind)
            if runner is None:
                continue
            taken = runner(rule, gateway, pending, outcome)
            if taken:
                pending = [event for event in pending if event["id"] not in taken]
        _publish(outcome)
    return outcome


# --- Per-minute counts ---------------------------------------------------------------


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _recount_rates(gateway_id: int, moments: list[datetime]) -> None:
    """Set the gateway's count of each minute the batch touched to what the
    events table holds (one grouped count over the gateway/time index, one
    upsert)."""
    minutes = sorted({_minute(moment) for moment in moments})
    spans: list[list[datetime]] = []
    for minute in minutes:
        if spans and spans[-1][1] == minute:
            spans[-1][1] = minute + timedelta(minutes=1)
        else:
            spans.append([minute, minute + timedelta(minutes=1)])
    condition = Q()
    for start, end in spans:
        condition |= Q(occurred_at__gte=start, occurred_at__lt=end)
    counts = (
        SecurityEvent.objects.filter(condition, gateway_id=gateway_id)
        .annotate(bucket=TruncMinute("occurred_at", tzinfo=UTC))
        .values("bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [
        GatewayEventRate(gateway_id=gateway_id, minute=row["bucket"], count=row["n"])
        for row in counts
    ]
    if rows:
        GatewayEventRate.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["gateway", "minute"],
            update_fields=["count"],
        )


# --- The rules -------------------------------------------------------------------


def _distributed_scan(rule, gateway, pending, outcome) -> set[int]:
    allowed = severities_from(rule.min_severity)
    candidates = [e for e in pending if e["src_ip"] and e["severity"] in allowed]
    if not candidates:
        return set()
    end = max(e["occurred_at"] for e in candidates)
    since = end - rule.window
    sources = sorted({e["src_ip"] for e in candidates})

    def key(src):
        return f"{rule.kind}:{rule.pk}:{src}"

    def hit(src, gateways=0, events=0):
        return Hit(
            key=key(src),
            match=Q(src_ip=src, severity__in=allowed),
            since=since,
            src_ip=src,
            title=f"Distributed scan from {src}",
            summary=(
                f"{src} reached {gateways} gateways with {events} events within "
                f"{_duration(rule.window_seconds)}."
            ),
            details={"source": src, "gateways_in_window": gateways, "events_in_window": events},
        )

    active = _active_incidents(rule, [key(src) for src in sources], end)
    hits = [hit(src) for src in sources if key(src) in active]
    rest = [src for src in sources if key(src) not in active]
    if rest:
        rows = (
            SecurityEvent.objects.filter(
                src_ip__in=rest, occurred_at__gte=since, severity__in=allowed
            )
            .values("src_ip")
            .annotate(gateways=Count("gateway", distinct=True), events=Count("id"))
            .filter(gateways__gte=math.ceil(rule.threshold), events__gte=rule.min_events)
            .order_by()
        )
        hits += [hit(row["src_ip"], row["gateways"], row["events"]) for row in rows]
    return _apply(rule, gateway, pending, hits, active, outcome)


def _brute_force(rule, gateway, pending, outcome) -> set[int]:
    allowed = severities_from(rule.min_severity)
    candidates = [
        e
        for e in pending
        if e["src_ip"] and e["category"] == Category.AUTH_FAILURE and e["severity"] in allowed
    ]
    if not candidates:
        return set()
    end = max(e["occurred_at"] for e in candidates)
    since = end - rule.window
    sources = sorted({e["src_ip"] for e in candidates})

    def key(src):
        return f"{rule.kind}:{rule.pk}:{gateway.pk}:{src}"

    def hit(src, failures=0):
        return Hit(
            key=key(src),
            match=Q(
                gateway_id=gateway.pk,
                src_ip=src,
                category=Category.AUTH_FAILURE,
                severity__in=allowed,
            ),
            since=since,
            src_ip=src,
            title=f"Brute-force logins against {gateway.name} from {src}",
            summary=(
                f"{failures} failed logins from {src} against {gateway.name} within "
                f"{_duration(rule.window_seconds)}."
            ),
            details={"source": src, "failures_in_window": failures},
        )

    active = _active_incidents(rule, [key(src) for src in sources], end)
    hits = [hit(src) for src in sources if key(src) in active]
    rest = [src for src in sources if key(src) not in active]
    if rest:
        rows = (
            SecurityEvent.objects.filter(
                gateway_id=gateway.pk,
                category=Category.AUTH_FAILURE,
                src_ip__in=rest,
                occurred_at__gte=since,
                severity__in=allowed,
            )
            .values("src_ip")
            .annotate(failures=Count("id"))
            .filter(failures__gte=math.ceil(rule.threshold))
            .order_by()
        )
        hits += [hit(row["src_ip"], row["failures"]) for row in rows]
    return _apply(rule, gateway, pending, hits, active, outcome)


@dataclass(frozen=True)
class Baseline:
    mean: float
    deviation: float
    windows: int


def baseline(rule, gateway_id: int, window_start: datetime) -> Baseline | None:
    """The gateway's usual count per window over the past day before
    ``window_start`` (a minute): mean and standard deviation over windows of
    the rule's length, windows without events counting as zero, from the
    gateway's first counted minute on. ``None`` while too few windows exist.
    Cached for the minute: it changes only when the window moves."""
    cache_key = (
        f"security:baseline:{rule.pk}:{rule.window_seconds}:{gateway_id}:{window_start:%Y%m%d%H%M}"
    )
    cached = cache.get(cache_key)
    if cached is not None:
        return cached or None
    size = max(1, rule.window_seconds // 60)
    since = window_start - timedelta(hours=BASELINE_HOURS)
    rows = list(
        GatewayEventRate.objects.filter(
            gateway_id=gateway_id, minute__gte=since, minute__lt=window_start
        ).values_list("minute", "count")
    )
    result = None
    if rows:
        first = min(minute for minute, _count in rows)
        windows = int((window_start - first).total_seconds() // 60) // size + 1
        windows = min(windows, BASELINE_HOURS * 60 // size)
        if windows >= MIN_BASELINE_WINDOWS:
            sums = [0] * windows
            for minute, count in rows:
                index = int((window_start - minute).total_seconds() // 60 - 1) // size
                if 0 <= index < windows:
                    sums[index] += count
            mean = sum(sums) / windows
            variance = sum((value - mean) ** 2 for value in sums) / windows
            result = Baseline(mean, math.sqrt(variance), windows)
    cache.set(cache_key, result or 0, timeout=90)
    return result


def _anomaly(rule, gateway, pending, outcome) -> set[int]:
    allowed = severities_from(rule.min_severity)
    if not any(e["severity"] in allowed for e in pending):
        return set()
    end = max(e["occurred_at"] for e in pending)
    size = max(1, rule.window_seconds // 60)
    window_start = _minute(end) - timedelta(minutes=size - 1)
    usual = baseline(rule, gateway.pk, window_start)
    if usual is None:
        return set()
    current = (
        GatewayEventRate.objects.filter(gateway_id=gateway.pk, minute__gte=window_start).aggregate(
            n=Sum("count")
        )["n"]
        or 0
    )
    # A quiet gateway's deviation is near zero: count noise (Poisson) is at
    # least the square root of the mean.
    deviation = max(usual.deviation, math.sqrt(max(usual.mean, 1.0)))
    z = (current - usual.mean) / deviation
    if current < rule.min_events or z < rule.threshold:
        return set()
    match = Q(gateway_id=gateway.pk, severity__in=allowed)
    # Events other incidents already explain (a brute force, a scan) are not
    # a second incident: the burst must hold enough unexplained ones.
    unexplained = SecurityEvent.objects.filter(
        match, occurred_at__gte=window_start, incident__isnull=True
    ).count()
    if unexplained < rule.min_events:
        return set()
    ratio = current / usual.mean if usual.mean > 0 else None
    above = f"{ratio:.0f}× usual rate" if ratio is not None else "usually silent"
    key = f"{rule.kind}:{rule.pk}:{gateway.pk}"
    hit = Hit(
        key=key,
        match=match,
        since=window_start,
        title=f"Event burst on {gateway.name}: {above} (z={z:.1f})",
        summary=(
            f"{current} events in {_duration(rule.window_seconds)} against a usual "
            f"{usual.mean:.1f} ± {usual.deviation:.1f} per window over the past "
            f"{_duration(usual.windows * size * 60)}: {above}, z={z:.1f}."
        ),
        details={
            "events_in_window": current,
            "usual_mean": round(usual.mean, 2),
            "usual_deviation": round(usual.deviation, 2),
            "ratio": round(ratio, 1) if ratio is not None else None,
            "z": round(z, 1),
        },
    )
    active = _active_incidents(rule, [key], end)
    return _apply(rule, gateway, pending, [hit], active, outcome, link_window=True)


RUNNERS = {
    RuleKind.DISTRIBUTED_SCAN: _distributed_scan,
    RuleKind.BRUTE_FORCE: _brute_force,
    RuleKind.ANOMALY: _anomaly,
}


# --- Opening and extending incidents -------------------------------------------------


def _active_incidents(rule, keys: list[str], end: datetime) -> dict[str, Incident]:
    """The extendable incident of each key: active, last event younger than
    the cooldown; the latest if (after a manual reopen) there are several."""
    found: dict[str, Incident] = {}
    incidents = (
        Incident.objects.active()
        .filter(rule=rule, key__in=keys, last_seen__gte=end - rule.cooldown)
        .order_by("last_seen")
    )
    for incident in incidents:
        found[incident.key] = incident
    return found


def _apply(rule, gateway, pending, hits, active, outcome, link_window=False) -> set[int]:
    taken: set[int] = set()
    for hit in hits:
        incident = active.get(hit.key)
        if incident is None:
            taken |= _open(rule, hit, outcome)
        elif link_window:
            taken |= _extend(rule, gateway, incident, hit, None, outcome)
        else:
            ids = [e["id"] for e in pending if _matches(e, hit)]
            taken |= _extend(rule, gateway, incident, hit, ids, outcome)
    return taken


def _matches(event: dict, hit: Hit) -> bool:
    """The batch-side twin of ``hit.match`` for the fields rules match on."""
    for child in hit.match.children:
        name, value = child
        if name == "severity__in":
            if event["severity"] not in value:
                return False
        elif name == "gateway_id":
            continue  # the batch is one gateway's
        elif event.get(name) != value:
            return False
    return True


def _open(rule, hit: Hit, outcome: Outcome) -> set[int]:
    now = hit.since
    incident = Incident.objects.create(
        title=hit.title[:255],
        severity=rule.severity_raise or Severity.INFO,
        rule=rule,
        key=hit.key,
        src_ip=hit.src_ip,
        summary=hit.summary,
        details=hit.details,
        first_seen=now,
        last_seen=now,
    )
    linkable = SecurityEvent.objects.filter(
        hit.match, occurred_at__gte=hit.since, incident__isnull=True
    )
    ids = list(linkable.values_list("id", flat=True))
    SecurityEvent.objects.filter(pk__in=ids, incident__isnull=True).update(incident=incident)
    stats = _stats(incident)
    incident.event_count = stats["count"]
    incident.first_seen = stats["first"] or now
    incident.last_seen = stats["last"] or now
    incident.severity = max_severity(rule.severity_raise, *stats["severities"])
    if hit.key.startswith(RuleKind.DISTRIBUTED_SCAN):
        incident.title = f"{hit.title} across {len(stats['gateways'])} gateways"
    incident.save(update_fields=["event_count", "first_seen", "last_seen", "severity", "title"])
    incident.gateways.add(*stats["gateways"])
    IncidentActivity.objects.create(
        incident=incident,
        kind=ActivityKind.CREATED,
        text=f"Opened by rule “{rule.name}”: {hit.summary}",
        data={"rule": rule.name, "events": stats["count"], **hit.details},
    )
    outcome.created.append(incident.pk)
    outcome.linked += stats["count"]
    return set(ids)


def _stats(incident) -> dict:
    rows = list(
        SecurityEvent.objects.filter(incident=incident)
        .values("gateway_id", "severity")
        .annotate(n=Count("id"), first=Min("occurred_at"), last=Max("occurred_at"))
        .order_by()
    )
    return {
        "count": sum(row["n"] for row in rows),
        "first": min((row["first"] for row in rows), default=None),
        "last": max((row["last"] for row in rows), default=None),
        "severities": {row["severity"] for row in rows},
        "gateways": sorted({row["gateway_id"] for row in rows}),
    }


def _extend(rule, gateway, incident, hit, ids, outcome) -> set[int]:
    """Link ``ids`` (batch events of the key), or for a window rule every
    unlinked matching event of the window, to ``incident``."""
    window = ids is None
    if window:
        rows = list(
            SecurityEvent.objects.filter(
                hit.match, occurred_at__gte=hit.since, incident__isnull=True
            ).values_list("id", "severity", "occurred_at")
        )
    else:
        rows = list(
            SecurityEvent.objects.filter(pk__in=ids, incident__isnull=True).values_list(
                "id", "severity", "occurred_at"
            )
        )
    if not rows:
        return set()
    ids = [row[0] for row in rows]
    linked = SecurityEvent.objects.filter(pk__in=ids, incident__isnull=True).update(
        incident=incident
    )
    severity = max_severity(incident.severity, *(row[1] for row in rows))
    last = max(row[2] for row in rows)
    first = min(row[2] for row in rows)
    new_gateway = not incident.gateways.filter(pk=gateway.pk).exists()
    changes = {
        "event_count": F("event_count") + linked,
        "last_seen": Greatest("last_seen", last),
        "first_seen": first if first < incident.first_seen else incident.first_seen,
        "severity": severity,
    }
    if window and hit.details:
        changes["details"] = {**incident.details, "latest": hit.details}
    if new_gateway:
        incident.gateways.add(gateway.pk)
        if incident.key.startswith(RuleKind.DISTRIBUTED_SCAN):
            count = incident.gateways.count()
            changes["title"] = f"Distributed scan from {incident.src_ip} across {count} gateways"
            changes["summary"] = (
                f"{incident.src_ip} has reached {count} gateways with "
                f"{incident.event_count + linked} events so far."
            )
        IncidentActivity.objects.create(
            incident=incident,
            kind=ActivityKind.EVENTS_ADDED,
            text=f"Reached {gateway.name}.",
            data={"gateway": gateway.name, "events": linked},
        )
    Incident.objects.filter(pk=incident.pk).update(**changes)
    if SEVERITY_RANK[severity] > SEVERITY_RANK.get(incident.severity, 0):
        IncidentActivity.objects.create(
            incident=incident,
            kind=ActivityKind.ESCALATED,
            text=(
                f"Severity raised from {Severity(incident.severity).label} to "
                f"{Severity(severity).label} by new events."
            ),
            data={"from": incident.severity, "to": severity},
        )
        outcome.escalated.append(incident.pk)
    outcome.extended.append(incident.pk)
    outcome.linked += linked
    return set(ids)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} seconds"


def _publish(outcome: Outcome) -> None:
    """New and changed incidents to live pages, after commit."""
    if not outcome.touched:
        return
    from security import live as security_live

    security_live.publish_incidents(outcome.created, outcome.extended, outcome.escalated)


def schedule(gateway_id: int, uuids) -> None:
    """After commit, hand a stored batch to the Celery worker. If the broker
    cannot take it (Redis down), or ``SECURITY_CORRELATE_INLINE`` is set (the
    embedded console without a worker), correlate in this process instead:
    incidents must not depend on the queue being up."""
    from django.conf import settings

    uuids = [str(value) for value in uuids]

    def send():
        if not getattr(settings, "SECURITY_CORRELATE_INLINE", False):
            try:
                from security.tasks import correlate_events

                correlate_events.delay(gateway_id, uuids)
                return
            except Exception:
                log.warning("correlation: could not enqueue a batch, correlating inline")
        try:
            correlate_batch(gateway_id, uuids)
        except Exception:
            log.exception("correlation of a batch failed")

    transaction.on_commit(send)
