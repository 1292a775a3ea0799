"""The table base every list page uses: sorting, pagination, per-user page
size, and query planning from the visible columns so no page has an N+1."""

from __future__ import annotations

import django_tables2 as tables
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db import models
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from console.templatetags.console import status_badge

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25


class StatusColumn(tables.Column):
    """A status rendered as a badge; its colour and icon come from choices.py
    through the record's ``<field>_style`` property."""

    def render(self, value, record, bound_column):
        return status_badge(record, bound_column.accessor)


class TimeSinceColumn(tables.Column):
    """A moment shown as "3 minutes ago", with the exact time on hover."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", _("never"))
        super().__init__(*args, **kwargs)

    def render(self, value):
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            value.isoformat(),
            date_format(value, "DATETIME_FORMAT"),
            naturaltime(value),
        )


class TagsColumn(tables.Column):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("verbose_name", _("Tags"))
        super().__init__(*args, accessor="tags", **kwargs)

    def render(self, value, record):
        names = sorted(tag.name for tag in value.all())
        if not names:
            return "—"
        tags = format_html_join("", '<span class="tag">{}</span>', ((name,) for name in names))
        return format_html('<span class="tags">{}</span>', tags)


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table"}
        template_name = "console/table.html"
        empty_text = _("Nothing here yet.")

    @classmethod
    def preference_key(cls) -> str:
        return f"tables.{cls.__name__}.per_page"

    @classmethod
    def optimize_queryset(cls, queryset: models.QuerySet) -> models.QuerySet:
        """select_related / prefetch_related what the visible columns read."""
        model = queryset.model
        related, prefetch = set(), set()
        for name, column in cls.base_columns.items():
            if name in getattr(cls._meta, "exclude", ()):
                continue
            accessor = str(column.accessor or name).replace(".", "__")
            first = accessor.split("__")[0]
            try:
                field = model._meta.get_field(first)
            except FieldDoesNotExist:
                continue
            if field.many_to_many or field.one_to_many:
                prefetch.add(first)
            elif field.is_relation:
                related.add(first)
        if related:
            queryset = queryset.select_related(*sorted(related))
        if prefetch:
            queryset = queryset.prefetch_related(*sorted(prefetch))
        return queryset

    def configure(self, request) -> BaseTable:
        """Apply sorting and pagination from the request; remember the page size."""
        self.request = request
        order_by = request.GET.getlist(self.prefixed_order_by_field)
        if order_by:
            self.order_by = order_by
        per_page = self._per_page(request)
        try:
            page = int(request.GET.get(self.prefixed_page_field, 1))
        except ValueError:
            page = 1
        try:
            self.paginate(page=page, per_page=per_page)
        except PageNotAnInteger:
            self.page = self.paginator.page(1)
        except EmptyPage:
            self.page = self.paginator.page(self.paginator.num_pages)
        self.page_sizes = PAGE_SIZES
        return self

    def _per_page(self, request) -> int:
        user = request.user
        stored = user.get_preference(self.preference_key()) if user.is_authenticated else None
        try:
            asked = int(request.GET.get(self.prefixed_per_page_field, ""))
        except ValueError:
            asked = None
        if asked in PAGE_SIZES:
            if user.is_authenticated:
                user.set_preference(self.preference_key(), asked)
            return asked
        return stored if stored in PAGE_SIZES else DEFAULT_PAGE_SIZE
