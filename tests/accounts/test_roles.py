"""The built-in roles: created by migration, documented in docs/roles.md."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.models import Role
from accounts.roles import BUILTIN_ROLE_NAMES, render_permission_table, sync_builtin_roles
from tests.factories import user_with_role

ROLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"


def test_builtin_roles_exist_after_migrate(db):
    roles = Role.objects.filter(built_in=True).select_related("group")
    assert sorted(r.name for r in roles) == sorted(BUILTIN_ROLE_NAMES)
    assert Role.objects.get(group__name="Admin").mfa_required
    assert not Role.objects.get(group__name="Viewer").mfa_required


def test_docs_table_is_what_the_database_grants(db):
    doc = ROLES_DOC.read_text()
    match = re.search(r"<!-- roles-table -->\n(.*?)\n<!-- /roles-table -->", doc, re.S)
    assert match, "docs/roles.md lost its table markers"
    assert match.group(1).strip() == render_permission_table().strip(), (
        "docs/roles.md is out of date: paste the output of `manage.py roles_table`"
    )


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            "Viewer",
            ["gateways.view_gateway", "tunnels.view_tunnel"],
            ["gateways.change_gateway", "accounts.view_user", "accounts.change_user"],
        ),
        (
            "Auditor",
            ["accounts.view_user", "gateways.view_gateway"],
            ["gateways.add_gateway", "accounts.change_user", "tunnels.delete_tunnel"],
        ),
        (
            "Operator",
            ["gateways.change_gateway", "tunnels.add_tunnel", "security.change_securityevent"],
            ["accounts.view_user", "accounts.change_role", "security.delete_securityevent"],
        ),
        ("Admin", ["accounts.change_user", "accounts.add_role", "gateways.delete_region"], []),
    ],
)
def test_role_permissions(db, role, allowed, refused):
    user = user_with_role(f"u-{role}", role)
    for perm in allowed:
        assert user.has_perm(perm), perm
    for perm in refused:
        assert not user.has_perm(perm), perm


def test_sync_restores_edited_builtin_role(db):
    viewer = Group.objects.get(name="Viewer")
    viewer.permissions.add(Permission.objects.get(codename="delete_gateway"))
    sync_builtin_roles()
    assert not viewer.permissions.filter(codename="delete_gateway").exists()
    assert viewer.permissions.filter(codename="view_gateway").exists()


def test_sync_is_idempotent(db):
    sync_builtin_roles()
    before = {g.name: set(g.permissions.all()) for g in Group.objects.all()}
    sync_builtin_roles()
    assert before == {g.name: set(g.permissions.all()) for g in Group.objects.all()}
