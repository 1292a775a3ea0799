"""Every validation message, each pointing at its policy and rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from policies.snapshot import export_draft
from policies.validation import validate
from tests.factories import GatewayFactory, RegionFactory
from tests.policies.factories import PolicyFactory, RuleFactory, ref

pytestmark = pytest.mark.django_db


def issues():
    return [(i.level, i.code, i.where, i.field, i.message) for i in validate(export_draft()).issues]


def test_a_clean_set_has_no_issues():
    RuleFactory(policy=PolicyFactory(name="web"))
    assert issues() == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"dst_cidrs": ["10.0.0.1/8"]}, "dst_cidrs", "“10.0.0.1/8” has host bits set"),
        ({"src_cidrs": ["10.0.0.0/40"]}, "src_cidrs", "“10.0.0.0/40” is not an IP network"),
        ({"ports": "80-70"}, "ports", "The range 80-70 runs backwards: write 70-80."),
        ({"ports": "ssh"}, "ports", "“ssh” is not a port or a range"),
        ({"ports": "0"}, "ports", "Port 0 is out of range (1–65535)."),
        ({"protocol": "icmp", "ports": "22"}, "ports", "ICMP has no ports"),
        ({"dst_hosts": ["bad_host"]}, "dst_hosts", "“bad_host” is not a host name"),
        ({"dst_services": ["gopher"]}, "dst_services", "“gopher” is not a known service."),
        ({"schedule_days": [1]}, "schedule_start", "A schedule needs a start and an end time."),
        (
            {
                "schedule_days": [1],
                "schedule_start": "08:00",
                "schedule_end": "09:00",
                "schedule_timezone": "Mars/Base",
            },
            "schedule_timezone",
            "“Mars/Base” is not a time zone",
        ),
    ],
)
def test_malformed_values_are_errors_on_the_rule(fields, field, message):
    RuleFactory(policy=PolicyFactory(name="web"))
    RuleFactory(policy=PolicyFactory(name="web2"), **fields)
    found = [i for i in issues() if i[1] == "malformed"]
    assert {i[3] for i in found} == {field} or field == "schedule_start"
    (level, code, where, got_field, got) = next(i for i in found if i[3] == field)
    assert (level, code, where, got_field) == ("error", "malformed", "web2 · rule 1", field)
    assert message in got


def test_deleted_region_gateway_and_group_are_errors():
    region, gateway = RegionFactory(name="Gone region"), GatewayFactory(name="gw-gone")
    group = Group.objects.create(name="Gone group")
    policy = PolicyFactory(name="web")
    RuleFactory(policy=policy)
    RuleFactory(
        policy=policy,
        src_regions=[ref(region)],
        src_gateways=[ref(gateway)],
        src_groups=[ref(group)],
    )
    gateway.delete()
    region.delete()
    group.delete()
    found = [i for i in issues() if i[1] == "deleted_reference"]
    assert [(i[2], i[3], i[4]) for i in found] == [
        (
            "web · rule 2",
            "src_regions",
            "References the region “Gone region”, which no longer exists: remove it from the rule.",
        ),
        (
            "web · rule 2",
            "src_gateways",
            "References the gateway “gw-gone”, which no longer exists: remove it from the rule.",
        ),
        (
            "web · rule 2",
            "src_groups",
            "References the user group “Gone group”, which no longer exists: "
            "remove it from the rule.",
        ),
    ]
    assert all(i[0] == "error" for i in found)


def test_empty_enabled_policy_is_an_error_a_disabled_one_is_not():
    PolicyFactory(name="empty")
    PolicyFactory(name="parked", enabled=False)
    assert issues() == [
        (
            "error",
            "empty_policy",
            "empty",
            None,
            "empty has no rules: add one, or disable or delete the policy.",
        )
    ]


def test_expired_rule_is_a_warning():
    RuleFactory(policy=PolicyFactory(name="web"), expires=timezone.now() - timedelta(hours=1))
    [(level, code, where, field, message)] = issues()
    assert (level, code, where, field) == ("warning", "expired", "web · rule 1", "expires")
    assert message.startswith("Expired on ") and "Delete it or move its expiry." in message


def test_shadowed_rule_is_a_warning_naming_the_earlier_rule():
    first = PolicyFactory(name="base", priority=1)
    second = PolicyFactory(name="web", priority=2)
    RuleFactory(policy=first, action="deny", protocol="any", ports="", dst_cidrs=["10.0.0.0/8"])
    RuleFactory(policy=second, dst_cidrs=["10.1.0.0/16"], ports="443")
    assert issues() == [
        (
            "warning",
            "shadowed",
            "web · rule 1",
            None,
            "Never matches: base · rule 1 (deny) comes first and matches everything this rule "
            "would. Move this rule above it, or delete it.",
        )
    ]


def test_allow_and_deny_with_the_same_match_is_an_error():
    policy = PolicyFactory(name="web")
    RuleFactory(policy=policy, action="allow")
    RuleFactory(policy=policy, action="deny")
    [(level, code, where, field, message)] = issues()
    assert (level, code, where) == ("error", "conflict", "web · rule 2")
    assert message.startswith("Matches exactly what web · rule 1 matches, with the opposite action")


def test_disabled_policies_do_not_shadow():
    RuleFactory(policy=PolicyFactory(name="off", enabled=False, priority=1), action="deny")
    RuleFactory(policy=PolicyFactory(name="web", priority=2))
    assert issues() == []
