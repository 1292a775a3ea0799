"""LDAP / Active Directory sign-in against a real slapd (tests/directory_support/ldap.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.urls import reverse

from accounts.directory.backend import UNREACHABLE_CACHE_KEY, DirectoryLDAPBackend
from accounts.directory.diagnose import test_connection as run_connection_test
from accounts.directory.ldap_groups import in_chain_filter
from accounts.models import DirectoryIdentity, GroupMapping, Role, RoleSignInPolicy, User
from tests.directory_support.ldap import (
    PASSWORD,
    dn,
    group_dn,
    ldap_options,
    slapd,  # noqa: F401  (the fixture)
    use_directory,
)
from tests.factories import RegionFactory, user_with_role
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def directory(settings, slapd):  # noqa: F811
    from django.core.cache import cache

    cache.delete(UNREACHABLE_CACHE_KEY)
    # allauth's sign-in rate limit lives in the shared Redis across tests;
    # django-axes (per test database) still counts every failure.
    settings.ACCOUNT_RATE_LIMITS = False
    options = ldap_options(slapd)
    use_directory(settings, options)
    eu = RegionFactory(name="EU")
    ops = GroupMapping.objects.create(group="ops", role=Role.objects.get(group__name="Operator"))
    ops.regions.set([eu])
    GroupMapping.objects.create(
        group=group_dn("auditors"), source="ldap", role=Role.objects.get(group__name="Auditor")
    )
    GroupMapping.objects.create(group="netops", role=Role.objects.get(group__name="Viewer"))
    yield options
    cache.delete(UNREACHABLE_CACHE_KEY)


def sign_in(client, login, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": login, "password": password})


def test_search_then_bind_over_starttls_creates_the_user_with_mapped_roles(client, directory):
    response = sign_in(client, "alice")
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="alice")
    assert (user.email, user.first_name, user.last_name) == (
        "alice@example.com",
        "Alice",
        "Example",
    )
    assert not user.has_usable_password()
    assert set(user.groups.values_list("name", flat=True)) == {"Operator", "Auditor"}
    # The Auditor mapping has no regions, so no region cap (a scoped role is
    # the way to scope one role only: docs/directory.md).
    assert not user.regions.exists()
    identity = DirectoryIdentity.objects.get(user=user)
    assert identity.source == "ldap" and identity.external_id == dn("alice")
    assert group_dn("console-users") in identity.groups and "ops" in identity.groups


def test_nested_groups_of_names_count(client, directory):
    assert sign_in(client, "bob").status_code == 302
    bob = User.objects.get(username="bob")
    # bob is in netops, which is a member of ops.
    assert set(bob.groups.values_list("name", flat=True)) == {"Operator", "Viewer"}


def test_mapped_regions_cap_the_user(client, directory):
    GroupMapping.objects.filter(group=group_dn("auditors")).delete()
    assert sign_in(client, "alice").status_code == 302
    assert [r.name for r in User.objects.get(username="alice").regions.all()] == ["EU"]


def test_group_changes_apply_at_the_next_sign_in(client, directory, slapd):  # noqa: F811
    assert sign_in(client, "alice").status_code == 302
    alice = User.objects.get(username="alice")
    assert alice.groups.filter(name="Auditor").exists()
    client.logout()
    slapd.ldapmodify(
        f"dn: {group_dn('auditors')}\nchangetype: modify\ndelete: member\nmember: {dn('alice')}\n"
    )
    try:
        assert sign_in(client, "alice").status_code == 302
        assert set(alice.groups.values_list("name", flat=True)) == {"Operator"}
        client.logout()
        # Out of every mapped group: refused, and the last role goes too.
        slapd.ldapmodify(
            f"dn: {group_dn('ops')}\nchangetype: modify\ndelete: member\nmember: {dn('alice')}\n"
        )
        response = sign_in(client, "alice")
        assert response.status_code == 200
        assert "not in any group that gives access" in response.content.decode()
        assert not alice.groups.exists()
    finally:
        slapd.ldapmodify(
            f"dn: {group_dn('auditors')}\nchangetype: modify\nadd: member\nmember: {dn('alice')}\n"
        )
        slapd.ldapmodify(
            f"dn: {group_dn('ops')}\nchangetype: modify\nadd: member\nmember: {dn('alice')}\n"
        )


def test_direct_bind(client, settings, slapd):  # noqa: F811
    settings.ACCOUNT_RATE_LIMITS = False
    options = ldap_options(
        slapd,
        user_dn_template="uid=%(user)s,ou=people,dc=example,dc=com",
        user_search_base="",
        require_group="",
    )
    use_directory(settings, options)
    GroupMapping.objects.create(group="ops", role=Role.objects.get(group__name="Viewer"))
    assert sign_in(client, "alice").status_code == 302
    assert User.objects.get(username="alice").groups.filter(name="Viewer").exists()
    client.logout()
    assert sign_in(client, "alice", "wrong-password-9").status_code == 200


@pytest.mark.parametrize(
    ("username", "why"),
    [
        ("carol", "disabled in the directory (excluded by the search filter)"),
        ("dave", "in the deny group"),
        ("frank", "not in the required group"),
    ],
)
def test_refused_directory_users(client, directory, username, why):
    response = sign_in(client, username)
    assert response.status_code == 200, why
    assert not User.objects.filter(username=username).exists(), why


def test_no_mapped_group_gets_a_clear_message_and_no_account(client, directory):
    response = sign_in(client, "erin")
    assert response.status_code == 200
    assert "not in any group that gives access to the console" in response.content.decode()
    assert not User.objects.filter(username="erin").exists()


def test_wrong_password_and_empty_password(client, directory):
    assert sign_in(client, "alice", "not-her-password").status_code == 200
    assert not User.objects.filter(username="alice").exists()
    # An empty password never reaches the directory (an anonymous bind would succeed).
    assert DirectoryLDAPBackend().authenticate(None, username="alice", password="") is None
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username="alice", password="") is None
    response = sign_in(client, "alice", "")
    assert response.status_code == 200
    assert not User.objects.filter(username="alice").exists()


def test_a_local_account_is_not_taken_over(client, directory):
    local = user_with_role("alice", "Viewer")
    response = sign_in(client, "alice")  # the directory's password, not the local one
    assert response.status_code == 200
    assert not DirectoryIdentity.objects.filter(user=local).exists()
    assert sign_in(client, "alice", "test-password-123").status_code == 302


def test_directory_down_local_login_still_works(client, settings, slapd):  # noqa: F811
    settings.ACCOUNT_RATE_LIMITS = False
    options = ldap_options(slapd, server_uri="ldap://127.0.0.1:9", start_tls=False, timeout=2)
    use_directory(settings, options)
    user_with_role("local-admin", "Viewer")
    response = sign_in(client, "alice")
    text = response.content.decode()
    assert response.status_code == 200
    assert "directory cannot be reached" in text and "Traceback" not in text
    # The sign-in page says so for a minute, to everyone.
    assert "directory cannot be reached" in client.get(reverse("account_login")).content.decode()
    assert sign_in(client, "local-admin", "test-password-123").status_code == 302


def test_starttls_with_the_wrong_ca_is_refused(client, settings, slapd):  # noqa: F811
    settings.ACCOUNT_RATE_LIMITS = False
    # A certificate that did not sign the server's: verification must fail.
    options = ldap_options(slapd, ca_file=slapd.clientcert)
    use_directory(settings, options)
    GroupMapping.objects.create(group="ops", role=Role.objects.get(group__name="Viewer"))
    assert sign_in(client, "alice").status_code == 200
    assert not User.objects.filter(username="alice").exists()
    report = run_connection_test(options, "alice")
    assert not report.ok
    assert report.steps[0].label == "Start TLS" and not report.steps[0].ok


def test_connection_test_reports_each_step(client, directory):
    login_with_second_factor(client, user_with_role("dir-admin", "Admin"))
    response = client.post(reverse("accounts:directory"), {"username": "bob"})
    text = response.content.decode()
    assert response.status_code == 200
    for words in (
        "Start TLS",
        "Bind as the service account",
        f"Found {dn('bob')}",
        "group(s), nested ones included",
        "This user would get:",
    ):
        assert words in text, words
    assert "admin-password-1" not in text  # the bind password is never shown
    missing = client.post(reverse("accounts:directory"), {"username": "nobody"})
    assert "No entry matches nobody" in missing.content.decode()


def test_mfa_policy_applies_to_directory_users(client, directory):
    GroupMapping.objects.create(group="auditors", role=Role.objects.get(group__name="Admin"))
    response = sign_in(client, "alice")
    assert response.status_code == 302
    # Admin requires MFA: the next page is the second-factor set-up, not the console.
    follow = client.get("/")
    assert follow.status_code == 302 and "/account/mfa/" in follow["Location"]


def test_sso_only_roles_cannot_use_a_password(client, directory):
    viewer = Role.objects.get(group__name="Viewer")
    RoleSignInPolicy.objects.create(role=viewer, sso_only=True)
    user_with_role("local-viewer", "Viewer")
    response = sign_in(client, "local-viewer", "test-password-123")
    assert response.status_code == 200
    assert "single sign-on only" in response.content.decode()


def test_active_directory_nesting_uses_the_matching_rule_in_chain():
    # OpenLDAP does not implement this rule, so only the filter is checked here.
    assert (
        in_chain_filter("member", "CN=Ann (EU),OU=Staff,DC=corp,DC=example")
        == "(member:1.2.840.113556.1.4.1941:=CN=Ann \\28EU\\29,OU=Staff,DC=corp,DC=example)"
    )
