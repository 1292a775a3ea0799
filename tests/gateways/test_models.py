import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.urls import resolve

from console.choices import UNKNOWN_STYLE, StatusStyle
from gateways.choices import GATEWAY_STATUS_STYLE, REPORTING_STATUSES, GatewayStatus
from gateways.models import Gateway, Region, gateway_name_validator
from gateways.validators import validate_address
from tests.factories import GatewayFactory, RegionFactory


class TestRegion:
    def test_str_is_the_name(self):
        assert str(Region(name="Frankfurt DC", slug="fra")) == "Frankfurt DC"

    @pytest.mark.django_db
    def test_absolute_url_uses_the_uuid_not_the_pk(self):
        region = RegionFactory()
        url = region.get_absolute_url()
        assert url == f"/regions/{region.uuid}/"
        assert resolve(url).url_name == "region_detail"
        assert resolve(url).kwargs == {"uuid": region.uuid}

    @pytest.mark.django_db
    def test_cannot_be_deleted_while_it_has_gateways(self):
        gateway = GatewayFactory()
        with pytest.raises(ProtectedError):
            gateway.region.delete()
        assert Region.objects.filter(pk=gateway.region.pk).exists()

    @pytest.mark.django_db
    def test_uuid_is_random_per_object(self):
        first, second = RegionFactory.create_batch(2)
        assert first.uuid != second.uuid


class TestGateway:
    def test_str_is_the_name(self):
        assert str(Gateway(name="gw-fra-01")) == "gw-fra-01"

    @pytest.mark.django_db
    def test_absolute_url_uses_the_uuid_not_the_pk(self):
        gateway = GatewayFactory()
        url = gateway.get_absolute_url()
        assert url == f"/gateways/{gateway.uuid}/"
        assert str(gateway.pk) not in url.split("/")
        assert resolve(url).kwargs == {"uuid": gateway.uuid}

    def test_new_gateway_is_pending(self):
        assert Gateway().status == GatewayStatus.PENDING

    @pytest.mark.parametrize("status", list(GatewayStatus))
    def test_status_style_comes_from_choices(self, status):
        style = Gateway(status=status).status_style
        assert style is GATEWAY_STATUS_STYLE[status]
        assert isinstance(style, StatusStyle)

    def test_every_status_has_a_distinct_style(self):
        assert set(GATEWAY_STATUS_STYLE) == set(GatewayStatus)
        colours = [style.colour for style in GATEWAY_STATUS_STYLE.values()]
        assert len(set(colours)) == len(colours)

    def test_offline_and_online_look_as_documented(self):
        assert Gateway(status="online").status_style == StatusStyle("ok", "circle-check")
        assert Gateway(status="offline").status_style == StatusStyle("danger", "circle-x")

    def test_unknown_status_gets_the_unknown_style(self):
        assert Gateway(status="exploded").status_style == UNKNOWN_STYLE

    def test_reporting_statuses_are_online_and_degraded(self):
        assert set(REPORTING_STATUSES) == {GatewayStatus.ONLINE, GatewayStatus.DEGRADED}


@pytest.mark.django_db
class TestStatusSummary:
    def test_counts_every_status_in_choice_order(self):
        region = RegionFactory()
        for status in ("online", "online", "online", "offline", "maintenance"):
            GatewayFactory(region=region, status=status)

        summary = Gateway.objects.status_summary()

        assert [entry["value"] for entry in summary] == list(GatewayStatus.values)
        assert {entry["value"]: entry["count"] for entry in summary} == {
            "pending": 0,
            "online": 3,
            "degraded": 0,
            "offline": 1,
            "maintenance": 1,
        }
        online = summary[1]
        assert online["label"] == "Online"
        assert online["style"] == GATEWAY_STATUS_STYLE[GatewayStatus.ONLINE]

    def test_counts_only_the_queryset_it_is_called_on(self):
        north, south = RegionFactory.create_batch(2)
        GatewayFactory.create_batch(2, region=north, status="online")
        GatewayFactory(region=south, status="online")
        GatewayFactory(region=south, status="degraded")

        counts = {
            e["value"]: e["count"] for e in Gateway.objects.filter(region=south).status_summary()
        }

        assert counts["online"] == 1
        assert counts["degraded"] == 1
        assert sum(counts.values()) == 2

    def test_empty_fleet_counts_zero_everywhere(self):
        summary = Gateway.objects.status_summary()
        assert len(summary) == len(GatewayStatus)
        assert all(entry["count"] == 0 for entry in summary)

    def test_is_one_query(self, django_assert_num_queries):
        GatewayFactory.create_batch(3, status="online")
        with django_assert_num_queries(1):
            Gateway.objects.status_summary()


