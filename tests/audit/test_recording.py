"""What is recorded: one record per change with the right fields, nothing
for a change that was not made, secrets masked, and every category of event."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.test import Client
from django.urls import reverse

from audit import context as audit_context
from audit.choices import ActorType, Outcome, Source
from audit.models import AuditRecord
from audit.registry import MASK, NOISE_MODELS, is_audited
from gateways.models import Gateway, Region
from tests.factories import GatewayFactory, RegionFactory, TunnelFactory, user_with_role
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db


# --- every model is audited or named as noise ----------------------------------------


@pytest.mark.parametrize(
    "model", [m for m in apps.get_models() if not m._meta.auto_created], ids=lambda m: m._meta.label
)
def test_every_model_is_audited_unless_it_is_noise(model):
    label = model._meta.label_lower
    if label in NOISE_MODELS:
        assert not is_audited(model)
        # Noise models keep Django's fast deletes and bulk paths untouched.
        assert not post_delete.has_listeners(model) or label.startswith("gateways.") is False
    else:
        assert is_audited(model)
        assert post_save.has_listeners(model) and post_delete.has_listeners(model)


def test_noise_models_have_no_delete_listener_of_ours():
    from gateways.models import MetricSample
    from security.models import SecurityEvent

    for model in (MetricSample, SecurityEvent):
        receivers = post_delete._live_receivers(model)
        names = [getattr(r, "__module__", "") for r in receivers[0] + receivers[1]]
        assert "audit.recorder" not in names


# --- model changes -----------------------------------------------------------------------


def test_create_update_delete_one_record_each(records, admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("gateways:region_add"),
        {"name": "North", "slug": "north", "description": "first"},
        HTTP_USER_AGENT="pytest-browser",
    )
    assert response.status_code == 302
    region = Region.objects.get(slug="north")
    (created,) = records(object_type="gateways.region")
    assert created.action == "create"
    assert (created.object_type, created.object_id, created.object_name) == (
        "gateways.region",
        str(region.uuid),
        "North",
    )
    assert created.changes["name"] == [None, "North"]
    assert created.actor_type == ActorType.USER
    assert created.actor_name == admin_user.username
    assert created.actor_id == str(admin_user.uuid)
    assert created.actor_user_id == admin_user.pk
    assert created.ip == "127.0.0.1"
    assert created.user_agent == "pytest-browser"
    assert len(created.request_id) >= 8
    assert created.source == Source.WEB
    assert created.outcome == Outcome.SUCCESS

    client.post(
        reverse("gateways:region_edit", kwargs={"uuid": region.uuid}),
        {"name": "North", "slug": "north", "description": "second"},
    )
    updated = records(object_type="gateways.region")[-1]
    assert updated.action == "update"
    assert updated.changes == {"description": ["first", "second"]}

    client.post(reverse("gateways:region_delete", kwargs={"uuid": region.uuid}))
    deleted = records(object_type="gateways.region")[-1]
    assert deleted.action == "delete"
    assert deleted.changes["name"] == ["North", None]
    assert len(records(object_type="gateways.region")) == 3


def test_a_save_that_changes_nothing_records_nothing(records):
    region = RegionFactory()
    before = len(records())
    region.save()
    Region.objects.get(pk=region.pk).save()
    assert len(records()) == before


def test_foreign_keys_are_shown_by_name(records):
    first, second = RegionFactory(name="First"), RegionFactory(name="Second")
    gateway = GatewayFactory(region=first)
    gateway = Gateway.objects.get(pk=gateway.pk)
    gateway.region = second
    gateway.save()
    assert records()[-1].changes["region"] == ["First", "Second"]


def test_telemetry_fields_alone_record_nothing(records):
    gateway = GatewayFactory()
    before = len(records())
    gateway.status = "online"
    gateway.software_version = "9.9"
    gateway.save()
    assert len(records()) == before


def test_a_rolled_back_change_records_nothing(records):
    with pytest.raises(RuntimeError), transaction.atomic():
        RegionFactory(name="Doomed")
        raise RuntimeError
    assert records() == []
    assert not AuditRecord.objects.filter(object_name="Doomed").exists()


def test_a_refused_out_of_scope_edit_records_nothing(records, client):
    home, away = RegionFactory(), RegionFactory()
    gateway = GatewayFactory(region=home)
    from tests.factories import scoped_role

    role = scoped_role("Home ops", [home], "gateways.view_gateway", "gateways.change_gateway")
    user = user_with_role("scoped", role.group.name)
    client.force_login(user)
    start = len(records())
    response = client.post(
        reverse("gateways:gateway_edit", kwargs={"uuid": gateway.uuid}),
        {"name": gateway.name, "region": away.pk, "capacity_mbps": 1000, "enabled": "on"},
    )
    assert response.status_code == 422
    assert [r.action for r in records()[start:]] in ([], ["permission.denied"])
    assert not [r for r in records()[start:] if r.object_type == "gateways.gateway"]


def test_many_to_many_changes_are_one_record_each(records):
    user = user_with_role("someone")
    start = len(records())
    user.groups.add(Group.objects.get(name="Operator"))
    (added,) = records()[start:]
    assert added.action == "user.roles_change"
    assert added.object_type == "accounts.user"
    assert added.changes == {"groups": {"added": ["Operator"]}}
    user.groups.clear()
    assert records()[-1].changes == {"groups": {"removed": ["Operator"]}}


def test_tags_are_recorded_on_the_tagged_object(records):
    gateway = GatewayFactory()
    start = len(records())
    gateway.tags.add("edge")
    (tagged,) = records()[start:]
    assert tagged.object_type == "gateways.gateway"
    assert tagged.changes == {"tags": {"added": ["edge"]}}


def test_role_permission_changes_are_recorded_on_the_role(records):
    from accounts.models import Role

    group = Group.objects.create(name="Custom")
    role = Role.objects.create(group=group)
    start = len(records())
    from django.contrib.auth.models import Permission

    group.permissions.add(Permission.objects.get(codename="view_gateway"))
    (changed,) = records()[start:]
    assert changed.action == "role.permissions_change"
    assert (changed.object_type, changed.object_id) == ("accounts.role", str(role.uuid))


# --- secrets ------------------------------------------------------------------------------


def test_secrets_are_masked(records):
    from accounts.models.api_keys import ApiKey
    from gateways.enrolment import enrol, issue_token, rotate_credential

    user = user_with_role("keyholder")
    start = len(records())
    user.set_password("another-password-456")
    user.save()
    changed = records()[start]
    assert changed.action == "password.change"
    assert changed.changes["password"] == [MASK, MASK]

    api_key, key = ApiKey.issue(user, "ci", {"gateways": "read"})
    created = records()[-1]
    assert created.action == "apikey.create"
    assert created.changes["key_hash"] == [None, MASK]
    assert key not in str(created.changes) and api_key.key_hash not in str(created.changes)

    gateway = GatewayFactory()
    token = issue_token(gateway)
    enrolment = enrol(token, version="1.0", hostname="gw")
    enrolled = records()[-1]
    assert enrolled.action == "gateway.enrol"
    assert enrolled.changes["credential_hash"] == [None, MASK]
    assert enrolment.credential not in str(enrolled.changes)
    rotate_credential(Gateway.objects.get(pk=gateway.pk))
    rotated = [r for r in records() if r.action == "gateway.credential_rotate"]
    assert rotated[0].changes["credential_hash"] == [MASK, None]
    everything = str([(r.changes, r.detail) for r in records()])
    assert token not in everything
    assert enrolment.credential not in everything


def test_secret_keys_inside_json_values_are_masked():
    from audit.registry import scrub

    assert scrub({"bind_password": "x", "url": "ldap://h", "nested": {"client_secret": "y"}}) == {
        "bind_password": MASK,
        "url": "ldap://h",
        "nested": {"client_secret": MASK},
    }


# --- sign-in and other events -------------------------------------------------------------


def test_login_logout_and_failed_login(records, settings):
    settings.AXES_ENABLED = False
    user = user_with_role("signer", "Viewer")
    client = Client()
    start = len(records())
    client.post(reverse("account_login"), {"login": "signer", "password": "wrong-password-000"})
    failed = records()[start:]
    assert [r.action for r in failed] == ["login.failed"]
    assert failed[0].outcome == Outcome.FAILURE
    assert failed[0].actor_name == "signer"
    assert "wrong-password-000" not in str((failed[0].changes, failed[0].detail))

    client.post(reverse("account_login"), {"login": "signer", "password": "test-password-123"})
    logged_in = [r for r in records()[start:] if r.action == "login"]
    assert len(logged_in) == 1 and logged_in[0].actor_user_id == user.pk
    client.post(reverse("account_logout"))
    assert [r.action for r in records()[start:]].count("logout") == 1


def test_lockout_is_recorded(records, settings):
    settings.AXES_FAILURE_LIMIT = 2
    user_with_role("victim", "Viewer")
    client = Client()
    for _ in range(2):
        client.post(reverse("account_login"), {"login": "victim", "password": "nope-nope-nope"})
    assert len([r for r in records() if r.action == "login.lockout"]) == 1


def test_mfa_events_are_recorded(records):
    from accounts.mfa.events import record as mfa_record

    user = user_with_role("mfa-user")
    mfa_record("mfa.verify.failed", user, device_type="totp", reason="wrong code")
    (event,) = [r for r in records() if r.action.startswith("mfa.")]
    assert event.outcome == Outcome.FAILURE
    assert event.detail == {"device_type": "totp", "reason": "wrong code"}
    assert event.object_id == str(user.uuid)


def test_session_end_is_recorded(records):
    from security.signals import session_ended

    user = user_with_role("sessioned")
    session_ended.send(sender=None, user_id=user.pk, session="abc", reason="idle")
    (ended,) = [r for r in records() if r.action == "session.end"]
    assert ended.detail == {"session": "abc", "reason": "idle"}


def test_permission_denials_are_recorded(records):
    user = user_with_role("nobody")
    client = Client()
    login_with_second_factor(client, user)
    start = len(records())
    response = client.get(reverse("gateways:gateway_add"))
    assert response.status_code == 403
    denied = [r for r in records()[start:] if r.action == "permission.denied"]
    assert len(denied) == 1
    assert denied[0].outcome == Outcome.DENIED
    assert denied[0].actor_user_id == user.pk
    assert denied[0].detail["path"] == reverse("gateways:gateway_add")


def test_allowlist_refusal_is_one_record(records, settings):
    from security.models import AllowlistEntry

    AllowlistEntry.objects.create(network="10.0.0.0/8")
    from security import allowlist

    allowlist.invalidate()
    from django.core.cache import cache

    cache.delete("audit:seen:allowlist:192.0.2.9")
    start = len(records())
    Client().get(reverse("account_login"), REMOTE_ADDR="192.0.2.9")
    Client().get(reverse("account_login"), REMOTE_ADDR="192.0.2.9")  # within the minute
    refused = [r for r in records()[start:] if r.outcome == Outcome.DENIED]
    assert [r.action for r in refused] == ["access.allowlist_refused"]
    assert refused[0].ip == "192.0.2.9"
    allowlist.invalidate()


def test_api_key_actor(records, api_client):
    from accounts.models.api_keys import ApiKey

    owner = user_with_role("automation", "Operator")
    api_key, key = ApiKey.issue(owner, "ci-bot", {"gateways": "write"})
    region = RegionFactory()
    start = len(records())
    response = api_client.patch(
        f"/api/v1/regions/{region.uuid}/",
        {"description": "by key"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content
    (changed,) = [r for r in records()[start:] if r.object_type == "gateways.region"]
    assert changed.actor_type == ActorType.API_KEY
    assert changed.actor_id == str(api_key.uuid)
    assert "ci-bot" in changed.actor_name and "automation" in changed.actor_name
    assert changed.actor_user_id == owner.pk
    assert changed.source == Source.API


def test_tasks_are_actors(records):
    from celery import shared_task

    @shared_task(name="tests.audit.rename_region")
    def rename(pk):
        region = Region.objects.get(pk=pk)
        region.description = "by a task"
        region.save()

    region = RegionFactory()
    rename.apply(args=[region.pk])
    changed = records()[-1]
    assert changed.actor_type == ActorType.TASK
    assert changed.actor_name == "system task tests.audit.rename_region"
    assert changed.source == Source.TASK
    assert audit_context._current.get() is None


def test_a_failed_task_is_recorded(records):
    from celery import shared_task

    @shared_task(name="tests.audit.broken")
    def broken():
        raise ValueError("boom")

    broken.apply()
    (failed,) = [r for r in records() if r.action == "task.failed"]
    assert failed.outcome == Outcome.FAILURE
    assert "boom" in failed.detail["error"]


def test_public_record_api(records, admin_user):
    import audit

    tunnel = TunnelFactory()
    entry = audit.record(
        "policy.publish",
        tunnel,
        actor=admin_user,
        changes={"version": [1, 2]},
        detail={"message": "x", "secret": "hidden"},
    )
    assert entry.action == "policy.publish"
    assert entry.actor_name == admin_user.username
    assert entry.detail == {"message": "x", "secret": MASK}
    assert entry.source == Source.SYSTEM


def test_jwt_issue_and_revocation(records, settings):
    from rest_framework.test import APIClient

    from tests.accounts.api_auth_helpers import REVOKE_URL, ROOMY, TOKEN_URL

    settings.API_RATE_LIMITS = ROOMY
    user = user_with_role("jwt-user", "Viewer")
    start = len(records())
    response = APIClient().post(
        TOKEN_URL, {"username": "jwt-user", "password": "test-password-123"}
    )
    assert response.status_code == 200
    issued = [r for r in records()[start:] if r.action == "token.issue"]
    assert len(issued) == 1
    assert issued[0].actor_user_id == user.pk  # the token's user, though nobody signed in
    assert response.json()["refresh"] not in str(issued[0].changes)
    revoked = APIClient().post(REVOKE_URL, {"refresh": response.json()["refresh"], "all": True})
    assert revoked.status_code == 204, revoked.content
    assert [r.action for r in records()[start:]].count("token.revoke_all") == 1


def test_agent_enrolment_is_done_by_the_gateway_and_heartbeats_record_nothing(records, settings):
    import json

    from gateways.enrolment import issue_token
    from tests.gateways.test_agent_api import heartbeat_body

    settings.AGENT_THROTTLE_PER_MINUTE = 10**9
    gateway = GatewayFactory(name="gw-enrol")
    token = issue_token(gateway)
    start = len(records())
    response = Client().post(
        "/api/agent/v1/enroll",
        data=json.dumps({"token": token, "hostname": "edge-1", "version": "2.0.0"}),
        content_type="application/json",
        HTTP_USER_AGENT="rustronaut-agent/2.0.0",
    )
    assert response.status_code == 201, response.content
    (enrolled,) = records()[start:]
    assert enrolled.action == "gateway.enrol"
    assert (enrolled.actor_type, enrolled.actor_name) == (ActorType.GATEWAY, "gateway gw-enrol")
    assert enrolled.source == Source.AGENT
    assert enrolled.user_agent == "rustronaut-agent/2.0.0"
    assert enrolled.changes["hostname"][1] == "edge-1"
    credential = response.json()["credential"]
    for _ in range(3):
        beat = Client().post(
            "/api/agent/v1/heartbeat",
            data=json.dumps(heartbeat_body()),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {credential}",
        )
        assert beat.status_code == 200, beat.content
    assert len(records()) == start + 1
