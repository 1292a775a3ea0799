"""The REST API under /api/v1/: regions and gateways, looked up by UUID."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.utils import timezone

from gateways.models import Gateway, Region
from tests.conftest import ROLES
from tests.factories import GatewayFactory, RegionFactory, make_fleet

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_throttles")]

REGIONS = "/api/v1/regions/"
GATEWAYS = "/api/v1/gateways/"


def snapshot() -> tuple:
    """Everything an API call could change, to prove a refused call changed nothing."""
    return (
        sorted(Region.objects.values_list("uuid", "name", "slug", "description")),
        sorted(
            Gateway.objects.values_list(
                "uuid",
                "name",
                "region_id",
                "public_address",
                "capacity_mbps",
                "status",
                "description",
            )
        ),
        sorted(Gateway.tags.through.objects.values_list("object_id", "tag__name")),
    )


# --- Who may do what ------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    endpoint: str  # "regions" or "gateways"
    detail: bool  # on one object (by UUID) rather than the collection

    def url(self, objects) -> str:
        base = REGIONS if self.endpoint == "regions" else GATEWAYS
        if not self.detail:
            return base
        target = objects["empty_region"] if self.endpoint == "regions" else objects["gateway"]
        return f"{base}{target.uuid}/"

    def payload(self, objects) -> dict | None:
        if self.method in ("get", "delete"):
            return None
        if self.endpoint == "regions":
            return {"name": "Created", "slug": "created", "description": "via API"}
        return {"name": "gw-api", "region": objects["region"].slug, "tags": ["edge"]}

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.endpoint}{'/<uuid>' if self.detail else ''}"


CALLS = [
    Call(method, endpoint, detail)
    for endpoint in ("regions", "gateways")
    for method, detail in [
        ("get", False),
        ("post", False),
        ("get", True),
        ("put", True),
        ("patch", True),
        ("delete", True),
    ]
]
SUCCESS = {"get": 200, "post": 201, "put": 200, "patch": 200, "delete": 204}


def expected_status(role: str, call: Call) -> int:
    if role in ("operator", "admin"):
        return SUCCESS[call.method]
    if role == "viewer" and call.method == "get":
        return 200
    return 403


@pytest.fixture
def objects():
    gateway = GatewayFactory(name="gw-existing", tags=["lab"])
    return {"gateway": gateway, "region": gateway.region, "empty_region": RegionFactory()}


@pytest.mark.parametrize("call", CALLS, ids=str)
@pytest.mark.parametrize("role", ROLES)
def test_api_access(api_as, objects, role, call):
    before = snapshot()
    response = getattr(api_as(role), call.method)(call.url(objects), call.payload(objects))

    assert response.status_code == expected_status(role, call), response.content[:300]
    if response.status_code == 403:
        # JSON for every caller, never a redirect to the login page.
        assert response["Content-Type"] == "application/json"
        assert "detail" in response.json()
        assert snapshot() == before
    if call.method == "get":
        assert snapshot() == before


def test_api_root_lists_every_collection(viewer_api):
    """Every app's router is in the root (other apps add their own)."""
    from console.api.urls import APP_ROUTERS

    body = viewer_api.get("/api/v1/").json()
    expected = {prefix for router in APP_ROUTERS for prefix, _view, _name in router.registry}
    assert set(body) == expected
    assert body["gateways"] == "http://testserver/api/v1/gateways/"
    assert {"regions", "gateways", "tunnels"} <= set(body)


@pytest.mark.parametrize("endpoint", [REGIONS, GATEWAYS])
def test_lookup_is_by_uuid_not_pk(operator_api, objects, endpoint):
    target = objects["region"] if endpoint == REGIONS else objects["gateway"]
    assert operator_api.get(f"{endpoint}{target.uuid}/").status_code == 200
    assert operator_api.get(f"{endpoint}{target.pk}/").status_code == 404
    assert operator_api.get(f"{endpoint}{uuid.uuid4()}/").status_code == 404


# --- Regions -----------------------------------------------------------------------------


