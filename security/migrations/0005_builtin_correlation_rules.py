"""The built-in correlation rules, one per kind, with defaults that fire on
real attacks and stay quiet on a fleet's normal background (docs/incidents.md)."""

import uuid

from django.db import migrations

BUILTIN = [
    {
        "name": "Distributed scan",
        "kind": "distributed_scan",
        "description": "One source address reaching several gateways within the window.",
        "window_seconds": 120,
        "threshold": 3,
        "min_events": 8,
        "min_severity": "low",
        "severity_raise": "high",
        "cooldown_seconds": 3600,
    },
    {
        "name": "Brute force",
        "kind": "brute_force",
        "description": "Repeated authentication failures from one source against one gateway.",
        "window_seconds": 300,
        "threshold": 10,
        "min_events": 1,
        "min_severity": "info",
        "severity_raise": "high",
        "cooldown_seconds": 3600,
    },
    {
        "name": "Event burst",
        "kind": "anomaly",
        "description": (
            "A gateway reporting far more events in the window than its usual rate "
            "over the past day."
        ),
        "window_seconds": 300,
        "threshold": 4,
        "min_events": 50,
        "min_severity": "info",
        "severity_raise": "medium",
        "cooldown_seconds": 3600,
    },
]


def create(apps, schema_editor):
    CorrelationRule = apps.get_model("security", "CorrelationRule")
    for values in BUILTIN:
        CorrelationRule.objects.get_or_create(
            kind=values["kind"],
            builtin=True,
            defaults={**values, "uuid": uuid.uuid4()},
        )


def remove(apps, schema_editor):
    apps.get_model("security", "CorrelationRule").objects.filter(builtin=True).delete()


class Migration(migrations.Migration):
    dependencies = [("security", "0004_incidents")]

    operations = [migrations.RunPython(create, remove)]
