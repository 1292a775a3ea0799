"""Security → Containment: the actions taken (active, expired, lifted), and
the pages that block a source, quarantine a gateway and lift an action.

Each action page is its own confirmation step (it says what will happen,
where and for how long; nothing happens on GET) and needs a recent password
for the POST (allauth replays the POST after asking). Who may: holders of
``security.add_containmentaction`` (lift: ``change``) in the region concerned;
a fleet-wide block needs an unscoped user. docs/containment.md.
"""

from __future__ import annotations

import django_filters
import django_tables2 as tables
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from console.tables import BaseTable, StatusColumn, TimeSinceColumn
from console.views.generic import ObjectDetailView, ObjectListView, redirect_to
from policies.snapshot import rule_to_dict
from security import containment
from security.choices import ContainmentKind, ContainmentState
from security.containment_forms import BlockSourceForm, QuarantineForm
from security.decorators import RecentAuthRequiredMixin
from security.models import ContainmentAction, Incident, SecurityEvent

SECURITY_CRUMB = (gettext_lazy("Security events"), "security:event_list")


# --- List ----------------------------------------------------------------------


class ContainmentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label=gettext_lazy("Search"), help_text=gettext_lazy("Target or reason")
    )
    state = django_filters.MultipleChoiceFilter(
        choices=ContainmentState.choices, method="by_state", label=gettext_lazy("State")
    )
    kind = django_filters.MultipleChoiceFilter(
        choices=ContainmentKind.choices, label=gettext_lazy("Kind")
    )

    class Meta:
        model = ContainmentAction
        fields = ["q", "state", "kind"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(target_name__icontains=value)
            | Q(reason__icontains=value)
            | Q(scope_name__icontains=value)
        )

    def by_state(self, queryset, name, value):
        condition = Q()
        if ContainmentState.ACTIVE in value:
            condition |= Q(lifted_at__isnull=True)
        if ContainmentState.EXPIRED in value:
            condition |= Q(lifted_at__isnull=False, lift_expired=True)
        if ContainmentState.LIFTED in value:
            condition |= Q(lifted_at__isnull=False, lift_expired=False)
        return queryset.filter(condition) if value else queryset


class ExpiryColumn(tables.Column):
    def render(self, value, record):
        return format_html(
            '<time datetime="{}">{}</time>', value.isoformat(), value.strftime("%Y-%m-%d %H:%M")
        )


