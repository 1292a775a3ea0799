import pytest

from tests.factories import user_with_perms

POLICY_ALL = tuple(
    f"policies.{action}_{model}"
    for model in ("policy", "policycategory")
    for action in ("view", "add", "change", "delete")
)


@pytest.fixture
def policy_editor(db):
    """May change the draft but not publish (no publish_policy)."""
    return user_with_perms(
        "policy-editor", *POLICY_ALL, "gateways.view_gateway", "gateways.view_region"
    )


@pytest.fixture
def publisher(db):
    return user_with_perms(
        "publisher",
        *POLICY_ALL,
        "policies.publish_policy",
        "gateways.view_gateway",
        "gateways.view_region",
        "security.view_securityevent",
    )


@pytest.fixture
def policy_viewer(db):
    return user_with_perms("policy-viewer", "policies.view_policy", "policies.view_policycategory")
