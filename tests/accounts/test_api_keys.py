"""API keys: shown once and stored hashed, scopes (read cannot write, a key
never exceeds its owner, a scoped owner's key sees only the owner's
regions), expiry, revocation, last-used time, and the REST endpoints for a
user's own keys. Real PostgreSQL and Redis."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from gateways.models import Gateway
from tests.accounts.api_auth_helpers import (
    GATEWAYS_URL,
    KEYS_URL,
    REGIONS_URL,
    TUNNELS_URL,
    bearer,
    issue_key,
    obtain_pair,
    roomy_limits,  # noqa: F401  (fixture)
)
from tests.factories import GatewayFactory, RegionFactory, TunnelFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roomy_limits")]


def new_gateway(client, region):
    return client.post(
        GATEWAYS_URL, {"name": "gw-new", "region": region.slug, "public_address": "203.0.113.9"}
    )


# --- Stored hashed, shown once ------------------------------------------------------------


def test_a_key_is_stored_hashed_with_a_visible_prefix(viewer):
    api_key, key = ApiKey.issue(owner=viewer, name="ci", scopes={"gateways": "read"})

    assert key.startswith("rck_") and len(key) > 40
    assert api_key.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert api_key.prefix == key[:12]
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert key not in {str(value) for value in row.values()}


def test_created_through_the_api_the_key_is_shown_once(viewer):
    client = APIClient()
    client.force_login(viewer)

    created = client.post(
        KEYS_URL,
        {"name": "backup job", "scopes": {"gateways": "read"}, "expires_in_days": 30},
    )

    assert created.status_code == 201, created.content
    body = created.json()
    key = body["key"]
    assert key.startswith(body["prefix"])
    assert created["Cache-Control"] == "no-store"
    listed = client.get(KEYS_URL).json()
    assert listed["results"][0]["prefix"] == body["prefix"]
    assert "key" not in listed["results"][0]
    assert key not in client.get(f"{KEYS_URL}{body['id']}/").content.decode()
    assert bearer(key).get(GATEWAYS_URL).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": {"fleet": "read"}}, "scopes"),
        ({"name": "x", "scopes": {"gateways": "admin"}}, "scopes"),
        ({"name": "x", "scopes": {}}, "scopes"),
        ({"name": "x", "scopes": "gateways"}, "scopes"),
        ({"name": "", "scopes": {"gateways": "read"}}, "name"),
        ({"name": "x" * 101, "scopes": {"gateways": "read"}}, "name"),
        ({"name": "x", "scopes": {"gateways": "read"}, "expires_in_days": 0}, "expires_in_days"),
        (
            {"name": "x", "scopes": {"gateways": "read"}, "expires_in_days": "soon"},
            "expires_in_days",
        ),
    ],
)
def test_bad_input_is_400_with_field_messages_and_stores_nothing(viewer, body, field):
    client = APIClient()
    client.force_login(viewer)

    response = client.post(KEYS_URL, body)

    assert response.status_code == 400
    assert field in response.json()
    assert ApiKey.objects.count() == 0


def test_a_key_cannot_create_keys(operator):
    key = issue_key(operator, accounts="write", gateways="write")

    response = bearer(key).post(KEYS_URL, {"name": "child", "scopes": {"gateways": "write"}})

    assert response.status_code == 403
    assert ApiKey.objects.count() == 1


def test_a_jwt_can_create_keys(viewer):
    client = bearer(obtain_pair(viewer)["access"])

    response = client.post(KEYS_URL, {"name": "from jwt", "scopes": {"tunnels": "read"}})

    assert response.status_code == 201


def test_users_see_and_revoke_only_their_own_keys(viewer, operator):
    theirs, _key = ApiKey.issue(owner=operator, name="theirs", scopes={"gateways": "read"})
    client = APIClient()
    client.force_login(viewer)

    assert client.get(KEYS_URL).json()["results"] == []
    assert client.get(f"{KEYS_URL}{theirs.uuid}/").status_code == 404
    assert client.delete(f"{KEYS_URL}{theirs.uuid}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked is None


def test_keys_endpoints_need_a_user(api_client):
    assert api_client.get(KEYS_URL).status_code in (401, 403)
    assert api_client.post(KEYS_URL, {"name": "x", "scopes": {"gateways": "read"}}).status_code in (
        401,
        403,
    )


# --- Scopes ---------------------------------------------------------------------------------


def test_a_read_key_cannot_write(operator):
    region = RegionFactory()
    client = bearer(issue_key(operator, gateways="read"))

    assert client.get(GATEWAYS_URL).status_code == 200
    assert new_gateway(client, region).status_code == 403
    assert client.get(TUNNELS_URL).status_code == 403  # a domain left out


def test_a_write_key_writes_what_its_owner_may(operator):
    region = RegionFactory()

    response = new_gateway(bearer(issue_key(operator, gateways="write")), region)

    assert response.status_code == 201, response.content


def test_a_key_never_exceeds_its_owner(viewer):
    region = RegionFactory()
    client = bearer(issue_key(viewer, gateways="write", tunnels="write"))

    assert client.get(GATEWAYS_URL).status_code == 200
    assert new_gateway(client, region).status_code == 403


def test_a_superusers_read_key_is_read_only(admin_user):
    region = RegionFactory()
    client = bearer(issue_key(admin_user, gateways="read"))

    assert client.get(GATEWAYS_URL).status_code == 200
    assert new_gateway(client, region).status_code == 403
    assert client.delete(f"{REGIONS_URL}{region.slug}/").status_code in (403, 404)
    assert client.get(TUNNELS_URL).status_code == 403


def test_a_scoped_owners_key_sees_only_the_owners_regions(operator):
    mine, other = RegionFactory(), RegionFactory()
    operator.regions.add(mine)
    GatewayFactory(name="gw-mine", region=mine)
    GatewayFactory(name="gw-other", region=other)
    TunnelFactory(name="tun-other", gateway_a__region=other, gateway_b__region=other)
    client = bearer(issue_key(operator, gateways="write", tunnels="read"))

    names = [g["name"] for g in client.get(GATEWAYS_URL).json()["results"]]
    assert names == ["gw-mine"]
    assert client.get(TUNNELS_URL).json()["results"] == []
    # The other region is not even a valid choice for this key's owner.
    assert new_gateway(client, other).status_code in (400, 403)
    assert not Gateway.objects.filter(name="gw-new").exists()


def test_key_scopes_apply_to_its_own_management(viewer):
    reader = issue_key(viewer, accounts="read")
    outsider = issue_key(viewer, gateways="read")
    writer_key, writer = ApiKey.issue(owner=viewer, name="w", scopes={"accounts": "write"})

    assert bearer(reader).get(KEYS_URL).status_code == 200
    assert bearer(outsider).get(KEYS_URL).status_code == 403
    target = ApiKey.objects.get(name="test key", scopes={"gateways": "read"})
    assert bearer(reader).delete(f"{KEYS_URL}{target.uuid}/").status_code == 403
    assert bearer(writer).delete(f"{KEYS_URL}{target.uuid}/").status_code == 204
    target.refresh_from_db()
    assert target.revoked is not None
    assert writer_key.revoked is None


# --- Expiry, revocation, inactive owner -------------------------------------------------------


def test_an_expired_key_is_401(viewer):
    api_key, key = ApiKey.issue(
        owner=viewer,
        name="old",
        scopes={"gateways": "read"},
        expires=timezone.now() - timedelta(seconds=1),
    )

    response = bearer(key).get(GATEWAYS_URL)

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_key_works_until_it_expires(viewer):
    _api_key, key = ApiKey.issue(
        owner=viewer,
        name="soon",
        scopes={"gateways": "read"},
        expires=timezone.now() + timedelta(minutes=5),
    )

    assert bearer(key).get(GATEWAYS_URL).status_code == 200


def test_a_revoked_key_is_401(viewer):
    client = APIClient()
    client.force_login(viewer)
    created = client.post(KEYS_URL, {"name": "k", "scopes": {"gateways": "read"}}).json()

    assert client.delete(f"{KEYS_URL}{created['id']}/").status_code == 204

    response = bearer(created["key"]).get(GATEWAYS_URL)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert client.get(KEYS_URL).json()["results"][0]["status"] == "revoked"


def test_an_unknown_key_is_401_with_a_challenge(db):
    response = bearer("rck_" + "x" * 43).get(GATEWAYS_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_key_of_an_inactive_owner_is_401(viewer):
    key = issue_key(viewer, gateways="read")
    viewer.is_active = False
    viewer.save()

    assert bearer(key).get(GATEWAYS_URL).status_code == 401


def test_a_key_needs_no_csrf_token(operator):
    region = RegionFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(operator, gateways='write')}")

    assert new_gateway(client, region).status_code == 201


# --- Last used ---------------------------------------------------------------------------------


def test_last_used_is_recorded_at_most_once_a_minute(viewer):
    api_key, key = ApiKey.issue(owner=viewer, name="k", scopes={"gateways": "read"})
    client = bearer(key)

    client.get(GATEWAYS_URL, REMOTE_ADDR="198.51.100.4")
    api_key.refresh_from_db()
    first = api_key.last_used
    assert first is not None
    assert api_key.last_used_ip == "198.51.100.4"

    with CaptureQueriesContext(connection) as queries:
        client.get(GATEWAYS_URL)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    api_key.refresh_from_db()
    assert api_key.last_used == first

    ApiKey.objects.filter(pk=api_key.pk).update(last_used=first - timedelta(minutes=2))
    client.get(GATEWAYS_URL)
    api_key.refresh_from_db()
    assert api_key.last_used > first