class LiftColumn(tables.Column):
    """ "Lift" for an action in force that the viewer may lift (the region
    scope comes from a per-request cache: no query per row)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("verbose_name", "")
        super().__init__(**kwargs)

    def render(self, record, table):
        user = getattr(getattr(table, "request", None), "user", None)
        if not record.is_active or not containment.may_act_in(
            user, record.region, containment.CHANGE
        ):
            return ""
        return format_html(
            '<a class="button small danger-outline" href="{}">{}</a>',
            reverse("security:containmentaction_lift", kwargs={"uuid": record.uuid}),
            _("Lift"),
        )


class ContainmentTable(BaseTable):
    kind = StatusColumn(verbose_name=gettext_lazy("Kind"))
    target_name = tables.Column(
        linkify=lambda record: record.get_absolute_url(), verbose_name=gettext_lazy("Target")
    )
    scope_name = tables.Column(verbose_name=gettext_lazy("Where"))
    state = StatusColumn(verbose_name=gettext_lazy("State"), orderable=False, accessor="state")
    expires_at = ExpiryColumn(verbose_name=gettext_lazy("Expires"), default=gettext_lazy("never"))
    incident = tables.Column(
        linkify=lambda record: record.incident.get_absolute_url() if record.incident else None,
        verbose_name=gettext_lazy("Incident"),
        order_by=("incident__title",),
    )
    created_by = tables.Column(verbose_name=gettext_lazy("By"), order_by=("created_by__username",))
    created_at = TimeSinceColumn(verbose_name=gettext_lazy("Taken"))
    lift = LiftColumn(accessor="uuid")

    class Meta(BaseTable.Meta):
        model = ContainmentAction
        fields = (
            "kind",
            "target_name",
            "scope_name",
            "state",
            "expires_at",
            "incident",
            "created_by",
            "created_at",
            "lift",
        )
        order_by = ("-created_at",)
        empty_text = gettext_lazy(
            "No containment actions yet. Block a source or quarantine a gateway from an "
            "incident, an event or here."
        )


class ContainmentListView(ObjectListView):
    queryset = ContainmentAction.objects.select_related("incident", "created_by", "region")
    filterset = ContainmentFilterSet
    table = ContainmentTable
    template_name = "security/containment/action_list.html"
    parent_crumbs = (SECURITY_CRUMB,)

    def base_context(self, **extra) -> dict:
        context = super().base_context(**extra)
        # No generic "add" page: the list offers block and quarantine instead.
        context["can_add"] = False
        context["active_count"] = (
            ContainmentAction.objects.restrict(self.request.user, "view").active().count()
        )
        return context


# --- Detail --------------------------------------------------------------------


class ContainmentDetailView(ObjectDetailView):
    queryset = ContainmentAction.objects.select_related(
        "incident", "gateway", "region", "created_by", "lifted_by", "revision", "lift_revision"
    )
    template_name = "security/containment/action_detail.html"
    parent_crumbs = (SECURITY_CRUMB,)

    def get_extra_context(self, obj):
        from policies.diff import describe
        from policies.models import Rule

        rules = [describe(rule_to_dict(r)) for r in Rule.objects.filter(uuid__in=obj.rule_ids)]
        return {
            "rules": rules,
            "can_lift": obj.is_active
            and containment.may_act_in(self.request.user, obj.region, containment.CHANGE),
            "can_view_policies": self.request.user.has_perm("policies.view_policy"),
            # No edit or delete page: an action is lifted, never edited.
            "can_change": False,
            "can_delete": False,
        }


# --- Actions ---------------------------------------------------------------------


class ContainmentActionMixin(RecentAuthRequiredMixin, View):
    """Needs ``add_containmentaction``; the POST a recent password."""

    recent_auth_methods = ("POST",)
    permission = containment.ADD
    template_name = ""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def crumbs(self, label):
        return [
            (str(SECURITY_CRUMB[0]), reverse(SECURITY_CRUMB[1])),
            (_("Containment"), reverse("security:containmentaction_list")),
            (label, None),
        ]

    def incident(self):
        key = self.request.GET.get("incident") or self.request.POST.get("incident")
        if not key:
            return None
        try:
            return Incident.objects.restrict(self.request.user, "view").get(uuid=key)
        except (Incident.DoesNotExist, ValueError, Exception):
            return None

    def done(self, action):
        messages.success(
            self.request,
            _(
                "%(a)s: published as policy revision %(r)d; "
                "gateways pull it at their next heartbeat."
            )
            % {"a": action, "r": action.revision.number},
        )
        target = action.incident.get_absolute_url() if action.incident_id else None
        return redirect_to(self.request, target or action.get_absolute_url())

    def render_form(self, form, status=200, **extra):
        context = {"form": form, "incident": self.incident(), **extra}
        return render(self.request, self.template_name, context, status=status)

    def refused(self, form, refused):
        for field, messages_ in refused.errors.items():
            for message in messages_:
                form.add_error(field if field in form.fields else None, message)
        return self.render_form(form, status=refused.status if refused.status != 400 else 422)


class BlockSourceView(ContainmentActionMixin):
    """``?cidr=&incident=&event=`` fill the form in."""

    template_name = "security/containment/block.html"

    def initial(self) -> dict:
        initial = {}
        incident = self.incident()
        if incident is not None:
            initial["incident"] = incident.uuid
            if incident.src_ip:
                initial["cidr"] = incident.src_ip
        event_key = self.request.GET.get("event")
        if event_key:
            event = (
                SecurityEvent.objects.restrict(self.request.user, "view")
                .filter(uuid=event_key)
                .only("src_ip")
                .first()
                if _is_uuid(event_key)
                else None
            )
            if event is not None and event.src_ip:
                initial["cidr"] = event.src_ip
        if self.request.GET.get("cidr"):
            initial["cidr"] = self.request.GET["cidr"]
        region = self.request.GET.get("region")
        if region:
            initial["region"] = region
        return initial

    def render_form(self, form, status=200, **extra):
        return super().render_form(
            form,
            status,
            breadcrumbs=self.crumbs(_("Block a source")),
            fleet_allowed=containment.fleet_wide_allowed(self.request.user),
            **extra,
        )

    def get(self, request, *args, **kwargs):
        return self.render_form(BlockSourceForm(initial=self.initial(), user=request.user))

    def post(self, request, *args, **kwargs):
        form = BlockSourceForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=422)
        try:
            action = containment.block_source(request.user, form.block_request(), request=request)
        except containment.ContainmentRefused as refused:
            return self.refused(form, refused)
        return self.done(action)


class QuarantineView(ContainmentActionMixin):
    """``?gateway=&incident=`` fill the form in."""

    template_name = "security/containment/quarantine.html"

    def render_form(self, form, status=200, **extra):
        cidrs, hosts = containment.management_destinations()
        return super().render_form(
            form,
            status,
            breadcrumbs=self.crumbs(_("Quarantine a gateway")),
            management=cidrs + hosts,
            **extra,
        )

    def get(self, request, *args, **kwargs):
        initial = {}
        incident = self.incident()
        if incident is not None:
            initial["incident"] = incident.uuid
        if request.GET.get("gateway"):
            initial["gateway"] = request.GET["gateway"]
        return self.render_form(QuarantineForm(initial=initial, user=request.user))

    def post(self, request, *args, **kwargs):
        form = QuarantineForm(request.POST, user=request.user)
        if not form.is_valid():
            return self.render_form(form, status=422)
        data = form.cleaned_data
        try:
            action = containment.quarantine_gateway(
                request.user,
                data["gateway"],
                expires_at=data["expires_on"],
                incident=data.get("incident"),
                reason=data.get("reason", ""),
                request=request,
            )
        except containment.ContainmentRefused as refused:
            return self.refused(form, refused)
        return self.done(action)


class LiftView(ContainmentActionMixin):
    """GET: what lifting does (confirm); POST: lift, published at once."""

    permission = containment.CHANGE
    template_name = "security/containment/lift.html"

    def get_action(self, uuid) -> ContainmentAction:
        try:
            return ContainmentAction.objects.select_related("incident", "region").get(
                pk__in=ContainmentAction.objects.restrict(self.request.user, "change").values("pk"),
                uuid=uuid,
            )
        except ContainmentAction.DoesNotExist:
            raise Http404(_("No containment action you may lift matches that id.")) from None

    def page(self, action, status=200, error=None):
        context = {
            "object": action,
            "error": error,
            "breadcrumbs": [
                (str(SECURITY_CRUMB[0]), reverse(SECURITY_CRUMB[1])),
                (_("Containment"), reverse("security:containmentaction_list")),
                (str(action), action.get_absolute_url()),
                (_("Lift"), None),
            ],
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, uuid, *args, **kwargs):
        return self.page(self.get_action(uuid))

    def post(self, request, uuid, *args, **kwargs):
        action = self.get_action(uuid)
        try:
            lifted = containment.lift(request.user, action, request=request)
        except containment.ContainmentRefused as refused:
            return self.page(action, status=refused.status, error=str(refused))
        messages.success(
            request,
            _("Lifted %(a)s: published as policy revision %(r)d.")
            % {"a": lifted, "r": lifted.lift_revision.number},
        )
        target = lifted.incident.get_absolute_url() if lifted.incident_id else None
        return redirect_to(request, target or lifted.get_absolute_url())


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def incident_panel_context(incident: Incident, user) -> dict:
    """What templates/security/incidents/partials/containment.html shows:
    the incident's actions and the buttons the user may use (two queries, and
    the user's scope once a request).

    An action keeps its target's and scope's names, so the panel joins only
    what it uses: the author's name and the region (whether it may be lifted),
    and of the candidate gateways their id and name (the incident page's
    widest queries were these two, compiled on every view)."""
    actions = list(
        incident.containment_actions.select_related("created_by", "region").order_by(
            "-created_at", "-id"
        )
    )
    for action in actions:
        action.can_lift = action.is_active and containment.may_act_in(
            user, action.region, containment.CHANGE
        )
    may = containment.may_contain(user)
    gateways = []
    if may:
        candidates = containment.gateways_to_quarantine(user).filter(incidents=incident)
        gateways = list(candidates.select_related(None).only("uuid", "name"))
    return {
        "containment_actions": actions,
        "can_contain": may,
        "quarantine_candidates": gateways,
        "block_source": incident.src_ip,
    }


containment_list = ContainmentListView.as_view()
containment_detail = ContainmentDetailView.as_view()
containment_block = BlockSourceView.as_view()
containment_quarantine = QuarantineView.as_view()
containment_lift = LiftView.as_view()
