"""/api/v1/policies/: CRUD on the draft with nested rules, validation,
publish (permission + recent sign-in), revisions, diff, rollback, simulate,
import/export; and the OpenAPI schema lists them."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from policies.models import Policy, PolicyRevision
from tests.factories import GatewayFactory, RegionFactory
from tests.helpers import login_with_second_factor
from tests.policies.factories import PolicyFactory, RuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(publisher):
    client = APIClient()
    login_with_second_factor(client, publisher)
    return client


def test_create_a_policy_with_rules_then_edit_rules(api):
    region = RegionFactory(name="Europe")
    response = api.post(
        "/api/v1/policies/",
        {
            "name": "web",
            "priority": 5,
            "tags": ["dmz"],
            "rules": [
                {
                    "action": "allow",
                    "sources": {"regions": [{"id": str(region.uuid)}], "cidrs": ["192.168.0.0/24"]},
                    "destinations": {"cidrs": ["10.0.0.0/8"], "services": ["https"]},
                    "protocol": "tcp",
                    "ports": "443 80",
                }
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    [rule] = body["rules"]
    assert rule["number"] == 1 and rule["ports"] == "80, 443"
    assert rule["sources"]["regions"] == [{"id": str(region.uuid), "name": "Europe"}]
    rules_url = f"/api/v1/policies/{body['id']}/rules/"
    bad = api.post(
        rules_url,
        {
            "action": "deny",
            "destinations": {"cidrs": ["10.0.0.1/8"]},
            "ports": "9-1",
            "sources": {"gateways": [{"id": "nope"}]},
        },
        format="json",
    )
    assert bad.status_code == 400
    errors = bad.json()
    assert "has host bits set" in errors["destinations.cidrs"][0]
    assert errors["ports"] == ["The range 9-1 runs backwards: write 1-9."]
    assert errors["sources.gateways"] == ["“nope” is not a UUID."]
    first = api.post(rules_url, {"action": "deny", "number": 1, "comment": "top"}, format="json")
    assert first.status_code == 201 and first.json()["number"] == 1
    listed = api.get(rules_url).json()
    assert [r["comment"] for r in listed] == ["top", ""]
    detail = f"{rules_url}{first.json()['id']}/"
    assert api.patch(detail, {"action": "deny", "number": 2}, format="json").status_code == 200
    assert [r["number"] for r in api.get(rules_url).json()] == [1, 2]
    assert api.delete(detail).status_code == 204
    assert len(api.get(rules_url).json()) == 1


def test_publish_flow_revisions_diff_rollback(api):
    policy = PolicyFactory(name="web")
    rule = RuleFactory(policy=policy)
    empty = PolicyFactory(name="empty")
    refused = api.post("/api/v1/policies/publish/", {"message": "v1"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "errors"
    [issue] = refused.json()["issues"]
    assert issue["code"] == "empty_policy" and issue["policy_id"] == str(empty.uuid)
    assert api.get("/api/v1/policies/validation/").json()["publishable"] is False
    empty.delete()
    first = api.post("/api/v1/policies/publish/", {"message": "v1"}, format="json")
    assert first.status_code == 201 and first.json()["number"] == 1
    rule.ports = "8443"
    rule.save()
    second = api.post("/api/v1/policies/publish/", {"message": "v2"}, format="json").json()
    diff = api.get(f"/api/v1/policies/revisions/{second['id']}/diff/").json()
    [changed] = [r for r in diff["policies"][0]["rules"] if r["status"] == "changed"]
    assert changed["changed"] == ["protocol"]
    revisions = api.get("/api/v1/policies/revisions/").json()["results"]
    assert [r["number"] for r in revisions] == [2, 1]
    assert "snapshot" in api.get(revisions[1]["url"]).json()
    back = api.post(f"/api/v1/policies/revisions/{first.json()['id']}/rollback/", {}, format="json")
    assert back.status_code == 201 and back.json()["rollback_of"] == 1
    assert PolicyRevision.current().number == 3


def test_publish_needs_permission_and_a_recent_sign_in(policy_editor, publisher):
    RuleFactory()
    editor = APIClient()
    login_with_second_factor(editor, policy_editor)
    assert (
        editor.post("/api/v1/policies/publish/", {"message": "x"}, format="json").status_code == 403
    )
    stale = APIClient()
    stale.force_login(publisher)  # a session with no recent authentication
    response = stale.post("/api/v1/policies/publish/", {"message": "x"}, format="json")
    assert response.status_code == 403
    assert "recent sign-in" in response.json()["detail"]
    assert not PolicyRevision.objects.exists()


def test_viewer_reads_but_cannot_change(policy_viewer):
    policy = PolicyFactory()
    client = APIClient()
    login_with_second_factor(client, policy_viewer)
    assert client.get("/api/v1/policies/").status_code == 200
    assert client.get(f"/api/v1/policies/{policy.uuid}/rules/").status_code == 200
    assert client.post("/api/v1/policies/", {"name": "x"}, format="json").status_code == 403
    assert (
        client.post(
            f"/api/v1/policies/{policy.uuid}/rules/", {"action": "allow"}, format="json"
        ).status_code
        == 403
    )
    assert client.post("/api/v1/policies/import/", {}, format="json").status_code == 403


def test_simulate(api):
    gateway = GatewayFactory()
    policy = PolicyFactory(name="web")
    RuleFactory(policy=policy, src_gateways=[{"id": str(gateway.uuid), "name": gateway.name}])
    api.post("/api/v1/policies/publish/", {"message": "v1"}, format="json")
    response = api.post(
        "/api/v1/policies/simulate/",
        {"gateway": str(gateway.uuid), "destination": "10.1.2.3", "protocol": "tcp", "port": 443},
        format="json",
    )
    body = response.json()
    assert body["published"]["action"] == "allow" and body["published"]["rule"] == "web · rule 1"
    assert body["differs"] is False
    other = api.post(
        "/api/v1/policies/simulate/",
        {"destination": "10.1.2.3", "protocol": "tcp", "port": 443},
        format="json",
    ).json()
    assert other["draft"]["default"] is True
    assert other["draft"]["not_matched"][0]["reasons"][0].startswith(
        "the source is not in gateways"
    )
    bad = api.post(
        "/api/v1/policies/simulate/", {"destination": "x y", "protocol": "tcp"}, format="json"
    )
    assert bad.status_code == 400


def test_export_import_round_trip(api):
    RuleFactory(policy=PolicyFactory(name="web", tags=["b", "a"]), comment="é ✓")
    exported = api.get("/api/v1/policies/export/").json()
    Policy.objects.all().delete()
    imported = api.post("/api/v1/policies/import/", exported, format="json")
    assert imported.status_code == 200
    assert api.get("/api/v1/policies/export/").json() == exported
    broken = api.post("/api/v1/policies/import/", {"format": "nope"}, format="json")
    assert broken.status_code == 400 and broken.json()["errors"]


def test_schema_documents_the_policy_api(api):
    schema = api.get(reverse("api-schema"), {"format": "json"}).json()
    paths = schema["paths"]
    for path in (
        "/api/v1/policies/",
        "/api/v1/policies/{uuid}/",
        "/api/v1/policies/{uuid}/rules/",
        "/api/v1/policies/publish/",
        "/api/v1/policies/simulate/",
        "/api/v1/policies/validation/",
        "/api/v1/policies/export/",
        "/api/v1/policies/import/",
        "/api/v1/policies/revisions/",
        "/api/v1/policies/revisions/{uuid}/diff/",
        "/api/v1/policies/revisions/{uuid}/rollback/",
        "/api/v1/policy-categories/",
    ):
        assert path in paths, path
