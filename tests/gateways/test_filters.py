"""The FilterSets shared by the list pages and the REST API."""

import pytest
from django.http import QueryDict
from django.test import RequestFactory

from gateways.filtersets import GatewayFilterSet, RegionFilterSet
from gateways.models import Gateway, Region
from tests.factories import GatewayFactory, RegionFactory

pytestmark = pytest.mark.django_db


def request_for(user):
    request = RequestFactory().get("/gateways/")
    request.user = user
    return request


def gateway_names(query: str, user) -> list[str]:
    filterset = GatewayFilterSet(
        QueryDict(query), queryset=Gateway.objects.all(), request=request_for(user)
    )
    assert filterset.is_valid(), filterset.errors
    return sorted(gateway.name for gateway in filterset.qs)


@pytest.fixture
def fleet():
    north = RegionFactory(name="North", slug="north")
    south = RegionFactory(name="South", slug="south")
    west = RegionFactory(name="West", slug="west")
    GatewayFactory(
        name="alpha",
        region=north,
        status="online",
        tags=["edge", "pci"],
        description="Rack 4, hall B",
        public_address="203.0.113.10",
    )
    GatewayFactory(
        name="bravo",
        region=north,
        status="degraded",
        tags=["edge"],
        description="",
        public_address="bravo.example.net",
    )
    GatewayFactory(
        name="charlie",
        region=south,
        status="offline",
        tags=["lab"],
        description="Spare unit",
        public_address="2001:db8::7",
    )
    GatewayFactory(
        name="delta",
        region=west,
        status="pending",
        tags=[],
        description="Edge of the campus",
        public_address="",
    )
    return {"north": north, "south": south, "west": west}


class TestSearch:
    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("alpha", ["alpha"]),  # name
            ("ALPHA", ["alpha"]),  # case-insensitive
            ("hall b", ["alpha"]),  # description
            ("spare", ["charlie"]),
            ("203.0.113", ["alpha"]),  # public address
            ("example.net", ["bravo"]),
            ("2001:db8", ["charlie"]),
            ("edge", ["delta"]),  # description only: tags are not searched
            ("a", ["alpha", "bravo", "charlie", "delta"]),
            ("  charlie  ", ["charlie"]),  # surrounding blanks ignored
            ("   ", ["alpha", "bravo", "charlie", "delta"]),  # blank = no filter
            ("zulu", []),
        ],
    )
    def test_q_searches_name_description_and_address(self, fleet, viewer, q, expected):
        assert gateway_names(f"q={q}", viewer) == expected


class TestStatus:
    def test_single(self, fleet, viewer):
        assert gateway_names("status=online", viewer) == ["alpha"]

    def test_multiple_values_are_or(self, fleet, viewer):
        assert gateway_names("status=online&status=offline", viewer) == ["alpha", "charlie"]

    def test_invalid_choice_makes_the_form_invalid(self, fleet, viewer):
        filterset = GatewayFilterSet(
            QueryDict("status=exploded"),
            queryset=Gateway.objects.all(),
            request=request_for(viewer),
        )
        assert not filterset.is_valid()
        assert "status" in filterset.errors
        assert "exploded" in str(filterset.errors["status"])


class TestRegion:
    def test_by_slug(self, fleet, viewer):
        assert gateway_names("region=north", viewer) == ["alpha", "bravo"]

    def test_multiple_slugs_are_or(self, fleet, viewer):
        assert gateway_names("region=south&region=west", viewer) == ["charlie", "delta"]

    def test_unknown_slug_is_invalid(self, fleet, viewer):
        filterset = GatewayFilterSet(
            QueryDict("region=atlantis"),
            queryset=Gateway.objects.all(),
            request=request_for(viewer),
        )
        assert not filterset.is_valid()
        assert "region" in filterset.errors

    def test_offers_only_regions_the_user_may_see(self, fleet, viewer, outsider):
        def choices(user):
            filterset = GatewayFilterSet(queryset=Gateway.objects.all(), request=request_for(user))
            return sorted(r.slug for r in filterset.form.fields["region"].queryset)

        assert choices(viewer) == ["north", "south", "west"]
        assert choices(outsider) == []
        outsider_filter = GatewayFilterSet(
            QueryDict("region=north"),
            queryset=Gateway.objects.all(),
            request=request_for(outsider),
        )
        assert not outsider_filter.is_valid()

    def test_without_a_request_no_region_can_be_chosen(self, fleet):
        filterset = GatewayFilterSet(QueryDict("region=north"), queryset=Gateway.objects.all())
        assert not filterset.is_valid()


class TestTag:
    def test_by_name(self, fleet, viewer):
        assert gateway_names("tag=pci", viewer) == ["alpha"]
        assert gateway_names("tag=edge", viewer) == ["alpha", "bravo"]

    def test_multiple_tags_are_or_without_duplicates(self, fleet, viewer):
        # alpha carries both tags and must still appear once.
        assert gateway_names("tag=edge&tag=pci&tag=lab", viewer) == ["alpha", "bravo", "charlie"]

    def test_unknown_tag_is_invalid(self, fleet, viewer):
        filterset = GatewayFilterSet(
            QueryDict("tag=nope"), queryset=Gateway.objects.all(), request=request_for(viewer)
        )
        assert not filterset.is_valid()
        assert "tag" in filterset.errors


def test_filters_combine_with_and(fleet, viewer):
    assert gateway_names("region=north&status=online&status=degraded&tag=edge", viewer) == [
        "alpha",
        "bravo",
    ]
    assert gateway_names("region=north&status=offline", viewer) == []
    assert gateway_names("region=north&q=bravo&tag=edge", viewer) == ["bravo"]


def test_no_filters_returns_everything(fleet, viewer):
    assert gateway_names("", viewer) == ["alpha", "bravo", "charlie", "delta"]


class TestRegionFilterSet:
    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("nor", ["north"]),
            ("SOUTH", ["south"]),
            ("coast", ["west"]),
            ("", ["north", "south", "west"]),
        ],
    )
    def test_q_searches_name_slug_and_description(self, q, expected):
        RegionFactory(name="North", slug="north", description="")
        RegionFactory(name="South", slug="south", description="")
        RegionFactory(name="Pacific", slug="west", description="West coast sites")
        filterset = RegionFilterSet(QueryDict(f"q={q}"), queryset=Region.objects.all())
        assert filterset.is_valid()
        assert sorted(region.slug for region in filterset.qs) == expected
