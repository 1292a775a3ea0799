"""What every list's FilterSet shares."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SearchFilterSet(django_filters.FilterSet):
    """A FilterSet with the free-text ``q`` filter every list has: a
    case-insensitive substring of any of ``search_fields``. ``search_help``
    says what is searched (shown as the search box's placeholder)."""

    search_fields: tuple[str, ...] = ()
    search_help = None

    q = django_filters.CharFilter(method="search", label=_("Search"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.search_help:
            self.filters["q"].extra["help_text"] = self.search_help

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q()
        for field in self.search_fields:
            condition |= Q(**{f"{field}__icontains": value})
        return queryset.filter(condition)
