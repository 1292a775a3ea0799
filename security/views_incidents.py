"""Incident pages (docs/incidents.md): the list, an incident's page with its
timeline and events, status / assignee / note changes, and the correlation
rules settings pages."""

from __future__ import annotations

from collections import namedtuple

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console.views.generic import (
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectListView,
    ObjectViewMixin,
    redirect_to,
)
from gateways.models import Gateway
from security import incidents
from security.filtersets import CorrelationRuleFilterSet, IncidentFilterSet
from security.incident_forms import (
    CorrelationRuleForm,
    IncidentAssigneeForm,
    IncidentNoteForm,
    IncidentStatusForm,
)
from security.models import CorrelationRule, Incident, IncidentActivity, SecurityEvent
from security.tables import CorrelationRuleTable, IncidentTable
from security.views import _URL_PLACEHOLDER, RowSeverity, _esc, row_with_labels

INCIDENT_BAR_FIELDS = ("q", "status", "severity", "kind", "region")
INCIDENT_MORE_FIELDS = ("rule", "gateway", "assignee", "range", "since", "until")
TIMELINE_PAGE_SIZE = 20
EVENTS_PAGE_SIZE = 25


class IncidentCrumbs:
    parent_crumbs = ((gettext_lazy("Security events"), "security:event_list"),)


class IncidentListView(IncidentCrumbs, ObjectListView):
    queryset = Incident.objects.select_related("rule", "assignee")
    filterset = IncidentFilterSet
    table = IncidentTable
    template_name = "security/incidents/incident_list.html"
    table_box_class = "incident-table"
    table_refresh_on = "security.incident"  # hints re-fetch the table

    def base_context(self, **extra) -> dict:
        context = super().base_context(**extra)
        filterset = extra.get("filterset")
        if filterset is not None:
            form = filterset.form
            context["bar_fields"] = [form[name] for name in INCIDENT_BAR_FIELDS]
            context["more_fields"] = [form[name] for name in INCIDENT_MORE_FIELDS]
            context["more_open"] = any(self.request.GET.get(name) for name in INCIDENT_MORE_FIELDS)
        context["can_add"] = False  # correlation opens incidents
        context["can_view_rules"] = self.request.user.has_perm("security.view_correlationrule")
        return context


def _page(request, queryset, size: int, param: str):
    paginator = Paginator(queryset, size)
    return paginator.get_page(request.GET.get(param))


# What the incident's events table shows (incident_event_rows), read with
# values_list like the events list's rows (security.views.EventRow).
INCIDENT_EVENT_FIELDS = (
    "uuid",
    "occurred_at",
    "severity",
    "signature",
    "src_ip",
    "dst_ip",
    "dst_port",
    "gateway_id",
    "gateway__name",
)


class IncidentEventRow(
    RowSeverity, namedtuple("IncidentEventRow", [*INCIDENT_EVENT_FIELDS[:-1], "gateway_name"])
):
    __slots__ = ()


# One row of the incident's events table, as the template wrote it; every
# value that is not our own markup goes through _esc (security.views.event_rows
# explains why the rows are not drawn by the template engine).
_INCIDENT_EVENT_ROW = (
    "<tr>"
    '<td data-label="{l_time}"><a href="{url}"><time datetime="{iso}">{time}</time></a></td>'
    '<td data-label="{l_severity}">{badge}</td>'
    '<td data-label="{l_signature}">{signature}</td>'
    '<td data-label="{l_source}">{source}</td>'
    '<td data-label="{l_destination}">{destination}</td>'
    '<td data-label="{l_gateway}">{gateway}</td>'
    "</tr>"
)


def incident_event_rows(events) -> SafeString:
    """The rows of the incident's events table, built in Python: 25 rows
    through the template engine (a badge tag, a reverse, a date filter and six
    translated labels each) were most of the page's own time."""
    from console.templatetags.console import status_badge

    row = row_with_labels(
        _INCIDENT_EVENT_ROW,
        l_time=_("Time"),
        l_severity=_("Severity"),
        l_signature=_("Signature"),
        l_source=_("Source"),
        l_destination=_("Destination"),
        l_gateway=_("Gateway"),
    )
    detail = reverse("security:event_detail", kwargs={"uuid": _URL_PLACEHOLDER})
    badges, rows = {}, []
    for event in events:
        if event.severity not in badges:
            badges[event.severity] = str(status_badge(event, "severity"))
        if event.dst_ip:
            port = "" if event.dst_port is None else f":{event.dst_port}"
            destination = f"<code>{_esc(event.dst_ip)}{port}</code>"
        else:
            destination = "—"
        rows.append(
            row.format(
                url=detail.replace(_URL_PLACEHOLDER, str(event.uuid)),
                # As the template printed them: the stored (UTC) time in the
                # attribute, the local time shown.
                iso=event.occurred_at.isoformat(),
                time=timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M:%S"),
                badge=badges[event.severity],
                signature=_esc(event.signature) if event.signature else "—",
                source=f"<code>{_esc(event.src_ip)}</code>" if event.src_ip else "—",
                destination=destination,
                gateway=_esc(event.gateway_name),
            )
        )
    return mark_safe("\n".join(rows))  # every value above escaped by _esc