class TestRegionCrud:
    def test_create_read_update_delete(self, operator_api):
        created = operator_api.post(REGIONS, {"name": "Vienna", "slug": "vie"})
        assert created.status_code == 201
        body = created.json()
        region = Region.objects.get(slug="vie")
        assert body["id"] == str(region.uuid)
        assert body["url"] == f"http://testserver{REGIONS}{region.uuid}/"
        assert body["name"] == "Vienna"
        assert "pk" not in body

        detail = f"{REGIONS}{region.uuid}/"
        assert operator_api.get(detail).json()["slug"] == "vie"

        put = operator_api.put(detail, {"name": "Wien", "slug": "wien", "description": "AT"})
        assert put.status_code == 200
        region.refresh_from_db()
        assert (region.name, region.slug, region.description) == ("Wien", "wien", "AT")

        patch = operator_api.patch(detail, {"description": "Austria"})
        assert patch.status_code == 200
        region.refresh_from_db()
        assert (region.name, region.description) == ("Wien", "Austria")

        assert operator_api.delete(detail).status_code == 204
        assert not Region.objects.filter(pk=region.pk).exists()

    def test_delete_with_gateways_is_409_and_deletes_nothing(self, operator_api):
        region = RegionFactory()
        GatewayFactory.create_batch(2, region=region)
        before = snapshot()

        response = operator_api.delete(f"{REGIONS}{region.uuid}/")

        assert response.status_code == 409
        assert "gateways" in response.json()["detail"]
        assert snapshot() == before

    @pytest.mark.parametrize(
        ("payload", "fields"),
        [
            ({"name": "Taken", "slug": "new"}, {"name"}),
            ({"name": "New", "slug": "taken"}, {"slug"}),
            ({"name": "New", "slug": "not a slug"}, {"slug"}),
            ({"slug": "new"}, {"name"}),
        ],
    )
    def test_validation_errors_are_400(self, operator_api, payload, fields):
        RegionFactory(name="Taken", slug="taken")
        before = snapshot()
        response = operator_api.post(REGIONS, payload)
        assert response.status_code == 400
        assert set(response.json()) == fields
        assert snapshot() == before

    def test_search_and_ordering(self, viewer_api):
        RegionFactory(name="Alpha", slug="alpha")
        RegionFactory(name="Bravo", slug="bravo", description="hub")
        RegionFactory(name="Charlie", slug="charlie")
        names = lambda url: [r["name"] for r in viewer_api.get(url).json()["results"]]  # noqa: E731
        assert names(REGIONS + "?ordering=-name") == ["Charlie", "Bravo", "Alpha"]
        assert names(REGIONS + "?q=hub") == ["Bravo"]
        assert names(REGIONS + "?slug=alpha") == ["Alpha"]


# --- Gateways ------------------------------------------------------------------------------


