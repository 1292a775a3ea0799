import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from gateways.models import Gateway, Region
from tunnels.models import Tunnel


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"Region {n}")
    slug = factory.Sequence(lambda n: f"region-{n}")
    # Fixed words: random text could match the search terms tests use.
    description = factory.Sequence(lambda n: f"Test region number {n}.")


class GatewayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gateway
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"gw-{n:04d}")
    region = factory.SubFactory(RegionFactory)
    public_address = factory.Faker("ipv4_public")
    software_version = "1.8.2"
    capacity_mbps = 1000

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)


def user_with_perms(username: str, *codenames: str, **fields):
    """A user holding exactly the given permissions ("app.codename")."""
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password="test-password-123", **fields
    )
    for perm in codenames:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


FLEET_TAGS = ("edge", "pci", "eu", "lab")
FLEET_STATUSES = ("online", "online", "degraded", "offline", "pending", "maintenance")


def make_fleet(gateways: int, regions: int = 3) -> list[Gateway]:
    """``gateways`` gateways spread round-robin over ``regions`` new regions, each
    gateway with two tags and a mix of statuses: the data of query-count tests."""
    made_regions = RegionFactory.create_batch(regions)
    return [
        GatewayFactory(
            region=made_regions[i % regions],
            status=FLEET_STATUSES[i % len(FLEET_STATUSES)],
            tags=[FLEET_TAGS[i % len(FLEET_TAGS)], FLEET_TAGS[(i + 1) % len(FLEET_TAGS)]],
        )
        for i in range(gateways)
    ]


class TunnelFactory(factory.django.DjangoModelFactory):
    """A tunnel between two new gateways; pass ``gateway_b=None`` with a
    ``remote_address`` and ``remote_subnets`` for a remote site."""

    class Meta:
        model = Tunnel
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"tun-{n:04d}")
    gateway_a = factory.SubFactory(GatewayFactory)
    gateway_b = factory.SubFactory(GatewayFactory)
    protocol = "wireguard"

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)


TUNNEL_STATES = ("up", "up", "degraded", "down", "unknown")


def make_tunnels(tunnels: int, regions: int = 3) -> list[Tunnel]:
    """``tunnels`` tunnels over a new fleet: a chain of gateway pairs, every
    third one to a remote site instead, with tags, states and latencies mixed:
    the data of query-count tests."""
    fleet = make_fleet(tunnels + 1, regions=regions)
    made = []
    for i in range(tunnels):
        remote = i % 3 == 2
        made.append(
            TunnelFactory(
                gateway_a=fleet[i],
                gateway_b=None if remote else fleet[i + 1],
                remote_address=f"198.51.100.{i % 250 + 1}" if remote else "",
                remote_subnets=f"10.{i % 250}.0.0/16" if remote else "",
                state=TUNNEL_STATES[i % len(TUNNEL_STATES)],
                latency_ms=None if i % 5 == 4 else 5.0 + i,
                tags=[FLEET_TAGS[i % len(FLEET_TAGS)], FLEET_TAGS[(i + 2) % len(FLEET_TAGS)]],
            )
        )
    return made


def user_with_role(username: str, *roles: str, regions=(), **fields):
    """A user holding the given roles (built-in or custom role names),
    limited to ``regions`` when given (the user's own cap)."""
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password="test-password-123", **fields
    )
    for name in roles:
        user.groups.add(Group.objects.get(name=name))
    if regions:
        user.regions.set(regions)
    return user


def scoped_role(name: str, regions, *codenames: str):
    """A custom role granting ``codenames`` in ``regions`` only."""
    from django.contrib.auth.models import Group

    from accounts.models import Role

    group = Group.objects.create(name=name)
    for perm in codenames:
        app_label, codename = perm.split(".")
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    role = Role.objects.create(group=group)
    role.regions.set(regions)
    return role
