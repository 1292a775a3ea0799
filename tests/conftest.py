import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import user_with_perms

GATEWAY_VIEW = ("gateways.view_gateway", "gateways.view_region")
GATEWAY_ALL = tuple(
    f"gateways.{action}_{model}"
    for model in ("gateway", "region")
    for action in ("view", "add", "change", "delete")
)
TUNNEL_VIEW = ("tunnels.view_tunnel",)
TUNNEL_ALL = tuple(f"tunnels.{action}_tunnel" for action in ("view", "add", "change", "delete"))

# The standing users of the permission tables, from least to most trusted.
ROLES = ("anonymous", "outsider", "viewer", "operator", "admin")


@pytest.fixture(autouse=True)
def _static_files_looked_up_on_demand(settings):
    """WhiteNoise otherwise walks every collected static file each time a test
    client builds its middleware (a tenth of a second per test, and a crash
    when collectstatic runs meanwhile). On demand it serves the same files."""
    settings.WHITENOISE_AUTOREFRESH = True


@pytest.fixture(autouse=True)
def _cache_not_in_outage(monkeypatch):
    """A test that stops a Redis leaves the cache skipping Redis for a few
    seconds (console/cache.py); the next test in the worker starts afresh."""
    from console import cache as resilient

    monkeypatch.setattr(resilient, "outage", resilient._Outage())


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """Each test runs its sockets in an event loop of its own (asyncio.run),
    and channels-redis keeps asyncio locks per channel key: a receive cleaner
    still pending when a test's loop ended would leave one held, bound to that
    dead loop, for the next test. A server has one loop for its life; tests
    take a new layer each."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _no_cached_security_settings():
    """The session policy and the IP allowlist are cached in the shared Redis;
    a rolled-back test must not leave its entries for the next one."""
    from django.core.cache import cache

    from security import allowlist
    from security.models import SessionPolicy

    cache.delete(SessionPolicy.CACHE_KEY)
    allowlist.invalidate()
    yield
    cache.delete(SessionPolicy.CACHE_KEY)
    allowlist.invalidate()


@pytest.fixture
def viewer(db):
    """May read gateways, regions and tunnels, change nothing."""
    return user_with_perms("viewer", *GATEWAY_VIEW, *TUNNEL_VIEW)


@pytest.fixture
def operator(db):
    """May manage gateways, regions and tunnels, but is not a superuser."""
    return user_with_perms("operator", *GATEWAY_ALL, *TUNNEL_ALL)


@pytest.fixture
def outsider(db):
    """Signed in, but holds no permission at all."""
    return user_with_perms("outsider")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


@pytest.fixture
def client_as(request, db):
    """Make a fresh client signed in as one of ``ROLES``; ``api=True`` gives
    DRF's APIClient (JSON by default). Each call is a separate client, so one
    test can compare roles."""

    def make(role: str, api: bool = False):
        assert role in ROLES, role
        new_client = APIClient() if api else Client()
        if role != "anonymous":
            fixture = "admin_user" if role == "admin" else role
            new_client.force_login(request.getfixturevalue(fixture))
        return new_client

    return make


@pytest.fixture
def api_client(db):
    """An anonymous DRF test client."""
    return APIClient()


@pytest.fixture
def count_queries(db):
    """GET a URL and return how many SQL queries answering it took (it must
    answer 200, so an error page is never what gets counted)."""

    def count(client, url: str, **extra) -> int:
        # One request first, so what is counted is the steady state: caches
        # that a first request fills (the IP allowlist, the session policy, a
        # remembered page size) must not make two counts differ.
        client.get(url, **extra)
        with CaptureQueriesContext(connection) as context:
            response = client.get(url, **extra)
        assert response.status_code == 200, response.content[:500]
        return len(context.captured_queries)

    return count


@pytest.fixture
def fresh_throttles(monkeypatch):
    """Give DRF's rate throttles an empty, private cache for one test: the
    shared Redis outlives test runs, so anonymous requests from earlier runs
    (or the other xdist worker) would otherwise count against the limit."""
    monkeypatch.setattr(SimpleRateThrottle, "cache", LocMemCache(f"throttle-{uuid.uuid4()}", {}))


@pytest.fixture
def api_as(client_as):
    def make(role: str):
        return client_as(role, api=True)

    return make


@pytest.fixture
def operator_api(api_as):
    return api_as("operator")


@pytest.fixture
def viewer_api(api_as):
    return api_as("viewer")
