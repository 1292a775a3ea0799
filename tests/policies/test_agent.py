"""The ``policies`` section of the configuration gateways pull: exactly the
published set (not the draft), only the rules that can match at that
gateway, in evaluation order; a new version at each publication and 304
after it; heartbeats' config_version drives the rollout status."""

from __future__ import annotations

import pytest

from gateways.agent.ingest import build_config, current_config_version
from policies.agent import policy_config
from policies.models import PolicyRevision
from policies.publishing import publish, rollback
from policies.rollout import rollout_status
from tests.factories import GatewayFactory, RegionFactory, user_with_perms
from tests.gateways.test_agent_api import enrolled_agent, heartbeat_body
from tests.policies.factories import PolicyFactory, RuleFactory, ref

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9


@pytest.fixture
def author(db):
    return user_with_perms("author", "policies.publish_policy", "gateways.view_gateway")


def test_the_agent_gets_exactly_the_published_set_then_304(author):
    europe, asia = RegionFactory(name="Europe"), RegionFactory(name="Asia")
    agent = enrolled_agent(region=europe)
    other = GatewayFactory(region=asia)
    late = PolicyFactory(name="zz-late", priority=50)
    early = PolicyFactory(name="aa-early", priority=10)
    RuleFactory(policy=late, action="deny", protocol="any", ports="", dst_cidrs=["0.0.0.0/0"])
    web = RuleFactory(policy=early, ports="80, 443", dst_services=["https"], comment="web")
    RuleFactory(policy=early, src_gateways=[ref(other)])  # only at the other gateway
    here = RuleFactory(policy=early, src_regions=[ref(europe)], src_cidrs=[], ports="22")
    PolicyFactory(name="off", enabled=False)  # disabled: not sent (and not validated as empty)

    first = agent.get("config")
    assert first.json()["policies"] == []  # nothing published yet
    revision = publish(author, "first")
    version = current_config_version()
    assert revision.config_version == version
    response = agent.get("config", HTTP_IF_NONE_MATCH=first["ETag"])
    assert response.status_code == 200 and response["ETag"] == f'"{version}"'
    policies = response.json()["policies"]
    assert [(p["policy"], p["rule_number"]) for p in policies] == [
        ("aa-early", 1),
        ("aa-early", 3),
        ("zz-late", 1),
    ]
    assert policies[0] == {
        "policy_id": str(early.uuid),
        "policy": "aa-early",
        "priority": 10,
        "rule_id": str(web.uuid),
        "rule_number": 1,
        "action": "allow",
        "sources": {"regions": [], "gateways": [], "groups": [], "cidrs": []},
        "destinations": {
            "cidrs": ["10.0.0.0/8"],
            "hosts": [],
            "services": [
                {
                    "name": "https",
                    "ports": [
                        {"protocol": "tcp", "from": 443, "to": 443},
                        {"protocol": "udp", "from": 443, "to": 443},
                    ],
                }
            ],
        },
        "protocol": "tcp",
        "ports": [{"from": 80, "to": 80}, {"from": 443, "to": 443}],
        "schedule": None,
        "expires": None,
    }
    assert policies[1]["rule_id"] == str(here.uuid)
    assert policies[1]["sources"]["regions"] == [str(europe.uuid)]

    # Draft edits change nothing the agent gets until they are published.
    web.ports = "8080"
    web.save()
    again = agent.get("config", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert agent.get("config").json()["policies"] == policies


def test_heartbeats_move_gateways_from_behind_to_applied(author):
    agent = enrolled_agent()
    RuleFactory()
    revision = publish(author, "first")
    status = rollout_status(revision, author)
    assert status.never_reported and not status.applied
    agent.post("heartbeat", heartbeat_body(config_version=revision.config_version - 1))
    status = rollout_status(revision, author)
    assert [g.gateway.pk for g in status.behind] == [agent.gateway.pk]
    agent.post("heartbeat", heartbeat_body(config_version=revision.config_version))
    status = rollout_status(revision, author)
    assert [g.gateway.pk for g in status.applied] == [agent.gateway.pk] and not status.behind


def test_rollback_serves_the_old_rules_under_a_new_version(author):
    agent = enrolled_agent()
    rule = RuleFactory(ports="443")
    first = publish(author, "first")
    rule.ports = "8443"
    rule.save()
    second = publish(author, "second")
    assert agent.get("config").json()["policies"][0]["ports"] == [{"from": 8443, "to": 8443}]
    third = rollback(author, first)
    body = agent.get("config", HTTP_IF_NONE_MATCH=f'"{second.config_version}"').json()
    assert body["version"] == third.config_version > second.config_version
    assert body["policies"][0]["ports"] == [{"from": 443, "to": 443}]
    assert PolicyRevision.current() == third


def test_the_policies_section_is_one_query(author, django_assert_num_queries):
    gateway = GatewayFactory()
    for port in (22, 80, 443):
        RuleFactory(policy=PolicyFactory(), ports=str(port))
    publish(author, "first")
    with django_assert_num_queries(1):
        assert len(policy_config(gateway)) == 3
    with django_assert_num_queries(2):  # tunnels and policies
        build_config(gateway, 1)
