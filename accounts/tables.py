import django_tables2 as tables
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from console.tables import BaseTable, TimeSinceColumn


def _badges(names, empty="—"):
    if not names:
        return format_html('<span class="muted">{}</span>', empty)
    return format_html_join(" ", '<span class="badge badge-muted">{}</span>', ((n,) for n in names))


class UserTable(BaseTable):
    username = tables.Column(linkify=True, verbose_name=_("User"))
    full_name = tables.Column(
        empty_values=(), order_by=("first_name", "last_name"), verbose_name=_("Name")
    )
    email = tables.Column()
    roles = tables.Column(empty_values=(), orderable=False, verbose_name=_("Roles"))
    regions = tables.Column(empty_values=(), orderable=False, verbose_name=_("Regions"))
    state = tables.Column(empty_values=(), order_by=("-is_active",), verbose_name=_("State"))
    mfa = tables.Column(empty_values=(), order_by=("-mfa_on",), verbose_name=_("MFA"))
    last_login = TimeSinceColumn(verbose_name=_("Last sign-in"))

    class Meta(BaseTable.Meta):
        model = User
        fields = (
            "username",
            "full_name",
            "email",
            "roles",
            "regions",
            "state",
            "mfa",
            "last_login",
        )
        empty_text = _("Invite people to give them access to the console.")

    @classmethod
    def optimize_queryset(cls, queryset):
        return super().optimize_queryset(queryset).prefetch_related("groups__role", "invitations")

    def render_full_name(self, record):
        return record.get_full_name() or "—"

    def render_roles(self, record):
        names = [g.name for g in record.groups.all()]
        if record.is_superuser:
            names.insert(0, _("Superuser"))
        return _badges(names, _("No role"))

    def render_regions(self, record):
        if record.is_superuser:
            return format_html('<span class="muted">{}</span>', _("All regions"))
        return _badges([r.name for r in record.regions.all()], _("As the roles allow"))

    def render_state(self, record):
        label, colour = user_state(record)
        return format_html('<span class="badge badge-{}">{}</span>', colour, label)

    def render_mfa(self, record):
        if getattr(record, "mfa_on", False):
            return format_html('<span class="badge badge-ok">{}</span>', _("On"))
        required = record.mfa_required or any(
            getattr(group, "role", None) is not None and group.role.mfa_required
            for group in record.groups.all()
        )
        if required:
            return format_html('<span class="badge badge-warn">{}</span>', _("Not set up"))
        return format_html('<span class="muted">{}</span>', _("Off"))


def user_state(user) -> tuple[str, str]:
    """(label, badge colour) of a user's state; uses prefetched invitations."""
    if user.is_active:
        return _("Active"), "ok"
    if user.last_login is None and any(i.accepted is None for i in user.invitations.all()):
        return _("Invited"), "info"
    return _("Deactivated"), "muted"


class RoleTable(BaseTable):
    name = tables.Column(
        accessor="group__name",
        linkify=lambda record: record.get_absolute_url(),
        verbose_name=_("Role"),
    )
    kind = tables.Column(empty_values=(), order_by=("-built_in",), verbose_name=_("Kind"))
    description = tables.Column(orderable=False)
    member_count = tables.Column(verbose_name=_("Members"), attrs={"td": {"class": "num"}})
    regions = tables.Column(empty_values=(), orderable=False, verbose_name=_("Regions"))
    mfa_required = tables.BooleanColumn(verbose_name=_("MFA required"))

    class Meta(BaseTable.Meta):
        model = Role
        fields = ("name", "kind", "description", "member_count", "regions", "mfa_required")
        empty_text = _("No roles yet.")

    def render_kind(self, record):
        if record.built_in:
            return format_html('<span class="badge badge-info">{}</span>', _("Built in"))
        return format_html('<span class="badge badge-muted">{}</span>', _("Custom"))

    def render_regions(self, record):
        return _badges([r.name for r in record.regions.all()], _("All regions"))
