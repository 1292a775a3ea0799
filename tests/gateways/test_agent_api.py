"""The gateway agent API under /api/agent/v1/, point by point against
AGENT_PROTOCOL.md: heartbeat, configuration pull, authentication, throttling,
query counts, and no 500 for anything an agent sends.

Enrolment is in test_enrolment.py, security events in tests/security/.
The helpers here (``Agent``, ``enrolled_agent``, ``heartbeat_body``) are the
agent's side of the wire, shared by those files.
"""

from __future__ import annotations

import copy
import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gateways.agent import authentication
from gateways.agent.ingest import bump_config_version
from gateways.enrolment import enrol, issue_token, rotate_credential
from gateways.models import FleetConfig, Gateway, GatewayStatusChange, MetricSample
from security.models import SecurityEvent
from tests.factories import GatewayFactory, TunnelFactory
from tests.services import require

pytestmark = pytest.mark.django_db

AGENT = "/api/agent/v1/"
ENDPOINTS = ("heartbeat", "events", "config")  # the ones a credential opens
METHOD = {"enroll": "post", "heartbeat": "post", "events": "post", "config": "get"}


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    """The throttle counts per gateway pk in the shared Redis for a minute, and
    pks repeat between tests and runs: only the throttling tests may count."""
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9


# --- The agent's side of the wire ---------------------------------------------------


@dataclass
class Agent:
    """An enrolled gateway and the HTTP client its agent talks through."""

    gateway: Gateway
    credential: str
    client: Client = field(default_factory=Client)

    def headers(self, credential: str | None = None) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {credential or self.credential}"}

    def post(self, endpoint: str, body, *, content_type="application/json", **extra):
        """POST ``body`` (a dict is JSON-encoded, str/bytes are sent raw)."""
        raw = body if isinstance(body, str | bytes) else json.dumps(body)
        extra = {**self.headers(), **extra}
        return self.client.post(AGENT + endpoint, data=raw, content_type=content_type, **extra)

    def get(self, endpoint: str, **extra):
        return self.client.get(AGENT + endpoint, **{**self.headers(), **extra})

    def call(self, endpoint: str, **extra):
        """The endpoint with a valid body (heartbeat, events) or none (config)."""
        if endpoint == "config":
            return self.get(endpoint, **extra)
        body = heartbeat_body() if endpoint == "heartbeat" else {"events": [event()]}
        return self.post(endpoint, body, **extra)

    def refresh(self) -> Gateway:
        self.gateway.refresh_from_db()
        return self.gateway


def enrolled_agent(**gateway_fields) -> Agent:
    """A new gateway that went through enrolment, with its clear credential."""
    gateway = GatewayFactory(**gateway_fields)
    enrolment = enrol(issue_token(gateway), version="1.8.2")
    gateway.refresh_from_db()
    return Agent(gateway=gateway, credential=enrolment.credential)


@pytest.fixture
def agent() -> Agent:
    return enrolled_agent()


def heartbeat_body(**overrides) -> dict:
    """The heartbeat of AGENT_PROTOCOL.md, with top-level keys overridden."""
    body = {
        "sent_at": "2026-11-25T10:00:00Z",
        "status": "ok",
        "version": "1.8.3",
        "config_version": 41,
        "metrics": {
            "cpu_pct": 12.5,
            "mem_pct": 40.1,
            "rx_bps": 1_200_000,
            "tx_bps": 800_000,
            "sessions": 230,
        },
        "tunnels": [
            {
                "tunnel_id": str(uuid.uuid4()),
                "state": "up",
                "latency_ms": 14.2,
                "rx_bytes": 123,
                "tx_bytes": 456,
            }
        ],
    }
    body.update(overrides)
    return body


