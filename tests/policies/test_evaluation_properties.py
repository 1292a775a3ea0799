"""The evaluator and the shadowing detector (policies/evaluation.py) against a
deliberately naive reference evaluator written here, on random rule sets
and random packets (hypothesis)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import evaluation as ev

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday
GATEWAY_REGIONS = {"g1": "r1", "g2": "r1", "g3": "r2", "g4": "r3"}
REGIONS = ("r1", "r2", "r3")
GROUPS = ("ops", "dev", "guests")
HOST_PATTERNS = (
    "a.example.com",
    "x.a.example.com",
    "*.example.com",
    "*.a.example.com",
    "example.org",
)
PACKET_HOSTS = ("a.example.com", "x.a.example.com", "b.example.com", "example.com", "example.org")
SCHEDULES = (
    ev.Schedule(frozenset({0, 1, 2, 3, 4}), time(8), time(18), "Europe/Berlin"),
    ev.Schedule(frozenset({2}), time(22), time(6), "UTC"),
    ev.Schedule(frozenset({5, 6}), time(0), time(23, 59), "America/New_York"),
)


# --- The naive reference --------------------------------------------------


def naive_in_network(address, network: str) -> bool:
    """Compare the leading prefix bits as integers."""
    net = ipaddress.ip_network(network)
    if address is None or address.version != net.version:
        return False
    bits = 32 if net.version == 4 else 128
    shift = bits - net.prefixlen
    return int(address) >> shift == int(net.network_address) >> shift


def naive_host(pattern: str, host: str) -> bool:
    p, h = pattern.split("."), host.split(".")
    if p[0] == "*":
        return len(h) > len(p) - 1 and h[-(len(p) - 1) :] == p[1:]
    return p == h


def naive_schedule(s: ev.Schedule, moment: datetime) -> bool:
    local = moment.astimezone(ZoneInfo(s.zone))
    minute = local.hour * 60 + local.minute + local.second / 60
    start = s.start.hour * 60 + s.start.minute
    end = s.end.hour * 60 + s.end.minute
    if start < end:
        return local.weekday() in s.days and start <= minute < end
    yesterday = (local.weekday() + 6) % 7
    return (minute >= start and local.weekday() in s.days) or (minute < end and yesterday in s.days)


def naive_match(rule: ev.RuleSpec, p: ev.Packet) -> bool:
    if rule.expires is not None and p.moment >= rule.expires:
        return False
    if rule.schedule is not None and not naive_schedule(rule.schedule, p.moment):
        return False
    source_listed = [*rule.src_regions, *rule.src_gateways, *rule.src_groups, *rule.src_cidrs]
    if source_listed:
        ok = False
        if p.src_region in rule.src_regions:
            ok = True
        if p.src_gateway in rule.src_gateways:
            ok = True
        for group in p.src_groups:
            if group in rule.src_groups:
                ok = True
        for cidr in rule.src_cidrs:
            if naive_in_network(p.src_ip, str(cidr)):
                ok = True
        if not ok:
            return False
    if rule.dst_cidrs or rule.dst_hosts:
        ok = False
        for cidr in rule.dst_cidrs:
            if naive_in_network(p.dst_ip, str(cidr)):
                ok = True
        for pattern in rule.dst_hosts:
            if p.dst_host is not None and naive_host(pattern, p.dst_host):
                ok = True
        if not ok:
            return False
    if rule.protocol != "any" and rule.protocol != p.protocol:
        return False
    if rule.ports:
        if p.port is None:
            return False
        if p.port not in {n for lo, hi in rule.ports for n in range(lo, hi + 1)}:
            return False
    if rule.services:
        ok = False
        for name in rule.services:
            for proto, lo, hi in ev.SERVICES[name]:
                if p.protocol == proto and p.port is not None and lo <= p.port <= hi:
                    ok = True
        if not ok:
            return False
    return True


def naive_evaluate(rules, packet):
    for rule in rules:
        if naive_match(rule, packet):
            return rule.action, rule.key
    return "deny", None


# --- Random rules and packets ----------------------------------------------

ipv4 = st.integers(0, 255).map(lambda n: ipaddress.ip_address(f"10.0.0.{n}"))
ipv6 = st.integers(0, 255).map(lambda n: ipaddress.ip_address(f"2001:db8::{n:x}"))


@st.composite
def networks(draw):
    if draw(st.integers(0, 5)) == 0:
        prefix = draw(st.integers(120, 128))
        address = draw(ipv6)
    else:
        prefix = draw(st.integers(24, 32))
        address = draw(ipv4)
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


@st.composite
def port_ranges(draw):
    ranges = draw(
        st.lists(
            st.tuples(st.integers(20, 60), st.integers(0, 8)).map(lambda t: (t[0], t[0] + t[1])),
            max_size=3,
        )
    )
    return ev.merge_ranges(ranges)


def small_sets(values):
    return st.frozensets(st.sampled_from(values), max_size=2)


@st.composite
def rules(draw, key: str):
    protocol = draw(st.sampled_from(ev.PROTOCOLS))
    ports = () if protocol == "icmp" else draw(port_ranges())
    return ev.RuleSpec(
        key=key,
        action=draw(st.sampled_from(ev.ACTIONS)),
        label=key,
        src_regions=draw(small_sets(REGIONS)),
        src_gateways=draw(small_sets(tuple(GATEWAY_REGIONS))),
        src_groups=draw(small_sets(GROUPS)),
        src_cidrs=tuple(draw(st.lists(networks(), max_size=2))),
        dst_cidrs=tuple(draw(st.lists(networks(), max_size=2))),
        dst_hosts=tuple(draw(st.lists(st.sampled_from(HOST_PATTERNS), max_size=2))),
        services=tuple(draw(st.lists(st.sampled_from(("ssh", "dns", "https")), max_size=1))),
        protocol=protocol,
        ports=ports,
        schedule=draw(st.none() | st.none() | st.sampled_from(SCHEDULES)),
        expires=draw(st.none() | st.integers(-48, 24 * 10).map(lambda h: NOW + timedelta(hours=h))),
    )


@st.composite
def rule_sets(draw):
    size = draw(st.integers(0, 8))
    made = [draw(rules(f"r{i}")) for i in range(size)]
    # Copies and near-copies of earlier rules make shadowing and conflicts likely.
    for i in range(draw(st.integers(0, 3))):
        if made:
            base = draw(st.sampled_from(made))
            made.append(
                ev.RuleSpec(
                    **{**base.__dict__, "key": f"c{i}", "action": draw(st.sampled_from(ev.ACTIONS))}
                )
            )
    return draw(st.permutations(made)) if made else []


@st.composite
def packets(draw, not_before: datetime = NOW - timedelta(days=3)):
    gateway = draw(st.none() | st.sampled_from(tuple(GATEWAY_REGIONS)))
    protocol = draw(st.sampled_from(ev.PACKET_PROTOCOLS))
    return ev.Packet(
        protocol=protocol,
        port=None
        if protocol == "icmp"
        else draw(st.sampled_from((22, 53, 443)) | st.integers(18, 70)),
        src_ip=draw(st.none() | ipv4 | ipv6),
        src_gateway=gateway,
        src_region=GATEWAY_REGIONS[gateway]
        if gateway
        else draw(st.none() | st.sampled_from(REGIONS)),
        src_groups=draw(small_sets(GROUPS)),
        dst_ip=draw(st.none() | ipv4 | ipv6),
        dst_host=draw(st.none() | st.sampled_from(PACKET_HOSTS)),
        moment=not_before + timedelta(minutes=draw(st.integers(0, 60 * 24 * 14))),
    )


SETTINGS = settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(rule_sets(), st.lists(packets(), min_size=1, max_size=10))
def test_evaluator_agrees_with_the_naive_reference(rules_, packets_):
    for packet in packets_:
        decision = ev.evaluate(rules_, packet)
        key = decision.rule.key if decision.rule else None
        assert (decision.action, key) == naive_evaluate(rules_, packet)
        # Every rule before the deciding one says why it did not match.
        assert all(reasons for _rule, reasons in decision.skipped)
        assert len(decision.skipped) == (
            len(rules_) if decision.rule is None else rules_.index(decision.rule)
        )


@SETTINGS
@given(rule_sets(), st.lists(packets(not_before=NOW), min_size=1, max_size=25))
def test_a_shadowed_rule_never_matches_where_its_shadow_does_not(rules_, packets_):
    for overlap in ev.find_shadowed(rules_, GATEWAY_REGIONS, NOW):
        for packet in packets_:
            if naive_match(overlap.rule, packet):
                assert naive_match(overlap.by, packet), (overlap, packet)


@SETTINGS
@given(rule_sets(), st.lists(packets(not_before=NOW), min_size=1, max_size=25))
def test_shadowed_and_conflicting_rules_never_decide(rules_, packets_):
    never = {o.rule.key for o in ev.find_shadowed(rules_, GATEWAY_REGIONS, NOW)}
    never |= {o.rule.key for o in ev.find_conflicts(rules_)}
    for packet in packets_:
        decision = ev.evaluate(rules_, packet)
        assert decision.rule is None or decision.rule.key not in never


@SETTINGS
@given(st.lists(rules("x"), min_size=1, max_size=1), st.sampled_from(ev.ACTIONS))
def test_a_copy_below_a_rule_is_always_found(single, action):
    """The detector is not merely silent: a rule repeated below itself is
    shadowed (same action) or a conflict (other action)."""
    [rule] = single
    if rule.expires is not None and rule.expires <= NOW:
        return  # an expired rule shadows nothing (it is reported as expired)
    copy = ev.RuleSpec(**{**rule.__dict__, "key": "copy", "action": action})
    shadowed = ev.find_shadowed([rule, copy], GATEWAY_REGIONS, NOW)
    assert [o.rule.key for o in shadowed] == ["copy"]
    conflicts = ev.find_conflicts([rule, copy])
    assert bool(conflicts) == (action != rule.action)


# --- Examples ------------------------------------------------------------------


def spec(key="r", action="allow", **fields):
    return ev.RuleSpec(key=key, action=action, label=key, **fields)


def net(text):
    return ipaddress.ip_network(text)


def test_broader_cidrs_shadow_narrower_ones_even_split_across_two():
    earlier = spec("a", src_cidrs=(net("10.0.0.0/9"), net("10.128.0.0/9")))
    later = spec("b", "deny", src_cidrs=(net("10.20.0.0/16"), net("10.200.0.0/16")))
    assert [o.rule.key for o in ev.find_shadowed([earlier, later])] == ["b"]
    assert ev.find_shadowed([later, earlier]) == []


def test_a_region_shadows_its_gateways_but_not_others():
    earlier = spec("a", src_regions=frozenset({"r1"}))
    mine = spec("b", src_gateways=frozenset({"g1"}))
    other = spec("c", src_gateways=frozenset({"g3"}))
    found = ev.find_shadowed([earlier, mine, other], GATEWAY_REGIONS)
    assert [o.rule.key for o in found] == ["b"]


def test_ports_and_services():
    earlier = spec("a", protocol="tcp", ports=((20, 30),))
    ssh = spec("b", services=("ssh",))
    dns = spec("c", services=("dns",))
    found = ev.find_shadowed([earlier, ssh, dns])
    assert [o.rule.key for o in found] == ["b"]  # ssh is tcp/22, dns is also udp/53


def test_default_is_deny_and_reasons_name_the_mismatch():
    rules_ = [
        spec("ssh", protocol="tcp", ports=((22, 22),), dst_cidrs=(net("10.1.0.0/16"),)),
        spec("web", dst_hosts=("*.example.com",), services=("https",)),
    ]
    packet = ev.Packet("tcp", 80, dst_ip=ipaddress.ip_address("10.1.2.3"), moment=NOW)
    decision = ev.evaluate(rules_, packet)
    assert decision.action == "deny" and decision.rule is None
    assert decision.skipped[0][1] == ("port 80 is not in 22",)
    assert "the destination is not in *.example.com" in decision.skipped[1][1]
    allowed = ev.evaluate(rules_, ev.Packet("tcp", 443, dst_host="shop.example.com", moment=NOW))
    assert allowed.allowed and allowed.rule.key == "web"


def test_schedules_over_midnight_belong_to_the_day_they_start():
    night = ev.Schedule(frozenset({4}), time(22), time(6), "UTC")  # Friday night
    friday_23 = datetime(2026, 6, 12, 23, 0, tzinfo=UTC)
    saturday_05 = datetime(2026, 6, 13, 5, 0, tzinfo=UTC)
    saturday_23 = datetime(2026, 6, 13, 23, 0, tzinfo=UTC)
    assert night.active(friday_23) and night.active(saturday_05)
    assert not night.active(saturday_23)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("22", ((22, 22),)),
        ("443, 80", ((80, 80), (443, 443))),
        ("8000-8099 8050-8100,22", ((22, 22), (8000, 8100))),
        ("1-65535", ((1, 65535),)),
    ],
)
def test_parse_ports(text, expected):
    assert ev.parse_ports(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http", "“http” is not a port or a range"),
        ("0", "Port 0 is out of range"),
        ("70000", "Port 70000 is out of range"),
        ("90-80", "The range 90-80 runs backwards: write 80-90."),
        ("1-2-3", "“1-2-3” is not a port or a range"),
    ],
)
def test_malformed_ports(text, message):
    with pytest.raises(ValueError, match=message):
        ev.parse_ports(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1/8", "has host bits set: the network is 10.0.0.0/8"),
        ("10.0.0.0/33", "is not an IP network"),
        ("300.1.1.1", "is not an IP network"),
    ],
)
def test_malformed_networks(text, message):
    with pytest.raises(ValueError, match=message):
        ev.parse_network(text)


def test_hosts_are_normalised_and_checked():
    assert ev.normalise_host(" API.Example.COM. ") == "api.example.com"
    assert ev.normalise_host("*.example.com") == "*.example.com"
    for bad in ("exa mple.com", "a.*.com", "-a.com", ""):
        with pytest.raises(ValueError):
            ev.normalise_host(bad)