class IncidentDetailView(IncidentCrumbs, ObjectDetailView):
    # The affected gateways with their regions in one query (a plain
    # "gateways__region" prefetch reads the regions in a second one).
    queryset = Incident.objects.select_related("rule", "assignee").prefetch_related(
        Prefetch("gateways", queryset=Gateway.objects.select_related("region"))
    )
    template_name = "security/incidents/incident_detail.html"

    def get_extra_context(self, obj) -> dict:
        request, user = self.request, self.request.user
        can_change = (
            user.has_perm("security.change_incident")
            and Incident.objects.restrict(user, "change").filter(pk=obj.pk).exists()
        )
        activities = IncidentActivity.objects.filter(incident=obj).select_related("actor")
        # Only the events the user may see: an operator of one region sees
        # that region's share of a fleet-wide scan.
        events = (
            SecurityEvent.objects.restrict(user, "view")
            .filter(incident=obj)
            .order_by("-occurred_at", "-id")
            .values_list(*INCIDENT_EVENT_FIELDS)
        )
        events_page = _page(request, events, EVENTS_PAGE_SIZE, "events")
        events_page.object_list = [IncidentEventRow._make(row) for row in events_page.object_list]
        return {
            "can_change": can_change,
            "can_delete": False,
            "timeline": _page(request, activities, TIMELINE_PAGE_SIZE, "timeline"),
            "events": events_page,
            "event_rows": incident_event_rows(events_page.object_list),
            "status_form": IncidentStatusForm(initial={"status": obj.status}),
            "assignee_form": IncidentAssigneeForm(
                initial={"assignee": obj.assignee.get_username() if obj.assignee else None}
            )
            if can_change
            else None,
            "note_form": IncidentNoteForm() if can_change else None,
            "events_url": f"{reverse('security:event_list')}?incident={obj.uuid}",
        }


class IncidentChangeView(IncidentCrumbs, ObjectViewMixin):
    """A POST from the incident page (status, assignee, note). GET goes back
    to the page (after the same permission and scope checks)."""

    action = "change"
    queryset = Incident.objects.all()
    form_class = None

    def get(self, request, *args, **kwargs):
        return redirect(self.get_object().get_absolute_url())

    def post(self, request, *args, **kwargs):
        incident = self.get_object()
        form = self.form_class(data=request.POST)
        if not form.is_valid():
            return self.invalid(incident, form)
        message = self.apply(incident, form)
        if message:
            messages.success(request, message)
        return redirect_to(request, incident.get_absolute_url())

    def invalid(self, incident, form):
        detail = IncidentDetailView()
        detail.setup(self.request, uuid=incident.uuid)
        incident = detail.get_object()
        context = detail.base_context(
            object=incident,
            breadcrumbs=detail.breadcrumbs(incident),
            **detail.get_extra_context(incident),
        )
        context[self.context_name] = form
        return render(self.request, detail.template_name, context, status=422)

    def apply(self, incident, form) -> str:
        raise NotImplementedError


class IncidentStatusView(IncidentChangeView):
    form_class = IncidentStatusForm
    context_name = "status_form"

    def apply(self, incident, form) -> str:
        status = form.cleaned_data["status"]
        if incidents.set_status(incident, status, self.request.user, form.cleaned_data["note"]):
            return _("Status set to %(status)s.") % {"status": incident.get_status_display()}
        return ""


class IncidentAssigneeView(IncidentChangeView):
    form_class = IncidentAssigneeForm
    context_name = "assignee_form"

    def apply(self, incident, form) -> str:
        assignee = form.cleaned_data["assignee"]
        if incidents.set_assignee(incident, assignee, self.request.user):
            if assignee is None:
                return _("Nobody is assigned now.")
            return _("Assigned to %(user)s.") % {"user": assignee}
        return ""


class IncidentNoteView(IncidentChangeView):
    form_class = IncidentNoteForm
    context_name = "note_form"

    def apply(self, incident, form) -> str:
        _note, created = incidents.add_note(
            incident, form.cleaned_data["text"], self.request.user, form.cleaned_data["token"]
        )
        return _("Note added.") if created else ""


# --- Correlation rules (Settings) -------------------------------------------------------


class RuleCrumbs:
    parent_crumbs = ((gettext_lazy("Settings"), "settings"),)


class CorrelationRuleListView(RuleCrumbs, ObjectListView):
    queryset = CorrelationRule.objects.all()
    filterset = CorrelationRuleFilterSet
    table = CorrelationRuleTable
    template_name = "security/incidents/correlationrule_list.html"


class CorrelationRuleEditView(RuleCrumbs, ObjectEditView):
    queryset = CorrelationRule.objects.all()
    form = CorrelationRuleForm

    def list_url(self) -> str:
        return reverse("security:correlationrule_list")


class CorrelationRuleDeleteView(RuleCrumbs, ObjectDeleteView):
    queryset = CorrelationRule.objects.all()

    def list_url(self) -> str:
        return reverse("security:correlationrule_list")

    def get_dependents(self, obj) -> list[tuple[str, int]]:
        # Its incidents stay, without their rule.
        return [(_("incidents (kept, without their rule)"), obj.incidents.count())]

    def post(self, request, *args, **kwargs):
        obj = self.get_object()
        if obj.builtin:
            return self.render_confirm(
                obj,
                error=_("A built-in rule cannot be deleted; disable it instead."),
                status=409,
            )
        return super().post(request, *args, **kwargs)


incident_list = IncidentListView.as_view()
incident_detail = IncidentDetailView.as_view()
incident_status = IncidentStatusView.as_view()
incident_assignee = IncidentAssigneeView.as_view()
incident_note = IncidentNoteView.as_view()
correlationrule_list = CorrelationRuleListView.as_view()
correlationrule_edit = CorrelationRuleEditView.as_view()
correlationrule_delete = CorrelationRuleDeleteView.as_view()
