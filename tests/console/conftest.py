"""Fixtures of the live tests (test_live_topics.py, test_live_fanout.py)."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer

from tests.factories import GatewayFactory, RegionFactory, user_with_perms, user_with_role
from tests.factories import scoped_role as make_scoped_role

VIEW = ("gateways.view_gateway", "gateways.view_region", "tunnels.view_tunnel")


@pytest.fixture
def _short_window(settings):
    settings.LIVE_COALESCE_MS = 300


@pytest.fixture
def _empty_layer():
    """Group sets outlive test runs in Redis (and primary keys repeat in a new
    test database): start from an empty layer, as a fresh deployment does."""
    import redis
    from django.conf import settings

    layer = get_channel_layer()
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{layer.prefix}:group:*", count=500):
            client.delete(key)
    finally:
        client.close()


@pytest.fixture
def fleet(db):
    """Two regions with a gateway each; an operator limited to the north."""
    north, south = RegionFactory(name="North"), RegionFactory(name="South")
    role = make_scoped_role("North operators", [north], *VIEW)
    return {
        "north": north,
        "south": south,
        "gw_north": GatewayFactory(name="gw-north", region=north, status="offline"),
        "gw_south": GatewayFactory(name="gw-south", region=south, status="offline"),
        "operator": user_with_role("nora", role.group.name),
        # Not limited to regions (permissions given directly).
        "admin": user_with_perms("ada", *VIEW),
        "role": role,
    }
