import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from console.tables import BaseTable, TagsColumn, TimeSinceColumn
from policies.models import Policy, PolicyCategory


class PolicyTable(BaseTable):
    priority = tables.Column(verbose_name=_("Priority"), attrs={"td": {"class": "num"}})
    name = tables.Column(linkify=True)
    category = tables.Column(order_by=("category__name",))
    rule_count = tables.Column(
        verbose_name=_("Rules"), empty_values=(), attrs={"td": {"class": "num"}}
    )
    enabled = tables.Column(verbose_name=_("Enabled"))
    tags = TagsColumn()
    updated = TimeSinceColumn(verbose_name=_("Changed"))

    class Meta(BaseTable.Meta):
        model = Policy
        fields = ("priority", "name", "category", "rule_count", "enabled", "tags", "updated")
        order_by = ("priority", "name")
        empty_text = _(
            "No policies yet. Without any, every packet is denied: add a policy and its rules."
        )

    # Set by the list view: policy pk -> rule numbers the search matched.
    rule_matches: dict = {}

    def render_rule_count(self, value, record):
        matches = self.rule_matches.get(record.pk)
        if not matches:
            return value
        numbers = ", ".join(str(n) for n in matches)
        label = ngettext("matches rule %(n)s", "matches rules %(n)s", len(matches)) % {"n": numbers}
        return format_html('{} <span class="badge badge-info">{}</span>', value, label)

    def render_enabled(self, value):
        if value:
            return _("Yes")
        return format_html('<span class="badge badge-muted">{}</span>', _("Disabled"))


class PolicyCategoryTable(BaseTable):
    name = tables.Column(linkify=lambda record: record.get_edit_url())
    description = tables.Column()
    policy_count = tables.Column(verbose_name=_("Policies"), attrs={"td": {"class": "num"}})

    class Meta(BaseTable.Meta):
        model = PolicyCategory
        fields = ("name", "description", "policy_count")
        empty_text = _("No categories yet.")
