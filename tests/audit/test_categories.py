"""Categories of the issue's list that had no test of their own, each done
the way a person does it (through the console's pages, a real slapd): one
record each, with the right actor, object, source IP and outcome."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audit.choices import ActorType, Outcome, Source
from audit.models import AuditRecord
from tests.directory_support.ldap import slapd  # noqa: F401  (the fixture)
from tests.factories import user_with_role
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_records(db):
    start = AuditRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def since(**filters):
        return list(AuditRecord.objects.filter(id__gt=start, **filters).order_by("id"))

    return since


def test_api_key_created_and_revoked_in_the_console_one_record_each(new_records):
    from accounts.models import ApiKey

    owner = user_with_role("key-owner", "Operator")
    client = login_with_second_factor(Client(REMOTE_ADDR="192.0.2.44"), owner)
    response = client.post(
        reverse("accounts:api_key_add"),
        {"name": "Nightly backup job", "expires_in": "90", "scope_gateways": "read"},
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(owner=owner)
    (created,) = new_records(action="apikey.create")
    assert (created.actor_user_id, created.actor_type) == (owner.pk, ActorType.USER)
    assert (created.object_type, created.object_id) == ("accounts.apikey", str(key.uuid))
    assert created.ip == "192.0.2.44" and created.source == Source.WEB
    assert "Nightly backup job" in created.object_name
    assert str(key.key_hash) not in str((created.changes, created.detail))  # masked

    client.post(reverse("accounts:api_key_revoke", kwargs={"uuid": key.uuid}))
    (revoked,) = new_records(action="apikey.revoke")
    assert revoked.object_id == str(key.uuid) and revoked.actor_user_id == owner.pk
    assert revoked.changes["revoked"][0] is None and revoked.changes["revoked"][1]
    assert not new_records(action="update", object_type="accounts.apikey")


def test_mfa_reset_by_an_admin_is_one_record_on_the_user(new_records):
    admin = user_with_role("mfa-admin", "Admin")
    target = user_with_role("mfa-target", "Viewer")
    login_with_second_factor(Client(), target)  # an authenticator to reset
    client = login_with_second_factor(Client(REMOTE_ADDR="192.0.2.45"), admin)
    response = client.post(reverse("accounts:user_reset_mfa", kwargs={"uuid": target.uuid}))
    assert response.status_code == 302
    (reset,) = new_records(action="mfa.reset")
    assert reset.actor_user_id == admin.pk and reset.actor_name == "mfa-admin"
    assert (reset.object_type, reset.object_id) == ("accounts.user", str(target.uuid))
    assert reset.ip == "192.0.2.45" and reset.outcome == Outcome.SUCCESS


def test_a_settings_change_is_one_record_with_its_diff(new_records):
    from security.models import SessionPolicy

    admin = user_with_role("settings-admin", "Admin")
    client = login_with_second_factor(Client(), admin)
    policy, _created = SessionPolicy.objects.get_or_create(pk=1)
    data = {
        "idle_timeout_minutes": policy.idle_timeout_minutes + 5,
        "absolute_lifetime_hours": policy.absolute_lifetime_hours,
        "max_sessions_per_user": policy.max_sessions_per_user,
        "reauthentication_minutes": policy.reauthentication_minutes,
    }
    response = client.post(reverse("security:session_policy"), data)
    assert response.status_code in (200, 302), response.content.decode()[:500]
    (changed,) = new_records(object_type="security.sessionpolicy", action="update")
    assert changed.actor_user_id == admin.pk
    assert changed.changes == {
        "idle_timeout_minutes": [policy.idle_timeout_minutes, policy.idle_timeout_minutes + 5]
    }


@pytest.fixture
def ldap_directory(settings, slapd):  # noqa: F811
    from django.core.cache import cache

    from accounts.directory.backend import UNREACHABLE_CACHE_KEY
    from accounts.models import GroupMapping, Role
    from tests.directory_support.ldap import ldap_options, use_directory

    cache.delete(UNREACHABLE_CACHE_KEY)
    settings.ACCOUNT_RATE_LIMITS = False
    settings.AXES_ENABLED = False
    use_directory(settings, ldap_options(slapd))
    GroupMapping.objects.create(group="ops", role=Role.objects.get(group__name="Operator"))
    yield
    cache.delete(UNREACHABLE_CACHE_KEY)


def test_ldap_sign_in_and_its_failure_are_one_record_each(new_records, ldap_directory):
    from tests.directory_support.ldap import PASSWORD

    client = Client(REMOTE_ADDR="192.0.2.46")
    url = reverse("account_login")
    client.post(url, {"login": "alice", "password": "not-her-password"})
    (failed,) = new_records(action="login.failed")
    assert failed.actor_name == "alice" and failed.outcome == Outcome.FAILURE
    assert failed.ip == "192.0.2.46"
    assert "not-her-password" not in str((failed.changes, failed.detail))

    assert client.post(url, {"login": "alice", "password": PASSWORD}).status_code == 302
    (signed_in,) = new_records(action="login")
    assert signed_in.detail == {"method": "ldap"}
    assert signed_in.actor_name == "alice" and signed_in.ip == "192.0.2.46"
    from accounts.models import User

    alice = User.objects.get(username="alice")
    assert signed_in.actor_user_id == alice.pk and signed_in.object_id == str(alice.uuid)
