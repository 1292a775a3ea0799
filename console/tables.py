"""The table base every list page uses: sorting, pagination, per-user page
size, and query planning from the visible columns so no page has an N+1."""

from __future__ import annotations

import django_tables2 as tables
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db import models
from django.template.base import render_value_in_context
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
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


def _computed(attrs) -> bool:
    """Whether django-tables2 attributes depend on the record or value (a
    callable anywhere in them)."""
    if callable(attrs):
        return True
    return isinstance(attrs, dict) and any(_computed(value) for value in attrs.values())


def row_cells(row, context) -> SafeString:
    """The ``<td>`` cells of one table row, as django-tables2's
    ``{% for column, cell in row.items %}<td {{ column.attrs.td.as_html }}>``
    loop writes them, with the column's header as ``data-label`` (the phone
    layout's cell captions).

    A column's cell attributes and header are the same on every row of one
    table unless its attributes are computed from the record, so they are
    worked out once per table instead of once per cell: django-tables2 builds
    a column's ``attrs`` afresh on each access, and a translated header runs
    ``gettext`` on each read: about a sixth of a ten-row list's live re-fetch
    (docs/decisions.md, "2026-12-07 (second session)"). Each cell's value
    goes through the template engine's own rendering (localized, escaped).
    """
    table = row.table
    frames = getattr(table, "_cell_frames", None)
    if frames is None:
        frames = []
        for column in table.columns:
            own = {**table.attrs, **column.column.attrs}
            fixed = not _computed(own.get("td", own.get("cell", {})))
            td = column.attrs["td"].as_html() if fixed else None
            label = render_value_in_context(column.header, context)
            frames.append((column, td, label))
        table._cell_frames = frames
    parts = []
    for column, td, label in frames:
        cell = row.get_cell(column.name)
        if td is None:  # as BoundRow.items() does, for attributes computed per record
            column.current_value, column.current_record = cell, row.record
            td = column.attrs["td"].as_html()
        parts.append(f'<td {td} data-label="{label}">{render_value_in_context(cell, context)}</td>')
    return mark_safe("".join(parts))


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
