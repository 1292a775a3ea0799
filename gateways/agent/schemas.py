"""The agent protocol's request bodies (AGENT_PROTOCOL.md), validated with
pydantic: strict types (a string is not a number), unknown keys ignored so
newer agents keep working, every bad field reported with its path."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    IPvAnyAddress,
)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


def _storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refused as a bad field, on every
    # database, instead of failing the INSERT with a 500.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _storable_json(value: Any) -> Any:
    """What PostgreSQL's jsonb can hold: no NaN or ±Infinity (the JSON parser
    accepts them), no NUL in keys or strings."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must not contain NaN or Infinity")
        if isinstance(item, str):
            _storable_text(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


def _storable_time(value: datetime) -> datetime:
    # Year 1 at +01:00 is valid ISO 8601 but falls before year 1 in UTC,
    # which neither Python nor the database column can hold.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None
    return value


def _ip_text(value: Any) -> Any:
    # pydantic takes an integer for an address (3405803785 = 203.0.113.9):
    # the protocol sends text, so anything else is ill-typed.
    if not isinstance(value, str):
        raise ValueError("must be an IP address as text")
    return value


def _no_zone(value: Any) -> Any:
    # fe80::1%eth0: the zone cannot be stored (PostgreSQL's inet drops or
    # refuses it), so the address is refused rather than altered.
    if getattr(value, "scope_id", None):
        raise ValueError("must not carry a zone index (%...)")
    return value


Text = Annotated[str, Field(max_length=255), AfterValidator(_storable_text)]
Version = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_storable_text)]
IPAddress = Annotated[IPvAnyAddress, BeforeValidator(_ip_text), AfterValidator(_no_zone)]
Timestamp = Annotated[AwareDatetime, AfterValidator(_storable_time)]
Port = Annotated[int, Field(ge=0, le=65535)]
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]


class EnrollRequest(_Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    hostname: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_storable_text)]
    version: Version


class EnrollResponse(BaseModel):
    gateway_id: UUID
    credential: str
    heartbeat_interval: int


class Metrics(_Strict):
    cpu_pct: Annotated[float, Field(ge=0, le=100)]
    mem_pct: Annotated[float, Field(ge=0, le=100)]
    rx_bps: Count
    tx_bps: Count
    sessions: Annotated[int, Field(ge=0, le=2**31 - 1)]


class TunnelReport(_Strict):
    tunnel_id: UUID
    state: Literal["up", "down", "degraded"]
    latency_ms: Annotated[float, Field(ge=0, le=600_000)] | None = None
    rx_bytes: Count = 0
    tx_bytes: Count = 0


class Heartbeat(_Strict):
    sent_at: AwareDatetime
    status: Literal["ok", "degraded"]
    version: Version
    config_version: Annotated[int, Field(ge=0, le=2**31 - 1)]
    metrics: Metrics
    tunnels: Annotated[list[TunnelReport], Field(max_length=1000)] = []


class HeartbeatResponse(BaseModel):
    config_version: int
    heartbeat_interval: int


class Event(_Strict):
    id: UUID
    occurred_at: Timestamp
    severity: Literal["info", "low", "medium", "high", "critical"]
    category: Literal[
        "intrusion", "port_scan", "auth_failure", "malware", "policy_violation", "anomaly"
    ]
    signature: Text = ""
    src_ip: IPAddress | None = None
    src_port: Port | None = None
    dst_ip: IPAddress | None = None
    dst_port: Port | None = None
    protocol: Annotated[str, Field(max_length=10), AfterValidator(_storable_text)] = ""
    message: Annotated[str, Field(max_length=10_000), AfterValidator(_storable_text)] = ""
    details: Annotated[dict[str, Any], AfterValidator(_storable_json)] = {}


# AGENT_PROTOCOL.md "Errors and limits": a larger batch is answered 413.
MAX_EVENTS = 1000


class EventBatch(_Strict):
    # pydantic checks the length as it goes and reports only "too_long" once it
    # is passed, so an oversize batch is told 413 even when its events are bad.
    events: Annotated[list[Event], Field(max_length=MAX_EVENTS)]


class EventsResponse(BaseModel):
    accepted: int
    duplicates: int


class ConfigResponse(BaseModel):
    version: int
    policies: list[dict[str, Any]]
    tunnels: list[dict[str, Any]]


class ErrorResponse(BaseModel):
    errors: dict[str, list[str]]
