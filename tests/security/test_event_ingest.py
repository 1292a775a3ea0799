"""Security events from gateway agents: POST /api/agent/v1/events
(AGENT_PROTOCOL.md "Security events", "Errors and limits") and their set-based
storage in security.ingest."""

from __future__ import annotations

import ipaddress
import json
import math
import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from gateways.agent.views import EventsView
from security.models import SecurityEvent
from tests.gateways.test_agent_api import (
    AGENT,
    MISSING,
    assert_errors,
    enrolled_agent,
    event,
    with_value,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    """The throttle counts per gateway pk in the shared Redis for a minute, and
    pks repeat between tests and runs: only the throttling tests may count."""
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9


@pytest.fixture
def agent():
    return enrolled_agent()


def post_events(agent, *events):
    return agent.post("events", {"events": list(events)})


def assert_accepted(response, accepted: int, duplicates: int) -> None:
    assert response.status_code == 202, response.content[:500]
    assert response.json() == {"accepted": accepted, "duplicates": duplicates}


# --- Storing -------------------------------------------------------------------------


def test_stores_each_event_with_its_gateway_and_fields(agent):
    sent = event(
        occurred_at="2026-11-25T11:59:58+02:00",
        severity="critical",
        category="intrusion",
        signature="ET EXPLOIT Something",
        src_ip="2001:db8::9",
        src_port=0,
        dst_ip="10.0.0.5",
        dst_port=65535,
        protocol="udp",
        message="ünïcödé message 🚀",
        details={"rule": 2_000_001, "nested": {"list": [1, "two", None, True]}},
    )

    assert_accepted(post_events(agent, sent), 1, 0)

    stored = SecurityEvent.objects.get()
    assert stored.uuid == uuid.UUID(sent["id"])
    assert stored.gateway == agent.gateway
    assert stored.occurred_at == datetime(2026, 11, 25, 9, 59, 58, tzinfo=UTC)
    assert (stored.severity, stored.category) == ("critical", "intrusion")
    assert stored.signature == "ET EXPLOIT Something"
    assert ipaddress.ip_address(stored.src_ip) == ipaddress.ip_address("2001:db8::9")
    assert (stored.src_port, stored.dst_ip, stored.dst_port) == (0, "10.0.0.5", 65535)
    assert stored.protocol == "udp"
    assert stored.message == "ünïcödé message 🚀"
    assert stored.details == {"rule": 2_000_001, "nested": {"list": [1, "two", None, True]}}
    assert stored.received_at is not None


def test_optional_fields_may_be_left_out(agent):
    minimal = {
        "id": str(uuid.uuid4()),
        "occurred_at": "2026-11-25T10:00:00Z",
        "severity": "info",
        "category": "anomaly",
    }

    assert_accepted(post_events(agent, minimal), 1, 0)

    stored = SecurityEvent.objects.get()
    assert (stored.signature, stored.protocol, stored.message) == ("", "", "")
    assert (stored.src_ip, stored.src_port, stored.dst_ip, stored.dst_port) == (
        None,
        None,
        None,
        None,
    )
    assert stored.details == {}


def test_explicit_nulls_are_the_same_as_absent(agent):
    sent = event(src_ip=None, src_port=None, dst_ip=None, dst_port=None)

    assert_accepted(post_events(agent, sent), 1, 0)

    assert SecurityEvent.objects.get().src_ip is None


@pytest.mark.parametrize("severity", ["info", "low", "medium", "high", "critical"])
@pytest.mark.parametrize(
    "category",
    ["intrusion", "port_scan", "auth_failure", "malware", "policy_violation", "anomaly"],
)
def test_every_severity_and_category_of_the_protocol_is_accepted(agent, severity, category):
    assert_accepted(post_events(agent, event(severity=severity, category=category)), 1, 0)
    assert SecurityEvent.objects.filter(severity=severity, category=category).count() == 1


def test_an_empty_batch_is_accepted(agent):
    assert_accepted(post_events(agent), 0, 0)


def test_a_batch_of_1000_is_accepted(agent):
    events = [event() for _ in range(1000)]

    assert_accepted(post_events(agent, *events), 1000, 0)

    assert SecurityEvent.objects.filter(gateway=agent.gateway).count() == 1000


def test_each_gateway_stores_its_own_events(agent):
    other = enrolled_agent()

    post_events(agent, event(), event())
    post_events(other, event())

    assert SecurityEvent.objects.filter(gateway=agent.gateway).count() == 2
    assert SecurityEvent.objects.filter(gateway=other.gateway).count() == 1


# --- Duplicates and retries ----------------------------------------------------------


def test_an_id_repeated_within_a_batch_is_stored_once(agent):
    first, second = event(), event()
    repeat = dict(first, message="the same id again")

    assert_accepted(post_events(agent, first, second, repeat, first), 2, 2)

    assert SecurityEvent.objects.count() == 2
    # The first occurrence is the one kept.
    assert SecurityEvent.objects.get(uuid=first["id"]).message == first["message"]


def test_a_retried_batch_stores_nothing_twice(agent):
    batch = [event() for _ in range(5)]
    assert_accepted(post_events(agent, *batch), 5, 0)

    assert_accepted(post_events(agent, *batch), 0, 5)
    assert_accepted(post_events(agent, *batch), 0, 5)

    assert SecurityEvent.objects.count() == 5


def test_a_partly_retried_batch_stores_only_the_new_events(agent):
    old = [event() for _ in range(3)]
    new = [event() for _ in range(2)]
    post_events(agent, *old)

    assert_accepted(post_events(agent, old[0], new[0], old[2], new[1]), 2, 2)

    assert set(SecurityEvent.objects.values_list("uuid", flat=True)) == {
        uuid.UUID(e["id"]) for e in old + new
    }


def test_an_id_is_compared_as_a_uuid_not_as_text(agent):
    sent = event()
    post_events(agent, sent)
    same_id = uuid.UUID(sent["id"])

    for spelling in (same_id.hex, str(same_id).upper(), f"urn:uuid:{same_id}"):
        assert_accepted(post_events(agent, event(id=spelling)), 0, 1)

    assert SecurityEvent.objects.count() == 1


# --- Refused batches ----------------------------------------------------------------

BAD_FIELDS = [
    ("events.0.src_ip", "203.0.113.300"),
    ("events.0.src_ip", "not an ip"),
    ("events.0.src_ip", "10.0.0.0/8"),
    ("events.0.src_ip", "fe80::1%eth0"),
    ("events.0.src_ip", ""),
    ("events.0.dst_ip", "::g"),
    ("events.0.occurred_at", "yesterday"),
    ("events.0.occurred_at", "2026-11-25T10:00:00"),  # no time zone
    ("events.0.occurred_at", "2026-13-01T00:00:00Z"),
    ("events.0.occurred_at", 1_795_600_000),
    ("events.0.occurred_at", MISSING),
    ("events.0.severity", "severe"),
    ("events.0.severity", "HIGH"),
    ("events.0.severity", MISSING),
    ("events.0.category", "spam"),
    ("events.0.category", None),
    ("events.0.dst_port", 70000),
    ("events.0.dst_port", 65536),
    ("events.0.src_port", -1),
    ("events.0.src_port", "22"),
    ("events.0.src_port", 22.0),
    ("events.0.id", "not-a-uuid"),
    ("events.0.id", 42),
    ("events.0.id", MISSING),
    ("events.0.signature", "s" * 256),
    ("events.0.protocol", "p" * 11),
    ("events.0.message", "m" * 10_001),
    ("events.0.message", ["a", "list"]),
    ("events.0.details", []),
    ("events.0.details", "{}"),
    ("events.0", None),
    ("events.0", "an event"),
    ("events", None),
    ("events", {"0": {}}),
    ("events", MISSING),
]


@pytest.mark.parametrize(
    ("path", "value"), BAD_FIELDS, ids=lambda value: "missing" if value is MISSING else None
)
def test_a_bad_field_is_named_and_nothing_of_the_batch_is_stored(agent, path, value):
    body = {"events": [event(), event(), event()]}

    response = agent.post("events", with_value(body, path, value))

    assert_errors(response, 400, path)
    assert not SecurityEvent.objects.exists()


def test_a_bad_event_late_in_the_batch_refuses_the_valid_ones_too(agent):
    events = [event() for _ in range(10)]
    events[7]["dst_port"] = 70000
    events[9]["src_ip"] = "999.1.1.1"

    response = post_events(agent, *events)

    assert_errors(response, 400, "events.7.dst_port", "events.9.src_ip")
    assert not SecurityEvent.objects.exists()


def test_a_refused_batch_can_be_sent_again_once_fixed(agent):
    events = [event(), event(severity="severe")]
    assert post_events(agent, *events).status_code == 400

    events[1]["severity"] = "medium"

    assert_accepted(post_events(agent, *events), 2, 0)


def test_malformed_json_is_a_body_error(agent):
    response = agent.post("events", '{"events": [{"id": ')

    assert_errors(response, 400, "body")
    assert not SecurityEvent.objects.exists()


def test_a_batch_over_1000_events_is_413(agent):
    events = [event() for _ in range(1001)]

    response = post_events(agent, *events)

    assert_errors(response, 413, "events")
    assert not SecurityEvent.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"severity": "severe"},
        {"src_ip": "not-an-ip"},
        {"id": "not-a-uuid"},
        {"occurred_at": None},
    ],
)
def test_a_batch_over_1000_events_is_413_even_with_bad_fields(agent, bad):
    """The limit is answered before the fields: 413, not 400."""
    events = [event() for _ in range(1001)]
    events[0].update(bad)
    events[-1].update(bad)

    response = post_events(agent, *events)

    assert_errors(response, 413, "events")
    assert not SecurityEvent.objects.exists()


