import pytest

from tests.factories import user_with_perms

GATEWAY_VIEW = ("gateways.view_gateway", "gateways.view_region")
GATEWAY_ALL = tuple(
    f"gateways.{action}_{model}"
    for model in ("gateway", "region")
    for action in ("view", "add", "change", "delete")
)


@pytest.fixture
def viewer(db):
    """May read gateways and regions, change nothing."""
    return user_with_perms("viewer", *GATEWAY_VIEW)


@pytest.fixture
def operator(db):
    """May manage gateways and regions, but is not a superuser."""
    return user_with_perms("operator", *GATEWAY_ALL)


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