class TestGatewayCrud:
    def test_create_with_region_slug_and_tag_list(self, operator_api):
        region = RegionFactory(slug="fra")

        response = operator_api.post(
            GATEWAYS,
            {
                "name": "gw-fra-01",
                "region": "fra",
                "tags": ["edge", "pci"],
                "public_address": "2001:db8::1",
                "capacity_mbps": 2500,
            },
        )

        assert response.status_code == 201, response.json()
        gateway = Gateway.objects.get(name="gw-fra-01")
        assert gateway.region == region
        assert sorted(gateway.tags.names()) == ["edge", "pci"]
        assert gateway.capacity_mbps == 2500
        body = response.json()
        assert body["id"] == str(gateway.uuid)
        assert body["url"] == f"http://testserver{GATEWAYS}{gateway.uuid}/"
        assert body["region"] == "fra"
        assert sorted(body["tags"]) == ["edge", "pci"]
        assert body["status"] == "pending"
        assert body["last_seen"] is None

    def test_read(self, viewer_api):
        gateway = GatewayFactory(name="gw-read", tags=["edge", "eu"], region__slug="lis")
        body = viewer_api.get(f"{GATEWAYS}{gateway.uuid}/").json()
        assert body["name"] == "gw-read"
        assert body["region"] == "lis"
        assert sorted(body["tags"]) == ["edge", "eu"]
        assert set(body) == {
            "id",
            "url",
            "name",
            "region",
            "tags",
            "description",
            "public_address",
            "software_version",
            "capacity_mbps",
            "status",
            "last_seen",
            "created",
            "updated",
        }

    def test_put_patch_delete(self, operator_api):
        gateway = GatewayFactory(name="gw-old", tags=["lab"])
        other = RegionFactory(slug="other")
        url = f"{GATEWAYS}{gateway.uuid}/"

        put = operator_api.put(url, {"name": "gw-new", "region": "other", "tags": ["edge"]})
        assert put.status_code == 200, put.json()
        gateway.refresh_from_db()
        assert (gateway.name, gateway.region) == ("gw-new", other)
        assert list(gateway.tags.names()) == ["edge"]

        patch = operator_api.patch(url, {"public_address": "gw.example.net"})
        assert patch.status_code == 200
        gateway.refresh_from_db()
        assert gateway.public_address == "gw.example.net"
        assert gateway.name == "gw-new"
        assert list(gateway.tags.names()) == ["edge"]  # untouched by a PATCH without tags

        assert operator_api.delete(url).status_code == 204
        assert not Gateway.objects.filter(pk=gateway.pk).exists()

    def test_status_and_last_seen_are_read_only(self, operator_api):
        region = RegionFactory(slug="ro")
        seen = "2020-01-01T00:00:00Z"
        created = operator_api.post(
            GATEWAYS, {"name": "gw-ro", "region": "ro", "status": "online", "last_seen": seen}
        )
        assert created.status_code == 201
        gateway = Gateway.objects.get(name="gw-ro")
        assert (gateway.status, gateway.last_seen) == ("pending", None)

        gateway.status, gateway.last_seen = "online", timezone.now()
        gateway.save()
        patched = operator_api.patch(
            f"{GATEWAYS}{gateway.uuid}/", {"status": "offline", "last_seen": seen}
        )
        assert patched.status_code == 200
        assert patched.json()["status"] == "online"
        before_seen = gateway.last_seen
        gateway.refresh_from_db()
        assert gateway.status == "online"
        assert gateway.last_seen == before_seen
        assert gateway.region == region

    @pytest.mark.parametrize(
        ("change", "fields"),
        [
            ({"public_address": "not an address!"}, {"public_address"}),
            ({"public_address": "999.1.1.1"}, {"public_address"}),
            ({"region": "atlantis"}, {"region"}),
            ({"name": "gw-taken"}, {"name"}),
            ({"name": "bad name"}, {"name"}),
            ({"capacity_mbps": 0}, {"capacity_mbps"}),
            (
                {"capacity_mbps": 0, "public_address": "-bad-.com"},
                {"capacity_mbps", "public_address"},
            ),
            ({"name": None, "region": None}, {"name", "region"}),
        ],
    )
    def test_validation_errors_are_400_with_field_names(self, operator_api, change, fields):
        GatewayFactory(name="gw-taken", region__slug="home")
        payload = {"name": "gw-new", "region": "home", "tags": ["edge"], **change}
        before = snapshot()

        response = operator_api.post(GATEWAYS, payload)

        assert response.status_code == 400
        assert set(response.json()) == fields
        assert snapshot() == before

    def test_invalid_patch_changes_nothing(self, operator_api):
        gateway = GatewayFactory(capacity_mbps=100)
        before = snapshot()
        response = operator_api.patch(
            f"{GATEWAYS}{gateway.uuid}/", {"capacity_mbps": 0, "tags": ["x"]}
        )
        assert response.status_code == 400
        assert "capacity_mbps" in response.json()
        assert snapshot() == before


# --- Listing: filters, ordering, pagination -------------------------------------------------


@pytest.fixture
def fleet():
    north = RegionFactory(name="North", slug="north")
    south = RegionFactory(name="South", slug="south")
    GatewayFactory(
        name="alpha", region=north, status="online", tags=["edge", "pci"], description="core"
    )
    GatewayFactory(
        name="bravo",
        region=north,
        status="degraded",
        tags=["edge"],
        public_address="bravo.example.net",
    )
    GatewayFactory(name="charlie", region=south, status="online", tags=["lab"])
    GatewayFactory(name="delta", region=south, status="offline", tags=[])


def names(client, query: str = "") -> list[str]:
    response = client.get(f"{GATEWAYS}?{query}")
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["results"]]


