"""The Tunnel model: its rules (Tunnel.clean and the database constraints
behind them), its queryset helpers and how its state looks."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.urls import resolve

from console.choices import UNKNOWN_STYLE, StatusStyle
from gateways.models import Gateway
from tests.factories import GatewayFactory, TunnelFactory
from tunnels.choices import TUNNEL_STATE_STYLE, TunnelProtocol, TunnelState
from tunnels.models import Tunnel
from tunnels.validators import parse_subnets


def errors_of(tunnel: Tunnel) -> dict[str, list[str]]:
    """The validation messages of ``full_clean()`` by field ({} when valid)."""
    try:
        tunnel.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def remote_site(gateway, **fields) -> Tunnel:
    values = {
        "name": "to-branch",
        "gateway_a": gateway,
        "remote_address": "203.0.113.50",
        "remote_subnets": "10.50.0.0/16",
        **fields,
    }
    return Tunnel(**values)


class TestChoices:
    def test_protocols(self):
        assert TunnelProtocol.choices == [("wireguard", "WireGuard"), ("ipsec", "IPsec")]

    def test_states_in_order(self):
        assert TunnelState.values == ["unknown", "up", "down", "degraded"]

    def test_every_state_has_a_distinct_style(self):
        assert set(TUNNEL_STATE_STYLE) == set(TunnelState)
        colours = [style.colour for style in TUNNEL_STATE_STYLE.values()]
        assert len(set(colours)) == len(colours)

    @pytest.mark.parametrize(
        ("state", "colour"),
        [("unknown", "muted"), ("up", "ok"), ("down", "danger"), ("degraded", "warn")],
    )
    def test_state_style_comes_from_choices(self, state, colour):
        style = Tunnel(state=state).state_style
        assert isinstance(style, StatusStyle)
        assert style is TUNNEL_STATE_STYLE[state]
        assert style.colour == colour

    def test_an_unknown_value_gets_the_unknown_style(self):
        assert Tunnel(state="exploded").state_style == UNKNOWN_STYLE

    def test_defaults(self):
        tunnel = Tunnel()
        assert tunnel.state == TunnelState.UNKNOWN
        assert tunnel.protocol == TunnelProtocol.WIREGUARD
        assert tunnel.enabled is True
        assert tunnel.mtu == 1420
        assert (tunnel.rx_bytes, tunnel.tx_bytes) == (0, 0)
        assert (tunnel.latency_ms, tunnel.last_handshake, tunnel.state_changed) == (None,) * 3


@pytest.mark.django_db
class TestIdentity:
    def test_str_is_the_name(self):
        assert str(Tunnel(name="fra-ams")) == "fra-ams"

    def test_absolute_url_uses_the_uuid(self):
        tunnel = TunnelFactory()
        url = tunnel.get_absolute_url()
        assert url == f"/tunnels/{tunnel.uuid}/"
        assert resolve(url).url_name == "tunnel_detail"
        assert str(tunnel.pk) not in url.split("/")

    def test_far_end_label(self):
        between = TunnelFactory(gateway_b__name="gw-far")
        site = TunnelFactory(gateway_b=None, remote_address="vpn.example.org")
        assert between.far_end_label == "gw-far"
        assert not between.is_remote_site
        assert site.far_end_label == "vpn.example.org"
        assert site.is_remote_site

    def test_remote_subnet_list(self):
        tunnel = Tunnel(remote_subnets="10.0.0.0/8, 2001:db8::/32,")
        assert tunnel.remote_subnet_list == ["10.0.0.0/8", "2001:db8::/32"]
        assert Tunnel().remote_subnet_list == []


@pytest.mark.django_db
class TestGatewayEnds:
    def test_a_tunnel_between_two_gateways_is_valid(self):
        a, b = GatewayFactory.create_batch(2)
        assert errors_of(Tunnel(name="a-b", gateway_a=a, gateway_b=b)) == {}

    def test_not_to_itself(self):
        gateway = GatewayFactory()
        errors = errors_of(Tunnel(name="loop", gateway_a=gateway, gateway_b=gateway))
        assert errors == {"gateway_b": ["A tunnel cannot connect a gateway to itself."]}

    @pytest.mark.parametrize("reverse", [False, True], ids=["same-direction", "reversed"])
    def test_one_tunnel_per_pair_in_either_direction(self, reverse):
        existing = TunnelFactory(name="first")
        a, b = existing.gateway_a, existing.gateway_b
        if reverse:
            a, b = b, a
        errors = errors_of(Tunnel(name="second", gateway_a=a, gateway_b=b))
        assert set(errors) == {"gateway_b"}
        assert "already have a tunnel: first" in errors["gateway_b"][0]

    def test_saving_a_tunnel_again_is_not_a_duplicate_of_itself(self):
        tunnel = TunnelFactory()
        tunnel.mtu = 1380
        assert errors_of(tunnel) == {}

    def test_swapping_the_ends_of_a_tunnel_is_allowed(self):
        tunnel = TunnelFactory()
        tunnel.gateway_a, tunnel.gateway_b = tunnel.gateway_b, tunnel.gateway_a
        assert errors_of(tunnel) == {}
        tunnel.save()

    def test_a_gateway_may_have_tunnels_to_several_others(self):
        hub = GatewayFactory()
        TunnelFactory(gateway_a=hub)
        TunnelFactory(gateway_b=hub)
        assert errors_of(Tunnel(name="third", gateway_a=hub, gateway_b=GatewayFactory())) == {}

    def test_remote_fields_are_refused_with_gateway_b(self):
        a, b = GatewayFactory.create_batch(2)
        errors = errors_of(
            Tunnel(
                name="both",
                gateway_a=a,
                gateway_b=b,
                remote_address="203.0.113.9",
                remote_subnets="10.0.0.0/8",
            )
        )
        assert set(errors) == {"remote_address", "remote_subnets"}
        assert "not both" in errors["remote_address"][0]

    def test_gateway_a_is_required(self):
        errors = errors_of(Tunnel(name="orphan", gateway_b=GatewayFactory()))
        assert set(errors) == {"gateway_a"}


@pytest.mark.django_db
class TestRemoteSite:
    def test_address_and_subnets_are_enough(self):
        assert errors_of(remote_site(GatewayFactory())) == {}

    def test_a_host_name_or_ipv6_address_will_do(self):
        gateway = GatewayFactory()
        assert errors_of(remote_site(gateway, remote_address="vpn.example.org")) == {}
        assert errors_of(remote_site(gateway, remote_address="2001:db8::9")) == {}

    def test_needs_an_address(self):
        errors = errors_of(remote_site(GatewayFactory(), remote_address=""))
        assert set(errors) == {"remote_address"}
        assert "Choose gateway B, or give the address" in errors["remote_address"][0]

    @pytest.mark.parametrize("subnets", ["", "  ", " , ,"])
    def test_needs_at_least_one_subnet(self, subnets):
        errors = errors_of(remote_site(GatewayFactory(), remote_subnets=subnets))
        assert errors == {"remote_subnets": ["Give at least one network behind the remote site."]}

    def test_neither_gateway_b_nor_anything_remote(self):
        errors = errors_of(Tunnel(name="nowhere", gateway_a=GatewayFactory()))
        assert set(errors) == {"remote_address", "remote_subnets"}

    def test_bad_address(self):
        errors = errors_of(remote_site(GatewayFactory(), remote_address="999.1.1.1"))
        assert set(errors) == {"remote_address"}

    @pytest.mark.parametrize(
        "subnets", ["10.0.0.0/33", "10.0.0/8", "banana", "10.0.0.0/8, nope", "2001:db8::/129"]
    )
    def test_bad_cidr_is_named(self, subnets):
        errors = errors_of(remote_site(GatewayFactory(), remote_subnets=subnets))
        assert set(errors) == {"remote_subnets"}
        assert "is not a network" in errors["remote_subnets"][0]

    def test_subnets_are_stored_in_one_spelling(self):
        tunnel = remote_site(
            GatewayFactory(), remote_subnets=" 10.1.2.3/16,2001:DB8::1/48 ,, 10.1.0.0/16"
        )
        tunnel.full_clean()
        # Host bits dropped (strict=False), lower case, duplicates once, ", " between.
        assert tunnel.remote_subnets == "10.1.0.0/16, 2001:db8::/48"

    def test_several_tunnels_may_reach_remote_sites_from_one_gateway(self):
        gateway = GatewayFactory()
        remote_site(gateway).save()
        assert errors_of(remote_site(gateway, name="second")) == {}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mtu", "error"),
    [
        (575, "greater than or equal to 576"),
        (576, None),
        (1420, None),
        (9000, None),
        (9001, "less than or equal to 9000"),
    ],
)
def test_mtu_range(mtu, error):
    a, b = GatewayFactory.create_batch(2)
    errors = errors_of(Tunnel(name="mtu", gateway_a=a, gateway_b=b, mtu=mtu))
    if error is None:
        assert errors == {}
    else:
        assert set(errors) == {"mtu"}
        assert error in errors["mtu"][0]


@pytest.mark.django_db
def test_names_are_unique_and_checked_like_gateway_names():
    existing = TunnelFactory(name="fra-ams")
    a, b = GatewayFactory.create_batch(2)
    assert set(errors_of(Tunnel(name="fra-ams", gateway_a=a, gateway_b=b))) == {"name"}
    assert set(errors_of(Tunnel(name="fra ams", gateway_a=a, gateway_b=b))) == {"name"}
    assert existing.pk


def test_parse_subnets():
    assert [str(n) for n in parse_subnets("10.0.0.1/24, ::/0")] == ["10.0.0.0/24", "::/0"]
    assert parse_subnets("") == []


@pytest.mark.django_db(transaction=True)
class TestDatabaseConstraints:
    """What holds even when clean() is skipped (bulk writes, races)."""

    def test_a_gateway_cannot_tunnel_to_itself(self):
        gateway = GatewayFactory()
        with pytest.raises(IntegrityError), transaction.atomic():
            Tunnel.objects.create(name="loop", gateway_a=gateway, gateway_b=gateway)

    @pytest.mark.parametrize("reverse", [False, True], ids=["same-direction", "reversed"])
    def test_one_tunnel_per_pair(self, reverse):
        existing = TunnelFactory()
        a, b = existing.gateway_a, existing.gateway_b
        if reverse:
            a, b = b, a
        with pytest.raises(IntegrityError), transaction.atomic():
            Tunnel.objects.create(name="again", gateway_a=a, gateway_b=b)
        assert Tunnel.objects.count() == 1

    def test_far_end_is_a_gateway_or_a_site(self):
        a, b = GatewayFactory.create_batch(2)
        with pytest.raises(IntegrityError), transaction.atomic():
            Tunnel.objects.create(name="nowhere", gateway_a=a)
        with pytest.raises(IntegrityError), transaction.atomic():
            Tunnel.objects.create(name="both", gateway_a=a, gateway_b=b, remote_address="x.org")
        Tunnel.objects.create(name="site", gateway_a=a, remote_address="x.org")
        Tunnel.objects.create(name="site-2", gateway_a=a, remote_address="y.org")


@pytest.mark.django_db
class TestProtection:
    @pytest.mark.parametrize("end", ["gateway_a", "gateway_b"])
    def test_a_gateway_with_tunnels_cannot_be_deleted(self, end):
        tunnel = TunnelFactory()
        gateway = getattr(tunnel, end)
        with pytest.raises(ProtectedError):
            gateway.delete()
        assert Gateway.objects.filter(pk=gateway.pk).exists()
        assert Tunnel.objects.filter(pk=tunnel.pk).exists()

    def test_deleting_the_tunnel_frees_the_gateways(self):
        tunnel = TunnelFactory()
        a, b = tunnel.gateway_a, tunnel.gateway_b
        tunnel.delete()
        a.delete()
        b.delete()
        assert not Gateway.objects.exists()


@pytest.mark.django_db
class TestForGateway:
    def test_either_end_enabled_only(self):
        hub = GatewayFactory(name="hub")
        as_a = TunnelFactory(name="as-a", gateway_a=hub)
        as_b = TunnelFactory(name="as-b", gateway_b=hub)
        site = TunnelFactory(
            name="site", gateway_a=hub, gateway_b=None, remote_address="203.0.113.5"
        )
        TunnelFactory(name="disabled", gateway_a=hub, enabled=False)
        TunnelFactory(name="elsewhere")

        assert set(Tunnel.objects.for_gateway(hub)) == {as_a, as_b, site}
        assert set(Tunnel.objects.with_gateway(hub).values_list("name", flat=True)) == {
            "as-a",
            "as-b",
            "site",
            "disabled",
        }

    def test_a_gateway_without_tunnels_gets_none(self):
        TunnelFactory()
        assert not Tunnel.objects.for_gateway(GatewayFactory()).exists()

    def test_is_one_query_and_chains_with_restrict(self, viewer, django_assert_num_queries):
        hub = GatewayFactory()
        TunnelFactory.create_batch(3, gateway_a=hub)
        # Load and cache the permissions and the region scope (once a request).
        Tunnel.objects.restrict(viewer)
        with django_assert_num_queries(1):
            assert len(Tunnel.objects.restrict(viewer).for_gateway(hub)) == 3


@pytest.mark.django_db
class TestStateSummary:
    def test_counts_every_state_in_choice_order(self):
        for state in ("up", "up", "down", "degraded", "up"):
            TunnelFactory(state=state)
        summary = Tunnel.objects.state_summary()
        assert [entry["value"] for entry in summary] == TunnelState.values
        assert {e["value"]: e["count"] for e in summary} == {
            "unknown": 0,
            "up": 3,
            "down": 1,
            "degraded": 1,
        }
        assert summary[1]["label"] == "Up"
        assert summary[1]["style"] == TUNNEL_STATE_STYLE[TunnelState.UP]

    def test_counts_only_its_queryset_in_one_query(self, django_assert_num_queries):
        hub = GatewayFactory()
        TunnelFactory(gateway_a=hub, state="down")
        TunnelFactory(state="down")
        with django_assert_num_queries(1):
            summary = Tunnel.objects.for_gateway(hub).state_summary()
        assert sum(entry["count"] for entry in summary) == 1


@pytest.mark.django_db
class TestRestrict:
    def test_follows_the_tunnel_permissions(self, viewer, operator, outsider):
        TunnelFactory()
        assert Tunnel.objects.restrict(viewer, "view").count() == 1
        assert not Tunnel.objects.restrict(viewer, "change").exists()
        assert Tunnel.objects.restrict(operator, "delete").exists()
        assert not Tunnel.objects.restrict(outsider, "view").exists()
        assert not Tunnel.objects.restrict(AnonymousUser(), "view").exists()
