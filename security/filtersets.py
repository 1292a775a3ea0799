"""One FilterSet per model, shared by the pages and the REST API."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from security.choices import AllowlistScope
from security.models import AllowlistEntry


class AllowlistEntryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label=_("Search"), help_text=_("Network or comment")
    )
    scope = django_filters.MultipleChoiceFilter(
        choices=AllowlistScope.choices, label=_("Applies to")
    )

    class Meta:
        model = AllowlistEntry
        fields = ["q", "scope"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(network__icontains=value) | Q(comment__icontains=value))