def test_a_batch_of_exactly_1000_events_is_stored(agent):
    assert_accepted(post_events(agent, *(event() for _ in range(1000))), 1000, 0)


def test_a_body_over_1_mib_with_bad_fields_is_413(agent):
    events = [event(message="x" * 9_000, severity="severe") for _ in range(120)]

    response = agent.post("events", json.dumps({"events": events}))

    assert_errors(response, 413, "body")
    assert not SecurityEvent.objects.exists()


def test_a_body_over_1_mib_is_413(agent):
    # Each event is valid; together they weigh more than 1 MiB.
    events = [event(message="x" * 9_000) for _ in range(120)]
    body = json.dumps({"events": events})
    assert len(body) > 1024 * 1024

    response = agent.post("events", body)

    assert_errors(response, 413, "body")
    assert not SecurityEvent.objects.exists()


def test_a_body_of_exactly_1_mib_is_read(agent):
    body = json.dumps({"events": [event()]})
    body = body[:-1] + " " * (1024 * 1024 - len(body)) + "}"
    assert len(body) == 1024 * 1024

    assert_accepted(agent.post("events", body), 1, 0)


def test_a_body_over_1_mib_without_a_content_length_is_413(agent):
    """A chunked upload carries no Content-Length (the ASGI server hands the
    whole body on): the body's own length is checked too."""
    body = json.dumps({"events": [event(message="x" * 9_000) for _ in range(120)]})
    request = RequestFactory().post(
        AGENT + "events", body, content_type="application/json", **agent.headers()
    )
    del request.META["CONTENT_LENGTH"]

    response = EventsView.as_view()(request).render()

    assert response.status_code == 413
    assert list(json.loads(response.content)["errors"]) == ["body"]
    assert not SecurityEvent.objects.exists()


