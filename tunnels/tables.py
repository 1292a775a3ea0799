import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from console.tables import BaseTable, StatusColumn, TagsColumn, TimeSinceColumn
from console.templatetags.console import icon
from tunnels.models import Tunnel


class TunnelTable(BaseTable):
    name = tables.Column(linkify=True)
    state = StatusColumn()
    gateway_a = tables.Column(linkify=True, order_by=("gateway_a__name",))
    # Reads gateway_b (so the base joins it) and falls back to the remote
    # address, hence no empty values: render_far_end sees every row.
    far_end = tables.Column(
        accessor="gateway_b",
        verbose_name=_("Far end"),
        order_by=("gateway_b__name", "remote_address"),
        empty_values=(),
    )
    protocol = tables.Column()
    latency_ms = tables.Column(verbose_name=_("Latency"), attrs={"td": {"class": "num"}})
    last_handshake = TimeSinceColumn(verbose_name=_("Last handshake"))
    enabled = tables.Column(verbose_name=_("Enabled"))
    tags = TagsColumn()

    class Meta(BaseTable.Meta):
        model = Tunnel
        fields = (
            "name",
            "state",
            "gateway_a",
            "far_end",
            "protocol",
            "latency_ms",
            "last_handshake",
            "enabled",
            "tags",
        )
        empty_text = _("Tunnels connect two gateways, or a gateway to a remote site.")

    def render_far_end(self, value, record):
        if value is not None:
            return format_html('<a href="{}">{}</a>', value.get_absolute_url(), value)
        return format_html(
            '<span class="remote-site" title="{}">{}<code>{}</code></span>',
            _("Remote site"),
            icon("globe"),
            record.remote_address,
        )

    def render_latency_ms(self, value):
        return f"{value:,.1f} ms"

    def render_enabled(self, value):
        if value:
            return _("Yes")
        return format_html('<span class="badge badge-muted">{}</span>', _("Disabled"))