class TestGatewayListing:
    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("", ["alpha", "bravo", "charlie", "delta"]),
            ("status=online", ["alpha", "charlie"]),
            ("status=online&status=offline", ["alpha", "charlie", "delta"]),
            ("region=north", ["alpha", "bravo"]),
            ("region=north&region=south", ["alpha", "bravo", "charlie", "delta"]),
            ("q=core", ["alpha"]),
            ("q=example.net", ["bravo"]),
            ("tag=edge", ["alpha", "bravo"]),
            ("tag=pci&tag=lab", ["alpha", "charlie"]),
            ("region=north&status=degraded&tag=edge", ["bravo"]),
        ],
    )
    def test_filters(self, viewer_api, fleet, query, expected):
        assert names(viewer_api, query) == expected

    @pytest.mark.parametrize(
        ("query", "field"),
        [("status=bogus", "status"), ("region=atlantis", "region"), ("tag=nope", "tag")],
    )
    def test_invalid_filter_is_400(self, viewer_api, fleet, query, field):
        response = viewer_api.get(f"{GATEWAYS}?{query}")
        assert response.status_code == 400
        assert field in response.json()

    def test_ordering(self, viewer_api, fleet):
        assert names(viewer_api, "ordering=-name") == ["delta", "charlie", "bravo", "alpha"]
        assert names(viewer_api, "ordering=status,name") == ["bravo", "delta", "alpha", "charlie"]

    def test_ordering_by_an_unlisted_field_is_ignored(self, viewer_api, fleet):
        assert names(viewer_api, "ordering=-description") == ["alpha", "bravo", "charlie", "delta"]

    def test_pagination(self, viewer_api, fleet):
        first = viewer_api.get(f"{GATEWAYS}?page_size=3").json()
        assert first["count"] == 4
        assert [g["name"] for g in first["results"]] == ["alpha", "bravo", "charlie"]
        assert first["previous"] is None
        assert first["next"] == f"http://testserver{GATEWAYS}?page=2&page_size=3"

        second = viewer_api.get(first["next"]).json()
        assert [g["name"] for g in second["results"]] == ["delta"]
        assert second["next"] is None
        assert second["previous"] is not None

    def test_default_page_is_50(self, viewer_api):
        make_fleet(51, regions=1)
        body = viewer_api.get(GATEWAYS).json()
        assert body["count"] == 51
        assert len(body["results"]) == 50
        assert body["next"].endswith("?page=2")


# --- Schema and docs ------------------------------------------------------------------


def test_schema_lists_the_endpoints(viewer_api):
    response = viewer_api.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/gateways/",
        "/api/v1/gateways/{id}/",
        "/api/v1/regions/",
        "/api/v1/regions/{id}/",
    ):
        assert path in schema["paths"] or path.replace("{id}", "{uuid}") in schema["paths"]
    parameters = {p["name"]: p["schema"] for p in schema["paths"][GATEWAYS]["get"]["parameters"]}
    for name in ("region", "tag", "status"):
        assert parameters[name]["type"] == "array"
        assert parameters[name]["items"]["type"] == "string"
    gateway = schema["components"]["schemas"]["Gateway"]
    assert {"status", "last_seen"} <= set(gateway["properties"])
    assert gateway["properties"]["status"].get("readOnly") is True


def test_schema_default_format(viewer_api):
    response = viewer_api.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/gateways/" in response.content
    assert b"/api/v1/regions/" in response.content


def test_schema_is_refused_to_anonymous_callers_as_json(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 403
    assert response["Content-Type"].endswith("json")
    assert set(response.json()) == {"detail"}


def test_docs_send_anonymous_visitors_to_sign_in(client):
    for url in ("/api/docs/", "/api/docs/?script="):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=/api/docs/")


def test_docs_render_for_a_signed_in_user(viewer_client):
    response = viewer_client.get("/api/docs/")
    assert response.status_code == 200
    assert "swagger-ui" in response.content.decode()
    # The start-up script is served by the same view and points at the schema.
    script = viewer_client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


# --- Query counts -----------------------------------------------------------------------------

# Measured: 6 (gateways, regions joined and tags prefetched) and 5 (regions).
API_QUERY_BOUNDS = {
    GATEWAYS: 8,
    REGIONS: 7,
    f"{GATEWAYS}?status=online&tag=edge": 9,
}


@pytest.mark.parametrize("url", list(API_QUERY_BOUNDS))
def test_list_queries_do_not_grow_with_the_fleet(operator_api, count_queries, url):
    make_fleet(5, regions=2)
    small = count_queries(operator_api, url)
    make_fleet(45, regions=4)
    assert Gateway.objects.count() == 50
    large = count_queries(operator_api, url)
    assert large == small
    assert large <= API_QUERY_BOUNDS[url]