def test_a_lying_content_length_is_413(agent):
    response = agent.post("events", {"events": [event()]}, CONTENT_LENGTH=str(2 * 1024 * 1024))

    assert response.status_code == 413
    assert not SecurityEvent.objects.exists()


# --- Nothing an agent sends causes a 500 --------------------------------------------------

# Values the protocol's types let through to the database unless the schema
# stops them: each must be refused (400) or stored as sent, never a 500.
HOSTILE_VALUES = [
    ("events.0.message", "a\u0000b"),
    ("events.0.signature", "\u0000"),
    ("events.0.protocol", "tcp\u0000"),
    ("events.0.details", {"key\u0000": "value"}),
    ("events.0.details", {"key": "value\u0000"}),
    ("events.0.details", {"deep": [{"x": "\u0000"}]}),
    ("events.0.details", {"x": math.nan}),
    ("events.0.details", {"x": math.inf}),
    ("events.0.details", {"x": [-math.inf]}),
    ("events.0.details", {"x": 10**400}),
    ("events.0.details", {"x": "\\u0000"}),  # a backslash, not a NUL: stored as sent
    ("events.0.occurred_at", "0001-01-01T00:00:00+01:00"),
    ("events.0.occurred_at", "9999-12-31T23:59:59-14:00"),
    ("events.0.occurred_at", "0001-01-01T00:00:00Z"),
    ("events.0.occurred_at", "9999-12-31T23:59:59Z"),
    ("events.0.src_ip", "::ffff:203.0.113.9"),
    ("events.0.src_ip", 3405803785),
    ("events.0.src_port", 2**70),
    ("events.0.message", "🚀" * 10_000),
    ("events.0.message", "\u202e\u200b\ufeff"),
]


