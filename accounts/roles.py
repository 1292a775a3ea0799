"""The four built-in roles and what each may do.

The rules below are the source of truth; ``sync_builtin_roles`` turns them into
Django groups with permission sets (from a data migration, and again after
every ``migrate`` so that permissions of models added later land in the right
roles). ``docs/roles.md`` holds the same table in words and a test checks that
the two agree (``manage.py roles_table`` prints it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

ADMIN = "Admin"
OPERATOR = "Operator"
AUDITOR = "Auditor"
VIEWER = "Viewer"
BUILTIN_ROLE_NAMES = (ADMIN, OPERATOR, AUDITOR, VIEWER)

# Apps whose permissions roles are made of. Django's own bookkeeping apps
# (sessions, content types, …) are left to superusers and the admin site.
CONSOLE_APPS = (
    "accounts",
    "auth",
    "gateways",
    "tunnels",
    "policies",
    "security",
    "alerts",
    "audit",
    "backups",
)
# Bookkeeping models reached only through their owner (invitations, enrolment, metrics,
# status history, retired credentials): their own permissions mean nothing,
# so roles leave them out (superusers still see them in Django admin).
INTERNAL_MODELS = {
    ("accounts", "invitation"),
    ("auth", "permission"),
    ("gateways", "enrollmenttoken"),
    ("gateways", "fleetconfig"),
    ("gateways", "gatewaystatuschange"),
    ("gateways", "metricrollup"),
    ("gateways", "metricsample"),
    ("gateways", "retiredcredential"),
}
# Fleet data: what "reading the console" means. The security app also holds
# console settings (session policy, IP allowlist): only its event and
# incident models are fleet data.
FLEET_APPS = ("gateways", "tunnels", "policies", "alerts")
SECURITY_DATA_MODELS = ("securityevent", "incident")


@dataclass(frozen=True)
class Rule:
    """Grants permissions of ``app`` whose model is ``model`` ("*": any) and
    whose action (the codename's first word: view, add, change, delete,
    publish, …) is ``action`` ("*": any)."""

    app: str
    model: str = "*"
    action: str = "*"

    def matches(self, app_label: str, model: str, codename: str) -> bool:
        if app_label != self.app or (app_label, model) in INTERNAL_MODELS:
            return False
        if self.model != "*" and model != self.model:
            return False
        return self.action == "*" or codename.split("_", 1)[0] == self.action


@dataclass(frozen=True)
class BuiltinRole:
    name: str
    description: str
    rules: tuple[Rule, ...]
    mfa_required: bool = False


BUILTIN_ROLES = (
    BuiltinRole(
        ADMIN,
        _("Everything: users, roles, settings, the fleet, policies, audit and backups."),
        tuple(Rule(app) for app in CONSOLE_APPS),
        # Admins can change who may do what: a stolen password must not be enough.
        mfa_required=True,
    ),
    BuiltinRole(
        OPERATOR,
        _(
            "Runs the network: manages gateways, regions, tunnels and policies, "
            "acknowledges security events and alerts."
        ),
        (
            Rule("gateways"),
            Rule("tunnels"),
            Rule("policies"),
            *(Rule("security", model, "view") for model in SECURITY_DATA_MODELS),
            *(Rule("security", model, "change") for model in SECURITY_DATA_MODELS),
            # Containment (docs/containment.md): block, quarantine, lift.
            Rule("security", "containmentaction"),
            Rule("alerts", action="view"),
            Rule("alerts", "alert", "change"),
            Rule("backups", action="view"),
        ),
    ),
    BuiltinRole(
        AUDITOR,
        _(
            "Reads everything, including users, roles and the audit log; changes nothing "
            "but the schedules of compliance reports."
        ),
        (
            *(Rule(app, action="view") for app in CONSOLE_APPS),
            # Exporting the audit log (with its chain head) is what auditors do.
            Rule("audit", "auditrecord", "export"),
            # And having compliance reports emailed (docs/audit.md).
            Rule("audit", "reportschedule"),
        ),
    ),
    BuiltinRole(
        VIEWER,
        _("Reads the fleet: gateways, tunnels, policies, security events and alerts."),
        (
            *(Rule(app, action="view") for app in FLEET_APPS),
            *(Rule("security", model, "view") for model in SECURITY_DATA_MODELS),
            Rule("security", "containmentaction", "view"),
        ),
    ),
)


def role_grants(role: BuiltinRole, app_label: str, model: str, codename: str) -> bool:
    return any(rule.matches(app_label, model, codename) for rule in role.rules)


def sync_builtin_roles(apps=None) -> None:
    """Create the built-in roles and set their permissions to exactly what the
    rules grant. Idempotent; safe in a migration (pass its ``apps``)."""
    if apps is None:
        from django.apps import apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Role = apps.get_model("accounts", "Role")

    permissions = list(
        Permission.objects.filter(content_type__app_label__in=CONSOLE_APPS).values_list(
            "pk", "content_type__app_label", "content_type__model", "codename"
        )
    )
    for builtin in BUILTIN_ROLES:
        group, _created = Group.objects.get_or_create(name=builtin.name)
        role, created = Role.objects.get_or_create(
            group=group,
            defaults={
                "built_in": True,
                "description": str(builtin.description),
                "mfa_required": builtin.mfa_required,
            },
        )
        if not created and not role.built_in:
            # A custom role that happens to carry a built-in name becomes the
            # built-in one: the name is reserved.
            role.built_in = True
            role.save(update_fields=["built_in"])
        wanted = {
            pk for pk, app, model, code in permissions if role_grants(builtin, app, model, code)
        }
        current = set(group.permissions.values_list("pk", flat=True))
        if wanted != current:
            group.permissions.set(wanted)


def permission_table() -> list[tuple[str, str, tuple[bool, ...]]]:
    """(permission, its name, granted per built-in role) for every console
    permission, from the database: what docs/roles.md must say."""
    from django.contrib.auth.models import Group, Permission

    granted = {
        name: set(
            Group.objects.get(name=name).permissions.values_list(
                "content_type__app_label", "codename"
            )
        )
        for name in BUILTIN_ROLE_NAMES
    }
    rows = []
    for perm in (
        Permission.objects.filter(content_type__app_label__in=CONSOLE_APPS)
        .select_related("content_type")
        .order_by("content_type__app_label", "content_type__model", "codename")
    ):
        if (perm.content_type.app_label, perm.content_type.model) in INTERNAL_MODELS:
            continue
        key = (perm.content_type.app_label, perm.codename)
        rows.append(
            (
                f"{key[0]}.{key[1]}",
                perm.name,
                tuple(key in granted[name] for name in BUILTIN_ROLE_NAMES),
            )
        )
    return rows


def render_permission_table() -> str:
    header = "| permission | what it allows | " + " | ".join(BUILTIN_ROLE_NAMES) + " |"
    lines = [header, "|" + "---|" * (2 + len(BUILTIN_ROLE_NAMES))]
    for code, name, grants in permission_table():
        marks = " | ".join("✓" if g else "" for g in grants)
        lines.append(f"| `{code}` | {name} | {marks} |")
    return "\n".join(lines)
