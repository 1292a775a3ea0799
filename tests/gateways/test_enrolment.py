"""Enrolment (AGENT_PROTOCOL.md "Enrolment"): one-time tokens exchanged for a
gateway credential at POST /api/agent/v1/enroll, credential rotation, and the
enrollment_token management command."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from gateways.enrolment import (
    EnrolmentRefused,
    enrol,
    issue_token,
    revoke_tokens,
    rotate_credential,
)
from gateways.models import EnrollmentToken, Gateway
from tests.factories import GatewayFactory, RegionFactory
from tests.gateways.test_agent_api import (
    Agent,
    assert_errors,
    gateway_row,
    heartbeat_body,
)
from tests.services import require

pytestmark = pytest.mark.django_db

ENROLL = "/api/agent/v1/enroll"


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    """The throttle counts per gateway pk in the shared Redis for a minute, and
    pks repeat between tests and runs: only the throttling tests may count."""
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def post_enroll(body, client: Client | None = None):
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return (client or Client()).post(ENROLL, data=raw, content_type="application/json")


def enroll_body(token: str, **overrides) -> dict:
    return {"token": token, "hostname": "gw-fra-1", "version": "1.8.2", **overrides}


@pytest.fixture
def gateway() -> Gateway:
    return GatewayFactory(software_version="")


@pytest.fixture
def token(gateway) -> str:
    return issue_token(gateway)


def stored_text() -> str:
    """Every value of every row of every table, as one text: a secret that
    appears nowhere in it is not stored in clear."""
    values = []
    for model in apps.get_models():
        for row in model._default_manager.values_list():
            values.extend(str(value) for value in row)
    return "\n".join(values)


# --- Enrolling --------------------------------------------------------------------------


class TestEnroll:
    def test_answers_the_gateway_id_credential_and_interval(self, gateway, token, settings):
        settings.GATEWAY_HEARTBEAT_INTERVAL = 15

        response = post_enroll(enroll_body(token))

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == {"gateway_id", "credential", "heartbeat_interval"}
        assert body["gateway_id"] == str(gateway.uuid)
        assert body["heartbeat_interval"] == 15
        assert isinstance(body["credential"], str)
        assert len(body["credential"]) >= 40  # 256 random bits, URL-safe

    def test_the_credential_is_stored_only_as_its_sha256(self, gateway, token):
        credential = post_enroll(enroll_body(token)).json()["credential"]

        gateway.refresh_from_db()
        assert gateway.credential_hash == sha256(credential)
        everything = stored_text()
        assert credential not in everything
        assert credential.removeprefix("rcg_") not in everything

    def test_the_token_is_stored_only_as_its_sha256(self, gateway, token):
        stored = EnrollmentToken.objects.get(gateway=gateway)
        assert stored.token_hash == sha256(token)
        assert token not in stored_text()
        post_enroll(enroll_body(token))
        assert token not in stored_text()

    def test_the_credential_opens_the_agent_api(self, gateway, token):
        credential = post_enroll(enroll_body(token)).json()["credential"]

        agent = Agent(gateway=gateway, credential=credential)
        assert agent.post("heartbeat", heartbeat_body()).status_code == 200

    def test_records_the_enrolment(self, gateway, token):
        before = timezone.now()
        post_enroll(enroll_body(token, version="2.0.1"))

        gateway.refresh_from_db()
        assert gateway.software_version == "2.0.1"
        assert before <= gateway.credential_issued <= timezone.now()
        assert EnrollmentToken.objects.get(gateway=gateway).state == "used"

    def test_records_the_agents_hostname(self, gateway, token):
        post_enroll(enroll_body(token, hostname="edge-fra-01.example.net"))

        gateway.refresh_from_db()
        assert gateway.hostname == "edge-fra-01.example.net"

    def test_a_hostname_with_nul_is_a_bad_field_and_stores_nothing(self, gateway, token):
        response = post_enroll(enroll_body(token, hostname="gw\u0000x"))

        assert_errors(response, 400, "hostname")
        gateway.refresh_from_db()
        assert gateway.hostname == ""
        assert gateway.credential_hash is None

    def test_each_enrolment_gets_a_new_credential(self, gateway):
        first = post_enroll(enroll_body(issue_token(gateway))).json()["credential"]
        second = post_enroll(enroll_body(issue_token(gateway))).json()["credential"]

        assert first != second
        agent = Agent(gateway=gateway, credential=first)
        assert_errors(agent.post("heartbeat", heartbeat_body()), 401, "authorization")
        agent.credential = second
        assert agent.post("heartbeat", heartbeat_body()).status_code == 200

    def test_two_gateways_get_their_own_credentials(self):
        one, two = GatewayFactory(), GatewayFactory()

        first = post_enroll(enroll_body(issue_token(one))).json()
        second = post_enroll(enroll_body(issue_token(two))).json()

        assert (first["gateway_id"], second["gateway_id"]) == (str(one.uuid), str(two.uuid))
        assert first["credential"] != second["credential"]


class TestRefusedTokens:
    def assert_refused(self, response, status: int, gateway: Gateway) -> None:
        assert_errors(response, status, "token")
        gateway.refresh_from_db()
        assert gateway.credential_hash is None
        assert gateway.credential_issued is None

    def test_an_unknown_token_is_401(self, gateway, token):
        self.assert_refused(post_enroll(enroll_body(token + "x")), 401, gateway)

    def test_a_used_token_is_401(self, gateway, token):
        EnrollmentToken.objects.filter(gateway=gateway).update(used=timezone.now())

        self.assert_refused(post_enroll(enroll_body(token)), 401, gateway)

    def test_a_replayed_token_is_401_and_leaves_the_first_credential(self, gateway, token):
        first = post_enroll(enroll_body(token))
        assert first.status_code == 201
        enrolled = gateway_row(gateway)

        replay = post_enroll(enroll_body(token, hostname="attacker", version="6.6.6"))

        assert_errors(replay, 401, "token")
        assert gateway_row(gateway) == enrolled
        agent = Agent(gateway=gateway, credential=first.json()["credential"])
        assert agent.post("heartbeat", heartbeat_body()).status_code == 200

    def test_an_expired_token_is_401(self, gateway, token):
        EnrollmentToken.objects.filter(gateway=gateway).update(
            expires=timezone.now() - timedelta(seconds=1)
        )

        self.assert_refused(post_enroll(enroll_body(token)), 401, gateway)

    def test_a_token_expires_after_the_configured_lifetime(self, gateway, settings):
        settings.AGENT_ENROLLMENT_TOKEN_TTL = 3600
        before = timezone.now()
        issue_token(gateway)

        expires = EnrollmentToken.objects.get(gateway=gateway).expires
        assert before + timedelta(hours=1) <= expires <= timezone.now() + timedelta(hours=1)

    def test_a_revoked_token_is_401(self, gateway, token):
        assert revoke_tokens(gateway) == 1

        self.assert_refused(post_enroll(enroll_body(token)), 401, gateway)

    def test_the_token_of_a_disabled_gateway_is_403(self, gateway, token):
        Gateway.objects.filter(pk=gateway.pk).update(enabled=False)

        self.assert_refused(post_enroll(enroll_body(token)), 403, gateway)

    def test_the_token_of_a_deleted_gateway_is_401(self, gateway, token):
        gateway.delete()

        assert_errors(post_enroll(enroll_body(token)), 401, "token")

    def test_a_token_works_once_when_enrolments_race(self, gateway, token):
        """The token is claimed with a conditional UPDATE: whichever enrolment
        comes second finds it used, however close behind."""
        first = enrol(token, version="1.8.2")

        with pytest.raises(EnrolmentRefused) as refused:
            enrol(token, version="1.8.2")

        assert refused.value.status == 401
        gateway.refresh_from_db()
        assert gateway.credential_hash == sha256(first.credential)


@pytest.mark.django_db(transaction=True)
def test_two_threads_enrolling_with_one_token_get_one_credential():
    """A real race on PostgreSQL: two connections claim the same token at once."""
    # SQLite's test database is in memory, one connection per thread.
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    gateway = GatewayFactory()
    token = issue_token(gateway)
    start = threading.Barrier(2)
    outcomes: list = []

    def enrol_in_thread():
        try:
            start.wait()
            outcomes.append(enrol(token, version="1.8.2").credential)
        except EnrolmentRefused as refused:
            outcomes.append(refused.status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enrol_in_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    [credential] = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert [outcome for outcome in outcomes if outcome == 401] == [401]
    gateway.refresh_from_db()
    assert gateway.credential_hash == sha256(credential)


# --- Bad requests -----------------------------------------------------------------------


class TestBadRequests:
    @pytest.mark.parametrize(
        ("body", "paths"),
        [
            ({}, {"token", "hostname", "version"}),
            ({"hostname": "gw"}, {"token", "version"}),
            ({"token": None, "hostname": "gw", "version": "1.8.2"}, {"token"}),
            ({"token": 42, "hostname": "gw", "version": "1.8.2"}, {"token"}),
            ({"token": "", "hostname": "gw", "version": "1.8.2"}, {"token"}),
            ({"token": "t" * 201, "hostname": "gw", "version": "1.8.2"}, {"token"}),
            ({"token": "rce_x", "hostname": ["gw"], "version": "1.8.2"}, {"hostname"}),
            ({"token": "rce_x", "hostname": "", "version": "1.8.2"}, {"hostname"}),
            ({"token": "rce_x", "hostname": "gw", "version": 1.8}, {"version"}),
            ({"token": "rce_x", "hostname": "gw", "version": "1" * 51}, {"version"}),
            ({"token": "rce_x", "hostname": "gw", "version": "1.8\u0000"}, {"version"}),
            ({"token": ["rce_x"], "hostname": 1, "version": {}}, {"token", "hostname", "version"}),
        ],
    )
    def test_each_missing_or_ill_typed_field_is_named(self, gateway, token, body, paths):
        response = post_enroll(body)

        assert_errors(response, 400, *paths)
        gateway.refresh_from_db()
        assert gateway.credential_hash is None
        assert EnrollmentToken.objects.get(gateway=gateway).state == "valid"

    def test_a_valid_token_with_a_bad_field_is_not_used_up(self, gateway, token):
        assert_errors(post_enroll(enroll_body(token, version=182)), 400, "version")

        assert post_enroll(enroll_body(token)).status_code == 201

    @pytest.mark.parametrize(
        "raw", ['{"token": "x",', "not json", "", "[]", "null", '"token"', b"\xff\xfe"]
    )
    def test_a_body_that_is_not_a_json_object_is_a_body_error(self, raw):
        assert_errors(post_enroll(raw), 400, "body")

    def test_a_body_over_1_mib_is_413(self, gateway, token):
        response = post_enroll(enroll_body(token, padding="x" * (1024 * 1024)))

        assert_errors(response, 413, "body")
        assert EnrollmentToken.objects.get(gateway=gateway).state == "valid"

    def test_get_is_not_allowed(self):
        assert_errors(Client().get(ENROLL), 405, "method")


# --- Rotation ---------------------------------------------------------------------------


def test_rotating_invalidates_the_credential_at_once_and_gives_a_new_token(gateway, token):
    credential = enrol(token, version="1.8.2").credential
    agent = Agent(gateway=gateway, credential=credential)
    assert agent.post("heartbeat", heartbeat_body()).status_code == 200

    new_token = rotate_credential(gateway)

    assert_errors(agent.post("heartbeat", heartbeat_body()), 401, "authorization")
    agent.credential = post_enroll(enroll_body(new_token)).json()["credential"]
    assert agent.post("heartbeat", heartbeat_body()).status_code == 200


def test_rotating_revokes_the_tokens_not_yet_used(gateway, token):
    rotate_credential(gateway)

    assert_errors(post_enroll(enroll_body(token)), 401, "token")
    assert EnrollmentToken.objects.get(token_hash=sha256(token)).state == "revoked"


# --- manage.py enrollment_token ---------------------------------------------------------


def run_command(*args) -> str:
    out = StringIO()
    call_command("enrollment_token", *args, stdout=out)
    return out.getvalue().strip()


class TestEnrollmentTokenCommand:
    def test_prints_a_token_for_an_existing_gateway(self, gateway):
        token = run_command(gateway.name)

        stored = EnrollmentToken.objects.get(gateway=gateway)
        assert stored.token_hash == sha256(token)
        assert post_enroll(enroll_body(token)).json()["gateway_id"] == str(gateway.uuid)

    def test_the_region_may_be_given_for_an_existing_gateway(self, gateway):
        token = run_command(gateway.name, "--region", gateway.region.slug)

        assert EnrollmentToken.objects.get(gateway=gateway).token_hash == sha256(token)

    def test_a_wrong_region_is_an_error(self, gateway):
        other = RegionFactory()

        with pytest.raises(CommandError, match="is in region"):
            run_command(gateway.name, "--region", other.slug)

        assert not EnrollmentToken.objects.exists()

    def test_creates_the_gateway_with_create_and_region(self):
        region = RegionFactory(slug="eu-central")

        token = run_command("gw-new-1", "--create", "--region", "eu-central")

        gateway = Gateway.objects.get(name="gw-new-1")
        assert gateway.region == region
        assert gateway.status == "pending"
        assert EnrollmentToken.objects.get(gateway=gateway).token_hash == sha256(token)
        assert post_enroll(enroll_body(token)).status_code == 201

    def test_create_needs_a_region(self):
        with pytest.raises(CommandError, match="--region"):
            run_command("gw-new-1", "--create")

        assert not Gateway.objects.filter(name="gw-new-1").exists()

    def test_create_needs_an_existing_region(self):
        with pytest.raises(CommandError, match="No region"):
            run_command("gw-new-1", "--create", "--region", "atlantis")

        assert not Gateway.objects.filter(name="gw-new-1").exists()

    def test_create_checks_the_name(self):
        RegionFactory(slug="eu-central")

        with pytest.raises(Exception, match="name"):
            run_command("not a valid name!", "--create", "--region", "eu-central")

        assert not Gateway.objects.exists()

    def test_an_unknown_gateway_without_create_is_an_error(self):
        RegionFactory(slug="eu-central")

        with pytest.raises(CommandError, match="--create"):
            run_command("gw-missing", "--region", "eu-central")

        assert not Gateway.objects.exists()
        assert not EnrollmentToken.objects.exists()

    def test_create_with_an_existing_gateway_issues_a_token_for_it(self, gateway):
        token = run_command(gateway.name, "--create", "--region", gateway.region.slug)

        assert Gateway.objects.count() == 1
        assert EnrollmentToken.objects.get(gateway=gateway).token_hash == sha256(token)

    def test_ttl(self, gateway):
        before = timezone.now()

        run_command(gateway.name, "--ttl", "120")

        expires = EnrollmentToken.objects.get(gateway=gateway).expires
        assert before + timedelta(seconds=120) <= expires <= timezone.now() + timedelta(seconds=120)

    def test_ttl_under_a_minute_is_an_error(self, gateway):
        with pytest.raises(CommandError, match="--ttl"):
            run_command(gateway.name, "--ttl", "59")

        assert not EnrollmentToken.objects.exists()

    def test_each_run_prints_a_new_token(self, gateway):
        tokens = {run_command(gateway.name) for _ in range(3)}

        assert len(tokens) == 3
        assert EnrollmentToken.objects.filter(gateway=gateway).count() == 3
