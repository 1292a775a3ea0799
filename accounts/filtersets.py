"""Filters of the users and roles lists."""

from __future__ import annotations

import django_filters
from django.contrib.auth.models import Group
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from gateways.models import Region

USER_STATES = (
    ("active", _("Active")),
    ("invited", _("Invited")),
    ("inactive", _("Deactivated")),
)


def _regions(request):
    if request is None:
        return Region.objects.none()
    return Region.objects.restrict(request.user, "view")


class UserFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label=_("Search"), help_text=_("Username, name or email")
    )
    role = django_filters.ModelMultipleChoiceFilter(
        field_name="groups", queryset=Group.objects.order_by("name"), label=_("Role")
    )
    state = django_filters.ChoiceFilter(
        choices=USER_STATES, method="filter_state", label=_("State"), empty_label=_("Any")
    )
    region = django_filters.ModelMultipleChoiceFilter(
        field_name="regions__slug",
        to_field_name="slug",
        queryset=_regions,
        label=_("Region"),
    )

    class Meta:
        model = User
        fields = ["q", "role", "state", "region"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )

    def filter_state(self, queryset, name, value):
        if value == "active":
            return queryset.filter(is_active=True)
        invited = Q(is_active=False, last_login__isnull=True, invitations__accepted__isnull=True)
        if value == "invited":
            return queryset.filter(invited).distinct()
        return queryset.filter(is_active=False).exclude(invited).distinct()


class RoleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"))
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

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(group__name__icontains=value) | Q(description__icontains=value))
