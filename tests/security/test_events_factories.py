"""Security events for tests: a factory and a fast bulk maker (no tests here)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from security.models import SecurityEvent
from tests.factories import GatewayFactory

SEVERITIES = ("info", "low", "medium", "high", "critical")
CATEGORIES = ("intrusion", "port_scan", "auth_failure", "malware", "policy_violation", "anomaly")


class SecurityEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SecurityEvent

    uuid = factory.LazyFunction(uuid.uuid4)
    gateway = factory.SubFactory(GatewayFactory)
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    severity = "medium"
    category = "intrusion"
    signature = factory.Sequence(lambda n: f"TEST signature {n}")
    src_ip = "203.0.113.7"
    src_port = 40000
    dst_ip = "10.0.0.5"
    dst_port = 22
    protocol = "tcp"
    message = "Something the detector saw."
    details = factory.LazyFunction(lambda: {"rule": 1})


def make_events(gateways, count: int, start=None, step=timedelta(seconds=7)) -> list[SecurityEvent]:
    """``count`` events spread over ``gateways``, one every ``step`` back from
    ``start``, severities, categories and sources mixed (bulk_create)."""
    start = start or timezone.now()
    rows = [
        SecurityEvent(
            uuid=uuid.uuid4(),
            gateway=gateways[i % len(gateways)],
            occurred_at=start - step * i,
            severity=SEVERITIES[i % len(SEVERITIES)],
            category=CATEGORIES[i % len(CATEGORIES)],
            signature=f"BULK rule {i % 13}",
            src_ip=f"198.51.100.{i % 250 + 1}",
            src_port=30000 + i % 1000,
            dst_ip=f"10.0.{i % 4}.{i % 200 + 1}",
            dst_port=(22, 80, 443, 3389)[i % 4],
            protocol="tcp",
            message=f"bulk event number {i}",
            details={"i": i},
        )
        for i in range(count)
    ]
    return SecurityEvent.objects.bulk_create(rows, batch_size=1000)
