from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import GroupMapping
from console.tables import BaseTable


class GroupMappingTable(BaseTable):
    group = tables.Column(linkify=True, verbose_name=_("Directory group"))
    source = tables.Column(empty_values=(), verbose_name=_("Source"))
    role = tables.Column(
        accessor="role__group__name", order_by=("role__group__name",), verbose_name=_("Role")
    )
    regions = tables.Column(empty_values=(), orderable=False, verbose_name=_("Regions"))
    description = tables.Column()

    class Meta(BaseTable.Meta):
        model = GroupMapping
        fields = ("group", "source", "role", "regions", "description")
        empty_text = _(
            "No mappings yet: directory and SSO users get no access until their groups are "
            "mapped to a role."
        )

    @classmethod
    def optimize_queryset(cls, queryset):
        return queryset.select_related("role__group").prefetch_related("regions")

    def render_source(self, record):
        return record.get_source_display() or _("Any")

    def render_regions(self, record):
        names = [r.name for r in record.regions.all()]
        if not names:
            return format_html('<span class="muted">{}</span>', _("As the role allows"))
        return format_html_join(
            " ", '<span class="badge badge-muted">{}</span>', ((n,) for n in names)
        )
