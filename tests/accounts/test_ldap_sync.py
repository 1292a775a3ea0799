"""The scheduled LDAP sync (accounts/directory/sync.py) against the real slapd."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.directory.sync import sync_ldap_users
from accounts.models import DirectoryIdentity, User
from security.models import UserSession
from tests.accounts.test_ldap import directory, sign_in  # noqa: F401  (the fixture)
from tests.directory_support.ldap import (
    PASSWORD,
    dn,
    group_dn,
    ldap_options,
    slapd,  # noqa: F401  (the fixture)
    use_directory,
)
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def signed_in(client, username) -> User:
    """A directory user made by a real sign-in, whose last sign-in is old."""
    client.logout()
    assert sign_in(client, username).status_code == 302
    user = User.objects.get(username=username)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - timedelta(days=2))
    return user


def ldap_identity(username, *roles, last_login=None) -> User:
    user = user_with_role(username, *roles, last_login=last_login)
    DirectoryIdentity.objects.create(user=user, source="ldap", external_id=dn(username))
    return user


def roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_a_user_removed_from_the_directory_is_deactivated_and_signed_out(
    client,
    directory,  # noqa: F811
    slapd,  # noqa: F811
):
    alice = signed_in(client, "alice")
    assert UserSession.objects.filter(user=alice).exists()
    slapd.ldapdelete(dn("alice"))
    try:
        result = sync_ldap_users(stale_after=HOUR)
    finally:
        slapd.ldapadd(
            f"dn: {dn('alice')}\nobjectClass: inetOrgPerson\nuid: alice\ncn: Alice Example\n"
            f"givenName: Alice\nsn: Example\nmail: alice@example.com\nuserPassword: {PASSWORD}\n"
        )
    alice.refresh_from_db()
    assert not alice.is_active
    assert not UserSession.objects.filter(user=alice).exists()
    assert result["deactivated"] == 1 and not result["unreachable"]


@pytest.mark.parametrize(
    ("username", "why"),
    [
        ("carol", "disabled (excluded by the search filter)"),
        ("dave", "in the deny group"),
        ("frank", "not in the required group"),
    ],
)
def test_refused_at_sign_in_means_deactivated(directory, username, why):  # noqa: F811
    user = ldap_identity(username, "Viewer")
    assert sync_ldap_users(stale_after=HOUR)["deactivated"] == 1, why
    user.refresh_from_db()
    assert not user.is_active, why


def test_group_changes_are_applied(client, directory, slapd):  # noqa: F811
    alice = signed_in(client, "alice")
    bob = signed_in(client, "bob")
    assert roles(alice) == {"Operator", "Auditor"}
    slapd.ldapmodify(
        f"dn: {group_dn('auditors')}\nchangetype: modify\ndelete: member\nmember: {dn('alice')}\n"
    )
    try:
        result = sync_ldap_users(stale_after=HOUR)
    finally:
        slapd.ldapmodify(
            f"dn: {group_dn('auditors')}\nchangetype: modify\nadd: member\nmember: {dn('alice')}\n"
        )
    assert roles(alice) == {"Operator"}
    assert roles(bob) == {"Operator", "Viewer"}  # nested groups still count
    assert alice.is_active and result == {
        "checked": 2,
        "updated": 2,
        "no_group": 0,
        "deactivated": 0,
        "unreachable": False,
    }
    identity = DirectoryIdentity.objects.get(user=alice)
    assert group_dn("auditors") not in identity.groups and identity.last_synced is not None


def test_new_mapped_role_is_given_and_no_mapped_group_loses_roles(directory):  # noqa: F811
    erin = ldap_identity("erin", "Admin")  # only in "misc", mapped to nothing
    alice = ldap_identity("alice")
    result = sync_ldap_users(stale_after=HOUR)
    erin.refresh_from_db()
    assert erin.is_active and not erin.groups.exists()
    assert roles(alice) == {"Operator", "Auditor"}
    assert (result["no_group"], result["updated"]) == (1, 1)


def test_directory_down_changes_nothing(settings, slapd):  # noqa: F811
    use_directory(
        settings, ldap_options(slapd, server_uri="ldap://127.0.0.1:9", start_tls=False, timeout=2)
    )
    alice = ldap_identity("alice", "Operator")
    ghost = ldap_identity("ghost", "Viewer")
    result = sync_ldap_users(stale_after=HOUR)
    assert result["unreachable"] and result["deactivated"] == 0
    for user in (alice, ghost):
        user.refresh_from_db()
        assert user.is_active and user.groups.exists()


def test_recently_signed_in_and_non_ldap_users_are_left_alone(directory):  # noqa: F811
    # Not in the directory, but signed in ten minutes ago: not checked yet.
    recent = ldap_identity("ghost", "Viewer", last_login=timezone.now() - timedelta(minutes=10))
    local = user_with_role("local-ghost", "Viewer")
    scim = user_with_role("scim-ghost", "Viewer")
    DirectoryIdentity.objects.create(user=scim, source="scim", external_id="x-1")
    result = sync_ldap_users(stale_after=HOUR)
    assert result["checked"] == 0
    for user in (recent, local, scim):
        user.refresh_from_db()
        assert user.is_active and roles(user) == {"Viewer"}


def test_no_directory_configured_does_nothing(settings):
    settings.DIRECTORY_LDAP = None
    ldap_identity("ghost", "Viewer")
    assert sync_ldap_users()["checked"] == 0
    assert User.objects.get(username="ghost").is_active


def test_the_task_and_its_schedule(monkeypatch, directory):  # noqa: F811
    import importlib

    import accounts.schedules
    from accounts.tasks import sync_ldap_users as task

    assert task.apply().get()["checked"] == 0
    monkeypatch.setenv("LDAP_SERVER_URI", "ldap://ldap.example.com")
    monkeypatch.setenv("DIRECTORY_SYNC_MINUTES", "30")
    entry = importlib.reload(accounts.schedules).PERIODIC_TASKS["accounts.sync_ldap_users"]
    assert entry["task"] == "accounts.tasks.sync_ldap_users" and entry["schedule"] == 1800.0
    monkeypatch.delenv("LDAP_SERVER_URI")
    assert importlib.reload(accounts.schedules).PERIODIC_TASKS == {}
