"""Settings → Roles: custom roles, built-in roles' limits, no escalation."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.models import Role
from tests.factories import RegionFactory, scoped_role, user_with_role
from tests.helpers import login_with_second_factor


@pytest.fixture
def admin_client(client, db):
    return login_with_second_factor(client, user_with_role("root-admin", "Admin"))


def test_create_custom_role_with_permissions_and_scope(admin_client):
    europe = RegionFactory(name="Europe")
    response = admin_client.post(
        reverse("accounts:role_add"),
        {
            "name": "EU night shift",
            "description": "Watches Europe at night.",
            "permissions": ["gateways.view_gateway", "tunnels.view_tunnel"],
            "regions": [europe.pk],
            "mfa_required": "on",
        },
    )
    assert response.status_code == 302
    role = Role.objects.get(group__name="EU night shift")
    assert not role.built_in and role.mfa_required
    assert list(role.regions.all()) == [europe]
    assert sorted(role.group.permissions.values_list("codename", flat=True)) == [
        "view_gateway",
        "view_tunnel",
    ]
    page = admin_client.get(role.get_absolute_url()).content.decode()
    assert "EU night shift" in page and "Europe" in page


def test_role_name_must_be_unique_and_permissions_known(admin_client):
    response = admin_client.post(reverse("accounts:role_add"), {"name": "operator"})
    assert response.status_code == 422
    assert "already exists" in response.content.decode()
    response = admin_client.post(
        reverse("accounts:role_add"), {"name": "Odd", "permissions": ["auth.nonsense"]}
    )
    assert response.status_code == 422
    assert not Group.objects.filter(name="Odd").exists()


def test_builtin_role_keeps_name_and_permissions(admin_client):
    viewer = Role.objects.get(group__name="Viewer")
    before = set(viewer.group.permissions.all())
    europe = RegionFactory()
    response = admin_client.post(
        reverse("accounts:role_edit", args=[viewer.uuid]),
        {
            "name": "Readers",
            "description": viewer.description,
            "permissions": ["accounts.change_user"],
            "regions": [europe.pk],
        },
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.group.name == "Viewer"
    assert set(viewer.group.permissions.all()) == before
    assert list(viewer.regions.all()) == [europe]


def test_builtin_role_cannot_be_deleted(admin_client):
    admin = Role.objects.get(group__name="Admin")
    url = reverse("accounts:role_delete", args=[admin.uuid])
    assert admin_client.get(url).status_code == 409
    assert admin_client.post(url).status_code == 409
    assert Role.objects.filter(pk=admin.pk).exists()
    assert (
        reverse("accounts:role_delete", args=[admin.uuid])
        not in admin_client.get(admin.get_absolute_url()).content.decode()
    )


def test_delete_custom_role_removes_it_from_members(admin_client):
    role = scoped_role("Temp", [], "gateways.view_gateway")
    member = user_with_role("member")
    member.groups.add(role.group)
    confirm = admin_client.get(reverse("accounts:role_delete", args=[role.uuid]))
    assert "members lose this role" in confirm.content.decode()
    assert admin_client.post(reverse("accounts:role_delete", args=[role.uuid])).status_code == 302
    assert not Group.objects.filter(name="Temp").exists()
    assert not member.groups.exists()


def test_cannot_put_permissions_one_lacks_in_a_role(client, db):
    role_admins = scoped_role(
        "Role admins", [], "accounts.view_role", "accounts.add_role", "gateways.view_gateway"
    )
    user = user_with_role("ra")
    user.groups.add(role_admins.group)
    login_with_second_factor(client, user)
    form = client.get(reverse("accounts:role_add")).content.decode()
    assert "gateways.view_gateway" in form
    assert "gateways.delete_gateway" not in form
    response = client.post(
        reverse("accounts:role_add"),
        {"name": "Sneaky", "permissions": ["gateways.delete_gateway"]},
    )
    assert response.status_code == 422
    assert not Group.objects.filter(name="Sneaky").exists()


def test_viewer_cannot_manage_roles(client, db):
    login_with_second_factor(client, user_with_role("v", "Viewer"))
    assert client.get(reverse("accounts:role_list")).status_code == 403
    assert client.post(reverse("accounts:role_add"), {"name": "X"}).status_code == 403
    assert not Group.objects.filter(name="X").exists()
