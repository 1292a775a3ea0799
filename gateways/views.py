from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.db.models import Avg, Count, Max, Min
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.views import generic
from gateways.agent.ingest import current_config_version
from gateways.choices import GatewayStatus
from gateways.enrolment import digest, issue_token, revoke_tokens, rotate_credential
from gateways.filtersets import GatewayFilterSet, RegionFilterSet
from gateways.forms import GatewayForm, RegionForm
from gateways.models import (
    EnrollmentToken,
    Gateway,
    GatewayStatusChange,
    MetricRollup,
    MetricSample,
    Region,
)
from gateways.panels import notices_for
from gateways.tables import GatewayTable, RegionTable
from gateways.uptime import uptime_ratio

# The one place gateways looks up at the app built on it: a gateway's page
# lists its tunnels and its delete page counts them.
from tunnels.models import Tunnel

# A hub can carry hundreds of tunnels; its page shows the first ones and
# links to the filtered tunnel list for the rest.
GATEWAY_TUNNELS_SHOWN = 10
# The Agent card lists this many outstanding enrolment tokens, newest first.
GATEWAY_TOKENS_SHOWN = 10
# The Status history card shows this many changes, newest first.
GATEWAY_STATUS_CHANGES_SHOWN = 20
UPTIME_WINDOWS = (
    (gettext_lazy("Last 24 hours"), timedelta(hours=24)),
    (gettext_lazy("Last 7 days"), timedelta(days=7)),
)

_regions = Region.objects.annotate(gateway_count=Count("gateways"))


class RegionListView(generic.ObjectListView):
    queryset = _regions
    filterset = RegionFilterSet
    table = RegionTable


class RegionDetailView(generic.ObjectDetailView):
    queryset = _regions
    template_name = "gateways/region_detail.html"

    def get_extra_context(self, obj):
        gateways = Gateway.objects.restrict(self.request.user).filter(region=obj)
        return {
            "status_summary": gateways.status_summary(),
            "recent_gateways": gateways.order_by("-updated")[:10],
        }


class RegionEditView(generic.ObjectEditView):
    queryset = Region.objects.all()
    form = RegionForm


class RegionDeleteView(generic.ObjectDeleteView):
    queryset = _regions


class GatewayListView(generic.ObjectListView):
    queryset = Gateway.objects.all()
    filterset = GatewayFilterSet
    table = GatewayTable


class GatewayDetailView(generic.ObjectDetailView):
    queryset = Gateway.objects.select_related("region").prefetch_related("tags")
    template_name = "gateways/gateway_detail.html"

    def get_extra_context(self, obj):
        user = self.request.user
        tunnels = Tunnel.objects.restrict(user, "view").with_gateway(obj)
        now = timezone.now()
        history = list(
            GatewayStatusChange.objects.filter(gateway=obj)[:GATEWAY_STATUS_CHANGES_SHOWN]
        )
        fleet_version = current_config_version()
        return {
            "notices": notices_for(obj, self.request),
            "can_view_tunnels": user.has_perm("tunnels.view_tunnel"),
            "can_add_tunnel": user.has_perm("tunnels.add_tunnel"),
            "tunnel_count": tunnels.count(),
            "tunnels": tunnels.select_related("gateway_a", "gateway_b")[:GATEWAY_TUNNELS_SHOWN],
            "enrolment_tokens": EnrollmentToken.objects.filter(
                gateway=obj, used__isnull=True, revoked__isnull=True
            )[:GATEWAY_TOKENS_SHOWN],
            "status_history": history,
            "uptime": gateway_uptime(obj, history, now),
            "fleet_config_version": fleet_version,
            "config_up_to_date": (
                None if obj.config_version is None else obj.config_version >= fleet_version
            ),
            "hourly_metrics": hourly_metrics(obj, now),
        }


