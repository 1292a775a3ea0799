"""Fleet simulator: plays enrolled Rustronaut gateways against the agent API.

It speaks only HTTP, the client side of the gateway agent protocol version 1
(``AGENT_PROTOCOL.md``), and never touches the database: it is the demo's data
source and the load generator for benchmarks, so it must behave like real
gateways would. This module imports nothing from Django;
``manage.py simulate_fleet`` is a thin shell around :class:`FleetSimulator`.

Shape:

- one asyncio task per gateway (:class:`SimulatedGateway`), each with an
  ``httpx.AsyncClient`` of its own (kept-alive connections, timeouts), as a
  real gateway has; all of them share one TLS context. Inside it three loops
  run side by side, so a slow one never holds up the others: heartbeats, config
  pulls (woken when a heartbeat answer announces a newer config) and event
  flushes;
- one fleet-wide event generator: background noise at ``rate_events`` per second
  spread over the gateways, plus occasional bursts (a port scan across several
  gateways, a brute force against one, an intrusion or malware incident);
- each gateway keeps its events in an :class:`EventOutbox` until the console has
  acknowledged them: a batch is sealed once (ids and bytes fixed) and re-sent
  as-is until it gets a ``202``, so retries are always safe (the console dedupes
  by id). Only a ``400`` (the simulator's bug, it can never succeed) drops one.

The content (metrics, tunnel flaps, events) is drawn from per-gateway random
generators seeded by ``seed``, so a seeded run is reproducible; event ids stay
random uuid4s, so re-running a seed against the same console does not get every
event counted as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

API_PREFIX = "/api/agent/v1"

# The protocol's enums (AGENT_PROTOCOL.md), in its order.
GATEWAY_STATUSES = ("ok", "degraded")
TUNNEL_STATES = ("up", "down", "degraded")
SEVERITIES = ("info", "low", "medium", "high", "critical")
CATEGORIES = ("intrusion", "port_scan", "auth_failure", "malware", "policy_violation", "anomaly")

# Protocol limits on one events request.
MAX_BATCH_EVENTS = 1000
MAX_BODY_BYTES = 1024 * 1024
# Kept below the limit so that a console counting a header or a newline more
# than we do still takes the batch.
BATCH_BODY_BUDGET = MAX_BODY_BYTES - 1024

# Agent software versions the fleet runs, most gateways on the current one.
AGENT_VERSIONS = (("1.8.2", 70), ("1.8.1", 15), ("1.7.9", 10), ("1.9.0-rc1", 5))

# Documentation ranges (RFC 5737) for attackers; gateways protect 10.x networks.
SOURCE_NETWORKS = ("203.0.113", "198.51.100", "192.0.2")

DEFAULT_HEARTBEAT_INTERVAL = 10.0
# Connections of each gateway's own HTTP client: a heartbeat, a config pull
# and an event batch may overlap; a third one waits for a free connection.
CONNECTIONS_PER_GATEWAY = 2


# --- Small pure helpers ---------------------------------------------------------


def isoformat_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` and milliseconds: ``2026-11-25T10:00:00.123Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def weighted_choice(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights=weights)[0]


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count: exact (Knuth) for small means, normal beyond."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def make_rng(seed: int | None, *parts: object) -> random.Random:
    """A generator of its own for each part of the simulation: seeded ones are
    reproducible whatever order the tasks happen to run in."""
    if seed is None:
        return random.Random()
    # A str seed is hashed with SHA-512: stable across runs and PYTHONHASHSEED.
    return random.Random(":".join(str(part) for part in (seed, *parts)))


# --- Retries ------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter", capped.

    Attempt ``n`` (from 0) waits between half and all of
    ``min(cap, base * factor**n)``: never immediately, and a fleet that failed
    together spreads out instead of retrying in lockstep.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def step(self, attempt: int) -> float:
        # The exponent is bounded so a long outage cannot overflow the float.
        return min(self.cap, self.base * self.factor ** min(max(attempt, 0), 64))

    def delay(self, attempt: int, rng: random.Random) -> float:
        step = self.step(attempt)
        return step / 2 + rng.uniform(0, step / 2)


RETRY_AFTER_CAP = 300.0


def parse_retry_after(
    value: str | None, now: datetime | None = None, cap: float = RETRY_AFTER_CAP
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP
    date), within ``[0, cap]``; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or utc_now())).total_seconds()
    if math.isnan(seconds):
        return None
    return clamp(seconds, 0.0, cap)


# --- Metrics --------------------------------------------------------------------------


def daily_traffic_factor(moment: datetime, utc_offset_hours: float = 0.0) -> float:
    """Share of peak traffic by local wall-clock time, a sinusoid over 24 h:
    1.0 at 14:00, 0.1 at 02:00."""
    moment = moment.astimezone(UTC)
    hours = moment.hour + moment.minute / 60 + moment.second / 3600 + utc_offset_hours
    return 0.55 + 0.45 * math.sin(2 * math.pi * ((hours % 24) - 8) / 24)


SPIKE_PROBABILITY = 0.02  # per heartbeat
RANDOM_DEGRADED_PROBABILITY = 0.01  # per heartbeat, outside spikes


@dataclass
class MetricSample:
    metrics: dict[str, float | int]
    spiking: bool
    utilisation: float


class GatewayMetrics:
    """A gateway's traffic and load: the daily curve, noise and short spikes,
    with CPU, memory and sessions following the traffic."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.capacity_bps = rng.choice((100, 250, 500, 1000, 2500, 10000)) * 1_000_000
        self.peak_utilisation = rng.uniform(0.2, 0.55)
        # Gateways sit in several time zones, so the fleet does not peak at once.
        self.utc_offset_hours = rng.choice((-8, -5, 0, 1, 2, 5.5, 8, 9))
        self.tx_ratio = rng.uniform(0.35, 0.8)
        self.cpu_idle = rng.uniform(2.0, 8.0)
        self.mem_base = rng.uniform(25.0, 45.0)
        self.mem_drift = 0.0
        self.sessions_per_mbps = rng.uniform(0.05, 0.5)
        self.spike_left = 0
        self.spike_factor = 1.0

    def sample(self, moment: datetime) -> MetricSample:
        rng = self.rng
        if self.spike_left == 0 and rng.random() < SPIKE_PROBABILITY:
            self.spike_left = rng.randint(2, 6)
            self.spike_factor = rng.uniform(2.0, 5.0)
        spiking = self.spike_left > 0
        if spiking:
            self.spike_left -= 1
        noise = max(0.3, rng.gauss(1.0, 0.08))
        utilisation = clamp(
            self.peak_utilisation
            * daily_traffic_factor(moment, self.utc_offset_hours)
            * noise
            * (self.spike_factor if spiking else 1.0),
            0.0,
            1.0,
        )
        rx_bps = int(self.capacity_bps * utilisation)
        tx_bps = int(clamp(rx_bps * self.tx_ratio * rng.gauss(1.0, 0.05), 0, self.capacity_bps))
        self.mem_drift = clamp(self.mem_drift + rng.gauss(0, 0.5), -5.0, 5.0)
        metrics: dict[str, float | int] = {
            "cpu_pct": round(clamp(self.cpu_idle + 80 * utilisation + rng.gauss(0, 2), 0, 100), 1),
            "mem_pct": round(clamp(self.mem_base + 25 * utilisation + self.mem_drift, 0, 100), 1),
            "rx_bps": rx_bps,
            "tx_bps": tx_bps,
            "sessions": max(
                0, round(rx_bps / 1_000_000 * self.sessions_per_mbps * rng.gauss(1.0, 0.05))
            ),
        }
        return MetricSample(metrics=metrics, spiking=spiking, utilisation=utilisation)


