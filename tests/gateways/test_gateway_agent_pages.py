"""The gateway page's agent actions (issue / revoke tokens, rotate the
credential, disable / enable), its status history and uptime, current metrics
and the last 24 hours, checked against the agent API they control."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gateways.enrolment import digest
from gateways.models import (
    EnrollmentToken,
    FleetConfig,
    Gateway,
    GatewayStatusChange,
    MetricRollup,
    MetricSample,
)
from gateways.uptime import uptime_ratio
from gateways.views import gateway_uptime, hourly_metrics
from tests.factories import GatewayFactory

pytestmark = pytest.mark.django_db

AGENT = "/api/agent/v1/"
TOKEN_RE = re.compile(r"rce_[A-Za-z0-9_-]{20,}")


def action_url(name: str, gateway: Gateway) -> str:
    return reverse(f"gateways:{name}", kwargs={"uuid": gateway.uuid})


def enroll(token: str):
    body = {"token": token, "hostname": "gw-host", "version": "1.8.2"}
    return Client().post(AGENT + "enroll", data=json.dumps(body), content_type="application/json")


def config_call(credential: str):
    return Client().get(AGENT + "config", HTTP_AUTHORIZATION=f"Bearer {credential}")


def shown_token(response) -> str:
    tokens = set(TOKEN_RE.findall(response.content.decode()))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def issue(client, gateway) -> str:
    response = client.post(action_url("gateway_issue_token", gateway))
    assert response.status_code == 200
    return shown_token(response)


@pytest.fixture
def gateway():
    return GatewayFactory(name="gw-agent", software_version="")


@pytest.fixture
def enrolled(operator_client, gateway, fresh_throttles):
    """The gateway after its agent enrolled with a token issued on the page."""
    credential = enroll(issue(operator_client, gateway)).json()["credential"]
    gateway.refresh_from_db()
    return credential


# --- Issuing a token -------------------------------------------------------------------


class TestIssueToken:
    def test_token_is_shown_once_with_the_command_and_expiry(self, operator_client, gateway):
        response = operator_client.post(action_url("gateway_issue_token", gateway))
        token = shown_token(response)
        content = response.content.decode()
        assert f"rustronaut-agent enroll --console https://testserver --token {token}" in content
        assert 'data-action="copy"' in content
        assert response["Cache-Control"] == "no-store"
        assert "Issued an enrolment token" in content  # the toast
        expires = EnrollmentToken.objects.get().expires
        assert response.context["expires"] == expires

        # Neither the detail page nor the action URL shows it again.
        for url in (gateway.get_absolute_url(), action_url("gateway_issue_token", gateway)):
            again = operator_client.get(url)
            assert again.status_code == 200
            assert token not in again.content.decode()
            assert not TOKEN_RE.search(again.content.decode())

    def test_token_is_stored_only_hashed(self, operator_client, gateway):
        token = issue(operator_client, gateway)
        row = EnrollmentToken.objects.get(gateway=gateway)
        assert row.token_hash == digest(token)
        assert token not in json.dumps(list(EnrollmentToken.objects.values()), default=str)
        session = operator_client.session
        assert token not in json.dumps(dict(session.items()), default=str)

    def test_shown_token_enrols_the_agent(self, operator_client, gateway, fresh_throttles):
        response = enroll(issue(operator_client, gateway))
        assert response.status_code == 201
        assert response.json()["gateway_id"] == str(gateway.uuid)
        credential = response.json()["credential"]
        assert config_call(credential).status_code == 200

    def test_outstanding_tokens_are_listed_with_revoke_buttons(self, operator_client, gateway):
        issue(operator_client, gateway)
        issue(operator_client, gateway)
        content = operator_client.get(gateway.get_absolute_url()).content.decode()
        assert content.count('name="token"') == 2
        assert "Waiting for agent" in content


class TestRevokeToken:
    def test_revoked_token_no_longer_enrols(self, operator_client, gateway, fresh_throttles):
        token = issue(operator_client, gateway)
        row = EnrollmentToken.objects.get()
        response = operator_client.post(
            action_url("gateway_revoke_token", gateway), {"token": row.pk}, follow=True
        )
        assert response.redirect_chain[-1][0] == gateway.get_absolute_url()
        assert "Revoked the enrolment token." in response.content.decode()
        row.refresh_from_db()
        assert row.revoked is not None
        assert enroll(token).status_code == 401

    def test_token_of_another_gateway_is_not_revoked(self, operator_client, gateway):
        other = GatewayFactory()
        issue(operator_client, other)
        row = EnrollmentToken.objects.get()
        operator_client.post(action_url("gateway_revoke_token", gateway), {"token": row.pk})
        row.refresh_from_db()
        assert row.revoked is None

    def test_bad_token_id_is_a_warning_not_an_error(self, operator_client, gateway):
        response = operator_client.post(
            action_url("gateway_revoke_token", gateway), {"token": "nope"}, follow=True
        )
        assert response.status_code == 200
        assert "already used, revoked or not found" in response.content.decode()


class TestRotateCredential:
    def test_old_credential_fails_at_once_and_new_token_works(
        self, operator_client, gateway, enrolled
    ):
        assert config_call(enrolled).status_code == 200
        confirm = operator_client.get(action_url("gateway_rotate_credential", gateway))
        assert "stops working at once" in confirm.content.decode()

        response = operator_client.post(action_url("gateway_rotate_credential", gateway))
        assert response.status_code == 200
        token = shown_token(response)
        assert config_call(enrolled).status_code == 401

        again = enroll(token)
        assert again.status_code == 201
        assert config_call(again.json()["credential"]).status_code == 200
        assert config_call(enrolled).status_code == 401


class TestDisableEnable:
    def test_disable_refuses_agent_calls_and_enable_restores_them(
        self, operator_client, gateway, enrolled
    ):
        confirm = operator_client.get(action_url("gateway_disable", gateway))
        assert "403" in confirm.content.decode()

        response = operator_client.post(action_url("gateway_disable", gateway), follow=True)
        assert "Disabled gw-agent" in response.content.decode()
        assert "Enable gateway" in response.content.decode()
        gateway.refresh_from_db()
        assert not gateway.enabled
        assert config_call(enrolled).status_code == 403

        operator_client.post(action_url("gateway_enable", gateway))
        gateway.refresh_from_db()
        assert gateway.enabled
        assert config_call(enrolled).status_code == 200


# --- What a GET or an unpermitted user cannot do --------------------------------------

ACTIONS = (
    "gateway_issue_token",
    "gateway_revoke_token",
    "gateway_rotate_credential",
    "gateway_disable",
    "gateway_enable",
)


def agent_state(gateway: Gateway):
    gateway.refresh_from_db()
    return (
        gateway.enabled,
        gateway.credential_hash,
        gateway.credential_issued,
        sorted(EnrollmentToken.objects.values_list("pk", "used", "revoked")),
    )


@pytest.mark.parametrize("name", ACTIONS)
def test_get_on_an_action_changes_nothing(operator_client, gateway, enrolled, name):
    issue(operator_client, gateway)
    before = agent_state(gateway)
    response = operator_client.get(action_url(name, gateway))
    assert response.status_code == 200
    assert not TOKEN_RE.search(response.content.decode())
    assert agent_state(gateway) == before


@pytest.mark.parametrize("name", ACTIONS)
def test_viewer_post_is_403_and_changes_nothing(
    client_as, operator_client, gateway, enrolled, name
):
    issue(operator_client, gateway)
    token = EnrollmentToken.objects.filter(used__isnull=True).get()
    before = agent_state(gateway)
    response = client_as("viewer").post(action_url(name, gateway), {"token": token.pk})
    assert response.status_code == 403
    assert agent_state(gateway) == before


def test_viewer_sees_the_agent_card_without_buttons(client_as, gateway):
    content = client_as("viewer").get(gateway.get_absolute_url()).content.decode()
    assert "Never enrolled" in content
    assert action_url("gateway_issue_token", gateway) not in content
    assert action_url("gateway_disable", gateway) not in content


def test_the_agent_card_shows_the_enrolled_hostname_and_version(client_as, gateway, enrolled):
    content = client_as("viewer").get(gateway.get_absolute_url()).content.decode()
    card = content[content.index('id="gateway-agent"') :]
    assert "<code>gw-host</code>" in card
    assert "1.8.2" in card


def test_action_forms_need_csrf(operator, gateway):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    response = client.post(action_url("gateway_disable", gateway))
    assert response.status_code == 403
    gateway.refresh_from_db()
    assert gateway.enabled


# --- Uptime ----------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


class TestUptimeRatio:
    def test_no_changes_is_unknown(self):
        assert uptime_ratio([], at(0), at(24)) is None

    def test_always_online_since_before_the_window(self):
        assert uptime_ratio([(at(-5), "online")], at(0), at(24)) == 1.0

    def test_time_before_the_first_change_is_excluded(self):
        # Known from hour 12 on: 6 h online, 6 h offline.
        changes = [(at(12), "online"), (at(18), "offline")]
        assert uptime_ratio(changes, at(0), at(24)) == pytest.approx(0.5)

    def test_degraded_counts_as_up_maintenance_does_not(self):
        changes = [
            (at(-1), "online"),
            (at(6), "degraded"),
            (at(12), "maintenance"),
            (at(18), "offline"),
        ]
        assert uptime_ratio(changes, at(0), at(24)) == pytest.approx(0.5)

    def test_changes_before_the_window_give_its_opening_status(self):
        changes = [(at(-10), "online"), (at(-2), "offline"), (at(12), "online")]
        assert uptime_ratio(changes, at(0), at(24)) == pytest.approx(0.5)

    def test_changes_after_the_end_are_ignored(self):
        changes = [(at(-1), "online"), (at(30), "offline")]
        assert uptime_ratio(changes, at(0), at(24)) == 1.0

    def test_pending_then_online(self):
        changes = [(at(0), "pending"), (at(6), "online")]
        assert uptime_ratio(changes, at(0), at(24)) == pytest.approx(0.75)


def add_change(gateway, time, old, new):
    return GatewayStatusChange.objects.create(
        gateway=gateway, time=time, old_status=old, new_status=new, reason="test"
    )


class TestGatewayUptime:
    def ratios(self, gateway, now):
        history = list(GatewayStatusChange.objects.filter(gateway=gateway)[:20])
        return [window["ratio"] for window in gateway_uptime(gateway, history, now)]

    def test_windows_from_the_changes(self, gateway):
        now = timezone.now()
        # First change 3 days ago (before: unknown), offline for the last 6 hours.
        add_change(gateway, now - timedelta(days=3), "", "online")
        add_change(gateway, now - timedelta(hours=6), "online", "offline")
        day, week = self.ratios(gateway, now)
        assert day == pytest.approx(18 / 24)
        assert week == pytest.approx((72 - 6) / 72)

    def test_status_before_the_window_comes_from_the_first_change_inside(self, gateway):
        now = timezone.now()
        add_change(gateway, now - timedelta(days=30), "", "online")
        add_change(gateway, now - timedelta(hours=12), "online", "offline")
        day, week = self.ratios(gateway, now)
        assert day == pytest.approx(0.5)
        assert week == pytest.approx((168 - 12) / 168)

    def test_nothing_changed_for_weeks(self, gateway):
        now = timezone.now()
        add_change(gateway, now - timedelta(days=30), "", "offline")
        assert self.ratios(gateway, now) == [0.0, 0.0]

    def test_never_changed_is_unknown(self, gateway):
        assert self.ratios(gateway, timezone.now()) == [None, None]

    def test_page_shows_history_and_uptime(self, viewer_client, gateway):
        now = timezone.now()
        add_change(gateway, now - timedelta(hours=12), "pending", "online")
        add_change(gateway, now - timedelta(hours=6), "online", "degraded")
        add_change(gateway, now - timedelta(hours=3), "degraded", "offline")
        response = viewer_client.get(gateway.get_absolute_url())
        content = response.content.decode()
        # Pending before the first change means it had never reported: unknown,
        # left out. Known for 12 h of both windows, up 9 h of them.
        assert [w["percent"] for w in response.context["uptime"]] == [75.0, 75.0]
        assert "75<small>%</small>" in content
        assert "badge-muted" in content  # the "pending" it came from
        assert [c.new_status for c in response.context["status_history"]] == [
            "offline",
            "degraded",
            "online",
        ]


# --- Bitrate filter --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (0, "0 bit/s"),
        (999, "999 bit/s"),
        (1_000, "1.0 kbit/s"),
        (56_000, "56.0 kbit/s"),
        (999_400, "999 kbit/s"),
        (999_960, "1.0 Mbit/s"),
        (1_500_000, "1.5 Mbit/s"),
        (250_000_000, "250 Mbit/s"),
        (12_345_000_000, "12.3 Gbit/s"),
        (2_000_000_000_000, "2000 Gbit/s"),
        ("junk", "—"),
    ],
)
def test_bitrate_filter(value, shown):
    template = Template("{% load console %}{{ value|bitrate }}")
    assert template.render(Context({"value": value})) == shown


# --- Current metrics and the last 24 hours ----------------------------------------------


def test_not_reported_yet_shows_the_empty_state(viewer_client, gateway):
    content = viewer_client.get(gateway.get_absolute_url()).content.decode()
    assert "This gateway has not reported yet. Issue an enrolment token and start its agent." in (
        content
    )


@pytest.mark.parametrize(("applied", "label"), [(3, "Up to date"), (2, "Behind")])
def test_current_metrics_and_config_version(viewer_client, applied, label):
    FleetConfig.objects.update_or_create(pk=1, defaults={"version": 3})
    gateway = GatewayFactory(last_seen=timezone.now())
    Gateway.objects.filter(pk=gateway.pk).update(
        cpu_pct=42.5,
        mem_pct=61.0,
        rx_bps=12_500_000,
        tx_bps=850_000,
        sessions=1234,
        config_version=applied,
    )
    content = viewer_client.get(gateway.get_absolute_url()).content.decode()
    assert "42.5<small>%</small>" in content
    assert "12.5 Mbit/s" in content
    assert "850 kbit/s" in content
    assert "1,234" in content
    assert label in content


def rollup(gateway, bucket, value):
    fields = {
        f"{key}_{agg}": value
        for key in ("cpu", "mem", "rx", "tx", "sessions")
        for agg in ("min", "avg", "max")
    }
    return MetricRollup.objects.create(
        gateway=gateway, period="1h", bucket=bucket, samples=60, **fields
    )


def sample(gateway, time, cpu):
    return MetricSample.objects.create(
        gateway=gateway,
        time=time,
        cpu_pct=cpu,
        mem_pct=50,
        rx_bps=2_000_000,
        tx_bps=1_000,
        sessions=7,
    )


class TestHourlyMetrics:
    def test_rows_are_the_rollups_of_the_last_day_and_the_current_hour_raw(self, gateway):
        now = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
        hour = datetime(2024, 5, 1, 12, tzinfo=UTC)
        for h in range(1, 26):  # 25 completed hours; 23 are within the last day
            rollup(gateway, hour - timedelta(hours=h), h)
        MetricRollup.objects.create(  # a 5-minute rollup is not an hourly row
            gateway=gateway,
            period="5m",
            bucket=hour,
            samples=5,
            **{
                f"{k}_{a}": 0
                for k in ("cpu", "mem", "rx", "tx", "sessions")
                for a in ("min", "avg", "max")
            },
        )
        other = GatewayFactory()
        rollup(other, hour - timedelta(hours=1), 99)
        sample(gateway, hour + timedelta(minutes=5), 10)
        sample(gateway, hour + timedelta(minutes=10), 30)
        sample(gateway, hour - timedelta(minutes=5), 90)  # in the previous hour's rollup

        rows = hourly_metrics(gateway, now)

        assert len(rows) == 24
        assert [row["bucket"] for row in rows] == [hour - timedelta(hours=h) for h in range(24)]
        current = rows[0]
        assert current["current"]
        assert (current["cpu_min"], current["cpu_avg"], current["cpu_max"]) == (10, 20, 30)
        assert current["samples"] == 2
        assert current["rx_avg"] == 2_000_000
        assert [row["cpu_avg"] for row in rows[1:]] == list(range(1, 24))

    def test_no_data_is_no_rows(self, gateway):
        assert hourly_metrics(gateway, timezone.now()) == []

    def test_page_shows_the_table(self, viewer_client, gateway):
        now = timezone.now()
        hour = now.replace(minute=0, second=0, microsecond=0)
        rollup(gateway, hour - timedelta(hours=2), 5)
        sample(gateway, now, 40)
        response = viewer_client.get(gateway.get_absolute_url())
        content = response.content.decode()
        assert len(response.context["hourly_metrics"]) == 2
        assert "2.0 Mbit/s" in content
        assert 'id="gateway-hourly-metrics"' in content