def gateway_uptime(gateway: Gateway, history: list[GatewayStatusChange], now) -> list[dict]:
    """Uptime over each of UPTIME_WINDOWS, from one query for the longest window.

    The status a window opens with is the ``old_status`` of the first change
    inside it or, when nothing changed inside it, the newest change of all
    (``history[0]``, already loaded for the page).
    """
    longest = max(size for _label, size in UPTIME_WINDOWS)
    in_window = list(
        GatewayStatusChange.objects.filter(gateway=gateway, time__gt=now - longest)
        .order_by("time", "pk")
        .values_list("time", "old_status", "new_status")
    )
    windows = []
    for label, size in UPTIME_WINDOWS:
        start = now - size
        changes = [(time, new) for time, _old, new in in_window if time > start]
        inside_before = [row for row in in_window if row[0] <= start]
        if inside_before:
            opening = [(inside_before[-1][0], inside_before[-1][2])]
        elif in_window and in_window[0][1] and in_window[0][1] != GatewayStatus.PENDING:
            # "pending" means it had never reported: unknown, not down, so a
            # gateway enrolled an hour ago that stayed online shows 100 %.
            opening = [(start, in_window[0][1])]
        elif not in_window and history:
            opening = [(history[0].time, history[0].new_status)]
        else:
            opening = []
        ratio = uptime_ratio(opening + changes, start, now)
        windows.append({"label": label, "ratio": ratio, "percent": _percent(ratio)})
    return windows


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 2)


_ROLLUP_FIELDS = ("cpu", "mem", "rx", "tx", "sessions")
_SAMPLE_FIELDS = {
    "cpu": "cpu_pct",
    "mem": "mem_pct",
    "rx": "rx_bps",
    "tx": "tx_bps",
    "sessions": "sessions",
}


