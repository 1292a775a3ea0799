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
from security.models import Incident, SecurityEvent

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


# --- Incidents ---------------------------------------------------------------------

INCIDENT_TOPIC = "security.incident"


def publish_incidents(created=(), changed=(), escalated=()) -> None:
    """After commit: new incidents make incident lists re-fetch (where a row
    goes depends on each tab's filter and sort) and toast the users watching
    incidents; changed ones update their row and page in place; escalated
    ones toast too."""
    created, changed, escalated = list(created), list(changed), list(escalated)
    if created:
        regions = set(
            Incident.gateways.through.objects.filter(incident_id__in=created).values_list(
                "gateway__region_id", flat=True
            )
        )
        live.publish_rows_changed(INCIDENT_TOPIC, regions)
    pks = [pk for pk in dict.fromkeys(created + changed)]
    live.publish(INCIDENT_TOPIC, pks, live.FULL)
    for pk in dict.fromkeys(created + escalated):
        live.publish(f"{INCIDENT_TOPIC}.toast", [pk], live.FULL)


class IncidentTopic(live.Topic):
    """An incident's list row and, on its page, its summary card. Regions:
    those of its gateways (it is seen when any of them is in scope)."""

    model = Incident

    def load(self, pks):
        return list(
            self.model.objects.filter(pk__in=list(pks))
            .select_related("rule", "assignee")
            .prefetch_related("gateways__region")
        )

    def regions_of(self, obj) -> frozenset[int]:
        return frozenset(gateway.region_id for gateway in obj.gateways.all())

    def list_html(self, obj) -> str:
        from security.tables import IncidentTable

        return live.render_row(IncidentTable, obj)

    def detail_html(self, obj, level: int) -> str:
        from django.template.loader import render_to_string

        return render_to_string(
            "security/incidents/partials/incident_summary.html", {"object": obj, "oob": True}
        )


class IncidentToastTopic(IncidentTopic):
    """A toast on every tab that lists incidents or shows the events, for a
    new or escalated incident the user may see."""

    @property
    def name(self) -> str:
        return f"{INCIDENT_TOPIC}.toast"

    def list_groups(self, user):  # not a page's topic: pushes go to the lists' groups
        return [], frozenset()

    def render(self, pks):
        from django.template.loader import render_to_string
        from django.utils.html import format_html

        pushes = []
        for obj in self.load(pks):
            regions = self.regions_of(obj)
            text = format_html(
                '{} <a href="{}">{}</a>',
                obj.get_severity_display(),
                obj.get_absolute_url(),
                obj.title,
            )
            html = render_to_string(
                "console/partials/toast.html", {"text": text, "level_tag": "warning"}
            )
            html = f'<div hx-swap-oob="beforeend:#toasts">{html}</div>'
            for topic in (INCIDENT_TOPIC, TOPIC):
                groups = [live.region_group(topic, None)]
                groups += [live.region_group(topic, pk) for pk in sorted(regions)]
                pushes.append(
                    live.Push(f"{self.name}:{obj.pk}:{topic}", html, groups, regions, topic)
                )
        return pushes


live.register(IncidentTopic())
live.register(IncidentToastTopic())
