"""What the gateways app publishes to live pages (console/live.py).

- A gateway's **row** in the gateway list (and a hint for pages with status
  counters: the dashboard, a region's page) when something a list shows
  changed: status, software version, or an edit.
- On its **detail page**: the status badge, the gateway card, current metrics
  (every heartbeat, coalesced, only while someone has the page open) and, when
  the status changed, the status history.
- Edits through the UI, the API or Django admin (``post_save`` /
  ``post_delete``, connected from ``GatewaysConfig.ready``): an edited
  gateway's or region's row and page; a created or deleted one makes list
  pages re-fetch their table, and a deleted one's row goes at once. A region's
  row shows its gateway count, and a gateway's row its region's name: each
  follows the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.template.loader import render_to_string
from django.utils import timezone

from console import live
from gateways.models import Gateway, Region

TOPIC = Gateway._meta.label_lower
REGION_TOPIC = Region._meta.label_lower


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


class RegionTopic(live.Topic):
    model = Region

    def load(self, pks):
        from django.db.models import Count

        # As the region list counts them (gateways/views.py): for everyone alike.
        return list(
            Region.objects.filter(pk__in=list(pks)).annotate(gateway_count=Count("gateways"))
        )

    def regions_of(self, obj) -> frozenset[int]:
        return frozenset({obj.pk})

    def list_html(self, obj) -> str:
        from gateways.tables import RegionTable

        return live.render_row(RegionTable, obj)


live.register(GatewayTopic())
live.register(RegionTopic())


# --- Edits (UI, API, admin) ------------------------------------------------------


def gateway_saved(sender, instance: Gateway, created: bool, raw: bool = False, **kwargs) -> None:
    """Heartbeats and the offline task write with ``update()`` and publish
    themselves: this sees edits, enrolment and credential changes."""
    if raw:  # loaddata
        return
    if created:
        live.publish_rows_changed(TOPIC, [instance.region_id])
    else:
        publish_gateways([instance.pk])
        previous = getattr(instance, "_live_region_id", instance.region_id)
        if previous == instance.region_id:
            return
        # Moved to another region: tabs of the old region's users lose the row.
        live.publish_rows_changed(
            TOPIC, [previous], removed=("gateway", instance.uuid), everyone=False
        )
        live.publish_rows_changed(TOPIC, [instance.region_id], everyone=False)
        live.publish(REGION_TOPIC, [previous])
        instance._live_region_id = instance.region_id
    live.publish(REGION_TOPIC, [instance.region_id])


def gateway_loaded(sender, instance: Gateway, **kwargs) -> None:
    # The region as loaded: a save that moves the gateway tells the old one.
    instance._live_region_id = instance.__dict__.get("region_id")


def gateway_deleted(sender, instance: Gateway, **kwargs) -> None:
    live.publish_rows_changed(TOPIC, [instance.region_id], removed=("gateway", instance.uuid))
    live.publish(REGION_TOPIC, [instance.region_id])


def region_saved(sender, instance: Region, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    if created:
        live.publish_rows_changed(REGION_TOPIC, [instance.pk])
        return
    live.publish(REGION_TOPIC, [instance.pk])
    # Its gateways' rows name it.
    publish_gateways(Gateway.objects.filter(region=instance).values_list("pk", flat=True))


def region_deleted(sender, instance: Region, **kwargs) -> None:
    live.publish_rows_changed(REGION_TOPIC, [instance.pk], removed=("region", instance.uuid))


def connect_receivers() -> None:
    """Called from ``GatewaysConfig.ready``: every edit publishes, whichever
    way it came (the views, the REST API, Django admin), in one place."""
    from django.db.models.signals import post_delete, post_init, post_save

    post_init.connect(gateway_loaded, sender=Gateway, dispatch_uid="gateways.live.loaded")
    post_save.connect(gateway_saved, sender=Gateway, dispatch_uid="gateways.live.saved")
    post_delete.connect(gateway_deleted, sender=Gateway, dispatch_uid="gateways.live.deleted")
    post_save.connect(region_saved, sender=Region, dispatch_uid="gateways.live.region_saved")
    post_delete.connect(region_deleted, sender=Region, dispatch_uid="gateways.live.region_deleted")
