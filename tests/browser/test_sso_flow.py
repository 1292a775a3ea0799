"""OpenID Connect sign-in as a person goes through it, in Chromium, against a
real provider on loopback (node's oidc-provider, tests/directory_support/oidc.py):
the button, the provider's own sign-in page, back to the console, a second
factor when the mapped role asks for one, and access that follows the groups
the provider sends at each sign-in."""

from __future__ import annotations

import copy

import pytest

from accounts.models import GroupMapping, Role, User
from accounts.sso.config import form_action_sources
from tests.browser.test_mfa_flow import DASHBOARD_HEADING, code_from, enter_code, sign_out
from tests.directory_support.oidc import (
    PASSWORD,
    PROVIDER_NAME,
    callback_url,
    oidc_provider,  # noqa: F401  (the fixture)
    use_provider,
)
from tests.factories import RegionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def idp(settings, live_server, oidc_provider):  # noqa: F811
    oidc_provider.allow_redirect(callback_url(live_server.url))
    use_provider(settings, oidc_provider)
    # What console/settings.py does with the providers configured at start-up
    # (else the browser blocks the redirect to the provider: form-action).
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["form-action"] = [
        *policy["DIRECTIVES"]["form-action"],
        *form_action_sources(settings.SOCIALACCOUNT_PROVIDERS),
    ]
    settings.CONTENT_SECURITY_POLICY = policy
    settings.ACCOUNT_RATE_LIMITS = False
    eu, _us = RegionFactory(name="EU"), RegionFactory(name="US")
    netops = GroupMapping.objects.create(
        group="netops", source="oidc", role=Role.objects.get(group__name="Operator")
    )
    netops.regions.set([eu])
    GroupMapping.objects.create(group="console-admins", role=Role.objects.get(group__name="Admin"))
    return oidc_provider


def continue_with_provider(page, idp, login: str) -> None:
    """From the console's sign-in page through the provider and back. The
    provider asks for a password only while it has no session of its own."""
    page.goto("/accounts/login/")
    page.get_by_role("button", name=f"Continue with {PROVIDER_NAME}").click()
    page.wait_for_load_state()
    if page.get_by_role("heading", name="Sign in to the test identity provider").count():
        page.get_by_label("Username").fill(login)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: not url.startswith(idp.issuer))


def roles_and_regions(page) -> tuple[str, str]:
    page.goto("/account/")
    roles = page.locator("dt:has-text('Roles') + dd").inner_text()
    regions = page.locator("dt:has-text('Regions') + dd").inner_text()
    return roles, regions


def test_sign_in_with_the_provider_lands_with_the_role_and_regions_of_the_groups(page, idp):
    idp.set_account(
        "ann", email="ann@example.com", email_verified=True, name="Ann Example", groups=["netops"]
    )
    page.goto("/accounts/login/")
    button = page.get_by_role("button", name=f"Continue with {PROVIDER_NAME}")
    assert button.is_visible()
    button.click()
    # The provider's own page, on its own origin.
    page.get_by_role("heading", name="Sign in to the test identity provider").wait_for()
    assert page.url.startswith(idp.issuer)
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong username or password.").wait_for()
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Operator needs no second factor: straight to the dashboard, EU only.
    page.get_by_role("heading", name=DASHBOARD_HEADING).wait_for()
    regions_card = page.locator("section.card", has=page.get_by_role("heading", name="Regions"))
    assert regions_card.get_by_role("link", name="EU").is_visible()
    assert regions_card.get_by_role("link", name="US").count() == 0
    roles, regions = roles_and_regions(page)
    assert "Operator" in roles and "Admin" not in roles
    assert "EU" in regions and "US" not in regions
    assert not page.errors

    # Removed from the group at the provider: the next sign-in says so and
    # takes the role away.
    sign_out(page)
    idp.set_account("ann", email="ann@example.com", email_verified=True, groups=["elsewhere"])
    continue_with_provider(page, idp, "ann")
    page.get_by_text("not in any group that gives access to the console").wait_for()
    assert not User.objects.get(email="ann@example.com").groups.exists()
    page.goto("/")
    assert "/accounts/login/" in page.url


def test_a_role_that_requires_a_second_factor_gets_one_then_loses_the_role(page, idp):
    idp.set_account(
        "bob", email="bob@example.com", email_verified=True, groups=["netops", "console-admins"]
    )
    continue_with_provider(page, idp, "bob")
    # Admin requires MFA: enrolment before anything else.
    page.get_by_role("heading", name="Set up two-factor authentication").wait_for()
    assert "/account/mfa/authenticator/" in page.url
    page.get_by_text("Can't scan it? Type this key instead").click()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    enter_code(page, "Code from your authenticator app", code_from(secret), "Confirm and turn on")
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    page.get_by_role("button", name="I have saved my codes").click()
    # No page was asked for before signing in: enrolment ends on the MFA page.
    page.wait_for_url("**/account/mfa/")
    page.goto("/")
    page.get_by_role("heading", name=DASHBOARD_HEADING).wait_for()
    roles, regions = roles_and_regions(page)
    assert "Admin" in roles and "Operator" in roles
    # One mapping without regions: no region cap.
    assert "Not limited by your account" in regions

    # Taken out of console-admins at the provider: Admin is gone at the next
    # sign-in, Operator (EU) stays; the second factor is still asked for.
    sign_out(page)
    idp.set_account("bob", email="bob@example.com", email_verified=True, groups=["netops"])
    continue_with_provider(page, idp, "bob")
    page.wait_for_url("**/account/mfa/verify/**")
    enter_code(page, "Code from your authenticator app", code_from(secret, 1), "Verify")
    page.get_by_role("heading", name=DASHBOARD_HEADING).wait_for()
    roles, regions = roles_and_regions(page)
    assert "Operator" in roles and "Admin" not in roles
    assert "EU" in regions
    assert list(
        User.objects.get(email="bob@example.com").groups.values_list("name", flat=True)
    ) == ["Operator"]
    assert not page.errors
