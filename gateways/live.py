"""What the gateways app publishes to live pages (console/live.py).

- A gateway's **row** in the gateway list (and a hint for pages with status
  counters: the dashboard, a region's page) when something a list shows
  changed: status, software version, or an edit.
- On its **detail page**: the status badge, the gateway card, current metrics
  (every heartbeat, coalesced, only while someone has the page open) and, when
  the status changed, the status history.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.template.loader import render_to_string
from django.utils import timezone

from console import live
from gateways.models import Gateway

TOPIC = Gateway._meta.label_lower


def publish_gateways(pks: Iterable[int]) -> None:
    """Gateways whose list row may have changed (status, edit): after commit."""
    live.publish(TOPIC, pks, live.FULL)


def publish_heartbeat(gateway: Gateway, new_status: str, version: str) -> None:
    """A heartbeat was stored: the row when what lists show changed, else only
    the metrics of its page (sent only if someone watches it). ``gateway``
    holds the values from before the heartbeat. Queues one element: no query,
    no network on the agent's path."""
    changed = new_status != gateway.status or version != gateway.software_version
    live.publish(TOPIC, [gateway.pk], live.FULL if changed else live.DETAIL)


def publish_events_stored(gateway: Gateway) -> None:
    """New security events of ``gateway`` were stored (after commit). The
    security app renders them (security/live.py): gateways never imports it."""
    live.publish("security.securityevent.by-gateway", [gateway.pk], live.FULL)


class GatewayTopic(live.Topic):
    model = Gateway

    def load(self, pks):
        from gateways.agent.ingest import current_config_version

        self.fleet_version = current_config_version()
        return list(
            Gateway.objects.filter(pk__in=list(pks))
            .select_related("region")
            .prefetch_related("tags")
        )

    def regions_of(self, obj) -> frozenset[int]:
        return frozenset({obj.region_id})

    def list_html(self, obj) -> str:
        from gateways.tables import GatewayTable

        return live.render_row(GatewayTable, obj)

    def detail_html(self, obj, level: int) -> str:
        context = {
            "gateway": obj,
            "fleet_config_version": self.fleet_version,
            "config_up_to_date": (
                None if obj.config_version is None else obj.config_version >= self.fleet_version
            ),
        }
        parts = ["gateways/partials/gateway_summary.html", "gateways/partials/gateway_metrics.html"]
        if level == live.FULL:
            from gateways.models import GatewayStatusChange
            from gateways.views import GATEWAY_STATUS_CHANGES_SHOWN, gateway_uptime

            history = list(
                GatewayStatusChange.objects.filter(gateway=obj)[:GATEWAY_STATUS_CHANGES_SHOWN]
            )
            context["status_history"] = history
            context["uptime"] = gateway_uptime(obj, history, timezone.now())
            parts = ["gateways/partials/gateway_badge.html", *parts]
            parts.append("gateways/partials/gateway_status_history.html")
        return "".join(render_to_string(name, context) for name in parts)


live.register(GatewayTopic())
