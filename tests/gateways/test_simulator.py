"""The fleet simulator (gateways/simulator.py, manage.py simulate_fleet).

Three layers: the pure parts (metric curves, tunnels, events, backoff, the
outbox), the engine against an in-process fake console speaking the agent
protocol (httpx.MockTransport: failures on demand, no server), and the whole
simulator against the real agent API on pytest-django's live server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from gateways import simulator as sim
from gateways.simulator import (
    CATEGORIES,
    GATEWAY_STATUSES,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    SEVERITIES,
    TUNNEL_STATES,
    Backoff,
    Enrolment,
    EventOutbox,
    FleetSimulator,
    GatewayMetrics,
    SimulatedTunnel,
)

SOURCE_RANGES = [ipaddress.ip_network(f"{net}.0/24") for net in sim.SOURCE_NETWORKS]
INTERNAL = ipaddress.ip_network("10.0.0.0/8")
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NETWORKS = ["10.1", "10.2", "10.3", "10.4", "10.5", "10.6", "10.7", "10.8"]


def assert_valid_event(event: dict) -> None:
    """Every field the protocol names, with a value it allows."""
    assert uuid.UUID(event["id"]).version == 4
    assert event["occurred_at"].endswith("Z")
    occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    assert occurred.utcoffset() == timedelta(0)
    assert event["severity"] in SEVERITIES
    assert event["category"] in CATEGORIES
    assert isinstance(event["signature"], str) and 0 < len(event["signature"]) <= 255
    assert any(ipaddress.ip_address(event["src_ip"]) in net for net in SOURCE_RANGES)
    assert ipaddress.ip_address(event["dst_ip"]) in INTERNAL
    for port in (event["src_port"], event["dst_port"]):
        assert isinstance(port, int) and 0 < port < 65536
    assert event["protocol"] in {"tcp", "udp"}
    assert isinstance(event["message"], str) and event["message"]
    assert isinstance(event["details"], dict)


# --- Metrics -------------------------------------------------------------------------


def test_daily_traffic_curve_stays_in_range_and_peaks_in_the_afternoon():
    day = [NOON.replace(hour=0) + timedelta(minutes=10 * n) for n in range(144)]
    factors = [sim.daily_traffic_factor(moment) for moment in day]
    assert all(0.1 - 1e-9 <= f <= 1.0 + 1e-9 for f in factors)
    assert sim.daily_traffic_factor(NOON.replace(hour=14)) == pytest.approx(1.0)
    assert sim.daily_traffic_factor(NOON.replace(hour=2)) == pytest.approx(0.1)
    # A gateway two hours east peaks two hours earlier by UTC.
    assert sim.daily_traffic_factor(NOON, utc_offset_hours=2) == pytest.approx(1.0)


def test_gateway_metrics_are_in_range_and_load_follows_traffic():
    metrics = GatewayMetrics(random.Random(7))
    samples = [metrics.sample(NOON + timedelta(minutes=5 * n)) for n in range(2000)]  # about a week
    for sample in samples:
        m = sample.metrics
        assert set(m) == {"cpu_pct", "mem_pct", "rx_bps", "tx_bps", "sessions"}
        assert 0 <= m["cpu_pct"] <= 100 and 0 <= m["mem_pct"] <= 100
        assert isinstance(m["cpu_pct"], float) and isinstance(m["mem_pct"], float)
        for key in ("rx_bps", "tx_bps", "sessions"):
            assert isinstance(m[key], int) and m[key] >= 0
        assert m["rx_bps"] <= metrics.capacity_bps and m["tx_bps"] <= metrics.capacity_bps
    traffic = [s.metrics["rx_bps"] for s in samples]
    cpu = [s.metrics["cpu_pct"] for s in samples]
    assert statistics.correlation(traffic, cpu) > 0.8
    assert statistics.correlation(traffic, [s.metrics["sessions"] for s in samples]) > 0.8
    assert any(s.spiking for s in samples) and not all(s.spiking for s in samples)


def test_tunnels_flap_and_recover_with_counters_that_only_grow():
    tunnel = SimulatedTunnel(str(uuid.uuid4()), random.Random(3))
    reports = [tunnel.advance(10.0, 50_000_000, 20_000_000) for _ in range(3000)]
    states = [r["state"] for r in reports]
    assert set(states) == set(TUNNEL_STATES)
    assert states.count("up") > 0.8 * len(states)
    # A flap lasts a few intervals, then the tunnel is up again.
    longest_bad, run = 0, 0
    for state in states:
        run = 0 if state == "up" else run + 1
        longest_bad = max(longest_bad, run)
    assert 2 <= longest_bad <= 5
    for before, after in zip(reports, reports[1:], strict=False):
        assert after["rx_bytes"] >= before["rx_bytes"] and after["tx_bytes"] >= before["tx_bytes"]
        if after["state"] == "down":
            assert after["rx_bytes"] == before["rx_bytes"]
    assert reports[-1]["rx_bytes"] > 0
    assert all(r["latency_ms"] >= 0 for r in reports)
    up = [r["latency_ms"] for r in reports if r["state"] == "up"]
    degraded = [r["latency_ms"] for r in reports if r["state"] == "degraded"]
    assert statistics.mean(degraded) > 2 * statistics.mean(up)


# --- Events --------------------------------------------------------------------------


def test_noise_events_are_valid_and_cover_every_category():
    rng = random.Random(1)
    events = [sim.stamp_event(sim.noise_event_fields(rng, "10.20"), NOON) for _ in range(2000)]
    for event in events:
        assert_valid_event(event)
        assert event["dst_ip"].startswith("10.20.")
    assert {e["category"] for e in events} == set(CATEGORIES)
    assert {e["severity"] for e in events} == set(SEVERITIES)
    assert len({e["id"] for e in events}) == len(events)
    assert events[0]["occurred_at"] == "2026-11-25T12:00:00.000Z"


def test_port_scan_hits_several_gateways_from_one_source_within_seconds():
    for seed in range(20):
        plan = sim.port_scan_plan(random.Random(seed), NETWORKS)
        assert {p.fields["category"] for p in plan} == {"port_scan"}
        assert len({p.fields["src_ip"] for p in plan}) == 1
        assert 3 <= len({p.gateway for p in plan}) <= 8
        assert max(p.offset for p in plan) < 10
        assert [p.offset for p in plan] == sorted(p.offset for p in plan)
        for p in plan:
            assert p.fields["dst_ip"].startswith(NETWORKS[p.gateway] + ".")
            assert_valid_event(sim.stamp_event(p.fields, NOON))
    # A fleet smaller than a scan is scanned whole.
    assert {p.gateway for p in sim.port_scan_plan(random.Random(0), NETWORKS[:2])} == {0, 1}


def test_brute_force_is_many_auth_failures_from_one_source_on_one_gateway():
    for seed in range(20):
        plan = sim.brute_force_plan(random.Random(seed), NETWORKS)
        assert len(plan) >= 15
        assert {p.fields["category"] for p in plan} == {"auth_failure"}
        assert len({p.fields["src_ip"] for p in plan}) == 1
        assert len({p.gateway for p in plan}) == 1
        assert len({p.fields["dst_port"] for p in plan}) == 1
        assert plan[0].fields["dst_port"] in (22, 443)
        for p in plan:
            assert_valid_event(sim.stamp_event(p.fields, NOON))


def test_incidents_and_bursts_are_valid():
    rng = random.Random(5)
    categories = set()
    for _ in range(300):
        for p in sim.burst_plan(rng, NETWORKS):
            assert_valid_event(sim.stamp_event(p.fields, NOON))
            categories.add(p.fields["category"])
    assert categories == set(CATEGORIES)


def test_generation_is_deterministic_for_a_seed():
    def content(seed):
        rng = sim.make_rng(seed, "fleet")
        events = [sim.noise_event_fields(rng, "10.9") for _ in range(50)]
        plans = [sim.burst_plan(rng, NETWORKS) for _ in range(10)]
        metrics = GatewayMetrics(sim.make_rng(seed, "gateway", "gw-1"))
        samples = [metrics.sample(NOON + timedelta(seconds=10 * n)).metrics for n in range(50)]
        return events, plans, samples

    assert content(42) == content(42)
    assert content(42) != content(43)
    # Ids stay random even with a seed: a re-run must not be all duplicates.
    first = sim.stamp_event({}, NOON)["id"]
    assert sim.stamp_event({}, NOON)["id"] != first


def test_poisson_counts_average_the_rate():
    rng = random.Random(2)
    for mean in (0.125, 3.0, 250.0):
        counts = [sim.poisson(rng, mean) for _ in range(4000)]
        assert statistics.mean(counts) == pytest.approx(mean, rel=0.1)
        assert min(counts) >= 0
    assert sim.poisson(rng, 0) == 0


# --- Retries ------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    backoff = Backoff(base=0.5, factor=2.0, cap=30.0)
    rng = random.Random(0)
    for attempt, step in enumerate([0.5, 1, 2, 4, 8, 16, 30, 30]):
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len(set(delays)) > 100  # jittered, not lockstep
    assert backoff.delay(100_000, rng) <= 30.0  # no overflow in a long outage


def test_retry_after_is_read_as_seconds_or_a_date():
    now = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
    assert sim.parse_retry_after("7") == 7
    assert sim.parse_retry_after(" 2.5 ") == 2.5
    assert sim.parse_retry_after("Wed, 25 Nov 2026 10:00:30 GMT", now=now) == 30
    assert sim.parse_retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now=now) == 0
    assert sim.parse_retry_after("-3") == 0
    assert sim.parse_retry_after("99999") == sim.RETRY_AFTER_CAP
    for unreadable in (None, "", "soon", "nan"):
        assert sim.parse_retry_after(unreadable) is None


def test_429_waits_for_retry_after_and_5xx_backs_off():
    fleet = FleetSimulator("http://console.test", [Enrolment("gw-1", "t")], seed=1)
    gateway = fleet.gateways[0]
    request = httpx.Request("POST", "http://console.test/")
    throttled = httpx.Response(429, headers={"Retry-After": "12"}, request=request)
    assert gateway._retry_delay(throttled, attempt=0) == 12
    no_header = httpx.Response(429, request=request)
    assert 0.25 <= gateway._retry_delay(no_header, attempt=0) <= 0.5
    failed = httpx.Response(503, request=request)
    assert 2 <= gateway._retry_delay(failed, attempt=3) <= 4
    assert 2 <= gateway._retry_delay(None, attempt=3) <= 4  # connection error


def test_heartbeats_back_off_but_never_slower_than_the_interval():
    fleet = FleetSimulator("http://console.test", [Enrolment("gw-1", "t")], seed=1)
    gateway = fleet.gateways[0]
    gateway.heartbeat_interval = 10
    request = httpx.Request("POST", "http://console.test/")
    failed = httpx.Response(502, request=request)
    assert gateway.heartbeat_retry_delay(failed, failures=0) <= 0.5
    assert gateway.heartbeat_retry_delay(failed, failures=20) == 10
    assert gateway.heartbeat_retry_delay(None, failures=20) == 10
    # The console's own pause wins, even beyond the interval.
    throttled = httpx.Response(429, headers={"Retry-After": "45"}, request=request)
    assert gateway.heartbeat_retry_delay(throttled, failures=0) == 45


# --- The outbox -----------------------------------------------------------------------


def make_events(count: int, padding: int = 0) -> list[dict]:
    rng = random.Random(count)
    events = []
    for _ in range(count):
        fields = sim.noise_event_fields(rng, "10.1")
        fields["details"] = {"padding": "x" * padding} if padding else {}
        events.append(sim.stamp_event(fields, NOON))
    return events


def test_outbox_batches_at_most_1000_events():
    outbox = EventOutbox()
    events = make_events(2500)
    for event in events:
        assert outbox.add(event)
    sizes, sent = [], []
    while (batch := outbox.next_batch()) is not None:
        sizes.append(len(batch))
        assert json.loads(batch.body) == {"events": batch.events}
        sent.extend(batch.ids)
        outbox.ack(batch)
    assert sizes == [MAX_BATCH_EVENTS, MAX_BATCH_EVENTS, 500]
    assert sent == [e["id"] for e in events]  # every event, once, in order
    assert len(outbox) == 0


def test_outbox_keeps_bodies_under_1_mib():
    outbox = EventOutbox()
    events = make_events(60, padding=50_000)  # about 3 MiB in all
    for event in events:
        outbox.add(event)
    sent = []
    while (batch := outbox.next_batch()) is not None:
        assert len(batch.body) < MAX_BODY_BYTES
        assert len(batch) < 60
        sent.extend(batch.ids)
        outbox.ack(batch)
    assert sent == [e["id"] for e in events]


def test_outbox_refuses_an_event_larger_than_a_body():
    outbox = EventOutbox()
    assert not outbox.add(make_events(1, padding=MAX_BODY_BYTES)[0])
    assert len(outbox) == 0 and outbox.next_batch() is None


def test_a_failed_batch_is_resent_with_the_same_ids_and_bytes():
    outbox = EventOutbox(max_events=10)
    first = make_events(15)
    for event in first:
        outbox.add(event)
    batch = outbox.next_batch()
    assert batch is not None
    # The send failed; meanwhile more events arrive. The retry is the same batch.
    later = make_events(5)
    for event in later:
        outbox.add(event)
    again = outbox.next_batch()
    assert again is batch and again.body == batch.body
    assert again.ids == [e["id"] for e in first[:10]]
    assert len(outbox) == 20
    outbox.ack(batch)
    assert len(outbox) == 10
    following = outbox.next_batch()
    assert following is not None
    assert following.ids == [e["id"] for e in first[10:] + later]


def test_a_refused_batch_is_dropped_and_a_too_large_one_split_with_its_ids():
    outbox = EventOutbox()
    events = make_events(7)
    for event in events:
        outbox.add(event)
    batch = outbox.next_batch()
    assert batch is not None
    assert outbox.split(batch)
    halves = [outbox.next_batch()]
    outbox.ack(halves[0])
    halves.append(outbox.next_batch())
    assert [len(h) for h in halves] == [3, 4]
    assert halves[0].ids + halves[1].ids == [e["id"] for e in events]
    outbox.drop(halves[1])
    assert len(outbox) == 0
    single = EventOutbox()
    single.add(events[0])
    one = single.next_batch()
    assert not single.split(one)
    with pytest.raises(ValueError):
        single.ack(EventOutbox.__new__(sim.EventBatch))


# --- Tokens file and reports --------------------------------------------------------


def test_tokens_file_is_read_and_checked(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps([{"gateway": "gw-1", "token": "a"}, {"gateway": "gw-2", "token": "b"}])
    )
    assert sim.load_enrolments(path) == [Enrolment("gw-1", "a"), Enrolment("gw-2", "b")]
    for content, message in [
        ("{", "not valid JSON"),
        ('{"gateway": "gw-1"}', "JSON list"),
        ('[{"gateway": "gw-1"}]', 'no "token"'),
        ('[{"token": "a"}]', 'no "gateway"'),
        ('[{"gateway": "g", "token": "a"}, {"gateway": "g", "token": "b"}]', "twice"),
    ]:
        path.write_text(content)
        with pytest.raises(ValueError, match=message):
            sim.load_enrolments(path)
    with pytest.raises(ValueError, match="cannot read"):
        sim.load_enrolments(tmp_path / "missing.json")


def test_progress_line_names_every_counter():
    fleet = FleetSimulator("http://console.test", [Enrolment("gw-1", "t")])
    fleet.stats.last_error = "gw-1: POST /events answered 503"
    line = sim.format_progress(fleet.summary())
    for word in ("gateways 0/1 enrolled", "0 active", "heartbeats", "generated", "accepted",
                 "duplicates", "pending", "config", "retries", "answered 503"):  # fmt: skip
        assert word in line


def test_summary_lists_troubled_gateways_up_to_a_limit():
    fleet = FleetSimulator("http://console.test", [Enrolment(f"gw-{n}", "t") for n in range(30)])
    for gateway in fleet.gateways:
        gateway.state, gateway.reason = "skipped", "enrolment token refused (401)"
    fleet.gateways[0].outbox.add(make_events(1)[0])
    lines = sim.format_summary(fleet.summary())
    assert "  - gw-0: skipped: enrolment token refused (401), 1 event not delivered" in lines
    assert lines[-1] == "  … and 10 more gateways."


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://console.test", "http://", "console"])
def test_the_console_url_must_be_http(url):
    with pytest.raises(ValueError, match="URL"):
        FleetSimulator(url, [])


def test_each_gateway_has_a_client_of_its_own_unless_a_pool_is_asked_for():
    """httpx's pool looks at every connection on each request: one client per
    gateway keeps that to the gateway's own two. ``max_connections`` shares one
    pool of that size instead (a console taking one request at a time)."""
    enrolments = [Enrolment(f"gw-{i}", f"token-{i}") for i in range(3)]

    async def clients(**options):
        fleet = FleetSimulator("https://console.test", enrolments, **options)
        made = fleet._new_clients()
        try:
            return [
                (c._transport._pool._max_connections, c._transport._pool._ssl_context) for c in made
            ]
        finally:
            await asyncio.gather(*(c.aclose() for c in made))

    own = asyncio.run(clients())
    assert [limit for limit, _ in own] == [sim.CONNECTIONS_PER_GATEWAY] * 3
    assert len({id(context) for _, context in own}) == 1  # one TLS context for all
    assert [limit for limit, _ in asyncio.run(clients(max_connections=1))] == [1]


# --- The engine against a fake console --------------------------------------------------


class FakeConsole:
    """The console's side of the agent protocol, in memory, with failures on
    demand. Checks every request as strictly as the protocol reads."""

    def __init__(self, tokens: dict[str, str], *, interval: float = 0.1, tunnels: int = 2):
        self.tokens = dict(tokens)  # token -> gateway name
        self.interval = interval
        self.credentials: dict[str, str] = {}  # credential -> gateway name
        self.tunnels = {
            name: [str(uuid.uuid4()) for _ in range(tunnels)] for name in tokens.values()
        }
        self.config_version = 1
        self.announce_ahead = 0  # heartbeats announce a version this much newer
        self.heartbeats: dict[str, list[dict]] = {}
        self.events: dict[str, dict] = {}
        self.event_posts: list[list[str]] = []  # ids of every events request, in order
        self.if_none_match: list[str | None] = []
        self.fail: dict[str, list] = {}  # path -> answers (status or exception) to give first
        self.refuse: dict[str, int] = {}  # gateway name -> 401/403 from now on
        self.store_then_fail = 0  # events requests to store, then answer 500

    def _pop_failure(self, path: str, request: httpx.Request):
        queue = self.fail.get(path)
        if not queue:
            return None
        failure = queue.pop(0)
        if isinstance(failure, Exception):
            raise failure
        if failure == 429:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"errors": {}})
        return httpx.Response(failure, text="upstream trouble")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(sim.API_PREFIX)
        failure = self._pop_failure(path, request)
        if failure is not None:
            return failure
        if path == "/enroll":
            body = json.loads(request.content)
            assert set(body) == {"token", "hostname", "version"}
            name = self.tokens.pop(body["token"], None)
            if name is None or name != body["hostname"]:
                return httpx.Response(401, json={"errors": {"token": ["used or expired"]}})
            credential = f"cred-{uuid.uuid4()}"
            self.credentials[credential] = name
            return httpx.Response(
                201,
                json={
                    "gateway_id": str(uuid.uuid4()),
                    "credential": credential,
                    "heartbeat_interval": self.interval,
                },
            )
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        name = self.credentials.get(credential) if scheme == "Bearer" else None
        if name is None:
            return httpx.Response(401, json={"errors": {"authorization": ["unknown"]}})
        if name in self.refuse:
            return httpx.Response(self.refuse[name], json={"errors": {"authorization": ["no"]}})
        if path == "/heartbeat":
            return self._heartbeat(name, json.loads(request.content))
        if path == "/events":
            return self._events(json.loads(request.content))
        if path == "/config":
            self.if_none_match.append(request.headers.get("If-None-Match"))
            etag = f'"{self.config_version}"'
            if request.headers.get("If-None-Match") == etag:
                return httpx.Response(304, headers={"ETag": etag})
            body = {
                "version": self.config_version,
                "policies": [],
                "tunnels": [{"tunnel_id": t, "name": "t", "mtu": 1420} for t in self.tunnels[name]],
            }
            return httpx.Response(200, headers={"ETag": etag}, json=body)
        return httpx.Response(404)

    def _heartbeat(self, name: str, body: dict) -> httpx.Response:
        assert set(body) == {"sent_at", "status", "version", "config_version", "metrics", "tunnels"}
        assert body["status"] in GATEWAY_STATUSES and body["sent_at"].endswith("Z")
        assert set(body["metrics"]) == {"cpu_pct", "mem_pct", "rx_bps", "tx_bps", "sessions"}
        for tunnel in body["tunnels"]:
            assert set(tunnel) == {"tunnel_id", "state", "latency_ms", "rx_bytes", "tx_bytes"}
            assert tunnel["state"] in TUNNEL_STATES
            assert tunnel["tunnel_id"] in self.tunnels[name]
        self.heartbeats.setdefault(name, []).append(body)
        return httpx.Response(
            200,
            json={
                "config_version": self.config_version + self.announce_ahead,
                "heartbeat_interval": self.interval,
            },
        )

    def _events(self, body: dict) -> httpx.Response:
        events = body["events"]
        assert 0 < len(events) <= MAX_BATCH_EVENTS
        ids = [event["id"] for event in events]
        self.event_posts.append(ids)
        accepted = duplicates = 0
        for event in events:
            assert_valid_event(event)
            if event["id"] in self.events:
                duplicates += 1
            else:
                self.events[event["id"]] = event
                accepted += 1
        if self.store_then_fail:  # the answer is lost on the way back
            self.store_then_fail -= 1
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(202, json={"accepted": accepted, "duplicates": duplicates})


def run_fake_fleet(console: FakeConsole, names: list[str], **options) -> dict:
    token_of = {name: token for token, name in console.tokens.items()}
    enrolments = [Enrolment(name, token_of.get(name, "spent-token")) for name in names]
    defaults = {
        "duration": 1.5,
        "rate_events": 40.0,
        "seed": 11,
        "quiet": True,
        "out": lambda line: None,
        "flush_interval": 0.1,
        "shutdown_deadline": 2.0,
        "enrol_spread": 0.05,
        "backoff": Backoff(base=0.02, cap=0.1),
        "transport": httpx.MockTransport(console),
    }
    return asyncio.run(
        FleetSimulator("http://console.test", enrolments, **(defaults | options)).run()
    )


def fleet_console(count: int, **options) -> tuple[FakeConsole, list[str]]:
    names = [f"gw-{n}" for n in range(count)]
    return FakeConsole({f"token-{name}": name for name in names}, **options), names


def test_fleet_enrols_heartbeats_pulls_config_and_delivers_every_event():
    console, names = fleet_console(4)
    summary = run_fake_fleet(console, [*names, "gw-spent"])

    assert summary["gateways"] == {
        "simulated": 5, "enrolled": 4, "active": 4, "skipped": 1, "stopped": 0, "failed": 0,
    }  # fmt: skip
    spent = next(g for g in summary["per_gateway"] if g["name"] == "gw-spent")
    assert spent["state"] == "skipped" and "401" in spent["reason"]
    assert summary["heartbeats"]["ok"] == summary["heartbeats"]["sent"] > 4 * 5
    assert set(console.heartbeats) == set(names)
    assert summary["config_pulls"] == {"200": 4, "304": 0}
    assert console.if_none_match == [None] * 4  # nothing to compare with yet

    events = summary["events"]
    assert events["generated"] > 20
    assert events["pending"] == 0 and events["dropped"] == 0 and events["duplicates"] == 0
    assert events["accepted"] == events["generated"] == len(console.events)
    assert summary["retries"] == 0 and summary["errors"] == 1  # the spent token

    for name in names:
        beats = console.heartbeats[name]
        assert {b["config_version"] for b in beats[1:]} == {1}
        assert len({b["version"] for b in beats}) == 1  # a stable version string
        reported = [b for b in beats if b["tunnels"]]
        assert reported, "tunnels learned from the config are reported"
        for tunnel_id in console.tunnels[name]:
            counters = [
                t["rx_bytes"] for b in reported for t in b["tunnels"] if t["tunnel_id"] == tunnel_id
            ]
            assert counters == sorted(counters)


def test_a_console_that_redirects_is_named_in_the_reason():
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "https://console.test/api/agent/v1/enroll"})

    summary = asyncio.run(
        FleetSimulator(
            "http://console.test",
            [Enrolment("gw-0", "t")],
            quiet=True,
            out=lambda line: None,
            transport=httpx.MockTransport(redirect),
            enrol_spread=0,
        ).run()
    )
    reason = summary["per_gateway"][0]["reason"]
    assert "301" in reason and "https://console.test" in reason


def test_a_newer_config_announced_by_a_heartbeat_is_pulled_with_if_none_match():
    console, names = fleet_console(2)
    console.announce_ahead = 1  # announce 2 while serving 1: every pull is a 304
    summary = run_fake_fleet(console, names, duration=1.0, rate_events=0)
    assert summary["config_pulls"]["200"] == 2
    assert summary["config_pulls"]["304"] >= 2
    # The first pull of each has nothing to compare with; later ones send "1".
    assert console.if_none_match.count(None) == 2
    assert {tag for tag in console.if_none_match if tag is not None} == {'"1"'}
    assert all(g["config_version"] == 1 for g in summary["per_gateway"])


def test_a_config_change_adds_the_new_tunnels():
    console, names = fleet_console(1)

    async def change_config_soon():
        await asyncio.sleep(0.5)
        console.config_version = 2
        console.tunnels["gw-0"].append(str(uuid.uuid4()))

    async def run():
        fleet = FleetSimulator(
            "http://console.test",
            [Enrolment("gw-0", "token-gw-0")],
            duration=1.2,
            rate_events=0,
            quiet=True,
            out=lambda line: None,
            transport=httpx.MockTransport(console),
            enrol_spread=0,
        )
        _, summary = await asyncio.gather(change_config_soon(), fleet.run())
        return summary

    summary = asyncio.run(run())
    assert summary["config_pulls"]["200"] == 2
    assert summary["per_gateway"][0]["config_version"] == 2
    assert summary["per_gateway"][0]["tunnels"] == 3
    assert {t["tunnel_id"] for t in console.heartbeats["gw-0"][-1]["tunnels"]} == set(
        console.tunnels["gw-0"]
    )
    assert console.heartbeats["gw-0"][-1]["config_version"] == 2


def test_failed_batches_are_resent_with_the_same_ids_and_nothing_is_lost():
    console, names = fleet_console(3)
    console.fail["/events"] = [
        500,
        503,
        httpx.ConnectError("refused"),
        429,
        httpx.ReadTimeout("slow"),
    ]
    console.store_then_fail = 3  # stored, but the 202 never reached the gateway
    summary = run_fake_fleet(console, names)

    events = summary["events"]
    assert events["pending"] == 0 and events["dropped"] == 0
    assert len(console.events) == events["generated"]
    assert events["duplicates"] > 0  # the resends of the stored batches
    assert summary["retries"] == 5 + 3  # every failed post was retried, nothing else
    # Each batch whose answer was lost went again with exactly the same ids
    # and was counted as duplicates; nothing else was sent twice.
    posts = Counter(map(tuple, console.event_posts))
    assert sum(n - 1 for n in posts.values()) == 3  # one extra post per lost answer
    # The agent hears of duplicates only in the 202 that finally came back.
    assert events["duplicates"] == sum(len(ids) for ids, n in posts.items() if n > 1)
    # Each event is acknowledged once: new to the console, or already there.
    assert events["accepted"] + events["duplicates"] == events["generated"]


def test_enrolment_and_heartbeats_survive_a_console_that_is_briefly_down():
    console, names = fleet_console(2)
    console.fail["/enroll"] = [httpx.ConnectError("refused"), 503, 429]
    console.fail["/heartbeat"] = [500, httpx.ConnectError("refused"), 429]
    console.fail["/config"] = [502]
    summary = run_fake_fleet(console, names, rate_events=0)
    assert summary["gateways"]["enrolled"] == 2
    assert summary["config_pulls"]["200"] == 2
    assert summary["heartbeats"]["ok"] >= 4
    assert summary["heartbeats"]["sent"] == summary["heartbeats"]["ok"] + 3
    assert summary["retries"] == 3 + 3 + 1


def test_a_gateway_refused_by_the_console_stops_and_the_others_go_on():
    console, names = fleet_console(3)

    async def refuse_soon():
        await asyncio.sleep(0.5)
        console.refuse["gw-0"] = 403
        console.refuse["gw-1"] = 401

    async def run():
        fleet = FleetSimulator(
            "http://console.test",
            [Enrolment(name, f"token-{name}") for name in names],
            duration=1.5,
            rate_events=0,
            quiet=True,
            out=lambda line: None,
            transport=httpx.MockTransport(console),
            enrol_spread=0,
        )
        _, summary = await asyncio.gather(refuse_soon(), fleet.run())
        return summary

    summary = asyncio.run(run())
    states = {g["name"]: g for g in summary["per_gateway"]}
    assert states["gw-0"]["state"] == "stopped" and "403" in states["gw-0"]["reason"]
    assert states["gw-1"]["state"] == "stopped" and "401" in states["gw-1"]["reason"]
    assert states["gw-2"]["state"] == "active"
    assert summary["gateways"]["stopped"] == 2 and summary["gateways"]["active"] == 1
    beats = {name: len(console.heartbeats[name]) for name in names}
    assert beats["gw-2"] > beats["gw-0"] + 3


def test_a_gateway_that_crashes_is_reported_failed_not_left_looking_active(caplog):
    console, names = fleet_console(2)

    async def run():
        fleet = FleetSimulator(
            "http://console.test",
            [Enrolment(name, f"token-{name}") for name in names],
            duration=0.8,
            rate_events=0,
            quiet=True,
            out=lambda line: None,
            transport=httpx.MockTransport(console),
            enrol_spread=0,
        )

        def broken() -> dict:
            raise RuntimeError("metrics sensor exploded")

        fleet.gateways[0].heartbeat_body = broken  # type: ignore[method-assign]
        return await fleet.run()

    summary = asyncio.run(run())
    states = {g["name"]: g for g in summary["per_gateway"]}
    assert states["gw-0"]["state"] == "failed"
    assert "RuntimeError: metrics sensor exploded" in states["gw-0"]["reason"]
    assert states["gw-1"]["state"] == "active"
    assert summary["gateways"]["failed"] == 1 and summary["gateways"]["active"] == 1
    assert "gw-0: simulation failed" in caplog.text


def test_a_batch_refused_as_invalid_is_dropped_and_counted(caplog):
    console, names = fleet_console(1)
    console.fail["/events"] = [400]
    summary = run_fake_fleet(console, names, duration=1.0)
    events = summary["events"]
    assert events["dropped"] > 0
    assert events["generated"] == events["dropped"] + events["accepted"]
    assert events["pending"] == 0
    assert any("400" in record.getMessage() for record in caplog.records)


def test_stopping_flushes_the_pending_events():
    console, names = fleet_console(3)
    # No flush would come during the run: the last one delivers everything.
    summary = run_fake_fleet(console, names, duration=1.0, flush_interval=60)
    events = summary["events"]
    assert events["generated"] > 10
    assert events["accepted"] == events["generated"] == len(console.events)
    assert events["pending"] == 0


def test_stopping_with_the_console_gone_gives_up_after_the_deadline_and_says_so():
    console, names = fleet_console(2)
    console.fail["/events"] = [503] * 10_000
    started = time.monotonic()
    summary = run_fake_fleet(
        console, names, duration=0.8, shutdown_deadline=0.5, backoff=Backoff(base=0.05, cap=0.2)
    )
    assert time.monotonic() - started < 3.5
    assert summary["events"]["generated"] > 0
    assert summary["events"]["pending"] == summary["events"]["generated"]
    assert all(g["events_pending"] for g in summary["per_gateway"])


def test_a_stop_event_ends_the_run_and_progress_is_reported():
    console, names = fleet_console(2)
    lines: list[str] = []

    async def run():
        stop = asyncio.Event()
        fleet = FleetSimulator(
            "http://console.test",
            [Enrolment(name, f"token-{name}") for name in names],
            rate_events=5,
            out=lines.append,
            progress_interval=0.2,
            transport=httpx.MockTransport(console),
            enrol_spread=0,
        )
        asyncio.get_running_loop().call_later(1.0, stop.set)
        return await fleet.run(stop)

    started = time.monotonic()
    summary = asyncio.run(run())
    assert time.monotonic() - started < 3
    assert summary["gateways"]["enrolled"] == 2
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) >= 3
    assert "gateways 2/2 enrolled, 2 active" in progress[-1]
    assert any(line.startswith("Fleet simulation finished") for line in lines)
    assert not lines[-1].startswith("[")  # the summary comes last


def test_a_seeded_fleet_reports_the_same_content():
    def beats(seed):
        console, names = fleet_console(2, tunnels=0)
        run_fake_fleet(console, names, duration=0.6, rate_events=0, seed=seed, clock=lambda: NOON)
        return {
            name: [(b["version"], b["metrics"]["cpu_pct"]) for b in console.heartbeats[name][:3]]
            for name in names
        }

    assert beats(5) == beats(5)
    assert beats(5) != beats(6)


# --- The command --------------------------------------------------------------------


@pytest.fixture
def fake_console_command(monkeypatch):
    """simulate_fleet with its HTTP going to a fake console."""
    console, names = fleet_console(2)

    def simulator(url, enrolments, **options):
        return FleetSimulator(
            url, enrolments, transport=httpx.MockTransport(console), enrol_spread=0, **options
        )

    monkeypatch.setattr("gateways.management.commands.simulate_fleet.FleetSimulator", simulator)
    return console, names


def test_command_runs_the_fleet_and_prints_a_summary(fake_console_command, tmp_path, capsys):
    console, names = fake_console_command
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps([{"gateway": n, "token": f"token-{n}"} for n in names]))
    call_command(
        "simulate_fleet", "--tokens-file", str(tokens), "--gateways", "5", "--duration", "1",
        "--rate-events", "10", "--seed", "3", "--quiet",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "simulating only those 2" in out
    assert "Fleet simulation finished" in out
    assert "2 enrolled" in out
    assert set(console.heartbeats) == set(names)


def test_command_refuses_a_bad_tokens_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("simulate_fleet", "--tokens-file", str(tmp_path / "nope.json"))
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(CommandError, match="holds no gateway"):
        call_command("simulate_fleet", "--tokens-file", str(empty))


def test_command_fails_when_no_gateway_could_enrol(fake_console_command, tmp_path):
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps([{"gateway": "gw-0", "token": "spent"}]))
    with pytest.raises(CommandError, match="No gateway could enrol"):
        call_command("simulate_fleet", "--tokens-file", str(tokens), "--duration", "1", "--quiet")


# --- End to end: the real agent API on the live server -------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_fleet_against_the_live_console(live_server, settings):
    """Enrol through the real agent API, then check what reached the database:
    heartbeats (gateway state, metric samples), tunnel states and events."""
    from gateways.enrolment import enrol, issue_token
    from gateways.models import Gateway, MetricSample
    from security.models import SecurityEvent
    from tests.factories import GatewayFactory, RegionFactory
    from tunnels.models import Tunnel

    settings.GATEWAY_HEARTBEAT_INTERVAL = 1  # read by the live server's thread
    region = RegionFactory()
    gateways = [GatewayFactory(name=f"sim-{n}", region=region) for n in range(3)]
    spent = GatewayFactory(name="sim-spent", region=region)
    between = Tunnel.objects.create(name="sim-0-1", gateway_a=gateways[0], gateway_b=gateways[1])
    to_site = Tunnel.objects.create(
        name="sim-2-site",
        gateway_a=gateways[2],
        remote_address="192.0.2.77",
        remote_subnets="10.99.0.0/16",
    )
    enrolments = [Enrolment(g.name, issue_token(g)) for g in gateways]
    spent_token = issue_token(spent)
    enrol(spent_token, version="1.8.2")  # already used: the simulator is told 401
    enrolments.append(Enrolment(spent.name, spent_token))

    summary = asyncio.run(
        FleetSimulator(
            live_server.url,
            enrolments,
            duration=5,
            # Modest: on SQLite every request goes through one connection, and
            # heartbeats must not queue behind a flood of event batches.
            rate_events=6,
            seed=7,
            quiet=True,
            out=lambda line: None,
            flush_interval=0.5,
            shutdown_deadline=5,
            # The live server's threads share one in-memory SQLite connection,
            # which concurrent requests lock ("database table is locked").
            max_connections=1 if connection.vendor == "sqlite" else None,
        ).run()
    )

    per_gateway = {g["name"]: g for g in summary["per_gateway"]}
    assert summary["gateways"]["enrolled"] == 3, summary
    assert per_gateway["sim-spent"]["state"] == "skipped"
    assert "401" in per_gateway["sim-spent"]["reason"]
    assert summary["config_pulls"]["200"] == 3
    assert summary["heartbeats"]["ok"] >= 3 * 2, summary

    for gateway in Gateway.objects.filter(pk__in=[g.pk for g in gateways]):
        reported = per_gateway[gateway.name]
        assert gateway.status in {"online", "degraded"}
        assert gateway.last_seen is not None
        assert gateway.credential_hash
        assert gateway.software_version == reported["version"]
        assert gateway.config_version == reported["config_version"]
        assert 0 <= gateway.cpu_pct <= 100 and gateway.rx_bps >= 0
        samples = MetricSample.objects.filter(gateway=gateway)
        assert samples.count() == reported["heartbeats_ok"] >= 2
        assert all(0 <= s.mem_pct <= 100 for s in samples)
    assert [per_gateway[g.name]["tunnels"] for g in gateways] == [1, 1, 1]

    for tunnel in (between, to_site):
        tunnel.refresh_from_db()
        assert tunnel.state in {"up", "down", "degraded"}, tunnel.state
        assert tunnel.latency_ms is not None and tunnel.latency_ms > 0
    between.refresh_from_db()
    assert between.rx_bytes > 0 or between.state != "up"

    events = summary["events"]
    assert events["generated"] >= 10
    assert events["pending"] == 0 and events["dropped"] == 0, summary["last_error"]
    assert events["accepted"] == events["generated"] == SecurityEvent.objects.count()
    stored = SecurityEvent.objects.all()
    assert {e.gateway_id for e in stored} <= {g.pk for g in gateways}
    assert {e.category for e in stored} <= set(CATEGORIES)
    assert {e.severity for e in stored} <= set(SEVERITIES)
