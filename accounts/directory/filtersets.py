from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import GroupMapping, Role
from accounts.models.directory import DirectorySource


class GroupMappingFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label=_("Search"), help_text=_("Group or description")
    )
    source = django_filters.ChoiceFilter(
        choices=DirectorySource.choices, label=_("Source"), empty_label=_("Any")
    )
    role = django_filters.ModelMultipleChoiceFilter(
        queryset=Role.objects.select_related("group").order_by("group__name"), label=_("Role")
    )

    class Meta:
        model = GroupMapping
        fields = ["q", "source", "role"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(group__icontains=value) | Q(description__icontains=value))
