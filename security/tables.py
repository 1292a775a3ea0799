import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from console.tables import BaseTable, StatusColumn, TimeSinceColumn
from security.models import AllowlistEntry, CorrelationRule, Incident


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


class GatewaysColumn(tables.Column):
    """The incident's affected gateways: the first few names and how many more."""

    SHOWN = 3

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("verbose_name", _("Gateways"))
        super().__init__(*args, accessor="gateways", **kwargs)

    def render(self, value, record):
        names = sorted(gateway.name for gateway in value.all())
        if not names:
            return "—"
        shown = ", ".join(names[: self.SHOWN])
        if len(names) > self.SHOWN:
            more = _("+%(n)d more") % {"n": len(names) - self.SHOWN}
            return format_html('{} <span class="muted small">{}</span>', shown, more)
        return shown


class IncidentTable(BaseTable):
    title = tables.Column(linkify=True, verbose_name=_("Incident"))
    severity = StatusColumn(verbose_name=_("Severity"))
    status = StatusColumn(verbose_name=_("Status"))
    rule = tables.Column(verbose_name=_("Rule"), order_by=("rule__name",))
    gateways = GatewaysColumn()
    event_count = tables.Column(verbose_name=_("Events"), attrs={"td": {"class": "num"}})
    assignee = tables.Column(
        verbose_name=_("Assignee"), order_by=("assignee__username",), default="—"
    )
    last_seen = TimeSinceColumn(verbose_name=_("Last seen"))
    first_seen = TimeSinceColumn(verbose_name=_("First seen"))

    class Meta(BaseTable.Meta):
        model = Incident
        fields = (
            "title",
            "severity",
            "status",
            "rule",
            "gateways",
            "event_count",
            "assignee",
            "last_seen",
            "first_seen",
        )
        order_by = ("-last_seen",)
        empty_text = _(
            "No incidents. Correlation rules group security events into incidents as they "
            "arrive: a scan across gateways, repeated failed logins, a burst above a gateway's "
            "usual rate."
        )


class CorrelationRuleTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Rule"))
    kind = StatusColumn(verbose_name=_("Kind"))
    enabled = tables.BooleanColumn(verbose_name=_("Enabled"))
    window_seconds = tables.Column(verbose_name=_("Window (s)"), attrs={"td": {"class": "num"}})
    threshold = tables.Column(verbose_name=_("Threshold"), attrs={"td": {"class": "num"}})
    severity_raise = tables.Column(verbose_name=_("Severity at least"), default="—")
    cooldown_seconds = tables.Column(
        verbose_name=_("Extend for (s)"), attrs={"td": {"class": "num"}}
    )

    class Meta(BaseTable.Meta):
        model = CorrelationRule
        fields = (
            "name",
            "kind",
            "enabled",
            "window_seconds",
            "threshold",
            "severity_raise",
            "cooldown_seconds",
        )
        empty_text = _("No correlation rules: no incidents are opened.")

    def render_threshold(self, value):
        return f"{value:g}"
