"""“Would this be allowed?” against the published set and the draft, and
“what changes”: the recent security events the draft would decide otherwise."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from policies import evaluation
from policies.snapshot import rule_specs

# The "what changes" view replays at most this many of the newest events.
IMPACT_EVENTS = 500
IMPACT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Comparison:
    packet: evaluation.Packet
    published: evaluation.Decision | None  # None: nothing published yet
    draft: evaluation.Decision

    @property
    def differs(self) -> bool:
        if self.published is None:
            return True
        return (self.published.action, _key(self.published)) != (
            self.draft.action,
            _key(self.draft),
        )

    @property
    def action_differs(self) -> bool:
        return self.published is None or self.published.action != self.draft.action


def _key(decision: evaluation.Decision) -> str | None:
    return decision.rule.key if decision.rule else None


def packet_from_form(cleaned: dict, now: datetime | None = None) -> evaluation.Packet:
    gateway, region, group = cleaned.get("gateway"), cleaned.get("region"), cleaned.get("group")
    kind, destination = cleaned["destination"]
    source_ip = cleaned.get("source_ip")
    return evaluation.Packet(
        protocol=cleaned["protocol"],
        port=cleaned.get("port"),
        src_ip=ipaddress.ip_address(source_ip) if source_ip else None,
        src_gateway=str(gateway.uuid) if gateway else None,
        src_region=str(gateway.region.uuid) if gateway else (str(region.uuid) if region else None),
        src_groups=frozenset({str(group.pk)}) if group else frozenset(),
        dst_ip=destination if kind == "ip" else None,
        dst_host=destination if kind == "host" else None,
        moment=cleaned.get("at") or now or timezone.now(),
    )


def compare(packet: evaluation.Packet, published: dict | None, draft: dict) -> Comparison:
    return Comparison(
        packet,
        evaluation.evaluate(rule_specs(published), packet) if published is not None else None,
        evaluation.evaluate(rule_specs(draft), packet),
    )


_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmp"}


def event_packet(event) -> evaluation.Packet | None:
    """A security event as a packet: its gateway (and region), source and
    destination addresses, protocol and destination port."""
    protocol = _PROTOCOLS.get((event.protocol or "").lower())
    if protocol is None or (protocol != "icmp" and event.dst_port is None):
        return None
    return evaluation.Packet(
        protocol=protocol,
        port=event.dst_port if protocol != "icmp" else None,
        src_ip=ipaddress.ip_address(event.src_ip) if event.src_ip else None,
        src_gateway=str(event.gateway.uuid),
        src_region=str(event.gateway.region.uuid),
        dst_ip=ipaddress.ip_address(event.dst_ip) if event.dst_ip else None,
        moment=event.occurred_at,
    )


def impact(events, published: dict | None, draft: dict) -> list[tuple[object, Comparison]]:
    """The events whose answer (allow/deny) the draft changes."""
    published_rules = rule_specs(published)
    draft_rules = rule_specs(draft)
    changed = []
    for event in events:
        packet = event_packet(event)
        if packet is None:
            continue
        comparison = Comparison(
            packet,
            evaluation.evaluate(published_rules, packet),
            evaluation.evaluate(draft_rules, packet),
        )
        if comparison.action_differs:
            changed.append((event, comparison))
    return changed


def recent_events(user, now: datetime | None = None):
    from security.models import SecurityEvent

    now = now or timezone.now()
    return (
        SecurityEvent.objects.restrict(user, "view")
        .filter(occurred_at__gte=now - IMPACT_WINDOW)
        .select_related("gateway__region")
        .order_by("-occurred_at", "-id")[:IMPACT_EVENTS]
    )