def hourly_metrics(gateway: Gateway, now) -> list[dict]:
    """Min/avg/max per hour for the last 24 hours, newest first: the hourly
    rollups for the completed hours and the raw samples for the current one
    (its rollup does not exist yet). Hours without data are left out."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    aggregates = {}
    for key, field in _SAMPLE_FIELDS.items():
        aggregates[f"{key}_min"] = Min(field)
        aggregates[f"{key}_avg"] = Avg(field)
        aggregates[f"{key}_max"] = Max(field)
    current = MetricSample.objects.filter(gateway=gateway, time__gte=hour).aggregate(
        samples=Count("pk"), **aggregates
    )
    rows = []
    if current["samples"]:
        rows.append({"bucket": hour, "current": True, **current})
    rollups = MetricRollup.objects.filter(
        gateway=gateway,
        period=MetricRollup.Period.HOUR,
        bucket__gte=hour - timedelta(hours=23),
        bucket__lt=hour,
    ).order_by("-bucket")
    for rollup in rollups.values(
        "bucket",
        "samples",
        *(f"{key}_{agg}" for key in _ROLLUP_FIELDS for agg in ("min", "avg", "max")),
    ):
        rows.append({"current": False, **rollup})
    return rows


class GatewayActionView(generic.ObjectActionView):
    """A POST-only change to one gateway; GET shows what it will do and asks
    to confirm. Needs gateways.change_gateway and the gateway in scope."""

    queryset = Gateway.objects.all()

    def show_token(self, obj, token: str, title: str):
        """The one and only time a token is shown: in this response, never stored."""
        expires = EnrollmentToken.objects.values_list("expires", flat=True).get(
            token_hash=digest(token)
        )
        console_url = f"https://{self.request.get_host()}"
        context = self.base_context(
            object=obj,
            title=title,
            token=token,
            expires=expires,
            command=f"rustronaut-agent enroll --console {console_url} --token {token}",
            breadcrumbs=self.breadcrumbs(obj, _("Enrolment token")),
        )
        response = render(self.request, "gateways/gateway_token_issued.html", context)
        response["Cache-Control"] = "no-store"
        return response


class GatewayIssueTokenView(GatewayActionView):
    title = gettext_lazy("Issue an enrolment token for %(obj)s?")
    explanation = gettext_lazy(
        "The token lets an agent enrol as this gateway once. It is shown a single time, "
        "right after you issue it, and expires if it is not used."
    )
    button_label = gettext_lazy("Issue enrolment token")
    button_icon = "ticket"

    def perform(self, obj):
        token = issue_token(obj, user=self.request.user)
        messages.success(self.request, _("Issued an enrolment token for %(obj)s.") % {"obj": obj})
        return self.show_token(obj, token, _("Enrolment token for %(obj)s") % {"obj": obj})


class GatewayRevokeTokenView(GatewayActionView):
    title = gettext_lazy("Revoke enrolment tokens of %(obj)s?")
    explanation = gettext_lazy(
        "A revoked token can no longer enrol an agent. An agent that already enrolled "
        "keeps its credential."
    )
    button_label = gettext_lazy("Revoke")
    button_icon = "ban"
    danger = True
    template_name = "gateways/gateway_revoke_tokens.html"

    def confirm_context(self, obj) -> dict:
        return {
            "enrolment_tokens": EnrollmentToken.objects.filter(
                gateway=obj, used__isnull=True, revoked__isnull=True
            )[:GATEWAY_TOKENS_SHOWN]
        }

    def perform(self, obj):
        token_id = _int_or_none(self.request.POST.get("token"))
        if token_id is not None and revoke_tokens(obj, token_id=token_id):
            messages.success(self.request, _("Revoked the enrolment token."))
        else:
            messages.warning(
                self.request, _("That enrolment token was already used, revoked or not found.")
            )
        return generic.redirect_to(self.request, obj.get_absolute_url())


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class GatewayRotateCredentialView(GatewayActionView):
    title = gettext_lazy("Rotate the credential of %(obj)s?")
    explanation = gettext_lazy(
        "The current credential stops working at once: the agent's calls get 401 until "
        "it enrols again with the new enrolment token shown on the next page. Outstanding "
        "enrolment tokens are revoked."
    )
    button_label = gettext_lazy("Rotate credential")
    button_icon = "rotate-ccw"
    danger = True

    def perform(self, obj):
        token = rotate_credential(obj, user=self.request.user)
        messages.success(
            self.request,
            _("Rotated the credential of %(obj)s; the old one no longer works.") % {"obj": obj},
        )
        return self.show_token(obj, token, _("New enrolment token for %(obj)s") % {"obj": obj})


class GatewayDisableView(GatewayActionView):
    title = gettext_lazy("Disable %(obj)s?")
    explanation = gettext_lazy(
        "Its agent's calls (heartbeat, events, configuration, enrolment) are refused with "
        "403 until you enable it again. Its credential, tunnels and history are kept."
    )
    button_label = gettext_lazy("Disable gateway")
    button_icon = "power-off"
    danger = True
    enabled = False

    def perform(self, obj):
        with transaction.atomic():
            Gateway.objects.filter(pk=obj.pk).update(enabled=self.enabled, updated=timezone.now())
        if self.enabled:
            message = _("Enabled %(obj)s; its agent may call the console again.")
        else:
            message = _("Disabled %(obj)s; its agent's calls are now refused.")
        messages.success(self.request, message % {"obj": obj})
        return generic.redirect_to(self.request, obj.get_absolute_url())


class GatewayEnableView(GatewayDisableView):
    title = gettext_lazy("Enable %(obj)s?")
    explanation = gettext_lazy("Its agent may call the console again with its current credential.")
    button_label = gettext_lazy("Enable gateway")
    button_icon = "power"
    danger = False
    enabled = True


class GatewayEditView(generic.ObjectEditView):
    queryset = Gateway.objects.all()
    form = GatewayForm


class GatewayDeleteView(generic.ObjectDeleteView):
    queryset = Gateway.objects.all()

    def get_dependents(self, obj):
        # Every tunnel counts, seen by this user or not: each one blocks the deletion.
        count = Tunnel.objects.with_gateway(obj).count()
        return [(_("Tunnels"), count)] if count else []