# --- Tunnels --------------------------------------------------------------------------

TUNNEL_FLAP_PROBABILITY = 0.02  # per heartbeat, per tunnel


class SimulatedTunnel:
    """One tunnel's state as the gateway sees it: mostly up, now and then down or
    degraded for a few intervals; byte counters that only grow."""

    def __init__(self, tunnel_id: str, rng: random.Random):
        self.tunnel_id = tunnel_id
        self.rng = rng
        self.state = "up"
        self.bad_intervals_left = 0
        self.base_latency = rng.uniform(3.0, 80.0)
        self.latency_ms = self.base_latency
        self.traffic_share = rng.uniform(0.02, 0.2)
        self.rx_bytes = 0
        self.tx_bytes = 0

    def advance(self, elapsed: float, rx_bps: int, tx_bps: int) -> dict[str, Any]:
        """Move on by ``elapsed`` seconds of gateway traffic; the heartbeat entry."""
        rng = self.rng
        if self.bad_intervals_left > 0:
            self.bad_intervals_left -= 1
            if self.bad_intervals_left == 0:
                self.state = "up"
        elif rng.random() < TUNNEL_FLAP_PROBABILITY:
            self.state = "down" if rng.random() < 0.4 else "degraded"
            self.bad_intervals_left = rng.randint(2, 5)

        carried = {"up": 1.0, "degraded": 0.4, "down": 0.0}[self.state]
        seconds = max(0.0, elapsed)
        self.rx_bytes += int(rx_bps * self.traffic_share * carried * seconds / 8)
        self.tx_bytes += int(tx_bps * self.traffic_share * carried * seconds / 8)
        if self.state == "up":
            self.latency_ms = self.base_latency * max(0.5, rng.gauss(1.0, 0.08))
        elif self.state == "degraded":
            self.latency_ms = self.base_latency * rng.uniform(2.5, 6.0)
        # Down: no probe answers, the last measured latency stands.
        return {
            "tunnel_id": self.tunnel_id,
            "state": self.state,
            "latency_ms": round(self.latency_ms, 1),
            "rx_bytes": self.rx_bytes,
            "tx_bytes": self.tx_bytes,
        }


# --- Security events ------------------------------------------------------------------

COMMON_PORTS = (
    21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 993, 995,
    1433, 1521, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200,
)  # fmt: skip
SCAN_SIGNATURES = (
    "ET SCAN Nmap SYN scan",
    "ET SCAN Masscan TCP SYN scan",
    "ET SCAN Zmap TCP SYN scan",
    "GPL SCAN nmap XMAS",
)
PROBE_SIGNATURES = {
    1433: "ET SCAN Suspicious inbound to MSSQL port 1433",
    3306: "ET SCAN Suspicious inbound to mySQL port 3306",
    5432: "ET SCAN Suspicious inbound to PostgreSQL port 5432",
    5900: "ET SCAN Potential VNC Scan 5900-5920",
    1521: "ET SCAN Suspicious inbound to Oracle SQL port 1521",
}
AUTH_SIGNATURES = {
    22: "ET SCAN LibSSH Based Frequent SSH Connections Likely BruteForce Attack",
    443: "RUSTRONAUT AUTH VPN portal login failure",
}
USERNAMES = ("root", "admin", "administrator", "ubuntu", "oracle", "test", "vpn", "support")
# (signature, dst_port, protocol) for each category with fixed shapes.
INCIDENT_SIGNATURES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "intrusion": (
        ("ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)", 443, "tcp"),
        ("ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT", 80, "tcp"),
        ("ET EXPLOIT Fortinet FortiOS SSL VPN Path Traversal (CVE-2018-13379)", 443, "tcp"),
        ("ET EXPLOIT Citrix ADC Directory Traversal (CVE-2019-19781)", 443, "tcp"),
        ("ET WEB_SERVER /etc/passwd Detected in URI", 8080, "tcp"),
    ),
    "malware": (
        ("ET MALWARE Cobalt Strike Beacon Activity", 443, "tcp"),
        ("ET MALWARE Win32/Emotet CnC Activity", 8080, "tcp"),
        ("ET TROJAN Possible Qakbot C2 Traffic", 443, "tcp"),
        ("ET MALWARE Mirai Variant Download Attempt", 80, "tcp"),
    ),
    "policy_violation": (
        ("RUSTRONAUT POLICY Denied by rule block-smb-from-internet", 445, "tcp"),
        ("ET POLICY Inbound Telnet Connection Attempt", 23, "tcp"),
        ("ET POLICY Tor Exit Node Traffic", 9001, "tcp"),
        ("ET POLICY RDP connection from external network", 3389, "tcp"),
        ("RUSTRONAUT POLICY Denied by rule deny-external-dns", 53, "udp"),
    ),
    "anomaly": (
        ("RUSTRONAUT ANOMALY Inbound connection rate 5x above baseline", 443, "tcp"),
        ("RUSTRONAUT ANOMALY Unusual UDP flood pattern", 123, "udp"),
        ("ET INFO Observed DNS Query with Unusually Long Label", 53, "udp"),
        ("RUSTRONAUT ANOMALY TLS handshake failures above baseline", 443, "tcp"),
    ),
}
SEVERITY_WEIGHTS: dict[str, tuple[tuple[str, float], ...]] = {
    "port_scan": (("info", 30), ("low", 50), ("medium", 20)),
    "auth_failure": (("low", 40), ("medium", 50), ("high", 10)),
    "intrusion": (("medium", 20), ("high", 55), ("critical", 25)),
    "malware": (("high", 60), ("critical", 40)),
    "policy_violation": (("info", 20), ("low", 45), ("medium", 35)),
    "anomaly": (("info", 35), ("low", 35), ("medium", 25), ("high", 5)),
}
# How often each category shows up in the background noise.
NOISE_CATEGORY_WEIGHTS = (
    ("port_scan", 35),
    ("auth_failure", 20),
    ("policy_violation", 20),
    ("anomaly", 15),
    ("intrusion", 6),
    ("malware", 4),
)
# Bursts come about once per this many noise events.
EVENTS_PER_BURST = 15.0


