"""Filters of the users and roles lists."""

from __future__ import annotations

import django_filters
from django.contrib.auth.models import Group
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from console.filtersets import SearchFilterSet
from gateways.filtersets import visible_regions

USER_STATES = (
    ("active", _("Active")),
    ("invited", _("Invited")),
    ("inactive", _("Deactivated")),
)


class UserFilterSet(SearchFilterSet):
    search_fields = ("username", "first_name", "last_name", "email")
    search_help = _("Username, name or email")

    role = django_filters.ModelMultipleChoiceFilter(
        field_name="groups", queryset=Group.objects.order_by("name"), label=_("Role")
    )
    state = django_filters.ChoiceFilter(
        choices=USER_STATES, method="filter_state", label=_("State"), empty_label=_("Any")
    )
    region = django_filters.ModelMultipleChoiceFilter(
        field_name="regions__slug",
        to_field_name="slug",
        queryset=visible_regions,
        label=_("Region"),
    )

    class Meta:
        model = User
        fields = ["q", "role", "state", "region"]

    def filter_state(self, queryset, name, value):
        if value == "active":
            return queryset.filter(is_active=True)
        invited = Q(is_active=False, last_login__isnull=True, invitations__accepted__isnull=True)
        if value == "invited":
            return queryset.filter(invited).distinct()
        return queryset.filter(is_active=False).exclude(invited).distinct()


class RoleFilterSet(SearchFilterSet):
    search_fields = ("group__name", "description")
    kind = django_filters.ChoiceFilter(
        choices=(("built_in", _("Built in")), ("custom", _("Custom"))),
        method="filter_kind",
        label=_("Kind"),
        empty_label=_("Any"),
    )

    class Meta:
        model = Role
        fields = ["q", "kind"]

    def filter_kind(self, queryset, name, value):
        return queryset.filter(built_in=value == "built_in")
