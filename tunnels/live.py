"""What the tunnels app publishes to live pages (console/live.py).

- A tunnel's **row** in the tunnel list when its state changed (a heartbeat
  of end A, or its gateway going offline).
- On its **detail page**: the state badge and the live-state card (latency and
  byte counters move with every heartbeat: coalesced, and only while someone
  has the page open).
- Edits through the UI, the API or Django admin (``post_save`` /
  ``post_delete``, connected from ``TunnelsConfig.ready``): an edited tunnel's
  row and page; a created or deleted one makes the list pages of the regions
  of its ends re-fetch their table, and a deleted one's row goes at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.template.loader import render_to_string

from console import live
from tunnels.models import Tunnel

TOPIC = Tunnel._meta.label_lower
# Tunnels named by their end A's gateway: the offline task knows gateways, and
# the outbox finds their tunnels when it renders (no query in the task).
BY_GATEWAY_A = f"{TOPIC}.by-gateway-a"


def publish_tunnels(changed: Iterable[int], reported: Iterable[int] = ()) -> None:
    """After commit: ``changed`` tunnels' rows and pages, and the pages of
    ``reported`` ones (same state, new latency and counters)."""
    live.publish(TOPIC, changed, live.FULL)
    live.publish(TOPIC, reported, live.DETAIL)


def publish_tunnels_of_gateways(gateway_pks: Iterable[int]) -> None:
    """The tunnels these gateways speak for (end A) changed state."""
    live.publish(BY_GATEWAY_A, gateway_pks, live.FULL)


class TunnelTopic(live.Topic):
    model = Tunnel

    def load(self, pks):
        return list(
            Tunnel.objects.filter(pk__in=list(pks))
            .select_related("gateway_a__region", "gateway_b__region")
            .prefetch_related("tags")
        )

    def regions_of(self, obj) -> frozenset[int]:
        ends = [obj.gateway_a, obj.gateway_b]
        return frozenset(end.region_id for end in ends if end is not None)

    def list_html(self, obj) -> str:
        from tunnels.tables import TunnelTable

        return live.render_row(TunnelTable, obj)

    def detail_html(self, obj, level: int) -> str:
        context = {"tunnel": obj}
        parts = ["tunnels/partials/tunnel_state.html"]
        if level == live.FULL:
            parts.insert(0, "tunnels/partials/tunnel_badge.html")
        return "".join(render_to_string(name, context) for name in parts)


class TunnelsOfGatewaysTopic(TunnelTopic):
    """Queued by gateway pk; rendered as the tunnels whose end A they are."""

    @property
    def name(self) -> str:
        return BY_GATEWAY_A

    def list_groups(self, user):  # not a page's topic
        return [], frozenset()

    def render(self, pks):
        tunnels = Tunnel.objects.filter(gateway_a__in=list(pks)).values_list("pk", flat=True)
        return _tunnels.render({pk: live.FULL for pk in tunnels})


_tunnels = live.register(TunnelTopic())
live.register(TunnelsOfGatewaysTopic())


# --- Edits (UI, API, admin) ------------------------------------------------------


def _regions_of_gateways(gateway_pks) -> list[int]:
    from gateways.models import Gateway

    ends = [pk for pk in gateway_pks if pk is not None]
    return list(Gateway.objects.filter(pk__in=ends).values_list("region_id", flat=True))


def _regions_of_ends(tunnel: Tunnel) -> list[int]:
    return _regions_of_gateways((tunnel.gateway_a_id, tunnel.gateway_b_id))


def tunnel_saved(sender, instance: Tunnel, created: bool, raw: bool = False, **kwargs) -> None:
    """Heartbeats write tunnel state with ``bulk_update`` (no signal) and
    publish themselves: this sees edits."""
    if raw:
        return
    if created:
        live.publish_rows_changed(TOPIC, _regions_of_ends(instance))
        return
    publish_tunnels([instance.pk])
    previous = getattr(instance, "_live_ends", None)
    ends = (instance.gateway_a_id, instance.gateway_b_id)
    if previous is not None and previous != ends:
        # Its ends moved: the regions it left lose the row, the new ones re-fetch.
        regions = _regions_of_ends(instance)
        left = set(_regions_of_gateways(previous)) - set(regions)
        if left:
            removed = ("tunnel", instance.uuid)
            live.publish_rows_changed(TOPIC, left, removed=removed, everyone=False)
        live.publish_rows_changed(TOPIC, regions, everyone=False)
    instance._live_ends = ends


def tunnel_loaded(sender, instance: Tunnel, **kwargs) -> None:
    instance._live_ends = (
        instance.__dict__.get("gateway_a_id"),
        instance.__dict__.get("gateway_b_id"),
    )


def tunnel_deleted(sender, instance: Tunnel, **kwargs) -> None:
    # post_delete of a tunnel runs before its gateways' (a gateway deleted
    # with its tunnels): their regions are still there to read.
    regions = _regions_of_ends(instance)
    live.publish_rows_changed(TOPIC, regions, removed=("tunnel", instance.uuid))


def connect_receivers() -> None:
    """Called from ``TunnelsConfig.ready``: every edit publishes, whichever way
    it came (the views, the REST API, Django admin), in one place."""
    from django.db.models.signals import post_delete, post_init, post_save

    post_init.connect(tunnel_loaded, sender=Tunnel, dispatch_uid="tunnels.live.loaded")
    post_save.connect(tunnel_saved, sender=Tunnel, dispatch_uid="tunnels.live.saved")
    post_delete.connect(tunnel_deleted, sender=Tunnel, dispatch_uid="tunnels.live.deleted")