def source_ip(rng: random.Random) -> str:
    return f"{rng.choice(SOURCE_NETWORKS)}.{rng.randint(1, 254)}"


def site_network(rng: random.Random) -> str:
    """The first two octets of a gateway's protected 10.x network: "10.23"."""
    return f"10.{rng.randint(0, 255)}"


def internal_ip(rng: random.Random, network: str) -> str:
    return f"{network}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ephemeral_port(rng: random.Random) -> int:
    return rng.randint(32768, 60999)


def event_fields(
    rng: random.Random,
    category: str,
    network: str,
    *,
    severity: str | None = None,
    src_ip: str | None = None,
    src_port: int | None = None,
    dst_port: int | None = None,
    signature: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One event's content, without ``id`` and ``occurred_at`` (stamped when the
    gateway sees it, see :func:`stamp_event`). ``network`` is the gateway's own
    10.x network from :func:`site_network`."""
    src_ip = src_ip or source_ip(rng)
    dst_ip = internal_ip(rng, network)
    protocol = "tcp"
    if category == "port_scan":
        dst_port = dst_port or rng.choice(COMMON_PORTS)
        signature = signature or PROBE_SIGNATURES.get(dst_port) or rng.choice(SCAN_SIGNATURES)
        message = f"Port scan probe from {src_ip} to {dst_ip}:{dst_port}/tcp"
    elif category == "auth_failure":
        dst_port = dst_port or rng.choice((22, 443))
        signature = signature or AUTH_SIGNATURES[dst_port]
        service = "SSH" if dst_port == 22 else "VPN portal"
        user = (details or {}).get("username") or rng.choice(USERNAMES)
        message = f"Failed {service} login for user '{user}' from {src_ip} to {dst_ip}"
    else:
        shape_signature, shape_port, protocol = rng.choice(INCIDENT_SIGNATURES[category])
        signature = signature or shape_signature
        dst_port = dst_port or shape_port
        message = f"{signature.split(' ', 2)[-1]}: {src_ip} -> {dst_ip}:{dst_port}/{protocol}"
    return {
        "severity": severity or weighted_choice(rng, SEVERITY_WEIGHTS[category]),
        "category": category,
        "signature": signature,
        "src_ip": src_ip,
        "src_port": src_port or ephemeral_port(rng),
        "dst_ip": dst_ip,
        "dst_port": dst_port,
        "protocol": protocol,
        "message": message,
        "details": dict(details or {}),
    }


def noise_event_fields(rng: random.Random, network: str) -> dict[str, Any]:
    """A background event: the fleet's everyday trickle of scans and denials."""
    return event_fields(rng, weighted_choice(rng, NOISE_CATEGORY_WEIGHTS), network)