@pytest.mark.parametrize(("path", "value"), HOSTILE_VALUES, ids=lambda v: repr(v)[:30])
def test_no_hostile_value_causes_a_500(agent, path, value):
    body = {"events": [event(), event()]}

    response = agent.post("events", with_value(body, path, value))

    assert response.status_code < 500, response.content[:500]
    if response.status_code == 202:
        # Whatever was accepted is really stored.
        assert response.json() == {"accepted": 2, "duplicates": 0}
        assert SecurityEvent.objects.filter(gateway=agent.gateway).count() == 2
    else:
        assert_errors(response, 400, path)
        assert not SecurityEvent.objects.exists()


@pytest.mark.parametrize(
    "value", [{"x": math.nan}, {"x": math.inf}, {"k": "\u0000"}, {"k\u0000": 1}]
)
def test_details_postgresql_cannot_store_are_refused(agent, value):
    """jsonb holds neither NaN/Infinity nor NUL: refused up front, on every database."""
    response = post_events(agent, event(details=value))

    assert_errors(response, 400, "events.0.details")


@pytest.mark.parametrize("field", ["message", "signature", "protocol"])
def test_text_with_a_nul_character_is_refused(agent, field):
    response = post_events(agent, event(**{field: "a\u0000b"}))

    assert_errors(response, 400, f"events.0.{field}")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"])
def test_a_time_outside_the_storable_range_is_refused(agent, moment):
    response = post_events(agent, event(occurred_at=moment))

    assert_errors(response, 400, "events.0.occurred_at")


def test_an_ip_address_must_be_text(agent):
    response = post_events(agent, event(src_ip=3405803785))

    assert_errors(response, 400, "events.0.src_ip")


def test_a_storable_extreme_time_round_trips(agent):
    assert_accepted(post_events(agent, event(occurred_at="0001-01-01T00:00:00Z")), 1, 0)

    assert SecurityEvent.objects.get().occurred_at == datetime(1, 1, 1, tzinfo=UTC)


# --- Cost ---------------------------------------------------------------------------------


def count_queries(agent, size: int) -> dict:
    """The queries a batch of ``size`` new events costs: INSERTs and others."""
    events = [event() for _ in range(size)]
    with CaptureQueriesContext(connection) as context:
        assert_accepted(post_events(agent, *events), size, 0)
    inserts = sum(query["sql"].startswith("INSERT") for query in context.captured_queries)
    return {"insert": inserts, "other": len(context.captured_queries) - inserts}


def events_per_insert() -> int:
    """How many events one INSERT carries: the whole batch on PostgreSQL; on
    SQLite, Django keeps to 999 bound parameters, about 70 events."""
    fields = [f for f in SecurityEvent._meta.concrete_fields if not f.primary_key]
    return min(connection.ops.bulk_batch_size(fields, [None] * 1000), 1000)


def test_storing_a_batch_is_set_based(agent):
    """Authenticate, look the ids up, INSERT: 10 events cost what 100 do, but
    for the chunks the database driver needs."""
    small = count_queries(agent, 10)
    large = count_queries(agent, 100)

    assert small["other"] == large["other"] <= 2
    assert small["insert"] == 1
    assert large["insert"] == math.ceil(100 / events_per_insert())
    if connection.vendor == "postgresql":
        # The credential lookup, then one INSERT … ON CONFLICT DO NOTHING.
        assert small == large == {"insert": 1, "other": 1}


def test_a_retried_batch_costs_one_statement_and_stores_nothing(agent):
    events = [event() for _ in range(50)]
    post_events(agent, *events)

    with CaptureQueriesContext(connection) as context:
        assert_accepted(post_events(agent, *events), 0, 50)

    assert SecurityEvent.objects.count() == 50
    inserts = [query for query in context.captured_queries if "INSERT" in query["sql"]]
    if connection.vendor == "postgresql":
        # ON CONFLICT skips the stored ids; no separate lookup first.
        assert len(inserts) == 1
        assert len(context.captured_queries) == 2
    else:
        assert not inserts