def event(**overrides) -> dict:
    """A security event of AGENT_PROTOCOL.md with a fresh agent-made id."""
    body = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-25T09:59:58Z",
        "severity": "high",
        "category": "port_scan",
        "signature": "ET SCAN Nmap",
        "src_ip": "203.0.113.9",
        "src_port": 51234,
        "dst_ip": "10.0.0.5",
        "dst_port": 22,
        "protocol": "tcp",
        "message": "SYN scan of 1,000 ports",
        "details": {"ports": 1000, "flags": ["S"]},
    }
    body.update(overrides)
    return body


MISSING = object()


def with_value(body: dict, path: str, value) -> dict:
    """A deep copy of ``body`` with ``path`` ("metrics.cpu_pct", "tunnels.0.state")
    set to ``value``, or removed when ``value`` is MISSING."""
    changed = copy.deepcopy(body)
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    target = changed
    for part in parents:
        target = target[part]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return changed


def assert_errors(response, status: int, *paths: str) -> dict:
    """The answer is ``status {"errors": {...}}`` naming exactly ``paths`` (when
    given), each with at least one message."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert isinstance(errors, dict)
    for messages in errors.values():
        assert messages, errors
        assert all(isinstance(message, str) and message for message in messages)
    if paths:
        assert set(errors) == set(paths), errors
    return errors


def gateway_row(gateway: Gateway) -> dict:
    return Gateway.objects.filter(pk=gateway.pk).values().get()


# --- Heartbeat ------------------------------------------------------------------------


class TestHeartbeat:
    def test_answers_the_config_version_and_interval(self, agent, settings):
        settings.GATEWAY_HEARTBEAT_INTERVAL = 7
        FleetConfig.objects.create(pk=1, version=42)

        response = agent.post("heartbeat", heartbeat_body())

        assert response.status_code == 200, response.content
        assert response.json() == {"config_version": 42, "heartbeat_interval": 7}

    def test_config_version_is_1_before_anything_changed(self, agent):
        assert agent.post("heartbeat", heartbeat_body()).json()["config_version"] == 1

    def test_updates_the_gateways_live_state(self, agent):
        before = timezone.now()
        response = agent.post("heartbeat", heartbeat_body())
        after = timezone.now()

        assert response.status_code == 200
        gateway = agent.refresh()
        assert gateway.status == "online"
        assert before <= gateway.last_seen <= after
        assert gateway.software_version == "1.8.3"
        assert gateway.config_version == 41
        assert (gateway.cpu_pct, gateway.mem_pct) == (12.5, 40.1)
        assert (gateway.rx_bps, gateway.tx_bps, gateway.sessions) == (1_200_000, 800_000, 230)

    def test_stores_one_metric_sample(self, agent):
        agent.post("heartbeat", heartbeat_body())

        sample = MetricSample.objects.get(gateway=agent.gateway)
        assert sample.time == agent.refresh().last_seen
        assert (sample.cpu_pct, sample.mem_pct) == (12.5, 40.1)
        assert (sample.rx_bps, sample.tx_bps, sample.sessions) == (1_200_000, 800_000, 230)

        agent.post("heartbeat", heartbeat_body())
        assert MetricSample.objects.filter(gateway=agent.gateway).count() == 2

    @pytest.mark.parametrize(
        ("before", "reported", "after"),
        [
            ("pending", "ok", "online"),
            ("offline", "ok", "online"),
            ("online", "degraded", "degraded"),
            ("degraded", "ok", "online"),
            ("maintenance", "ok", "maintenance"),
            ("maintenance", "degraded", "maintenance"),
        ],
    )
    def test_status(self, agent, before, reported, after):
        Gateway.objects.filter(pk=agent.gateway.pk).update(status=before)

        agent.post("heartbeat", heartbeat_body(status=reported))

        assert agent.refresh().status == after
        changes = list(GatewayStatusChange.objects.filter(gateway=agent.gateway))
        if before == after:
            assert changes == []
        else:
            [change] = changes
            assert (change.old_status, change.new_status) == (before, after)
            assert change.time == agent.gateway.last_seen
            assert change.reason == f"heartbeat: {reported}"

    def test_records_a_status_change_only_when_the_status_changes(self, agent):
        for reported in ("ok", "ok", "degraded", "degraded", "ok"):
            assert agent.post("heartbeat", heartbeat_body(status=reported)).status_code == 200

        changes = GatewayStatusChange.objects.filter(gateway=agent.gateway).order_by("pk")
        assert list(changes.values_list("old_status", "new_status")) == [
            ("pending", "online"),
            ("online", "degraded"),
            ("degraded", "online"),
        ]

    def test_unknown_keys_are_ignored_so_newer_agents_keep_working(self, agent):
        body = heartbeat_body(uptime_s=1234)
        body["metrics"]["gpu_pct"] = 3.0

        assert agent.post("heartbeat", body).status_code == 200

    def test_tunnels_may_be_left_out(self, agent):
        body = heartbeat_body()
        del body["tunnels"]

        assert agent.post("heartbeat", body).status_code == 200

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("sent_at", "yesterday"),
            ("sent_at", "2026-11-25T10:00:00"),  # no time zone
            ("sent_at", 1_795_600_000),
            ("sent_at", MISSING),
            ("status", "offline"),
            ("status", "OK"),
            ("status", None),
            ("version", ""),
            ("version", 182),
            ("version", "1." * 30),
            ("config_version", "41"),
            ("config_version", -1),
            ("config_version", 41.5),
            ("metrics", MISSING),
            ("metrics", None),
            ("metrics", [12.5, 40.1]),
            ("metrics.cpu_pct", "12.5"),
            ("metrics.cpu_pct", 100.5),
            ("metrics.cpu_pct", -0.1),
            ("metrics.cpu_pct", MISSING),
            ("metrics.mem_pct", True),
            ("metrics.rx_bps", -1),
            ("metrics.rx_bps", 1.5),
            ("metrics.rx_bps", 2**63),
            ("metrics.tx_bps", "800000"),
            ("metrics.sessions", -1),
            ("metrics.sessions", 2**31),
            ("tunnels", None),
            ("tunnels", {"tunnel_id": "x"}),
            ("tunnels.0", "up"),
            ("tunnels.0.tunnel_id", "not-a-uuid"),
            ("tunnels.0.tunnel_id", MISSING),
            ("tunnels.0.state", "sideways"),
            ("tunnels.0.latency_ms", -5),
            ("tunnels.0.latency_ms", "14"),
            ("tunnels.0.rx_bytes", -1),
            ("tunnels.0.tx_bytes", 4.5),
        ],
        ids=lambda value: "missing" if value is MISSING else None,
    )
    def test_a_bad_field_is_named_and_nothing_is_stored(self, agent, path, value):
        before = gateway_row(agent.gateway)

        response = agent.post("heartbeat", with_value(heartbeat_body(), path, value))

        assert_errors(response, 400, path)
        assert gateway_row(agent.gateway) == before
        assert not MetricSample.objects.exists()
        assert not GatewayStatusChange.objects.exists()

    def test_every_bad_field_is_named_at_once(self, agent):
        body = heartbeat_body(status="sleeping", sent_at="soon")
        body["metrics"]["cpu_pct"] = "high"
        body["tunnels"].append({"tunnel_id": "nope", "state": "up"})
        del body["metrics"]["sessions"]

        response = agent.post("heartbeat", body)

        assert_errors(
            response,
            400,
            "status",
            "sent_at",
            "metrics.cpu_pct",
            "metrics.sessions",
            "tunnels.1.tunnel_id",
        )

    def test_malformed_json_is_a_body_error(self, agent):
        before = gateway_row(agent.gateway)

        response = agent.post("heartbeat", '{"status": "ok",')

        errors = assert_errors(response, 400, "body")
        assert "JSON" in errors["body"][0]
        assert gateway_row(agent.gateway) == before
        assert not MetricSample.objects.exists()

    def test_tunnel_reports_reach_the_tunnels_of_this_gateway(self, agent):
        tunnel = TunnelFactory(gateway_a=agent.gateway)
        body = heartbeat_body(
            tunnels=[
                {
                    "tunnel_id": str(tunnel.uuid),
                    "state": "degraded",
                    "latency_ms": 31.5,
                    "rx_bytes": 10,
                    "tx_bytes": 20,
                }
            ]
        )

        assert agent.post("heartbeat", body).status_code == 200

        tunnel.refresh_from_db()
        assert (tunnel.state, tunnel.latency_ms, tunnel.rx_bytes, tunnel.tx_bytes) == (
            "degraded",
            31.5,
            10,
            20,
        )

    def test_query_count(self, agent, django_assert_max_num_queries):
        agent.post("heartbeat", heartbeat_body())  # the status change is recorded once
        # Authenticate, savepoint, UPDATE the gateway, INSERT the sample, the
        # tunnel reports, release, read the config version: about 7.
        with django_assert_max_num_queries(8):
            assert agent.post("heartbeat", heartbeat_body()).status_code == 200

    @pytest.mark.parametrize("status_changes", [False, True])
    def test_a_heartbeat_without_tunnels_is_two_queries_on_postgresql(self, agent, status_changes):
        """The hot path: authenticate, then one statement that updates the
        gateway, keeps the sample, records a status change and reads the
        config version (no transaction round trips)."""
        # The one-statement heartbeat is PostgreSQL's.
        require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
        if not status_changes:
            agent.post("heartbeat", heartbeat_body(status="degraded", tunnels=[]))
        samples = MetricSample.objects.count()
        with CaptureQueriesContext(connection) as context:
            response = agent.post("heartbeat", heartbeat_body(status="degraded", tunnels=[]))

        assert response.status_code == 200
        assert len(context.captured_queries) == 2
        assert MetricSample.objects.count() == samples + 1
        agent.gateway.refresh_from_db()
        assert agent.gateway.status == "degraded"
        changes = GatewayStatusChange.objects.filter(gateway=agent.gateway, new_status="degraded")
        assert changes.count() == 1

    def test_the_answer_carries_the_current_config_version(self, agent):
        bump_config_version()
        bump_config_version()
        version = FleetConfig.objects.get(pk=1).version

        assert agent.post("heartbeat", heartbeat_body()).json()["config_version"] == version


# --- Configuration pull -----------------------------------------------------------------


class TestConfig:
    def test_answers_the_version_with_its_etag(self, agent):
        response = agent.get("config")

        assert response.status_code == 200
        assert response["ETag"] == '"1"'
        body = response.json()
        assert body == {"version": 1, "policies": [], "tunnels": []}

    def test_version_matches_the_fleet_config(self, agent):
        FleetConfig.objects.create(pk=1, version=42)

        response = agent.get("config")

        assert response["ETag"] == '"42"'
        assert response.json()["version"] == 42

    def test_unchanged_config_is_304(self, agent):
        etag = agent.get("config")["ETag"]

        response = agent.get("config", HTTP_IF_NONE_MATCH=etag)

        assert response.status_code == 304
        assert response.content == b""
        assert response["ETag"] == etag

    @pytest.mark.parametrize("sent", ['"0"', '"2"', "1", "", '"abc"', "*"])
    def test_another_version_gets_the_config(self, agent, sent):
        response = agent.get("config", HTTP_IF_NONE_MATCH=sent)

        assert response.status_code == 200
        assert response.json()["version"] == 1

    def test_a_new_version_is_served_after_a_bump(self, agent):
        old_etag = agent.get("config")["ETag"]

        bump_config_version()
        response = agent.get("config", HTTP_IF_NONE_MATCH=old_etag)

        assert response.status_code == 200
        assert response["ETag"] == '"2"'
        assert response.json()["version"] == 2
        assert agent.get("config", HTTP_IF_NONE_MATCH='"2"').status_code == 304
        # The heartbeat tells the agent there is something to pull.
        assert agent.post("heartbeat", heartbeat_body()).json()["config_version"] == 2

    def test_each_bump_grows_the_version(self, agent):
        FleetConfig.objects.create(pk=1, version=41)
        for expected in (42, 43, 44):
            bump_config_version()
            assert agent.get("config").json()["version"] == expected

    def test_serves_the_tunnels_of_this_gateway_only(self, agent):
        mine = [
            TunnelFactory(gateway_a=agent.gateway),
            TunnelFactory(gateway_b=agent.gateway),
        ]
        TunnelFactory(gateway_a=agent.gateway, enabled=False)
        TunnelFactory()  # between two other gateways

        tunnels = agent.get("config").json()["tunnels"]

        assert sorted(entry["tunnel_id"] for entry in tunnels) == sorted(
            str(tunnel.uuid) for tunnel in mine
        )


# --- Who may call -----------------------------------------------------------------------


def stored_rows() -> tuple:
    """Everything an agent call may store, to prove a refused call stored nothing."""
    return (
        MetricSample.objects.count(),
        SecurityEvent.objects.count(),
        GatewayStatusChange.objects.count(),
        sorted(Gateway.objects.values_list("pk", "status", "last_seen", "software_version")),
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
class TestAuthentication:
    def test_a_valid_credential_is_let_in(self, agent, endpoint):
        assert agent.call(endpoint).status_code in (200, 202)

    @pytest.mark.parametrize(
        "header",
        [
            None,
            "",
            "Bearer",
            "Bearer ",
            "Basic dXNlcjpwYXNz",
            "Token rcg_abc",
            "Bearer rcg_not-a-credential",
        ],
    )
    def test_no_or_unknown_credential_is_401(self, agent, endpoint, header):
        before = stored_rows()
        extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
        client = Client()
        if endpoint == "config":
            response = client.get(AGENT + endpoint, **extra)
        else:
            body = heartbeat_body() if endpoint == "heartbeat" else {"events": [event()]}
            response = client.post(
                AGENT + endpoint, json.dumps(body), content_type="application/json", **extra
            )

        assert_errors(response, 401, "authorization")
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert stored_rows() == before

    def test_the_credential_of_another_gateway_opens_only_that_gateway(self, agent, endpoint):
        other = enrolled_agent()

        agent.call(endpoint, **agent.headers(other.credential))

        if endpoint == "heartbeat":
            assert MetricSample.objects.get().gateway_id == other.gateway.pk
        if endpoint == "events":
            assert SecurityEvent.objects.get().gateway_id == other.gateway.pk

    def test_a_rotated_credential_is_401_at_once(self, agent, endpoint):
        assert agent.call(endpoint).status_code in (200, 202)
        rotate_credential(agent.gateway)
        before = stored_rows()

        response = agent.call(endpoint)

        assert_errors(response, 401, "authorization")
        assert stored_rows() == before

    def test_a_disabled_gateway_is_403(self, agent, endpoint):
        Gateway.objects.filter(pk=agent.gateway.pk).update(enabled=False)
        before = stored_rows()

        response = agent.call(endpoint)

        assert_errors(response, 403, "authorization")
        assert stored_rows() == before

    def test_a_deleted_gateway_is_403(self, agent, endpoint):
        Gateway.objects.get(pk=agent.gateway.pk).delete()
        before = stored_rows()

        response = agent.call(endpoint)

        errors = assert_errors(response, 403, "authorization")
        assert "deleted" in errors["authorization"][0]
        assert stored_rows() == before

    def test_a_deleted_gateway_deleted_through_a_queryset_is_403(self, agent, endpoint):
        Gateway.objects.filter(pk=agent.gateway.pk).delete()

        assert_errors(agent.call(endpoint), 403, "authorization")

    def test_a_superusers_session_opens_none_of_it(self, admin_user, endpoint):
        client = Client()
        client.force_login(admin_user)
        GatewayFactory()
        before = stored_rows()

        if endpoint == "config":
            response = client.get(AGENT + endpoint)
        else:
            body = heartbeat_body() if endpoint == "heartbeat" else {"events": [event()]}
            response = client.post(
                AGENT + endpoint, json.dumps(body), content_type="application/json"
            )

        assert_errors(response, 401, "authorization")
        assert stored_rows() == before


def test_a_superusers_session_does_not_enrol(admin_user):
    client = Client()
    client.force_login(admin_user)
    body = {"token": "rce_guess", "hostname": "gw", "version": "1.8.2"}

    response = client.post(AGENT + "enroll", json.dumps(body), content_type="application/json")

    assert_errors(response, 401, "token")


@pytest.mark.usefixtures("fresh_throttles")
@pytest.mark.parametrize("url", ["/api/v1/gateways/", "/api/v1/regions/", "/api/v1/"])
def test_a_gateway_credential_opens_none_of_the_user_api(agent, url):
    response = agent.client.get(url, **agent.headers())

    assert response.status_code in (401, 403)
    assert agent.gateway.name.encode() not in response.content
    assert str(agent.gateway.uuid).encode() not in response.content


def test_a_gateway_credential_opens_none_of_the_pages(agent):
    response = agent.client.get(agent.gateway.get_absolute_url(), **agent.headers())

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# --- Throttling -------------------------------------------------------------------------

WINDOW_START = 1_800_000_000 // 60 * 60  # a whole minute


@pytest.fixture
def throttle_clock(monkeypatch, settings):
    """The throttle's clock stopped 15.5 s into a minute, three calls a minute.

    The throttle counts in the shared Redis, which outlives test runs (and
    primary keys repeat across runs): the gateway's keys are cleared first.
    """
    settings.AGENT_THROTTLE_PER_MINUTE = 3
    clock = SimpleNamespace(now=WINDOW_START + 15.5)
    monkeypatch.setattr(authentication, "time", SimpleNamespace(time=lambda: clock.now))

    def forget(gateway: Gateway) -> None:
        for slot in range(WINDOW_START // 60 - 1, WINDOW_START // 60 + 3):
            cache.delete(f"agent-rate:{gateway.pk}:{slot}")

    clock.forget = forget
    return clock


@pytest.fixture
def throttled_agent(throttle_clock) -> Agent:
    fresh = enrolled_agent()
    throttle_clock.forget(fresh.gateway)
    yield fresh
    throttle_clock.forget(fresh.gateway)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_fourth_call_in_a_minute_is_429(throttled_agent, endpoint):
    for _ in range(3):
        assert throttled_agent.call(endpoint).status_code in (200, 202)
    before = stored_rows()

    response = throttled_agent.call(endpoint)

    assert_errors(response, 429, "rate")
    # 15.5 s into the minute: 44.5 s to wait, rounded up.
    assert response["Retry-After"] == "45"
    assert stored_rows() == before


def test_retry_after_is_whole_seconds_and_at_least_one(throttled_agent, throttle_clock):
    throttle_clock.now = WINDOW_START + 59.9
    for _ in range(3):
        throttled_agent.call("config")

    response = throttled_agent.call("config")

    assert response.status_code == 429
    assert response["Retry-After"] == "1"


def test_the_next_minute_is_allowed_again(throttled_agent, throttle_clock):
    for _ in range(4):
        throttled_agent.call("heartbeat")
    assert throttled_agent.call("heartbeat").status_code == 429

    throttle_clock.now += 60

    assert throttled_agent.call("heartbeat").status_code == 200


def test_the_limit_is_per_gateway(throttled_agent, throttle_clock):
    other = enrolled_agent()
    throttle_clock.forget(other.gateway)
    for _ in range(4):
        throttled_agent.call("heartbeat")

    assert throttled_agent.call("heartbeat").status_code == 429
    assert other.call("heartbeat").status_code == 200
    throttle_clock.forget(other.gateway)


def test_the_limit_is_counted_in_the_shared_cache(throttled_agent):
    """Two processes share the count: a second client (another worker) is
    throttled by the calls the first made."""
    for _ in range(3):
        throttled_agent.call("heartbeat")
    second_process = Agent(throttled_agent.gateway, throttled_agent.credential, Client())

    assert second_process.call("heartbeat").status_code == 429


# --- Nothing an agent sends causes a 500 --------------------------------------------------

DEEP = "[" * 20_000 + "]" * 20_000
HOSTILE_BODIES = {
    "empty": b"",
    "null": "null",
    "array": "[]",
    "string": '"text"',
    "number": "42",
    "huge-number": "1e400",
    "truncated": '{"events": [',
    "trailing-garbage": '{"events": []} {"x": 1}',
    "not-utf8": b"\xff\xfe\x00{\x00}",
    "utf8-bom": b"\xef\xbb\xbf{}",
    "lone-surrogate": '{"token": "\\ud800", "version": "\\udfff", "events": ["\\ud800"]}',
    "deep-nesting": DEEP,
    "deep-object": '{"events": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
    "nulls": json.dumps(
        {
            "token": None,
            "hostname": None,
            "version": None,
            "events": None,
            "metrics": None,
            "sent_at": None,
            "status": None,
            "tunnels": None,
        }
    ),
    "wrong-shapes": json.dumps(
        {
            "token": ["x"],
            "hostname": {},
            "version": 1.5,
            "events": {"0": {}},
            "metrics": [1, 2],
            "tunnels": "all",
            "sent_at": [],
            "status": {"ok": True},
        }
    ),
    "events-of-garbage": '{"events": [null, 1, "x", [], {}, {"id": {}}]}',
    "huge-numbers": '{"config_version": 1e400, "metrics": {"cpu_pct": 1e400, "rx_bps": 1'
    + "0" * 4000
    + ', "sessions": -1e400}, "events": [{"src_port": 1e400}]}',
    "nan-infinity": '{"config_version": NaN, "metrics": {"cpu_pct": NaN, "mem_pct": Infinity,'
    ' "rx_bps": -Infinity}}',
    "unicode": json.dumps(
        {
            "token": "ŧøķëñ 🚀",
            "hostname": "\u202egw\u200b",
            "version": "ünï\u202e",
            "status": "🆗",
            "events": [{"id": "🙂", "severity": "ℌ𝔦𝔤𝔥"}],
        },
        ensure_ascii=False,
    ),
    "nul-bytes": '{"token": "rce_\\u0000", "version": "\\u0000", "status": "ok\\u0000"}',
    "duplicate-keys": '{"status": "ok", "status": "bogus", "events": [], "events": null}',
    "form-encoded": "token=x&hostname=y&version=z",
}


def _hostile_request(agent: Agent, endpoint: str, body, content_type="application/json"):
    if endpoint != "config":
        return agent.post(endpoint, body, content_type=content_type)
    # The body of a GET is ignored, a hostile If-None-Match is not an error,
    # and a POST is not allowed at all.
    etag = body if isinstance(body, str) and len(body) < 200 else '"\x00"'
    response = agent.client.generic(
        "GET",
        AGENT + "config",
        body,
        content_type=content_type,
        HTTP_IF_NONE_MATCH=etag,
        **agent.headers(),
    )
    assert response.status_code == 200, response.content[:300]
    return agent.post("config", body, content_type=content_type)


def assert_handled(response) -> None:
    """Below 500, and any refusal is the protocol's JSON error body."""
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert_errors(response, response.status_code)