def stamp_event(
    fields: dict[str, Any],
    now: datetime,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> dict[str, Any]:
    """The event as sent: the agent's uuid4 id and the time it happened."""
    return {"id": str(new_id()), "occurred_at": isoformat_z(now), **fields}


@dataclass(frozen=True)
class PlannedEvent:
    """One event of a burst: ``offset`` seconds after the burst starts, seen by
    gateway number ``gateway`` (an index into the list the plan was made for)."""

    offset: float
    gateway: int
    fields: dict[str, Any]


def port_scan_plan(rng: random.Random, networks: Sequence[str]) -> list[PlannedEvent]:
    """One source sweeping several gateways within seconds, same src_ip and
    (like Nmap) the same source port; a handful of ports each."""
    src_ip, src_port = source_ip(rng), ephemeral_port(rng)
    signature = rng.choice(SCAN_SIGNATURES)
    targets = rng.sample(range(len(networks)), k=min(len(networks), rng.randint(3, 8)))
    plan = []
    for gateway in targets:
        start = rng.uniform(0.0, 5.0)
        for n, port in enumerate(rng.sample(COMMON_PORTS, k=rng.randint(3, 10))):
            plan.append(
                PlannedEvent(
                    offset=start + n * rng.uniform(0.02, 0.3),
                    gateway=gateway,
                    fields=event_fields(
                        rng,
                        "port_scan",
                        networks[gateway],
                        severity="low" if n < 5 else "medium",
                        src_ip=src_ip,
                        src_port=src_port,
                        dst_port=port,
                        signature=signature,
                        details={"scan": "syn"},
                    ),
                )
            )
    return sorted(plan, key=lambda item: item.offset)


def brute_force_plan(rng: random.Random, networks: Sequence[str]) -> list[PlannedEvent]:
    """Many failed logins from one source against one gateway's SSH or VPN portal."""
    gateway = rng.randrange(len(networks))
    src_ip, dst_port = source_ip(rng), rng.choice((22, 443))
    attempts, span = rng.randint(15, 60), rng.uniform(8.0, 30.0)
    users = rng.sample(USERNAMES, k=3)
    plan = []
    for n in range(attempts):
        plan.append(
            PlannedEvent(
                offset=span * n / attempts + rng.uniform(0.0, 0.2),
                gateway=gateway,
                fields=event_fields(
                    rng,
                    "auth_failure",
                    networks[gateway],
                    severity="medium" if n < 10 else "high",
                    src_ip=src_ip,
                    dst_port=dst_port,
                    details={"username": rng.choice(users), "attempt": n + 1},
                ),
            )
        )
    return plan


def incident_plan(rng: random.Random, networks: Sequence[str]) -> list[PlannedEvent]:
    """A rarer, more serious moment on one gateway: one to three malware,
    intrusion, policy or anomaly events from the same source."""
    gateway = rng.randrange(len(networks))
    category = weighted_choice(
        rng, (("intrusion", 35), ("malware", 25), ("policy_violation", 20), ("anomaly", 20))
    )
    src_ip = source_ip(rng)
    return [
        PlannedEvent(
            offset=n * rng.uniform(0.5, 3.0),
            gateway=gateway,
            fields=event_fields(rng, category, networks[gateway], src_ip=src_ip),
        )
        for n in range(rng.randint(1, 3))
    ]


BURST_PLANS = ((port_scan_plan, 40), (brute_force_plan, 35), (incident_plan, 25))


def burst_plan(rng: random.Random, networks: Sequence[str]) -> list[PlannedEvent]:
    return weighted_choice(rng, BURST_PLANS)(rng, networks)


# --- Event outbox -----------------------------------------------------------------------

_BATCH_HEAD, _BATCH_TAIL = b'{"events":[', b"]}"


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class EventBatch:
    """A sealed batch: its events, and the request body built once from them, so
    every retry sends exactly the same ids and bytes."""

    events: list[dict[str, Any]]
    body: bytes
    attempts: int = 0

    def __len__(self) -> int:
        return len(self.events)

    @property
    def ids(self) -> list[str]:
        return [event["id"] for event in self.events]

    @classmethod
    def seal(cls, items: Sequence[tuple[dict[str, Any], bytes]]) -> EventBatch:
        body = _BATCH_HEAD + b",".join(encoded for _, encoded in items) + _BATCH_TAIL
        return cls(events=[event for event, _ in items], body=body)


class EventOutbox:
    """A gateway's events not yet acknowledged by the console, oldest first.

    New events wait in an open list; :meth:`next_batch` seals the oldest of them
    into a batch of at most ``max_events`` events and ``max_bytes`` of body. A
    sealed batch stays at the head until :meth:`ack` (202) or :meth:`drop` (400)
    removes it: a failed send simply gets the same batch again.
    """

    def __init__(self, max_events: int = MAX_BATCH_EVENTS, max_bytes: int = BATCH_BODY_BUDGET):
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._open: deque[tuple[dict[str, Any], bytes]] = deque()
        self._sealed: deque[EventBatch] = deque()
        self._count = 0

    def __len__(self) -> int:
        """Events still to be delivered, sealed or not."""
        return self._count

    def add(self, event: dict[str, Any]) -> bool:
        """Queue an event; ``False`` (not queued) when it alone is over the body limit."""
        encoded = encode_json(event)
        if len(_BATCH_HEAD) + len(encoded) + len(_BATCH_TAIL) > self.max_bytes:
            return False
        self._open.append((event, encoded))
        self._count += 1
        return True

    def next_batch(self) -> EventBatch | None:
        """The batch to send now: the unacknowledged one if any, else a new one."""
        if not self._sealed:
            if not self._open:
                return None
            items: list[tuple[dict[str, Any], bytes]] = []
            size = len(_BATCH_HEAD) + len(_BATCH_TAIL)
            while self._open and len(items) < self.max_events:
                encoded = self._open[0][1]
                extra = len(encoded) + (1 if items else 0)  # the comma
                if size + extra > self.max_bytes:
                    break
                items.append(self._open.popleft())
                size += extra
            self._sealed.append(EventBatch.seal(items))
        return self._sealed[0]

    def _remove_head(self, batch: EventBatch) -> None:
        if not self._sealed or self._sealed[0] is not batch:
            raise ValueError("Only the batch at the head of the outbox can be removed.")
        self._sealed.popleft()
        self._count -= len(batch)

    def ack(self, batch: EventBatch) -> None:
        """The console has the batch (accepted or duplicates)."""
        self._remove_head(batch)

    def drop(self, batch: EventBatch) -> None:
        """Give up on the batch: the console refused it and always will."""
        self._remove_head(batch)

    def split(self, batch: EventBatch) -> bool:
        """Replace the head batch by its two halves (same ids); ``False`` when it
        holds a single event and cannot be split."""
        if len(batch) < 2 or not self._sealed or self._sealed[0] is not batch:
            return False
        self._sealed.popleft()
        middle = len(batch) // 2
        halves = [batch.events[:middle], batch.events[middle:]]
        for events in reversed(halves):
            self._sealed.appendleft(EventBatch.seal([(e, encode_json(e)) for e in events]))
        return True


# --- Enrolment tokens -------------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    gateway: str
    token: str


def parse_enrolments(data: Any) -> list[Enrolment]:
    """The tokens file's content: ``[{"gateway": "...", "token": "..."}, ...]``."""
    if not isinstance(data, list):
        raise ValueError('must be a JSON list of {"gateway": ..., "token": ...} objects')
    enrolments, seen = [], set()
    for n, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise ValueError(f"entry {n} is not an object")
        name, token = entry.get("gateway"), entry.get("token")
        if not isinstance(name, str) or not name:
            raise ValueError(f'entry {n} has no "gateway" name')
        if not isinstance(token, str) or not token:
            raise ValueError(f'entry {n} ({name}) has no "token"')
        if name in seen:
            raise ValueError(f"gateway {name} appears twice")
        seen.add(name)
        enrolments.append(Enrolment(gateway=name, token=token))
    return enrolments


def load_enrolments(path: str | Path) -> list[Enrolment]:
    """Read a tokens file; ``ValueError`` naming the file when it is unusable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    try:
        return parse_enrolments(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


# --- Statistics -------------------------------------------------------------------------


@dataclass
class FleetStats:
    heartbeats_sent: int = 0
    heartbeats_ok: int = 0
    events_generated: int = 0
    events_accepted: int = 0
    events_duplicates: int = 0
    events_dropped: int = 0
    config_200: int = 0
    config_304: int = 0
    retries: int = 0
    errors: int = 0
    last_error: str | None = None


def format_progress(summary: dict[str, Any]) -> str:
    """The one-line progress report, from :meth:`FleetSimulator.summary`."""
    gateways, events = summary["gateways"], summary["events"]
    heartbeats, pulls = summary["heartbeats"], summary["config_pulls"]
    return (
        f"[{summary['elapsed']:6.0f}s] "
        f"gateways {gateways['enrolled']}/{gateways['simulated']} enrolled, "
        f"{gateways['active']} active | "
        f"heartbeats {heartbeats['sent']} sent, {heartbeats['ok']} ok | "
        f"events {events['generated']} generated, {events['accepted']} accepted, "
        f"{events['duplicates']} duplicates, {events['pending']} pending | "
        f"config {pulls['200']}x200 {pulls['304']}x304 | "
        f"retries {summary['retries']} | "
        f"last error: {summary['last_error'] or 'none'}"
    )


def format_summary(summary: dict[str, Any], max_listed: int = 20) -> list[str]:
    """The report printed at exit, one string per line: the totals, then the
    gateways that were skipped, stopped or left events undelivered."""
    gateways, events = summary["gateways"], summary["events"]
    heartbeats, pulls = summary["heartbeats"], summary["config_pulls"]
    lines = [
        f"Fleet simulation finished after {summary['elapsed']:.1f}s.",
        f"  gateways:    {gateways['simulated']} simulated, {gateways['enrolled']} enrolled, "
        f"{gateways['active']} active to the end, {gateways['skipped']} skipped, "
        f"{gateways['stopped']} stopped by the console"
        + (f", {gateways['failed']} failed" if gateways["failed"] else ""),
        f"  heartbeats:  {heartbeats['sent']} sent, {heartbeats['ok']} ok",
        f"  events:      {events['generated']} generated, {events['accepted']} accepted, "
        f"{events['duplicates']} duplicates, {events['dropped']} dropped (400), "
        f"{events['pending']} not delivered",
        f"  config:      {pulls['200']} pulls with changes (200), {pulls['304']} unchanged (304)",
        f"  retries:     {summary['retries']}; errors: {summary['errors']}; "
        f"last error: {summary['last_error'] or 'none'}",
    ]
    troubled = [
        gateway
        for gateway in summary["per_gateway"]
        if gateway["state"] in {"skipped", "stopped", "failed"} or gateway["events_pending"]
    ]
    for gateway in troubled[:max_listed]:
        reason = f": {gateway['reason']}" if gateway["reason"] else ""
        pending = gateway["events_pending"]
        lines.append(
            f"  - {gateway['name']}: {gateway['state']}{reason}"
            + (f", {plural(pending, 'event')} not delivered" if pending else "")
        )
    if len(troubled) > max_listed:
        lines.append(f"  … and {plural(len(troubled) - max_listed, 'more gateway')}.")
    return lines


# --- The gateways -----------------------------------------------------------------------


class GatewayRejected(Exception):
    """The console refused the gateway's credential (401) or the gateway (403)."""

    def __init__(self, status: int):
        self.status = status
        super().__init__(status)

    @property
    def reason(self) -> str:
        if self.status == 403:
            return "the console refused the gateway (403): disabled or deleted"
        return "the console refused the credential (401): rotated or revoked"


class Interrupted(Exception):
    """A request given up because the simulation is stopping."""


def error_body(response: httpx.Response, limit: int = 500) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:limit]
    if isinstance(body, dict) and "errors" in body:
        body = body["errors"]
    return json.dumps(body)[:limit]


