import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from console.tables import BaseTable, StatusColumn, TimeSinceColumn
from security.models import AllowlistEntry


class ExpiresColumn(tables.Column):
    def render(self, value, record):
        label = format_html(
            '<time datetime="{}">{}</time>', value.isoformat(), value.strftime("%Y-%m-%d %H:%M")
        )
        if record.is_expired:
            return format_html('{} <span class="badge badge-muted">{}</span>', label, _("expired"))
        return label


class AllowlistEntryTable(BaseTable):
    network = tables.Column(linkify=True, verbose_name=_("Network"))
    scope = StatusColumn(verbose_name=_("Applies to"))
    comment = tables.Column(orderable=False)
    expires = ExpiresColumn(default="—")
    created_by = tables.Column(verbose_name=_("Added by"), order_by=("created_by__username",))
    updated = TimeSinceColumn(verbose_name=_("Changed"))

    class Meta(BaseTable.Meta):
        model = AllowlistEntry
        fields = ("network", "scope", "comment", "expires", "created_by", "updated")
        empty_text = _(
            "No entries: the console and the API accept every address. Add one to allow "
            "only your networks."
        )
