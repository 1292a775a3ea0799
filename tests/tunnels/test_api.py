"""/api/v1/tunnels/: CRUD, the model's rules as 400s, read-only live state,
permissions, filters, and query counts. Gateway ends are named by UUID."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from gateways.models import Gateway
from tests.conftest import ROLES
from tests.factories import GatewayFactory, TunnelFactory, make_tunnels, user_with_perms
from tunnels.api.serializers import TunnelSerializer
from tunnels.models import Tunnel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

TUNNELS = "/api/v1/tunnels/"
LIVE_STATE = {"state", "latency_ms", "last_handshake", "rx_bytes", "tx_bytes", "state_changed"}


def snapshot() -> tuple:
    """Everything a call could change, to prove a refused call changed nothing."""
    return (
        sorted(
            Tunnel.objects.values_list(
                "uuid",
                "name",
                "gateway_a_id",
                "gateway_b_id",
                "remote_address",
                "remote_subnets",
                "protocol",
                "enabled",
                "mtu",
                "description",
                "state",
                "rx_bytes",
            )
        ),
        sorted(Tunnel.tags.through.objects.values_list("object_id", "tag__name")),
        sorted(Gateway.objects.values_list("uuid", flat=True)),
    )


@pytest.fixture
def pair():
    return GatewayFactory(name="gw-one"), GatewayFactory(name="gw-two")


def payload(a: Gateway, b: Gateway | None, **overrides) -> dict:
    return {
        "name": "tun-api",
        "gateway_a": str(a.uuid),
        "gateway_b": str(b.uuid) if b else None,
        "tags": ["core"],
        **overrides,
    }


# --- Who may do what ------------------------------------------------------------------

CALLS = [
    ("get", False),
    ("post", False),
    ("get", True),
    ("put", True),
    ("patch", True),
    ("delete", True),
]
SUCCESS = {"get": 200, "post": 201, "put": 200, "patch": 200, "delete": 204}


def expected_status(role: str, method: str) -> int:
    if role in ("operator", "admin"):
        return SUCCESS[method]
    if role == "viewer" and method == "get":
        return 200
    return 403


@pytest.mark.parametrize(("method", "detail"), CALLS, ids=[f"{m}-{d}" for m, d in CALLS])
@pytest.mark.parametrize("role", ROLES)
def test_api_access(api_as, pair, role, method, detail):
    tunnel = TunnelFactory(name="tun-existing")
    url = f"{TUNNELS}{tunnel.uuid}/" if detail else TUNNELS
    data = None if method in ("get", "delete") else payload(*pair)
    before = snapshot()

    response = getattr(api_as(role), method)(url, data)

    assert response.status_code == expected_status(role, method), response.content[:300]
    if response.status_code == 403:
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()
    if response.status_code == 403 or method == "get":
        assert snapshot() == before


def test_api_root_lists_tunnels(viewer_api):
    assert viewer_api.get("/api/v1/").json()["tunnels"] == "http://testserver/api/v1/tunnels/"


def test_lookup_is_by_uuid_not_pk(operator_api):
    tunnel = TunnelFactory()
    assert operator_api.get(f"{TUNNELS}{tunnel.uuid}/").status_code == 200
    assert operator_api.get(f"{TUNNELS}{tunnel.pk}/").status_code == 404
    assert operator_api.get(f"{TUNNELS}{uuid.uuid4()}/").status_code == 404


# --- CRUD -------------------------------------------------------------------------------


class TestCrud:
    def test_create_between_two_gateways(self, operator_api, pair):
        response = operator_api.post(TUNNELS, payload(*pair, protocol="ipsec", mtu=1380))

        assert response.status_code == 201, response.json()
        tunnel = Tunnel.objects.get(name="tun-api")
        assert (tunnel.gateway_a, tunnel.gateway_b) == pair
        assert (tunnel.protocol, tunnel.mtu, tunnel.enabled) == ("ipsec", 1380, True)
        assert list(tunnel.tags.names()) == ["core"]
        body = response.json()
        assert body["id"] == str(tunnel.uuid)
        assert body["url"] == f"http://testserver{TUNNELS}{tunnel.uuid}/"
        assert body["gateway_a"] == str(pair[0].uuid)
        assert body["gateway_b"] == str(pair[1].uuid)
        assert body["state"] == "unknown"
        assert (body["rx_bytes"], body["latency_ms"], body["last_handshake"]) == (0, None, None)

    def test_create_to_a_remote_site(self, operator_api, pair):
        response = operator_api.post(
            TUNNELS,
            payload(
                pair[0],
                None,
                remote_address="vpn.example.org",
                remote_subnets="10.1.2.3/16, 2001:db8::/48",
            ),
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["gateway_b"] is None
        assert body["remote_subnets"] == "10.1.0.0/16, 2001:db8::/48"  # canonical spelling
        assert Tunnel.objects.get().remote_subnets == "10.1.0.0/16, 2001:db8::/48"

    def test_gateway_b_may_be_left_out_for_a_remote_site(self, operator_api, pair):
        data = payload(pair[0], None, remote_address="203.0.113.9", remote_subnets="10.0.0.0/8")
        del data["gateway_b"]
        assert operator_api.post(TUNNELS, data).status_code == 201

    def test_read(self, viewer_api):
        tunnel = TunnelFactory(name="tun-read", tags=["core", "pci"])
        body = viewer_api.get(f"{TUNNELS}{tunnel.uuid}/").json()
        assert body["name"] == "tun-read"
        assert body["gateway_a"] == str(tunnel.gateway_a.uuid)
        assert sorted(body["tags"]) == ["core", "pci"]
        assert set(body) == {
            "id",
            "url",
            "name",
            "protocol",
            "enabled",
            "gateway_a",
            "gateway_b",
            "remote_address",
            "remote_subnets",
            "mtu",
            "tags",
            "description",
            "created",
            "updated",
            *LIVE_STATE,
        }

    def test_put_patch_delete(self, operator_api, pair):
        tunnel = TunnelFactory(name="tun-old", tags=["lab"])
        url = f"{TUNNELS}{tunnel.uuid}/"

        put = operator_api.put(url, payload(*pair, name="tun-new", tags=["edge"]))
        assert put.status_code == 200, put.json()
        tunnel.refresh_from_db()
        assert (tunnel.name, tunnel.gateway_a, tunnel.gateway_b) == ("tun-new", *pair)
        assert list(tunnel.tags.names()) == ["edge"]

        patch = operator_api.patch(url, {"enabled": False, "description": "paused"})
        assert patch.status_code == 200, patch.json()
        tunnel.refresh_from_db()
        assert (tunnel.enabled, tunnel.description, tunnel.name) == (False, "paused", "tun-new")
        assert list(tunnel.tags.names()) == ["edge"]

        # Turning it into a remote-site tunnel in one PATCH.
        patch = operator_api.patch(
            url,
            {"gateway_b": None, "remote_address": "203.0.113.1", "remote_subnets": "10.0.0.0/8"},
        )
        assert patch.status_code == 200, patch.json()
        tunnel.refresh_from_db()
        assert tunnel.gateway_b is None

        assert operator_api.delete(url).status_code == 204
        assert not Tunnel.objects.exists()
        assert Gateway.objects.filter(pk__in=[g.pk for g in pair]).count() == 2

    def test_live_state_is_read_only(self, operator_api, pair):
        seen = "2020-01-01T00:00:00Z"
        live = {
            "state": "up",
            "latency_ms": 3.5,
            "last_handshake": seen,
            "rx_bytes": 99,
            "tx_bytes": 99,
            "state_changed": seen,
        }
        created = operator_api.post(TUNNELS, payload(*pair, **live))
        assert created.status_code == 201
        tunnel = Tunnel.objects.get()
        assert (tunnel.state, tunnel.latency_ms, tunnel.rx_bytes) == ("unknown", None, 0)

        now = timezone.now()
        Tunnel.objects.filter(pk=tunnel.pk).update(state="down", rx_bytes=7, last_handshake=now)
        patched = operator_api.patch(f"{TUNNELS}{tunnel.uuid}/", live)
        assert patched.status_code == 200
        assert patched.json()["state"] == "down"
        tunnel.refresh_from_db()
        assert (tunnel.state, tunnel.rx_bytes, tunnel.last_handshake) == ("down", 7, now)


# --- Validation: the model's rules as 400s on the field ----------------------------------


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "fields"),
        [
            ({"gateway_b": "same-as-a"}, {"gateway_b"}),
            ({"gateway_b": None}, {"remote_address", "remote_subnets"}),
            ({"gateway_b": None, "remote_address": "203.0.113.9"}, {"remote_subnets"}),
            (
                {"gateway_b": None, "remote_address": "203.0.113.9", "remote_subnets": "10/33"},
                {"remote_subnets"},
            ),
            (
                {"gateway_b": None, "remote_address": "999.1.1.1", "remote_subnets": "10.0.0.0/8"},
                {"remote_address"},
            ),
            ({"remote_address": "203.0.113.9"}, {"remote_address"}),  # gateway B and a site
            ({"remote_subnets": "10.0.0.0/8"}, {"remote_subnets"}),
            ({"mtu": 575}, {"mtu"}),
            ({"mtu": 9001}, {"mtu"}),
            ({"protocol": "gre"}, {"protocol"}),
            ({"name": "tun-taken"}, {"name"}),
            ({"name": "bad name"}, {"name"}),
            ({"gateway_a": "00000000-0000-4000-8000-000000000000"}, {"gateway_a"}),  # none such
            ({"gateway_a": "gw-one"}, {"gateway_a"}),  # a name is not an id
            ({"gateway_a": None}, {"gateway_a"}),
            ({"gateway_a": 1}, {"gateway_a"}),  # nor is a primary key
        ],
    )
    def test_invalid_create_is_400_with_field_names(self, operator_api, pair, change, fields):
        TunnelFactory(name="tun-taken")
        data = payload(*pair, **change)
        if change.get("gateway_b") == "same-as-a":
            data["gateway_b"] = data["gateway_a"]
        before = snapshot()

        response = operator_api.post(TUNNELS, data)

        assert response.status_code == 400, response.content
        assert set(response.json()) == fields
        assert snapshot() == before

    def test_self_tunnel_message(self, operator_api, pair):
        response = operator_api.post(TUNNELS, payload(pair[0], pair[0]))
        assert response.json() == {"gateway_b": ["A tunnel cannot connect a gateway to itself."]}

    @pytest.mark.parametrize("reverse", [False, True], ids=["same-direction", "reversed"])
    def test_duplicate_pair_is_400_not_500(self, operator_api, pair, reverse):
        TunnelFactory(name="tun-first", gateway_a=pair[0], gateway_b=pair[1])
        a, b = reversed(pair) if reverse else pair
        before = snapshot()

        response = operator_api.post(TUNNELS, payload(a, b))

        assert response.status_code == 400
        assert response.json() == {
            "gateway_b": [f"{a.name} and {b.name} already have a tunnel: tun-first."]
        }
        assert snapshot() == before

    def test_a_pair_written_concurrently_is_still_a_400(self, operator_api, pair, monkeypatch):
        """The other request commits between this one's check and its insert:
        the unique index refuses it, and the answer is a 400, not a 500."""
        validate = TunnelSerializer.validate

        def validate_then_lose_the_race(serializer, attrs):
            attrs = validate(serializer, attrs)
            TunnelFactory(name="tun-first", gateway_a=pair[1], gateway_b=pair[0])
            return attrs

        monkeypatch.setattr(TunnelSerializer, "validate", validate_then_lose_the_race)

        response = operator_api.post(TUNNELS, payload(*pair))

        assert response.status_code == 400
        assert response.json() == {"gateway_b": ["These two gateways already have a tunnel."]}
        # Only the other request's tunnel is stored.
        assert list(Tunnel.objects.values_list("name", flat=True)) == ["tun-first"]

    def test_the_constraint_backs_up_clean(self, operator_api, pair, monkeypatch):
        """Were clean()'s own check to miss the pair, the model's constraint
        validation still answers 400 (as a non-field error)."""
        TunnelFactory(name="tun-first", gateway_a=pair[1], gateway_b=pair[0])
        monkeypatch.setattr(Tunnel, "_same_pair", lambda self: None)
        response = operator_api.post(TUNNELS, payload(*pair))
        assert response.status_code == 400
        assert response.json() == {
            "non_field_errors": ["These two gateways already have a tunnel."]
        }

    def test_patch_is_checked_against_the_stored_tunnel(self, operator_api):
        first = TunnelFactory()
        second = TunnelFactory(gateway_a=first.gateway_b)
        before = snapshot()

        # Only gateway_b in the PATCH: gateway_a comes from the stored tunnel.
        response = operator_api.patch(
            f"{TUNNELS}{second.uuid}/", {"gateway_b": str(first.gateway_a.uuid)}
        )
        assert response.status_code == 400
        assert set(response.json()) == {"gateway_b"}

        response = operator_api.patch(
            f"{TUNNELS}{second.uuid}/", {"gateway_b": str(second.gateway_a.uuid)}
        )
        assert response.json() == {"gateway_b": ["A tunnel cannot connect a gateway to itself."]}
        assert snapshot() == before

    def test_patching_other_fields_of_a_remote_tunnel_keeps_it_valid(self, operator_api):
        tunnel = TunnelFactory(
            gateway_b=None, remote_address="203.0.113.4", remote_subnets="10.4.0.0/16"
        )
        response = operator_api.patch(f"{TUNNELS}{tunnel.uuid}/", {"mtu": 1300})
        assert response.status_code == 200, response.json()
        tunnel.refresh_from_db()
        assert (tunnel.mtu, tunnel.remote_subnets) == (1300, "10.4.0.0/16")

    def test_only_visible_gateways_can_be_chosen(self, client_as, pair):
        blind = user_with_perms("blind", "tunnels.add_tunnel", "tunnels.view_tunnel")
        api = client_as("anonymous", api=True)
        api.force_login(blind)
        response = api.post(TUNNELS, payload(*pair))
        assert response.status_code == 400
        assert set(response.json()) == {"gateway_a", "gateway_b"}
        assert not Tunnel.objects.exists()


# --- Gateways that carry tunnels --------------------------------------------------------


@pytest.mark.parametrize("end", ["gateway_a", "gateway_b"])
def test_deleting_a_gateway_with_tunnels_is_409(operator_api, end):
    tunnel = TunnelFactory()
    gateway = getattr(tunnel, end)
    before = snapshot()

    response = operator_api.delete(f"/api/v1/gateways/{gateway.uuid}/")

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert gateway.name in detail
    assert "tunnels" in detail
    assert snapshot() == before


# --- Listing --------------------------------------------------------------------------


@pytest.fixture
def listed():
    one = GatewayFactory(name="gw-one", region__slug="north")
    two = GatewayFactory(name="gw-two", region__slug="south")
    TunnelFactory(name="alpha", gateway_a=one, gateway_b=two, state="up", latency_ms=9)
    TunnelFactory(name="bravo", gateway_a=two, state="down", protocol="ipsec", tags=["core"])
    TunnelFactory(
        name="charlie",
        gateway_a=GatewayFactory(region=two.region),
        gateway_b=None,
        remote_address="203.0.113.3",
        remote_subnets="10.3.0.0/16",
        enabled=False,
        latency_ms=2,
    )


def names(api, query: str = "") -> list[str]:
    response = api.get(f"{TUNNELS}?{query}")
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


class TestListing:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("", ["alpha", "bravo", "charlie"]),
            ("gateway=gw-two", ["alpha", "bravo"]),
            ("gateway=gw-one&gateway=gw-two", ["alpha", "bravo"]),
            ("region=north", ["alpha"]),
            ("region=south", ["alpha", "bravo", "charlie"]),
            ("state=down&state=unknown", ["bravo", "charlie"]),
            ("protocol=ipsec", ["bravo"]),
            ("enabled=false", ["charlie"]),
            ("enabled=true", ["alpha", "bravo"]),
            ("tag=core", ["bravo"]),
            ("q=203.0.113", ["charlie"]),
        ],
    )
    def test_filters(self, viewer_api, listed, query, expected):
        assert names(viewer_api, query) == expected

    @pytest.mark.parametrize(
        ("query", "field"),
        [("state=bogus", "state"), ("gateway=gw-nope", "gateway"), ("region=atlantis", "region")],
    )
    def test_invalid_filter_is_400(self, viewer_api, listed, query, field):
        response = viewer_api.get(f"{TUNNELS}?{query}")
        assert response.status_code == 400
        assert field in response.json()

    def test_ordering(self, viewer_api, listed):
        assert names(viewer_api, "ordering=-name") == ["charlie", "bravo", "alpha"]
        assert names(viewer_api, "ordering=state,name") == ["bravo", "charlie", "alpha"]


def test_schema_documents_the_endpoint(viewer_api):
    schema = viewer_api.get("/api/schema/?format=json").json()
    assert "/api/v1/tunnels/" in schema["paths"]
    parameters = {p["name"]: p["schema"] for p in schema["paths"][TUNNELS]["get"]["parameters"]}
    for name in ("gateway", "region", "tag", "state", "protocol"):
        assert parameters[name]["type"] == "array"
        assert parameters[name]["items"]["type"] == "string"
    assert parameters["enabled"]["type"] == "boolean"
    tunnel = schema["components"]["schemas"]["Tunnel"]["properties"]
    assert tunnel["gateway_a"]["format"] == "uuid"
    for name in LIVE_STATE:
        assert tunnel[name].get("readOnly") is True, name


# --- Query counts ----------------------------------------------------------------------

# Measured: 6 (user, 2 × permissions, count, the page of tunnels joined with both
# gateways, their tags); 8 filtered (the tag and region filters look theirs up).
API_QUERY_BOUNDS = {"plain": 8, "filtered": 10}


@pytest.mark.parametrize("kind", list(API_QUERY_BOUNDS))
def test_list_queries_do_not_grow_with_the_tunnels(operator_api, count_queries, kind):
    first = make_tunnels(5)
    url = TUNNELS
    if kind == "filtered":
        region = first[0].gateway_a.region.slug
        url += f"?state=up&state=down&tag=edge&region={region}&ordering=-latency_ms"
    small = count_queries(operator_api, url)
    make_tunnels(45, regions=4)
    assert Tunnel.objects.count() == 50
    large = count_queries(operator_api, url)
    assert large == small
    assert large <= API_QUERY_BOUNDS[kind]
