"""gateways.tasks.mark_offline_gateways, called directly (no worker)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from gateways.models import Gateway, GatewayStatusChange
from gateways.tasks import mark_offline_gateways
from tests.factories import GatewayFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def heartbeat_every_ten_seconds(settings):
    # Three missed heartbeats of 10 s: silent for more than 30 s means offline.
    settings.GATEWAY_HEARTBEAT_INTERVAL = 10
    settings.GATEWAY_OFFLINE_AFTER_MISSED = 3


def seen(seconds_ago: float | None):
    return None if seconds_ago is None else timezone.now() - timedelta(seconds=seconds_ago)


def gateway(status: str, seconds_ago: float | None) -> Gateway:
    return GatewayFactory(status=status, last_seen=seen(seconds_ago))


def status_of(gw: Gateway) -> str:
    gw.refresh_from_db()
    return gw.status


@pytest.mark.parametrize(
    ("status", "seconds_ago", "after"),
    [
        ("online", 31, "offline"),
        ("online", 20, "online"),
        ("online", None, "offline"),
        ("online", 3600, "offline"),
        ("degraded", 31, "offline"),
        ("degraded", 20, "degraded"),
        ("degraded", None, "offline"),
        ("pending", None, "pending"),
        ("pending", 3600, "pending"),
        ("maintenance", None, "maintenance"),
        ("maintenance", 3600, "maintenance"),
        ("offline", 3600, "offline"),
    ],
)
def test_marks_silent_reporting_gateways_offline(status, seconds_ago, after):
    gw = gateway(status, seconds_ago)
    mark_offline_gateways()
    assert status_of(gw) == after


def test_returns_the_number_marked_and_is_idempotent():
    stale = [gateway("online", 31), gateway("degraded", 45), gateway("online", None)]
    fresh = gateway("online", 20)
    untouched = [gateway("pending", None), gateway("maintenance", 3600), gateway("offline", 3600)]

    assert mark_offline_gateways() == 3
    assert [status_of(gw) for gw in stale] == ["offline"] * 3
    assert status_of(fresh) == "online"
    assert [status_of(gw) for gw in untouched] == ["pending", "maintenance", "offline"]

    assert mark_offline_gateways() == 0
    assert Gateway.objects.filter(status="offline").count() == 4


def test_nothing_to_do_returns_zero():
    gateway("online", 1)
    assert mark_offline_gateways() == 0


def test_follows_the_heartbeat_setting(settings):
    gw = gateway("online", 20)
    settings.GATEWAY_HEARTBEAT_INTERVAL = 5  # 15 s of silence is now too much
    assert mark_offline_gateways() == 1
    assert status_of(gw) == "offline"


def test_bumps_updated_only_for_marked_gateways():
    stale, fresh = gateway("online", 31), gateway("online", 20)
    Gateway.objects.update(updated=timezone.now() - timedelta(days=1))
    before = timezone.now()

    mark_offline_gateways()

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.updated >= before
    assert fresh.updated < before


def test_keeps_last_seen():
    gw = gateway("online", 31)
    last_seen = gw.last_seen
    mark_offline_gateways()
    gw.refresh_from_db()
    assert gw.last_seen == last_seen


def test_runs_as_a_celery_task_in_process():
    gateway("online", 31)
    gateway("degraded", 31)
    result = mark_offline_gateways.apply()
    assert result.successful()
    assert result.get() == 2
    assert mark_offline_gateways.apply().get() == 0


@pytest.mark.parametrize("silent", [1, 20])
def test_cost_does_not_grow_with_the_number_marked(django_assert_max_num_queries, silent):
    # Lock the candidates, one UPDATE, one INSERT of the status changes, one
    # UPDATE of their tunnels' state (plus the transaction's savepoint
    # bookkeeping), however many gateways go offline.
    for _ in range(silent):
        gateway("online", 31)
    with django_assert_max_num_queries(6):
        assert mark_offline_gateways() == silent


def test_records_each_change_with_its_reason():
    marked = gateway("degraded", 31)
    mark_offline_gateways()
    change = GatewayStatusChange.objects.get(gateway=marked)
    assert (change.old_status, change.new_status) == ("degraded", "offline")
    assert "no heartbeat" in change.reason
    mark_offline_gateways()
    assert GatewayStatusChange.objects.filter(gateway=marked).count() == 1
