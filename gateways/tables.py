import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from console.tables import BaseTable, StatusColumn, TagsColumn, TimeSinceColumn
from console.templatetags.console import icon, status_badge
from gateways.models import Gateway, Region


class RegionTable(BaseTable):
    name = tables.Column(linkify=True)
    slug = tables.Column()
    gateway_count = tables.Column(verbose_name=_("Gateways"), attrs={"td": {"class": "num"}})
    description = tables.Column(orderable=False)

    class Meta(BaseTable.Meta):
        model = Region
        fields = ("name", "slug", "gateway_count", "description")
        empty_text = _("Regions group gateways by place or team, and limit what users may see.")


class GatewayTable(BaseTable):
    name = tables.Column(linkify=True)
    status = StatusColumn()
    region = tables.Column(linkify=True, order_by=("region__name",))
    public_address = tables.Column()
    software_version = tables.Column(verbose_name=_("Version"))
    capacity_mbps = tables.Column(verbose_name=_("Capacity"), attrs={"td": {"class": "num"}})
    last_seen = TimeSinceColumn(verbose_name=_("Last seen"))
    tags = TagsColumn()

    class Meta(BaseTable.Meta):
        model = Gateway
        fields = (
            "name",
            "status",
            "region",
            "public_address",
            "software_version",
            "capacity_mbps",
            "last_seen",
            "tags",
        )
        empty_text = _("Add a gateway to manage it from the console.")

    def render_status(self, record):
        badge = status_badge(record, "status")
        if not record.quarantined:
            return badge
        # Set by containment: the gateway drops all but management traffic.
        return format_html(
            '{} <span class="badge badge-danger">{}{}</span>',
            badge,
            icon("shield-alert"),
            _("Quarantined"),
        )

    def render_capacity_mbps(self, value):
        return f"{value:,} Mbps"