class SimulatedGateway:
    """One gateway: enrols, then heartbeats, pulls its config and sends its
    events until the fleet stops or the console refuses it."""

    def __init__(self, fleet: FleetSimulator, index: int, enrolment: Enrolment):
        self.fleet = fleet
        self.index = index
        self.name = enrolment.gateway
        self.token = enrolment.token
        # Content and timing draw from separate generators, so retries (which
        # depend on the network) do not change what a seeded run reports.
        self.rng = make_rng(fleet.seed, "gateway", enrolment.gateway)
        self.jitter = make_rng(fleet.seed, "jitter", enrolment.gateway)
        self.version: str = weighted_choice(self.rng, AGENT_VERSIONS)
        self.network = site_network(self.rng)
        self.metrics = GatewayMetrics(self.rng)
        self.outbox = EventOutbox()
        self.state = "pending"  # pending, enrolling, active, skipped, stopped, failed
        self.reason = ""
        self.gateway_id: str | None = None
        self.credential: str | None = None
        self.heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL
        self.config_version = 0  # what heartbeats report until the first pull
        self.config_pulled = False
        self.tunnels: dict[str, SimulatedTunnel] = {}
        self.heartbeats_ok = 0
        self._config_wanted = asyncio.Event()
        self._last_sample: float | None = None

    @property
    def stats(self) -> FleetStats:
        return self.fleet.stats

    @property
    def active(self) -> bool:
        return self.state == "active"

    # --- lifecycle

    async def run(self) -> None:
        try:
            if not await self._enrol():
                return
            self.state = "active"
            self._config_wanted.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._heartbeat_loop(), name=f"{self.name} heartbeats")
                group.create_task(self._config_loop(), name=f"{self.name} config")
                group.create_task(self._events_loop(), name=f"{self.name} events")
        except* GatewayRejected as rejected:
            refusal = rejected.exceptions[0]
            assert isinstance(refusal, GatewayRejected)
            self._end("stopped", refusal.reason)
        except* Exception as crashed:
            # A bug here, not the console's doing: say so rather than let the
            # gateway fall silent while it still counts as active.
            exc = crashed.exceptions[0]
            logger.error("%s: simulation failed", self.name, exc_info=exc)
            self._end("failed", f"internal error {type(exc).__name__}: {exc}")

    def _end(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        self.fleet.note_error(f"{self.name}: {reason}")
        pending = (
            f"; {plural(len(self.outbox), 'event')} could not be delivered" if self.outbox else ""
        )
        self.fleet.notice(f"{self.name}: {state}, {reason}{pending}.")

    def enqueue(self, fields: dict[str, Any]) -> None:
        """The gateway detects an event now."""
        event = stamp_event(fields, self.fleet.clock())
        if self.outbox.add(event):
            self.stats.events_generated += 1
        else:  # cannot happen with the generator's events; counted, never silent
            self.stats.events_dropped += 1
            self.fleet.note_error(f"{self.name}: event {event['id']} alone exceeds 1 MiB")

    # --- HTTP

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
        deadline: float | None = None,
    ) -> httpx.Response | None:
        """One request; ``None`` when it failed on the way (connection, timeout).

        Raises :class:`GatewayRejected` on 401/403 to an authenticated call and
        :class:`Interrupted` when ``deadline`` (loop time) passes meanwhile.
        """
        request_headers = dict(headers or {})
        if authenticated:
            request_headers["Authorization"] = f"Bearer {self.credential}"
        if content is not None:
            request_headers["Content-Type"] = "application/json"
        try:
            async with asyncio.timeout_at(deadline):
                response = await self.fleet.client_for(self.index).request(
                    method,
                    API_PREFIX + path,
                    json=json_body,
                    content=content,
                    headers=request_headers,
                )
        except TimeoutError as exc:
            raise Interrupted from exc
        except httpx.RequestError as exc:  # connection, timeout, broken answer
            self.fleet.note_error(f"{self.name}: {method} {path}: {type(exc).__name__} {exc}")
            return None
        if authenticated and response.status_code in (401, 403):
            raise GatewayRejected(response.status_code)
        if response.status_code >= 500:
            self.fleet.note_error(f"{self.name}: {method} {path} answered {response.status_code}")
        return response

    def _retry_delay(self, response: httpx.Response | None, attempt: int) -> float:
        """How long to wait before trying again after a failed request."""
        if response is not None and response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                return retry_after
        return self.fleet.backoff.delay(attempt, self.jitter)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        deadline: float | None = None,
        slots: asyncio.Semaphore | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A request retried until it gets an answer that is not 429 or 5xx.

        Waits honour ``Retry-After`` or back off exponentially. Without a
        ``deadline`` the fleet stopping interrupts the wait; with one, waiting
        past it gives up. Either way :class:`Interrupted` is raised. ``slots``
        bounds how many such requests the fleet has in flight at once.
        """
        attempt = 0
        while True:
            # A slot (if any) is held for the request only, never while waiting.
            async with slots or contextlib.nullcontext():
                response = await self._send_once(method, path, deadline=deadline, **kwargs)
            if response is not None and response.status_code != 429 and response.status_code < 500:
                return response
            delay = self._retry_delay(response, attempt)
            attempt += 1
            self.stats.retries += 1
            if not await self.fleet.wait_to_retry(delay, deadline):
                raise Interrupted

    # --- enrolment

    async def _enrol(self) -> bool:
        self.state = "enrolling"
        # Spread the fleet's first requests over a moment.
        if not await self.fleet.wait(self.jitter.uniform(0, self.fleet.enrol_spread)):
            self.state, self.reason = "pending", "stopped before enrolling"
            return False
        body = {"token": self.token, "hostname": self.name, "version": self.version}
        try:
            response = await self._request(
                "POST",
                "/enroll",
                json_body=body,
                authenticated=False,
                slots=self.fleet.enrol_slots,
            )
        except Interrupted:
            self.state, self.reason = "pending", "stopped before enrolling"
            return False
        if response.status_code == 201:
            try:
                answer = response.json()
                self.credential = str(answer["credential"])
                self.gateway_id = str(answer.get("gateway_id") or "")
                self.heartbeat_interval = self._interval(answer, DEFAULT_HEARTBEAT_INTERVAL)
            except (ValueError, KeyError, TypeError, AttributeError):
                return self._skip(
                    f"enrolment answer 201 without a credential: {error_body(response)}"
                )
            return True
        if response.status_code == 401:
            return self._skip("enrolment token refused (401): already used or expired")
        if response.status_code == 400:
            logger.error("%s: enrolment refused as invalid: %s", self.name, error_body(response))
            return self._skip(f"enrolment request invalid (400): {error_body(response)}")
        if response.is_redirect:
            location = response.headers.get("Location", "?")
            return self._skip(
                f"enrolment answered {response.status_code} to {location}: "
                "give --url the console's address as it redirects (https?)"
            )
        return self._skip(f"enrolment answered {response.status_code}: {error_body(response)}")

    def _skip(self, reason: str) -> bool:
        self.state, self.reason = "skipped", reason
        self.fleet.note_error(f"{self.name}: {reason}")
        self.fleet.notice(f"{self.name}: skipped, {reason}.")
        return False

    @staticmethod
    def _interval(answer: Any, default: float) -> float:
        try:
            interval = float(answer["heartbeat_interval"])
        except (KeyError, TypeError, ValueError):
            return default
        return interval if math.isfinite(interval) and interval > 0 else default

    # --- heartbeats

    def heartbeat_body(self) -> dict[str, Any]:
        now = self.fleet.clock()
        loop_now = asyncio.get_running_loop().time()
        elapsed = (
            self.heartbeat_interval if self._last_sample is None else loop_now - self._last_sample
        )
        self._last_sample = loop_now
        sample = self.metrics.sample(now)
        rx_bps, tx_bps = int(sample.metrics["rx_bps"]), int(sample.metrics["tx_bps"])
        tunnels = [tunnel.advance(elapsed, rx_bps, tx_bps) for tunnel in self.tunnels.values()]
        degraded = (
            (sample.spiking and self.rng.random() < 0.6)
            or float(sample.metrics["cpu_pct"]) > 90
            or (any(t["state"] == "down" for t in tunnels) and self.rng.random() < 0.5)
            or self.rng.random() < RANDOM_DEGRADED_PROBABILITY
        )
        return {
            "sent_at": isoformat_z(now),
            "status": "degraded" if degraded else "ok",
            "version": self.version,
            "config_version": self.config_version,
            "metrics": sample.metrics,
            "tunnels": tunnels,
        }

    async def _heartbeat_loop(self) -> None:
        failures = 0
        delay = self.jitter.uniform(0, self.heartbeat_interval)
        while await self.fleet.wait(delay):
            self.stats.heartbeats_sent += 1
            try:
                response = await self._send_once(
                    "POST", "/heartbeat", json_body=self.heartbeat_body()
                )
            except Interrupted:  # pragma: no cover - no deadline on heartbeats
                return
            if response is None or response.status_code == 429 or response.status_code >= 500:
                delay = self.heartbeat_retry_delay(response, failures)
                failures += 1
                self.stats.retries += 1
                continue
            failures = 0
            delay = self.heartbeat_interval
            if response.status_code != 200:
                self._log_refused("heartbeat", response)
                continue
            self.stats.heartbeats_ok += 1
            self.heartbeats_ok += 1
            try:
                answer = response.json()
            except ValueError:
                self.fleet.note_error(f"{self.name}: heartbeat answer is not JSON")
                continue
            self.heartbeat_interval = self._interval(answer, self.heartbeat_interval)
            delay = self.heartbeat_interval
            announced = answer.get("config_version") if isinstance(answer, dict) else None
            if isinstance(announced, int) and announced > self.config_version:
                self._config_wanted.set()

    def heartbeat_retry_delay(self, response: httpx.Response | None, failures: int) -> float:
        """When to send a fresh heartbeat after a failed one: backing off, but
        never later than the interval (three missed ones mark the gateway
        offline), unless the console asked for longer with Retry-After."""
        delay = self._retry_delay(response, failures)
        if response is not None and response.status_code == 429:
            return delay
        return min(delay, self.heartbeat_interval)

    def _log_refused(self, what: str, response: httpx.Response) -> None:
        body = error_body(response)
        if response.status_code == 400:
            # The console says the simulator sent something malformed: a bug here.
            logger.error("%s: %s refused as invalid (400): %s", self.name, what, body)
        self.fleet.note_error(f"{self.name}: {what} answered {response.status_code}: {body}")

    # --- configuration

    async def _config_loop(self) -> None:
        while await self.fleet.wait_for(self._config_wanted):
            self._config_wanted.clear()
            # Nothing to compare with before the first pull.
            headers = {"If-None-Match": f'"{self.config_version}"'} if self.config_pulled else {}
            try:
                response = await self._request("GET", "/config", headers=headers)
            except Interrupted:
                return
            if response.status_code == 304:
                self.stats.config_304 += 1
            elif response.status_code == 200:
                self.stats.config_200 += 1
                self.apply_config(response)
            else:
                self._log_refused("config pull", response)

    def apply_config(self, response: httpx.Response) -> None:
        try:
            config = response.json()
            version = config["version"]
            entries = config.get("tunnels") or []
            tunnel_ids = [str(entry["tunnel_id"]) for entry in entries]
        except (ValueError, KeyError, TypeError, AttributeError):
            self.fleet.note_error(f"{self.name}: config answer unreadable: {error_body(response)}")
            return
        if not isinstance(version, int):
            self.fleet.note_error(f"{self.name}: config version {version!r} is not an integer")
            return
        etag = response.headers.get("ETag")
        if etag is not None and etag.strip().removeprefix("W/") != f'"{version}"':
            self.fleet.note_error(f"{self.name}: config ETag {etag} differs from version {version}")
        # Tunnels still in the config keep their state and counters.
        self.tunnels = {
            tunnel_id: self.tunnels.get(tunnel_id)
            or SimulatedTunnel(tunnel_id, make_rng(self.fleet.seed, "tunnel", self.name, tunnel_id))
            for tunnel_id in tunnel_ids
        }
        self.config_version = version
        self.config_pulled = True

    # --- events

    async def _events_loop(self) -> None:
        interval = self.fleet.flush_interval
        delay = self.jitter.uniform(0.1 * interval, interval)
        while await self.fleet.wait(delay):
            await self.flush()
            delay = interval * self.jitter.uniform(0.8, 1.2)
        # Stopping: one last flush, bounded by the shutdown deadline.
        await self.flush(deadline=self.fleet.final_deadline())

    async def flush(self, deadline: float | None = None) -> None:
        """Send every pending batch, oldest first; stop at the first one that
        cannot be sent now (it stays at the head and goes again next time)."""
        while (batch := self.outbox.next_batch()) is not None:
            batch.attempts += 1
            try:
                response = await self._request(
                    "POST", "/events", content=batch.body, deadline=deadline
                )
            except Interrupted:
                return
            if response.status_code == 202:
                self._acknowledged(batch, response)
            elif response.status_code == 400:
                self._log_refused(f"events batch of {len(batch)}", response)
                self.outbox.drop(batch)
                self.stats.events_dropped += len(batch)
            elif response.status_code == 413 and self.outbox.split(batch):
                self.fleet.note_error(f"{self.name}: batch of {len(batch)} too large (413), split")
            elif response.status_code == 413:
                self._log_refused("a single event", response)
                self.outbox.drop(batch)
                self.stats.events_dropped += 1
            else:
                # Unexpected: keep the batch and try again at the next flush.
                self._log_refused(f"events batch of {len(batch)}", response)
                return

    def _acknowledged(self, batch: EventBatch, response: httpx.Response) -> None:
        self.outbox.ack(batch)
        try:
            answer = response.json()
            accepted, duplicates = int(answer["accepted"]), int(answer["duplicates"])
        except (ValueError, KeyError, TypeError):
            self.fleet.note_error(f"{self.name}: events answer unreadable: {error_body(response)}")
            return
        self.stats.events_accepted += accepted
        self.stats.events_duplicates += duplicates
        if accepted + duplicates != len(batch):
            self.fleet.note_error(
                f"{self.name}: sent {len(batch)} events, console counted "
                f"{accepted} accepted + {duplicates} duplicates"
            )


# --- The fleet --------------------------------------------------------------------------


class FleetSimulator:
    """Plays a fleet of gateways against a console until stopped.

    ``run()`` returns :meth:`summary`. It stops when ``stop`` (an
    ``asyncio.Event``) is set, after ``duration`` seconds, or when no gateway is
    left running; pending events then get ``shutdown_deadline`` seconds to go.
    """

    def __init__(
        self,
        url: str,
        enrolments: Sequence[Enrolment],
        *,
        duration: float | None = None,
        rate_events: float = 0.5,
        seed: int | None = None,
        quiet: bool = False,
        out: Callable[[str], None] = print,
        progress_interval: float = 5.0,
        flush_interval: float = 3.0,
        shutdown_deadline: float = 5.0,
        enrol_spread: float = 1.0,
        backoff: Backoff | None = None,
        timeout: httpx.Timeout | None = None,
        max_connections: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utc_now,
    ):
        self.url = url.rstrip("/")
        try:
            parsed = httpx.URL(self.url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"{url!r} is not a URL: {exc}") from exc
        if parsed.scheme not in {"http", "https"} or not parsed.host:
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        self.duration = duration
        self.rate_events = max(0.0, rate_events)
        self.seed = seed
        self.quiet = quiet
        self.out = out
        self.progress_interval = progress_interval
        self.flush_interval = flush_interval
        self.shutdown_deadline = shutdown_deadline
        self.enrol_spread = enrol_spread
        self.backoff = backoff or Backoff()
        self.timeout = timeout or httpx.Timeout(10.0, connect=5.0)
        # None: each gateway has its own client (CONNECTIONS_PER_GATEWAY);
        # a number: all gateways share one pool of that many connections
        # (a console that takes one request at a time, as a test's SQLite).
        self.max_connections = max_connections
        self.transport = transport
        self.clock = clock
        self.stats = FleetStats()
        self.rng = make_rng(seed, "fleet")
        self.gateways = [SimulatedGateway(self, n, e) for n, e in enumerate(enrolments)]
        self.clients: list[httpx.AsyncClient] = []
        self.stop_event = asyncio.Event()
        self.enrol_slots = asyncio.Semaphore(16)
        self._final_deadline: float | None = None
        self._started: float | None = None
        self._bursts: set[asyncio.Task[None]] = set()

    # --- waiting

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    async def wait(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; ``False`` at once when the fleet stops."""
        if self.stopping:
            return False
        # asyncio.timeout rather than wait_for, which on 3.11 can swallow a
        # cancellation.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, delay)):
                await self.stop_event.wait()
        return not self.stopping

    async def wait_for(self, event: asyncio.Event) -> bool:
        """Wait until ``event`` is set (``True``) or the fleet stops (``False``)."""
        if self.stopping:
            return False
        if not event.is_set():
            waiters = {
                asyncio.ensure_future(event.wait()),
                asyncio.ensure_future(self.stop_event.wait()),
            }
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        return not self.stopping

    async def wait_to_retry(self, delay: float, deadline: float | None) -> bool:
        """Wait before a retry: interrupted by the fleet stopping when there is
        no deadline, else refused (``False``) when it would end past it."""
        if deadline is None:
            return await self.wait(delay)
        if self.loop_time() + delay > deadline:
            return False
        await asyncio.sleep(delay)
        return True

    def final_deadline(self) -> float:
        """When the last flush must be over; fixed by the first to ask."""
        if self._final_deadline is None:
            self._final_deadline = self.loop_time() + self.shutdown_deadline
        return self._final_deadline

    # --- reporting

    def notice(self, message: str) -> None:
        if not self.quiet:
            self.out(message)

    def note_error(self, message: str) -> None:
        self.stats.errors += 1
        self.stats.last_error = message
        logger.debug("%s", message)

    def summary(self) -> dict[str, Any]:
        stats = self.stats
        states = [g.state for g in self.gateways]
        # Monotonic wall time, not the loop's: a summary may be asked for
        # after the loop is gone (the command's hard stop).
        elapsed = 0.0 if self._started is None else time.monotonic() - self._started
        return {
            "elapsed": round(elapsed, 3),
            "gateways": {
                "simulated": len(self.gateways),
                "enrolled": sum(g.credential is not None for g in self.gateways),
                "active": states.count("active"),
                "skipped": states.count("skipped"),
                "stopped": states.count("stopped"),
                "failed": states.count("failed"),
            },
            "heartbeats": {"sent": stats.heartbeats_sent, "ok": stats.heartbeats_ok},
            "events": {
                "generated": stats.events_generated,
                "accepted": stats.events_accepted,
                "duplicates": stats.events_duplicates,
                "dropped": stats.events_dropped,
                "pending": sum(len(g.outbox) for g in self.gateways),
            },
            "config_pulls": {"200": stats.config_200, "304": stats.config_304},
            "retries": stats.retries,
            "errors": stats.errors,
            "last_error": stats.last_error,
            "per_gateway": [
                {
                    "name": g.name,
                    "gateway_id": g.gateway_id,
                    "state": g.state,
                    "reason": g.reason,
                    "version": g.version,
                    "config_version": g.config_version,
                    "tunnels": len(g.tunnels),
                    "heartbeats_ok": g.heartbeats_ok,
                    "events_pending": len(g.outbox),
                }
                for g in self.gateways
            ],
        }

    async def _report_progress(self) -> None:
        while await self.wait(self.progress_interval):
            self.out(format_progress(self.summary()))

    # --- events across the fleet

    def _active_gateways(self) -> list[SimulatedGateway]:
        return [g for g in self.gateways if g.active]

    async def _generate_noise(self) -> None:
        """Background events, Poisson at ``rate_events`` per second fleet-wide."""
        tick = 0.25
        last = self.loop_time()
        while await self.wait(tick):
            now = self.loop_time()
            count, last = poisson(self.rng, self.rate_events * (now - last)), now
            active = self._active_gateways()
            if not active:
                continue
            for _ in range(count):
                gateway = self.rng.choice(active)
                gateway.enqueue(noise_event_fields(self.rng, gateway.network))

    async def _generate_bursts(self) -> None:
        """Now and then a scan, a brute force or an incident, over a few seconds."""
        mean_gap = EVENTS_PER_BURST / self.rate_events
        while await self.wait(self.rng.expovariate(1 / mean_gap)):
            active = self._active_gateways()
            if not active:
                continue
            plan = burst_plan(self.rng, [g.network for g in active])
            task = asyncio.create_task(self._play(plan, active))
            self._bursts.add(task)
            task.add_done_callback(self._bursts.discard)

    async def _play(self, plan: Iterable[PlannedEvent], gateways: list[SimulatedGateway]) -> None:
        start = self.loop_time()
        for item in plan:
            if not await self.wait(start + item.offset - self.loop_time()):
                return
            gateway = gateways[item.gateway]
            if gateway.active:
                gateway.enqueue(item.fields)

    # --- run

    def client_for(self, index: int) -> httpx.AsyncClient:
        return self.clients[index % len(self.clients)]

    def _new_clients(self) -> list[httpx.AsyncClient]:
        """One client per gateway, or one shared pool of ``max_connections``.

        httpx's pool looks at each of its connections on every request (expired,
        idle, readable), so the simulator's cost per request grows with the
        pool: one pool per 25 gateways still spent a third of the simulator's
        CPU there (docs/decisions.md, "2026-12-07 (third session)"). A client
        of its own also makes each simulated gateway behave as a real one, on
        connections of its own. Building a TLS context costs ~20 ms, so the
        clients share one (for an ``https://`` console).
        """
        shared = self.max_connections is not None
        per_client = self.max_connections if shared else CONNECTIONS_PER_GATEWAY
        limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
        verify = httpx.create_ssl_context() if self.transport is None else True
        return [
            httpx.AsyncClient(
                base_url=self.url,
                timeout=self.timeout,
                limits=limits,
                transport=self.transport,
                verify=verify,
                headers={
                    "User-Agent": "rustronaut-fleet-simulator/1",
                    "Accept": "application/json",
                },
            )
            for _ in range(1 if shared else max(1, len(self.gateways)))
        ]

    async def _stop_after(self, seconds: float) -> None:
        await self.wait(seconds)
        self.stop_event.set()

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        if stop is not None:
            self.stop_event = stop
        self._started = time.monotonic()
        helpers: list[asyncio.Task[None]] = []
        tasks: list[asyncio.Task[None]] = []
        async with contextlib.AsyncExitStack() as stack:
            self.clients = self._new_clients()
            for client in self.clients:
                await stack.enter_async_context(client)
            try:
                tasks = [asyncio.create_task(g.run(), name=g.name) for g in self.gateways]
                helpers.append(asyncio.create_task(self._generate_noise()))
                if self.rate_events > 0:
                    helpers.append(asyncio.create_task(self._generate_bursts()))
                if not self.quiet:
                    helpers.append(asyncio.create_task(self._report_progress()))
                if self.duration is not None:
                    helpers.append(asyncio.create_task(self._stop_after(self.duration)))
                stopped: asyncio.Future[Any] = asyncio.ensure_future(self.stop_event.wait())
                all_done: asyncio.Future[Any] = asyncio.gather(*tasks, return_exceptions=True)
                await asyncio.wait({stopped, all_done}, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                self.stop_event.set()
                # The gateways flush their events within the deadline; a last
                # in-flight request gets a moment more before it is cut.
                grace = self.final_deadline() - self.loop_time() + 1.0
                await asyncio.wait({all_done}, timeout=max(0.1, grace))
                for result in all_done.result() if all_done.done() else []:
                    if isinstance(result, BaseException) and not isinstance(
                        result, asyncio.CancelledError
                    ):
                        logger.error("gateway task failed", exc_info=result)
                        self.note_error(f"internal error: {type(result).__name__}: {result}")
            finally:
                self.stop_event.set()
                for task in [*tasks, *helpers, *self._bursts]:
                    task.cancel()
                await asyncio.gather(*tasks, *helpers, *self._bursts, return_exceptions=True)
        summary = self.summary()
        for line in format_summary(summary):
            self.out(line)
        return summary


async def run_fleet(url: str, enrolments: Sequence[Enrolment], **options: Any) -> dict[str, Any]:
    """Run a fleet simulation to its end and return its summary."""
    return await FleetSimulator(url, enrolments, **options).run()
