"""/api/v1/containment/ (docs/containment.md): list and read actions in
scope, block, quarantine and lift — each a policy revision, bad input a 400
with field messages and nothing stored, a recent sign-in needed (API keys
refused), the region scope applied."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from gateways.agent.ingest import current_config_version
from policies.models import PolicyRevision
from security.models import ContainmentAction
from tests.factories import RegionFactory, user_with_role
from tests.gateways.test_agent_api import enrolled_agent
from tests.helpers import login_with_second_factor

pytestmark = pytest.mark.django_db

LIST = reverse("api:containment-list")
BLOCK = reverse("api:containment-block")
QUARANTINE = reverse("api:containment-quarantine")


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9
    settings.CONTAINMENT_MANAGEMENT_DESTINATIONS = ["console.example.com"]


@pytest.fixture
def fleet(db):
    europe, asia = RegionFactory(name="Europe"), RegionFactory(name="Asia")
    return {
        "europe": europe,
        "asia": asia,
        "eu_agent": enrolled_agent(region=europe),
        "asia_agent": enrolled_agent(region=asia),
    }


def api_as(user) -> APIClient:
    client = APIClient()
    login_with_second_factor(client, user)
    return client


def policies_of(agent) -> list[dict]:
    return [p for p in agent.get("config").json()["policies"] if p["policy"] == "Containment"]


def test_block_list_and_lift(fleet):
    api = api_as(user_with_role("api-admin", "Admin"))
    version = current_config_version()
    response = api.post(
        BLOCK,
        {"cidr": "203.0.113.0/24", "region": str(fleet["asia"].uuid), "expires": "7d"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "block_source" and body["state"] == "active"
    assert body["cidr"] == "203.0.113.0/24" and body["region"] == str(fleet["asia"].uuid)
    assert body["revision"] == 1 and current_config_version() > version
    assert policies_of(fleet["eu_agent"]) == []
    assert policies_of(fleet["asia_agent"])[0]["sources"]["cidrs"] == ["203.0.113.0/24"]

    listed = api.get(LIST, {"state": "active"}).json()
    assert [a["id"] for a in listed["results"]] == [body["id"]]
    assert api.get(LIST, {"state": "lifted"}).json()["results"] == []
    assert (
        api.get(reverse("api:containment-detail", kwargs={"uuid": body["id"]})).status_code == 200
    )

    lift = reverse("api:containment-lift", kwargs={"uuid": body["id"]})
    lifted = api.post(lift)
    assert lifted.status_code == 200 and lifted.json()["state"] == "lifted"
    assert lifted.json()["lift_revision"] == 2
    assert api.post(lift).status_code == 409
    assert PolicyRevision.objects.count() == 2
    assert policies_of(fleet["asia_agent"]) == []


def test_quarantine_through_the_api(fleet):
    api = api_as(user_with_role("api-admin", "Admin"))
    gateway = fleet["eu_agent"].gateway
    response = api.post(QUARANTINE, {"gateway": str(gateway.uuid)}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["expires_at"] is None
    entries = policies_of(fleet["eu_agent"])
    assert [e["action"] for e in entries] == ["allow", "deny"]
    again = api.post(QUARANTINE, {"gateway": str(gateway.uuid)}, format="json")
    assert again.status_code == 409
    assert PolicyRevision.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cidr": "nope"}, "cidr"),
        ({"cidr": "0.0.0.0/0"}, "cidr"),
        ({"cidr": "10.0.0.0/4"}, "cidr"),  # host bits set
        ({"cidr": "16.0.0.0/4"}, "confirm_wide"),
        ({"cidr": "203.0.113.9", "expires": "custom"}, "expires_at"),
        (
            {"cidr": "203.0.113.9", "expires": "custom", "expires_at": "2020-01-01T00:00Z"},
            "expires_at",
        ),
        ({"cidr": "203.0.113.9", "expires": "soon"}, "expires"),
        ({"cidr": "203.0.113.9", "region": "not-a-uuid"}, "region"),
        ({"cidr": "203.0.113.9", "region": "00000000-0000-4000-8000-000000000000"}, "region"),
        ({"cidr": "203.0.113.9", "incident": "00000000-0000-4000-8000-000000000000"}, "incident"),
        ({}, "cidr"),
    ],
)
def test_bad_input_is_a_400_on_its_field(fleet, body, field):
    api = api_as(user_with_role("api-admin", "Admin"))
    response = api.post(BLOCK, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert ContainmentAction.objects.count() == 0 and PolicyRevision.objects.count() == 0


def test_scope_and_permissions(fleet):
    operator = api_as(user_with_role("eu-api-op", "Operator", regions=[fleet["europe"]]))
    fleet_wide = operator.post(BLOCK, {"cidr": "203.0.113.9"}, format="json")
    assert fleet_wide.status_code == 403
    elsewhere = operator.post(
        BLOCK, {"cidr": "203.0.113.9", "region": str(fleet["asia"].uuid)}, format="json"
    )
    assert elsewhere.status_code == 403
    other_gateway = operator.post(
        QUARANTINE, {"gateway": str(fleet["asia_agent"].gateway.uuid)}, format="json"
    )
    assert other_gateway.status_code == 400  # not a gateway they can see
    ok = operator.post(
        BLOCK, {"cidr": "203.0.113.9", "region": str(fleet["europe"].uuid)}, format="json"
    )
    assert ok.status_code == 201

    viewer = api_as(user_with_role("api-viewer", "Viewer"))
    assert viewer.get(LIST).status_code == 200
    assert viewer.post(BLOCK, {"cidr": "198.51.100.1"}, format="json").status_code == 403
    lift = reverse("api:containment-lift", kwargs={"uuid": ok.json()["id"]})
    assert viewer.post(lift).status_code == 403
    assert ContainmentAction.objects.count() == 1


def test_a_stale_session_cannot_act(fleet):
    from allauth.account.internal.flows import login as allauth_login

    admin = user_with_role("api-admin", "Admin")
    stale = api_as(admin)
    session = stale.session
    session[allauth_login.AUTHENTICATION_METHODS_SESSION_KEY][0]["at"] -= 86400
    session.save()
    response = stale.post(BLOCK, {"cidr": "203.0.113.9"}, format="json")
    assert response.status_code == 403
    assert ContainmentAction.objects.count() == 0 and PolicyRevision.objects.count() == 0