@pytest.mark.parametrize("endpoint", METHOD)
@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_no_hostile_body_causes_a_500(agent, endpoint, body):
    before = stored_rows()

    response = _hostile_request(agent, endpoint, body)

    assert_handled(response)
    if endpoint == "config":
        assert response.status_code == 405
    else:
        assert response.status_code in (400, 401), response.content[:300]
        assert stored_rows() == before


@pytest.mark.parametrize("endpoint", METHOD)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""],
)
def test_a_wrong_content_type_causes_no_500(agent, endpoint, content_type):
    assert_handled(_hostile_request(agent, endpoint, "a=b&c=d", content_type=content_type))


def test_a_valid_body_under_a_wrong_content_type_is_still_json(agent):
    """The body is JSON whatever the agent labels it: no parser is chosen by header."""
    response = agent.post("heartbeat", heartbeat_body(), content_type="text/plain")

    assert response.status_code == 200


# Valid bodies with one nasty value: these reach the database when the schema
# lets them through, so they are the ones that would crash an INSERT.
HOSTILE_FIELDS = {
    "heartbeat": [
        ("version", "1.8\u00002"),
        ("version", "🚀" * 50),
        ("sent_at", "0001-01-01T00:00:00+14:00"),
        ("sent_at", "9999-12-31T23:59:59-14:00"),
        ("config_version", 2**31),
        ("config_version", 2**64),
        ("metrics.cpu_pct", math.nan),
        ("metrics.mem_pct", math.inf),
        ("metrics.rx_bps", 2**63 - 1),
        ("metrics.tx_bps", 2**64),
        ("metrics.sessions", 2**31 - 1),
        ("tunnels.0.latency_ms", math.nan),
        ("tunnels.0.rx_bytes", 2**63 - 1),
        ("tunnels", [{"tunnel_id": "6f1c3b4e-1d2a-4c55-9a70-5f6a2a3b1c0d", "state": "up"}] * 1001),
    ],
}


