"""A gateway behind on access policies says so on its own page."""

from datetime import timedelta

from django.utils import timezone

from policies.models import PolicyRevision
from policies.publishing import record_revision
from policies.snapshot import empty_snapshot
from tests.factories import GatewayFactory


def test_behind_gateway_is_flagged_on_its_page(operator_client, db):
    gateway = GatewayFactory(config_version=1)
    revision = record_revision(empty_snapshot(), None, "first")
    page = operator_client.get(gateway.get_absolute_url()).content.decode()
    assert "Applying the latest access policies" in page  # just published: not flagged yet

    five_minutes_ago = timezone.now() - timedelta(minutes=5)
    PolicyRevision.objects.filter(pk=revision.pk).update(created=five_minutes_ago)
    type(gateway).objects.filter(pk=gateway.pk).update(created=five_minutes_ago)
    page = operator_client.get(gateway.get_absolute_url()).content.decode()
    assert "Behind on access policies for more than three heartbeat intervals" in page

    gateway.config_version = revision.config_version
    gateway.save(update_fields=["config_version"])
    page = operator_client.get(gateway.get_absolute_url()).content.decode()
    assert "gateway-policy-rollout" not in page
