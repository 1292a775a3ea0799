"""The tunnel FilterSet, shared by the list page and the REST API."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from taggit.models import Tag

from console.filtersets import SearchFilterSet
from gateways.filtersets import ByNameFilter, visible_regions
from gateways.models import Gateway
from tunnels.choices import TunnelProtocol, TunnelState
from tunnels.models import Tunnel


def _gateways(request):
    if request is None:
        return Gateway.objects.none()
    # The page lists every gateway as a choice: their names are all it needs.
    return Gateway.objects.restrict(request.user, "view").only("pk", "name")


class TunnelFilterSet(SearchFilterSet):
    search_fields = ("name", "description", "remote_address")
    search_help = _("Name, description or remote address")
    state = django_filters.MultipleChoiceFilter(choices=TunnelState.choices, label=_("State"))
    protocol = django_filters.MultipleChoiceFilter(
        choices=TunnelProtocol.choices, label=_("Protocol")
    )
    gateway = ByNameFilter(
        to_field_name="name",
        queryset=_gateways,
        method="by_gateway",
        label=_("Gateway"),
        help_text=_("Gateway names; a tunnel matches when either end is one of them."),
    )
    region = ByNameFilter(
        to_field_name="slug",
        queryset=visible_regions,
        method="by_region",
        label=_("Region"),
        help_text=_("Region slugs; a tunnel matches when either end's gateway is in one."),
    )
    tag = ByNameFilter(
        field_name="tags__name",
        to_field_name="name",
        queryset=Tag.objects.all(),
        label=_("Tag"),
    )
    enabled = django_filters.BooleanFilter(
        label=_("Enabled"),
        widget=forms.Select(
            choices=[("", _("Any")), ("true", _("Enabled")), ("false", _("Disabled"))]
        ),
    )

    class Meta:
        model = Tunnel
        fields = ["q", "state", "protocol", "gateway", "region", "tag", "enabled"]

    def by_gateway(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Q(gateway_a__in=value) | Q(gateway_b__in=value))

    def by_region(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Q(gateway_a__region__in=value) | Q(gateway_b__region__in=value))
