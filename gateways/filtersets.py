"""One FilterSet per model, shared by the pages and the REST API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from taggit.models import Tag

from console.filtersets import SearchFilterSet
from gateways.choices import GatewayStatus
from gateways.models import Gateway, Region


@extend_schema_field(OpenApiTypes.STR)
class ByNameFilter(django_filters.ModelMultipleChoiceFilter):
    """Choose related objects by a unique text field (a slug, a tag name).

    The API schema generator cannot follow ``field_name`` + ``to_field_name``
    (``region__slug`` + ``slug``) and warned, failing ``check --deploy``; the
    parameter is a list of strings, so say so.
    """


def visible_regions(request):
    """The regions a filter may offer: those the request's user may view
    (none without a request, e.g. the API schema). Every list's region filter
    uses it."""
    if request is None:
        return Region.objects.none()
    return Region.objects.restrict(request.user, "view")


class RegionFilterSet(SearchFilterSet):
    search_fields = ("name", "slug", "description")

    class Meta:
        model = Region
        fields = ["q", "slug"]


class GatewayFilterSet(SearchFilterSet):
    search_fields = ("name", "description", "public_address")
    search_help = _("Name, description or public address")
    status = django_filters.MultipleChoiceFilter(choices=GatewayStatus.choices, label=_("Status"))
    region = ByNameFilter(
        field_name="region__slug",
        to_field_name="slug",
        queryset=visible_regions,
        label=_("Region"),
    )
    tag = ByNameFilter(
        field_name="tags__name",
        to_field_name="name",
        queryset=Tag.objects.all(),
        label=_("Tag"),
    )

    class Meta:
        model = Gateway
        fields = ["q", "status", "region", "tag"]
