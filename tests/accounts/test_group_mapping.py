"""Group mapping: directory groups → roles and regions, applied at every sign-in."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.directory import mapping
from accounts.models import DirectoryIdentity, GroupMapping, Role
from tests.factories import RegionFactory, user_with_role
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db


def role(name):
    return Role.objects.get(group__name=name)


def test_groups_give_roles_and_regions_and_losing_a_group_removes_its_role():
    eu = RegionFactory(name="EU")
    ops = GroupMapping.objects.create(
        group="cn=ops,ou=groups,dc=example,dc=com", role=role("Operator")
    )
    ops.regions.set([eu])
    GroupMapping.objects.create(group="Auditors", source="oidc", role=role("Auditor"))
    user = user_with_role("dir-user")

    grant = mapping.apply(user, "ldap", ["CN=Ops,OU=Groups,DC=example,DC=com", "auditors"])
    # The OIDC-only mapping does not apply to LDAP groups; case does not matter.
    assert [r.name for r in grant.roles] == ["Operator"]
    assert set(user.groups.values_list("name", flat=True)) == {"Operator"}
    assert list(user.regions.all()) == [eu]
    assert user.has_perm("gateways.change_gateway")

    grant = mapping.apply(user, "oidc", ["auditors", "cn=ops,ou=groups,dc=example,dc=com"])
    assert {r.name for r in grant.roles} == {"Operator", "Auditor"}
    # The Auditor mapping has no regions: no limit.
    assert grant.regions is None and not user.regions.exists()

    with pytest.raises(mapping.NoMappedGroup):
        mapping.apply(user, "oidc", ["somewhere-else"])
    # Refused, and the roles are gone (committed even though access is refused).
    assert not user.groups.exists()
    identity = DirectoryIdentity.objects.get(user=user)
    assert identity.groups == ["somewhere-else"] and identity.source == "oidc"


def test_manual_roles_of_a_directory_user_follow_the_directory():
    GroupMapping.objects.create(group="viewers", role=role("Viewer"))
    user = user_with_role("dir-two", "Admin")
    mapping.apply(user, "saml", ["viewers"])
    assert list(user.groups.values_list("name", flat=True)) == ["Viewer"]


def test_resolve_costs_two_queries_whatever_the_number_of_groups(django_assert_num_queries):
    for i in range(5):
        GroupMapping.objects.create(group=f"g{i}", role=role("Viewer")).regions.set(
            [RegionFactory()]
        )
    with django_assert_num_queries(2):
        grant = mapping.resolve("ldap", [f"g{i}" for i in range(50)])
    assert len(grant.region_objects) == 5


@pytest.fixture
def admin_client(client):
    login_with_second_factor(client, user_with_role("dir-admin", "Admin"))
    return client


def test_mapping_pages_create_validate_and_preview(admin_client):
    eu = RegionFactory(name="Europe")
    url = reverse("accounts:groupmapping_add")
    assert admin_client.get(url).status_code == 200
    bad = admin_client.post(url, {"group": "  ", "role": ""})
    assert bad.status_code == 422
    assert "This field is required." in bad.content.decode()
    assert not GroupMapping.objects.exists()

    operator = role("Operator")
    response = admin_client.post(
        url, {"group": "net-ops", "source": "", "role": operator.pk, "regions": [eu.pk]}
    )
    assert response.status_code == 302
    created = GroupMapping.objects.get()
    assert created.group == "net-ops" and list(created.regions.all()) == [eu]
    # The same group and role again: refused with a message, not a 500.
    again = admin_client.post(url, {"group": "NET-OPS", "source": "", "role": operator.pk})
    assert again.status_code == 422
    assert GroupMapping.objects.count() == 1

    listing = admin_client.get(reverse("accounts:groupmapping_list"))
    assert "net-ops" in listing.content.decode()

    preview = admin_client.get(
        reverse("accounts:groupmapping_preview"), {"groups": "net-ops\nother", "source": "ldap"}
    )
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "This user would get:" in text and "Operator" in text and "Europe" in text
    nothing = admin_client.get(reverse("accounts:groupmapping_preview"), {"groups": "other"})
    assert "would get no access" in nothing.content.decode()
    empty = admin_client.get(reverse("accounts:groupmapping_preview"), {"groups": ""})
    assert empty.status_code == 422


def test_preview_of_a_directory_user_uses_their_last_groups(admin_client):
    GroupMapping.objects.create(group="viewers", role=role("Viewer"))
    user = user_with_role("dir-three")
    mapping.apply(user, "ldap", ["viewers"])
    response = admin_client.get(reverse("accounts:groupmapping_preview"), {"username": "DIR-THREE"})
    assert response.status_code == 200
    assert "Viewer" in response.content.decode()
    missing = admin_client.get(reverse("accounts:groupmapping_preview"), {"username": "nobody"})
    assert missing.status_code == 422


def test_directory_page_for_admins_and_auditors_only(client):
    login_with_second_factor(client, user_with_role("dir-viewer", "Viewer"))
    assert client.get(reverse("accounts:directory")).status_code == 403
    client.logout()
    login_with_second_factor(client, user_with_role("dir-auditor", "Auditor"))
    page = client.get(reverse("accounts:directory"))
    assert page.status_code == 200
    # Auditors read, they do not test or change.
    assert "Test connection" not in page.content.decode()
    assert client.post(reverse("accounts:directory"), {"username": "x"}).status_code == 403


def test_sso_only_roles_are_saved(admin_client):
    viewer = role("Viewer")
    response = admin_client.post(reverse("accounts:directory_sso_only"), {"roles": [viewer.pk]})
    assert response.status_code == 302
    assert viewer.sign_in_policy.sso_only
    admin_client.post(reverse("accounts:directory_sso_only"), {"roles": []})
    viewer.sign_in_policy.refresh_from_db()
    assert not viewer.sign_in_policy.sso_only
    assert Group.objects.filter(name="Viewer").exists()
