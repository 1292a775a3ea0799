"""TunnelFilterSet, shared by the tunnel list page and the REST API."""

import pytest
from django.http import QueryDict
from django.test import RequestFactory

from tests.factories import GatewayFactory, RegionFactory, TunnelFactory
from tunnels.filtersets import TunnelFilterSet
from tunnels.models import Tunnel

pytestmark = pytest.mark.django_db


def request_for(user):
    request = RequestFactory().get("/tunnels/")
    request.user = user
    return request


def filtered(query: str, user) -> TunnelFilterSet:
    return TunnelFilterSet(
        QueryDict(query), queryset=Tunnel.objects.all(), request=request_for(user)
    )


def names(query: str, user) -> list[str]:
    filterset = filtered(query, user)
    assert filterset.is_valid(), filterset.errors
    return sorted(tunnel.name for tunnel in filterset.qs)


@pytest.fixture
def mesh():
    """north: fra-1, fra-2; south: lis-1; west: nyc-1.

    fra-1 ⇄ fra-2 (up, wireguard), fra-2 ⇄ lis-1 (down, ipsec),
    lis-1 → branch site (degraded), nyc-1 → vpn.example.org (disabled, unknown).
    """
    north = RegionFactory(name="North", slug="north")
    south = RegionFactory(name="South", slug="south")
    west = RegionFactory(name="West", slug="west")
    fra1 = GatewayFactory(name="fra-1", region=north)
    fra2 = GatewayFactory(name="fra-2", region=north)
    lis1 = GatewayFactory(name="lis-1", region=south)
    nyc1 = GatewayFactory(name="nyc-1", region=west)
    TunnelFactory(
        name="alpha",
        gateway_a=fra1,
        gateway_b=fra2,
        state="up",
        tags=["core", "pci"],
        description="Campus backbone",
    )
    TunnelFactory(
        name="bravo", gateway_a=fra2, gateway_b=lis1, state="down", protocol="ipsec", tags=["core"]
    )
    TunnelFactory(
        name="charlie",
        gateway_a=lis1,
        gateway_b=None,
        remote_address="203.0.113.77",
        remote_subnets="10.7.0.0/16",
        state="degraded",
        tags=["branch"],
    )
    TunnelFactory(
        name="delta",
        gateway_a=nyc1,
        gateway_b=None,
        remote_address="vpn.example.org",
        remote_subnets="10.8.0.0/16",
        enabled=False,
    )


ALL = ["alpha", "bravo", "charlie", "delta"]


class TestSearch:
    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("alpha", ["alpha"]),  # name
            ("BRAVO", ["bravo"]),  # case-insensitive
            ("backbone", ["alpha"]),  # description
            ("203.0.113", ["charlie"]),  # remote address
            ("example.org", ["delta"]),
            ("fra-1", []),  # gateway names are the gateway filter's business
            ("  delta ", ["delta"]),
            ("   ", ALL),
        ],
    )
    def test_q(self, mesh, viewer, q, expected):
        assert names(f"q={q}", viewer) == expected


class TestChoices:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("state=up", ["alpha"]),
            ("state=down&state=degraded", ["bravo", "charlie"]),
            ("state=unknown", ["delta"]),
            ("protocol=ipsec", ["bravo"]),
            ("protocol=wireguard&protocol=ipsec", ALL),
            ("enabled=true", ["alpha", "bravo", "charlie"]),
            ("enabled=false", ["delta"]),
            ("enabled=", ALL),
        ],
    )
    def test_filters(self, mesh, viewer, query, expected):
        assert names(query, viewer) == expected

    @pytest.mark.parametrize("query", ["state=exploded", "protocol=gre"])
    def test_invalid_choice_is_an_error(self, mesh, viewer, query):
        filterset = filtered(query, viewer)
        assert not filterset.is_valid()
        assert query.split("=")[0] in filterset.errors


class TestGateway:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("gateway=fra-1", ["alpha"]),  # at end A
            ("gateway=lis-1", ["bravo", "charlie"]),  # at end B of bravo, end A of charlie
            ("gateway=fra-2", ["alpha", "bravo"]),  # both ends, each tunnel once
            ("gateway=fra-1&gateway=nyc-1", ["alpha", "delta"]),
        ],
    )
    def test_matches_either_end(self, mesh, viewer, query, expected):
        assert names(query, viewer) == expected

    def test_unknown_gateway_is_an_error(self, mesh, viewer):
        filterset = filtered("gateway=gw-nope", viewer)
        assert not filterset.is_valid()
        assert "gateway" in filterset.errors

    def test_offers_only_gateways_the_user_may_see(self, mesh, viewer, outsider):
        def offered(user):
            field = filtered("", user).form.fields["gateway"]
            return sorted(gateway.name for gateway in field.queryset)

        assert offered(viewer) == ["fra-1", "fra-2", "lis-1", "nyc-1"]
        assert offered(outsider) == []
        assert not filtered("gateway=fra-1", outsider).is_valid()


class TestRegion:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("region=north", ["alpha", "bravo"]),
            ("region=south", ["bravo", "charlie"]),  # bravo: end B in south
            ("region=west", ["delta"]),
            ("region=north&region=west", ["alpha", "bravo", "delta"]),
        ],
    )
    def test_matches_either_ends_region(self, mesh, viewer, query, expected):
        assert names(query, viewer) == expected

    def test_unknown_region_is_an_error(self, mesh, viewer):
        assert "region" in filtered("region=atlantis", viewer).errors

    def test_without_a_request_nothing_can_be_chosen(self, mesh):
        filterset = TunnelFilterSet(QueryDict("region=north"), queryset=Tunnel.objects.all())
        assert not filterset.is_valid()


class TestTag:
    def test_by_name_without_duplicates(self, mesh, viewer):
        assert names("tag=core", viewer) == ["alpha", "bravo"]
        assert names("tag=core&tag=pci&tag=branch", viewer) == ["alpha", "bravo", "charlie"]

    def test_unknown_tag_is_an_error(self, mesh, viewer):
        assert "tag" in filtered("tag=nope", viewer).errors


def test_filters_combine(mesh, viewer):
    assert names("region=south&state=down&state=degraded&tag=core", viewer) == ["bravo"]