@pytest.mark.django_db
class TestRestrict:
    def test_user_with_view_permission_sees_everything(self, viewer):
        GatewayFactory.create_batch(2)
        assert Gateway.objects.restrict(viewer, "view").count() == 2
        assert Region.objects.restrict(viewer, "view").count() == 2

    def test_permission_is_checked_per_action(self, viewer, operator):
        GatewayFactory()
        assert not Gateway.objects.restrict(viewer, "change").exists()
        assert Gateway.objects.restrict(operator, "change").exists()

    @pytest.mark.parametrize("who", ["outsider", "anonymous", "nobody"])
    def test_others_see_nothing(self, request, who):
        GatewayFactory()
        user = {
            "outsider": lambda: request.getfixturevalue("outsider"),
            "anonymous": AnonymousUser,
            "nobody": lambda: None,
        }[who]()
        assert not Gateway.objects.restrict(user, "view").exists()

    def test_inactive_user_sees_nothing(self, viewer):
        GatewayFactory()
        viewer.is_active = False
        assert not Gateway.objects.restrict(viewer, "view").exists()


class TestAddressValidator:
    @pytest.mark.parametrize(
        "value",
        [
            "203.0.113.7",
            "10.0.0.1",
            "2001:db8::1",
            "::1",
            "fe80::1ff:fe23:4567:890a",
            "gw.example.net",
            "gw.example.net.",
            "localhost",
            "gw-01.fra.example.com",
            "1e100.net",
            "a" * 63 + ".example.com",
        ],
    )
    def test_accepts_ip_addresses_and_host_names(self, value):
        validate_address(value)  # does not raise

    @pytest.mark.parametrize(
        "value",
        [
            "not an address!",
            "999.1.1.1",
            "256.256.256.256",
            "1.2.3",
            "12345",
            "-bad-.com",
            "bad-.example.com",
            "gw..example.com",
            "gw_01.example.com",
            "a" * 64 + ".example.com",
            "2001:db8::zz",
            "http://gw.example.net",
            "",
        ],
    )
    def test_rejects_anything_else(self, value):
        with pytest.raises(ValidationError) as excinfo:
            validate_address(value)
        assert excinfo.value.code == "invalid_address"

    @pytest.mark.django_db
    def test_model_validation_reports_it_on_the_field(self):
        gateway = GatewayFactory.build(region=RegionFactory(), public_address="999.1.1.1")
        with pytest.raises(ValidationError) as excinfo:
            gateway.full_clean()
        assert set(excinfo.value.message_dict) == {"public_address"}

    @pytest.mark.django_db
    def test_address_may_be_blank(self):
        GatewayFactory.build(region=RegionFactory(), public_address="").full_clean()


class TestNameValidator:
    @pytest.mark.parametrize("value", ["gw-01", "GW01", "edge_fra.01", "0gw", "a"])
    def test_accepts(self, value):
        gateway_name_validator(value)

    @pytest.mark.parametrize(
        "value", ["-gw", ".gw", "_gw", "gw 01", "gw/01", "gw<01>", "gwé", "gw:1", ""]
    )
    def test_rejects(self, value):
        with pytest.raises(ValidationError):
            gateway_name_validator(value)

    @pytest.mark.django_db
    def test_model_validation_uses_it(self):
        gateway = GatewayFactory.build(region=RegionFactory(), name="gw 01")
        with pytest.raises(ValidationError) as excinfo:
            gateway.full_clean()
        assert set(excinfo.value.message_dict) == {"name"}

    @pytest.mark.django_db
    def test_names_are_unique(self):
        existing = GatewayFactory()
        duplicate = GatewayFactory.build(region=existing.region, name=existing.name)
        with pytest.raises(ValidationError) as excinfo:
            duplicate.full_clean()
        assert "name" in excinfo.value.message_dict


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("capacity", "valid"),
    [(0, False), (1, True), (1_000_000, True), (1_000_001, False), (None, True)],
)
def test_capacity_bounds(capacity, valid):
    gateway = GatewayFactory.build(region=RegionFactory(), capacity_mbps=capacity)
    if valid:
        gateway.full_clean()
    else:
        with pytest.raises(ValidationError) as excinfo:
            gateway.full_clean()
        assert set(excinfo.value.message_dict) == {"capacity_mbps"}
