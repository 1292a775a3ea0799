"""Access-policy evaluation, shadowing and conflict detection: pure Python.

Nothing here touches Django or the database, so the property tests
(tests/policies/test_evaluation_properties.py) can throw random rule sets and
packets at it and compare with a naive reference evaluator.

The model:

- A ``RuleSpec`` is one rule, flattened, in the global evaluation order
  (policy priority, then the rule's position in its policy). Disabled
  policies are left out by whoever builds the list.
- A ``Packet`` is what is asked about: a source (a gateway and its region,
  user groups, an IP address — any mix, each optional), a destination (an IP
  address and/or a host name), a protocol, a port and a moment.
- First match wins; when nothing matches the answer is **deny**.

Dimensions of a rule, each "any" when left empty:

- sources: regions, gateways, user groups, CIDRs — the packet matches when
  *any* of them does (its region is listed, or its gateway, or one of its
  groups, or its address is in a CIDR);
- destination addresses: CIDRs and host names (``*.example.com`` matches any
  name below example.com, not example.com itself) — any of them;
- named services (``ssh``, ``https``…): the packet's protocol and port must be
  one of a listed service's;
- protocol (tcp, udp, icmp or any) and ports (ranges; a rule with ports never
  matches a packet without one, such as ICMP);
- schedule (days of the week and a time window in a time zone; a window whose
  end is before its start runs over midnight) and expiry.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ALLOW, DENY = "allow", "deny"
ACTIONS = (ALLOW, DENY)
TCP, UDP, ICMP, ANY = "tcp", "udp", "icmp", "any"
PROTOCOLS = (TCP, UDP, ICMP, ANY)
PACKET_PROTOCOLS = (TCP, UDP, ICMP)
PORT_MIN, PORT_MAX = 1, 65535
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Named services a rule's destination may list: (protocol, first port, last port).
SERVICES: dict[str, tuple[tuple[str, int, int], ...]] = {
    "dns": ((UDP, 53, 53), (TCP, 53, 53)),
    "http": ((TCP, 80, 80),),
    "https": ((TCP, 443, 443), (UDP, 443, 443)),
    "imaps": ((TCP, 993, 993),),
    "kerberos": ((TCP, 88, 88), (UDP, 88, 88)),
    "ldap": ((TCP, 389, 389),),
    "ldaps": ((TCP, 636, 636),),
    "mysql": ((TCP, 3306, 3306),),
    "ntp": ((UDP, 123, 123),),
    "postgresql": ((TCP, 5432, 5432),),
    "rdp": ((TCP, 3389, 3389), (UDP, 3389, 3389)),
    "smb": ((TCP, 445, 445),),
    "smtp": ((TCP, 25, 25), (TCP, 587, 587)),
    "snmp": ((UDP, 161, 162),),
    "ssh": ((TCP, 22, 22),),
    "syslog": ((UDP, 514, 514), (TCP, 6514, 6514)),
    "wireguard": ((UDP, 51820, 51820),),
}

_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^(\*\.)?{_HOST_LABEL}(\.{_HOST_LABEL})*$")


# --- Parsing: each raises ValueError with a message a person can act on ----


def parse_network(text: str) -> IPNetwork:
    """A CIDR (``10.0.0.0/8``) or a single address (a /32 or /128)."""
    value = text.strip()
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"“{value}” is not an IP network (write it like 10.20.0.0/16).") from None
    raise ValueError(
        f"“{value}” has host bits set: the network is {network} (or give a single address)."
    )


def parse_ports(text: str) -> tuple[tuple[int, int], ...]:
    """``"22, 80-90,443"`` → ((22, 22), (80, 90), (443, 443)), sorted and merged.
    Empty means any port."""
    ranges: list[tuple[int, int]] = []
    for raw in re.split(r"[,\s]+", text.strip()):
        if not raw:
            continue
        lo_text, sep, hi_text = raw.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if sep else lo
        except ValueError:
            raise ValueError(
                f"“{raw}” is not a port or a range (write 22, 8000-8099 or 80, 443)."
            ) from None
        for port in (lo, hi):
            if not PORT_MIN <= port <= PORT_MAX:
                raise ValueError(f"Port {port} is out of range ({PORT_MIN}–{PORT_MAX}).")
        if lo > hi:
            raise ValueError(f"The range {raw} runs backwards: write {hi}-{lo}.")
        ranges.append((lo, hi))
    return merge_ranges(ranges)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def format_ports(ranges: Sequence[tuple[int, int]]) -> str:
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def normalise_host(text: str) -> str:
    """A host name or ``*.domain`` pattern, lower-cased, without a trailing dot."""
    value = text.strip().lower().rstrip(".")
    if not value or len(value) > 253 or not _HOST_RE.match(value):
        raise ValueError(f"“{text.strip()}” is not a host name (or *.domain pattern).")
    return value


def parse_time_of_day(text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"“{text}” is not a time of day (write 08:00).") from None


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"“{name}” is not a time zone (write Europe/Berlin or UTC).") from None


# --- The objects evaluated -------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """Active on ``days`` (0 = Monday) from ``start`` to ``end``, local time in
    ``zone``. ``end`` <= ``start`` runs over midnight: the part after midnight
    belongs to the day it started on."""

    days: frozenset[int]
    start: time
    end: time
    zone: str = "UTC"

    def active(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.zone))
        now = local.time().replace(tzinfo=None)
        day = local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        # Over midnight (or start == end: the whole day from start to start).
        if now >= self.start:
            return day in self.days
        return (day - 1) % 7 in self.days and now < self.end

    def describe(self) -> str:
        days = ", ".join(DAY_NAMES[d] for d in sorted(self.days)) or "no day"
        return f"{days} {self.start:%H:%M}–{self.end:%H:%M} {self.zone}"


@dataclass(frozen=True)
class RuleSpec:
    """One rule, ready to evaluate. ``key`` identifies it (the rule's id);
    ``label`` names it for people ("web / rule 3")."""

    key: str
    action: str
    label: str = ""
    policy_key: str = ""
    src_regions: frozenset[str] = frozenset()
    src_gateways: frozenset[str] = frozenset()
    src_groups: frozenset[str] = frozenset()
    src_cidrs: tuple[IPNetwork, ...] = ()
    dst_cidrs: tuple[IPNetwork, ...] = ()
    dst_hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    protocol: str = ANY
    ports: tuple[tuple[int, int], ...] = ()
    schedule: Schedule | None = None
    expires: datetime | None = None
    # Where the rule is enforced: only at gateways of these regions (empty:
    # every gateway). Unlike ``src_regions`` this narrows the match (AND), so
    # a containment block of a CIDR can hold in one region only.
    enforced_regions: frozenset[str] = frozenset()
    # Display names of referenced objects (id -> name), for explanations.
    names: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def any_source(self) -> bool:
        return not (self.src_regions or self.src_gateways or self.src_groups or self.src_cidrs)

    @property
    def any_destination(self) -> bool:
        return not (self.dst_cidrs or self.dst_hosts)

    def same_match(self, other: RuleSpec) -> bool:
        """The same match criteria (whatever the action)."""
        return (
            self.src_regions == other.src_regions
            and self.src_gateways == other.src_gateways
            and self.src_groups == other.src_groups
            and set(self.src_cidrs) == set(other.src_cidrs)
            and set(self.dst_cidrs) == set(other.dst_cidrs)
            and set(self.dst_hosts) == set(other.dst_hosts)
            and set(self.services) == set(other.services)
            and self.protocol == other.protocol
            and self.ports == other.ports
            and self.schedule == other.schedule
            and self.expires == other.expires
            and self.enforced_regions == other.enforced_regions
        )


@dataclass(frozen=True)
class Packet:
    protocol: str
    port: int | None = None
    src_ip: IPAddress | None = None
    src_gateway: str | None = None
    src_region: str | None = None
    src_groups: frozenset[str] = frozenset()
    dst_ip: IPAddress | None = None
    dst_host: str | None = None
    moment: datetime | None = None


@dataclass(frozen=True)
class Decision:
    action: str
    rule: RuleSpec | None  # None: the default deny
    # The rules tried before the deciding one, each with why it did not match.
    skipped: tuple[tuple[RuleSpec, tuple[str, ...]], ...] = ()

    @property
    def allowed(self) -> bool:
        return self.action == ALLOW


# --- Matching ----------------------------------------------------------------


def host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _in_any(address: IPAddress | None, networks: Iterable[IPNetwork]) -> bool:
    return address is not None and any(address in network for network in networks)


def _in_ranges(port: int | None, ranges: Sequence[tuple[int, int]]) -> bool:
    return port is not None and any(lo <= port <= hi for lo, hi in ranges)


def service_matches(name: str, protocol: str, port: int | None) -> bool:
    return any(
        protocol == proto and port is not None and lo <= port <= hi
        for proto, lo, hi in SERVICES.get(name, ())
    )


def _names(rule: RuleSpec, keys: Iterable[str]) -> str:
    return ", ".join(sorted(rule.names.get(k, k) for k in keys))


def mismatches(rule: RuleSpec, packet: Packet) -> tuple[str, ...]:
    """Why ``rule`` does not match ``packet``: empty when it matches."""
    reasons: list[str] = []
    moment = packet.moment
    if rule.expires is not None and moment is not None and moment >= rule.expires:
        reasons.append(f"it expired at {rule.expires:%Y-%m-%d %H:%M %Z}")
    if rule.schedule is not None and moment is not None and not rule.schedule.active(moment):
        reasons.append(f"outside its schedule ({rule.schedule.describe()})")
    if rule.enforced_regions and packet.src_region not in rule.enforced_regions:
        reasons.append(f"it is enforced only in regions {_names(rule, rule.enforced_regions)}")
    if not rule.any_source and not (
        (packet.src_region is not None and packet.src_region in rule.src_regions)
        or (packet.src_gateway is not None and packet.src_gateway in rule.src_gateways)
        or bool(packet.src_groups & rule.src_groups)
        or _in_any(packet.src_ip, rule.src_cidrs)
    ):
        parts = []
        if rule.src_regions:
            parts.append(f"regions {_names(rule, rule.src_regions)}")
        if rule.src_gateways:
            parts.append(f"gateways {_names(rule, rule.src_gateways)}")
        if rule.src_groups:
            parts.append(f"groups {_names(rule, rule.src_groups)}")
        if rule.src_cidrs:
            parts.append(", ".join(str(n) for n in rule.src_cidrs))
        reasons.append(f"the source is not in {'; '.join(parts)}")
    if not rule.any_destination and not (
        _in_any(packet.dst_ip, rule.dst_cidrs)
        or (
            packet.dst_host is not None
            and any(host_matches(p, packet.dst_host) for p in rule.dst_hosts)
        )
    ):
        listed = [str(n) for n in rule.dst_cidrs] + list(rule.dst_hosts)
        reasons.append(f"the destination is not in {', '.join(listed)}")
    if rule.protocol != ANY and packet.protocol != rule.protocol:
        reasons.append(f"the protocol is {packet.protocol}, not {rule.protocol}")
    if rule.ports and not _in_ranges(packet.port, rule.ports):
        if packet.port is None:
            reasons.append(f"it needs a port in {format_ports(rule.ports)}")
        else:
            reasons.append(f"port {packet.port} is not in {format_ports(rule.ports)}")
    if rule.services and not any(
        service_matches(s, packet.protocol, packet.port) for s in rule.services
    ):
        reasons.append(f"it is not one of the services {', '.join(rule.services)}")
    return tuple(reasons)


def matches(rule: RuleSpec, packet: Packet) -> bool:
    return not mismatches(rule, packet)


def evaluate(rules: Sequence[RuleSpec], packet: Packet) -> Decision:
    """First match in order decides; nothing matching is a deny."""
    skipped = []
    for rule in rules:
        reasons = mismatches(rule, packet)
        if not reasons:
            return Decision(rule.action, rule, tuple(skipped))
        skipped.append((rule, reasons))
    return Decision(DENY, None, tuple(skipped))


# --- Shadowing and conflicts -------------------------------------------------


def _networks_cover(outer: Sequence[IPNetwork], inner: Sequence[IPNetwork]) -> bool:
    """Every address of ``inner`` is in some network of ``outer``."""
    by_version: dict[int, list[IPNetwork]] = {}
    for network in outer:
        by_version.setdefault(network.version, []).append(network)
    collapsed = {v: list(ipaddress.collapse_addresses(ns)) for v, ns in by_version.items()}
    return all(
        any(net.subnet_of(big) for big in collapsed.get(net.version, ()))  # type: ignore[arg-type]
        for net in inner
    )


def _ranges_cover(outer: Sequence[tuple[int, int]], inner: Sequence[tuple[int, int]]) -> bool:
    merged = merge_ranges(outer)
    return all(any(lo >= a and hi <= b for a, b in merged) for lo, hi in inner)


def _host_covered(outer: Sequence[str], host: str) -> bool:
    for pattern in outer:
        if pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            # "*.a.com" covers "x.a.com" and "*.x.a.com", not "a.com".
            return True
    return False


def _protocols(rule: RuleSpec) -> set[str]:
    """The packet protocols a rule can match (its services may pin it down)."""
    if rule.protocol != ANY:
        return {rule.protocol}
    if rule.services:
        return {proto for s in rule.services for proto, _lo, _hi in SERVICES.get(s, ())}
    return set(PACKET_PROTOCOLS)


def covers(
    earlier: RuleSpec,
    later: RuleSpec,
    gateway_regions: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> bool:
    """Does every packet that ``later`` matches (from ``now`` on) also match
    ``earlier``? Conservative: ``False`` whenever it cannot be sure, so a
    rule is never called shadowed while some packet could reach it.

    ``gateway_regions`` maps gateway ids to their region ids: a rule listing
    region R covers one listing a gateway of R.
    """
    gateway_regions = gateway_regions or {}
    # Time: the earlier rule must be active whenever the later one is.
    if earlier.expires is not None and (later.expires is None or later.expires > earlier.expires):
        return False
    if earlier.schedule is not None and earlier.schedule != later.schedule:
        return False
    if now is not None and earlier.expires is not None and earlier.expires <= now:
        return False
    # Place: a rule enforced in some regions covers only rules held there too.
    if earlier.enforced_regions and not (
        later.enforced_regions and later.enforced_regions <= earlier.enforced_regions
    ):
        return False
    # Sources: each of the later rule's criteria inside the earlier's.
    if not earlier.any_source:
        if later.any_source:
            return False
        if not later.src_regions <= earlier.src_regions:
            return False
        for gateway in later.src_gateways:
            if gateway not in earlier.src_gateways and (
                gateway_regions.get(gateway) not in earlier.src_regions
            ):
                return False
        if not later.src_groups <= earlier.src_groups:
            return False
        if later.src_cidrs and not _networks_cover(earlier.src_cidrs, later.src_cidrs):
            return False
    # Destination addresses.
    if not earlier.any_destination:
        if later.any_destination:
            return False
        if later.dst_cidrs and not _networks_cover(earlier.dst_cidrs, later.dst_cidrs):
            return False
        if not all(_host_covered(earlier.dst_hosts, host) for host in later.dst_hosts):
            return False
    # Services.
    if earlier.services and not (later.services and set(later.services) <= set(earlier.services)):
        return False
    # Protocol and ports.
    if earlier.protocol != ANY and _protocols(later) - {earlier.protocol}:
        return False
    if earlier.ports:
        if not later.ports:
            # The later rule also matches packets with no port, or any port,
            # unless its services pin the ports down inside the earlier ranges.
            if not later.services:
                return False
            service_ranges = [
                (lo, hi)
                for s in later.services
                for proto, lo, hi in SERVICES.get(s, ())
                if later.protocol in (ANY, proto)
            ]
            if not _ranges_cover(earlier.ports, service_ranges):
                return False
        elif not _ranges_cover(earlier.ports, later.ports):
            return False
    return True


@dataclass(frozen=True)
class Overlap:
    rule: RuleSpec  # the later rule
    by: RuleSpec  # the earlier rule


def find_conflicts(rules: Sequence[RuleSpec]) -> list[Overlap]:
    """Later rules with exactly the same match as an earlier one but the other
    action: the later one never applies, and the intent is unclear."""
    found = []
    for j, later in enumerate(rules):
        for earlier in rules[:j]:
            if earlier.action != later.action and earlier.same_match(later):
                found.append(Overlap(later, earlier))
                break
    return found


def find_shadowed(
    rules: Sequence[RuleSpec],
    gateway_regions: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[Overlap]:
    """Rules that can never match because one earlier rule matches everything
    they would (each later rule reported once, with the first such rule)."""
    found = []
    for j, later in enumerate(rules):
        for earlier in rules[:j]:
            if covers(earlier, later, gateway_regions, now):
                found.append(Overlap(later, earlier))
                break
    return found
