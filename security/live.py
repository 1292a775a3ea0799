"""What the security app publishes to live pages (console/live.py).

New security events: pages that list them name ``security.securityevent`` in
``data-live-watch`` and mark what to re-fetch with
``data-live-refresh-on="security.securityevent"`` (a table on its first page
with no filter excluding new events) or show a "new events" bar with
``data-live-new-on`` (static/console/console.js). A burst of batches from one
gateway within ``LIVE_COALESCE_MS`` is one message; only tabs of users who may
see the gateway's region get it.
"""

from __future__ import annotations

from console import live
from gateways.models import Gateway
from security.models import SecurityEvent

TOPIC = SecurityEvent._meta.label_lower
BY_GATEWAY = f"{TOPIC}.by-gateway"


class SecurityEventTopic(live.Topic):
    """Subscriptions: by the region scope of ``security.view_securityevent``."""

    model = SecurityEvent


class NewEventsTopic(live.Topic):
    """Queued by gateway pk (gateways.live.publish_events_stored): a hint to
    the event topic's groups of the gateway's region."""

    model = SecurityEvent

    @property
    def name(self) -> str:
        return BY_GATEWAY

    def list_groups(self, user):  # not a page's topic
        return [], frozenset()

    def render(self, pks):
        pushes = []
        regions = dict(Gateway.objects.filter(pk__in=list(pks)).values_list("pk", "region_id"))
        for pk, region in regions.items():
            groups = [live.region_group(TOPIC, None), live.region_group(TOPIC, region)]
            html = f'<meta data-live-hint="{TOPIC}">'
            pushes.append(
                live.Push(f"{TOPIC}:gateway-{pk}", html, groups, frozenset({region}), TOPIC)
            )
        return pushes


live.register(SecurityEventTopic())
live.register(NewEventsTopic())