@pytest.mark.parametrize(
    ("path", "value"), HOSTILE_FIELDS["heartbeat"], ids=lambda value: repr(value)[:40]
)
def test_no_hostile_heartbeat_field_causes_a_500(agent, path, value):
    response = agent.post("heartbeat", with_value(heartbeat_body(), path, value))

    assert_handled(response)
    if response.status_code == 200:
        # What was accepted was stored as sent.
        assert MetricSample.objects.filter(gateway=agent.gateway).count() == 1
    else:
        assert not MetricSample.objects.exists()


def test_a_nul_character_in_the_version_is_refused(agent):
    """PostgreSQL text cannot hold NUL: refused up front, the same on every database."""
    response = agent.post("heartbeat", heartbeat_body(version="1.8\u00002"))

    assert_errors(response, 400, "version")


def test_a_large_but_valid_heartbeat_is_stored(agent):
    body = heartbeat_body(
        metrics={
            "cpu_pct": 100,
            "mem_pct": 0,
            "rx_bps": 2**63 - 1,
            "tx_bps": 0,
            "sessions": 2**31 - 1,
        }
    )

    assert agent.post("heartbeat", body).status_code == 200

    sample = MetricSample.objects.get()
    assert (sample.cpu_pct, sample.rx_bps, sample.sessions) == (100.0, 2**63 - 1, 2**31 - 1)


def test_a_heartbeat_body_over_1_mib_is_413(agent):
    body = heartbeat_body(padding="x" * (1024 * 1024))

    response = agent.post("heartbeat", body)

    assert_errors(response, 413, "body")
    assert not MetricSample.objects.exists()


def test_last_seen_is_the_consoles_clock_not_sent_at(agent):
    """An agent with a wrong clock is still seen now."""
    agent.post("heartbeat", heartbeat_body(sent_at="2001-01-01T00:00:00Z"))

    assert agent.refresh().last_seen > timezone.now() - timedelta(minutes=1)
