"""Every URL of the console and of the API, for every role.

Each named URL must be declared in ``ACCESS`` with who may use it; the walk
then asks it as anonymous, each built-in role, a user with no role, a scoped
operator whose regions hold none of the objects, and a superuser, and checks
the answer against what that user's permissions say. A new view without a
line here fails ``test_every_url_is_declared``, so it cannot be added without
its permission tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import GroupMapping, Role
from audit.models import ReportSchedule
from policies.models import PolicyRevision
from policies.snapshot import empty_snapshot
from security.models import AllowlistEntry, ContainmentAction
from tests.factories import (
    GatewayFactory,
    RegionFactory,
    TunnelFactory,
    scoped_role,
    user_with_role,
)
from tests.helpers import login_with_second_factor
from tests.policies.factories import PolicyCategoryFactory, PolicyFactory
from tests.security.test_events_factories import SecurityEventFactory  # security events


@dataclass(frozen=True)
class Access:
    """Who may GET a URL.

    kind: "public" (anyone; never a server error), "signed_in" (any signed-in
    user), "perm" (needs ``perm``; an object in ``obj`` is region-scoped when
    its model is), "agent" (gateway credentials only: every user gets 401).
    ``ok``: the answers that mean "allowed" for this URL.
    """

    kind: str
    perm: str | None = None
    obj: str | None = None
    ok: tuple[int, ...] = (200,)
    kwargs: dict = field(default_factory=dict, hash=False)


NO_SUCH = "00000000-0000-4000-8000-000000000000"  # a well-formed id of nothing
PUBLIC = Access("public")
SIGNED_IN = Access("signed_in")
SIGNED_IN_OR_REDIRECT = Access("signed_in", ok=(200, 302))
SIGNED_IN_POST_ONLY = Access("signed_in", ok=(405,))
AGENT = Access("agent")


def perm(codename: str, obj: str | None = None, ok=(200,), **kwargs) -> Access:
    return Access("perm", codename, obj, ok, kwargs)


# Objects whose model is region-scoped: a scoped user outside gets 404.
SCOPED_OBJECTS = {"gateway", "region", "tunnel", "securityevent", "containmentaction"}
# Incidents reach their regions through their gateways (docs/incidents.md).
SCOPED_OBJECTS |= {"incident"}

ACCESS: dict[str, Access] = {
    # Console
    "dashboard": SIGNED_IN,
    "settings": Access("settings"),  # shown when any of its sections is
    "account": SIGNED_IN,
    "gateways:gateway_list": perm("gateways.view_gateway"),
    "gateways:gateway_add": perm("gateways.add_gateway"),
    "gateways:gateway_detail": perm("gateways.view_gateway", "gateway"),
    "gateways:gateway_edit": perm("gateways.change_gateway", "gateway"),
    "gateways:gateway_delete": perm("gateways.delete_gateway", "gateway"),
    "gateways:gateway_issue_token": perm("gateways.change_gateway", "gateway"),
    "gateways:gateway_revoke_token": perm("gateways.change_gateway", "gateway"),
    "gateways:gateway_rotate_credential": perm("gateways.change_gateway", "gateway"),
    "gateways:gateway_disable": perm("gateways.change_gateway", "gateway"),
    "gateways:gateway_enable": perm("gateways.change_gateway", "gateway"),
    "gateways:region_list": perm("gateways.view_region"),
    "gateways:region_add": perm("gateways.add_region"),
    "gateways:region_detail": perm("gateways.view_region", "region"),
    "gateways:region_edit": perm("gateways.change_region", "region"),
    "gateways:region_delete": perm("gateways.delete_region", "region"),
    "tunnels:tunnel_list": perm("tunnels.view_tunnel"),
    "tunnels:tunnel_add": perm("tunnels.add_tunnel"),
    "tunnels:tunnel_detail": perm("tunnels.view_tunnel", "tunnel"),
    "tunnels:tunnel_edit": perm("tunnels.change_tunnel", "tunnel"),
    "tunnels:tunnel_delete": perm("tunnels.delete_tunnel", "tunnel"),
    "accounts:user_list": perm("accounts.view_user"),
    "accounts:user_add": perm("accounts.add_user"),
    "accounts:user_detail": perm("accounts.view_user", "user"),
    "accounts:user_edit": perm("accounts.change_user", "user"),
    "accounts:user_resend_invitation": perm("accounts.change_user", "user"),
    "accounts:user_deactivate": perm("accounts.change_user", "user"),
    "accounts:user_reset_mfa": perm("accounts.change_user", "user"),
    "accounts:user_sign_out": perm("accounts.change_user", "user"),
    "accounts:user_activate": perm("accounts.change_user", "user"),
    "accounts:role_list": perm("accounts.view_role"),
    "accounts:role_add": perm("accounts.add_role"),
    "accounts:role_detail": perm("accounts.view_role", "role"),
    "accounts:role_edit": perm("accounts.change_role", "role"),
    "accounts:role_delete": perm("accounts.delete_role", "role"),
    # API keys: each user's own; service accounts: user managers.
    "accounts:api_key_list": SIGNED_IN,
    "accounts:api_key_add": SIGNED_IN,
    "accounts:api_key_revoke": Access("signed_in", ok=(404,), kwargs={"uuid": NO_SUCH}),
    "accounts:service_account_list": perm("accounts.view_user"),
    "accounts:service_account_add": perm("accounts.add_user"),
    "accounts:service_key_add": perm("accounts.change_user", "service_account"),
    "accounts:service_key_revoke": perm(
        "accounts.change_user", "service_account", ok=(404,), key_uuid=NO_SUCH
    ),
    # Directory & SSO (accounts/directory, docs/directory.md).
    "accounts:directory": perm("accounts.view_groupmapping"),
    "accounts:directory_sso_only": SIGNED_IN_POST_ONLY,
    "accounts:scim_token_add": SIGNED_IN_POST_ONLY,
    "accounts:scim_token_revoke": Access("signed_in", ok=(405,), kwargs={"uuid": NO_SUCH}),
    "accounts:groupmapping_list": perm("accounts.view_groupmapping"),
    "accounts:groupmapping_add": perm("accounts.add_groupmapping"),
    "accounts:groupmapping_preview": perm("accounts.view_groupmapping"),
    "accounts:groupmapping_detail": perm("accounts.view_groupmapping", "groupmapping"),
    "accounts:groupmapping_edit": perm("accounts.change_groupmapping", "groupmapping"),
    "accounts:groupmapping_delete": perm("accounts.delete_groupmapping", "groupmapping"),
    # SSO sign-in (django-allauth, accounts/sso): public; a provider that is
    # not configured answers 404.
    "openid_connect_login": Access("public", kwargs={"provider_id": "nope"}),
    "openid_connect_callback": Access("public", kwargs={"provider_id": "nope"}),
    "saml_login": Access("public", kwargs={"organization_slug": "nope"}),
    "saml_acs": Access("public", kwargs={"organization_slug": "nope"}),
    "saml_finish_acs": Access("public", kwargs={"organization_slug": "nope"}),
    "saml_sls": Access("public", kwargs={"organization_slug": "nope"}),
    "saml_metadata": Access("public", kwargs={"organization_slug": "nope"}),
    "socialaccount_login_cancelled": PUBLIC,
    "socialaccount_login_error": PUBLIC,
    "socialaccount_signup": PUBLIC,
    "socialaccount_connections": SIGNED_IN_OR_REDIRECT,
    # Session policy and IP allowlist (Settings); your own sessions.
    "security:session_policy": perm("security.view_sessionpolicy"),
    "security:allowlistentry_list": perm("security.view_allowlistentry"),
    "security:allowlistentry_add": perm("security.add_allowlistentry"),
    "security:allowlistentry_edit": perm("security.change_allowlistentry", "allowlistentry"),
    "security:allowlistentry_delete": perm("security.delete_allowlistentry", "allowlistentry"),
    # Security events (docs/security-events.md): saved searches are each user's own.
    "security:event_list": perm("security.view_securityevent"),
    "security:event_export": perm("security.view_securityevent"),
    "security:event_detail": perm("security.view_securityevent", "securityevent"),
    "security:event_acknowledge": perm("security.change_securityevent", "securityevent"),
    "security:event_unacknowledge": perm("security.change_securityevent", "securityevent"),
    "security:event_search_save": SIGNED_IN_POST_ONLY,
    "security:event_search_delete": Access("signed_in", ok=(405,), kwargs={"uuid": NO_SUCH}),
    # Incidents (docs/incidents.md): changes are POSTs; a GET goes back to the page.
    "security:incident_list": perm("security.view_incident"),
    "security:incident_detail": perm("security.view_incident", "incident"),
    "security:incident_status": perm("security.change_incident", "incident", ok=(302,)),
    "security:incident_assignee": perm("security.change_incident", "incident", ok=(302,)),
    "security:incident_note": perm("security.change_incident", "incident", ok=(302,)),
    "security:correlationrule_list": perm("security.view_correlationrule"),
    "security:correlationrule_add": perm("security.add_correlationrule"),
    "security:correlationrule_edit": perm("security.change_correlationrule", "correlationrule"),
    "security:correlationrule_delete": perm("security.delete_correlationrule", "correlationrule"),
    "security:my_sessions": SIGNED_IN,
    "security:session_revoke": Access("signed_in", ok=(405,), kwargs={"uuid": NO_SUCH}),
    "security:session_revoke_others": SIGNED_IN_POST_ONLY,
    # Containment (docs/containment.md): the action pages confirm on GET.
    "security:containmentaction_list": perm("security.view_containmentaction"),
    "security:containmentaction_detail": perm(
        "security.view_containmentaction", "containmentaction"
    ),
    "security:containment_block": perm("security.add_containmentaction"),
    "security:containment_quarantine": perm("security.add_containmentaction"),
    "security:containmentaction_lift": perm(
        "security.change_containmentaction", "containmentaction"
    ),
    "accounts:invitation_accept": Access("public", kwargs={"token": "rci_not-a-real-token"}),
    # Your own second factor: every signed-in user, for themselves.
    "accounts:mfa:overview": SIGNED_IN_OR_REDIRECT,
    "accounts:mfa:verify": SIGNED_IN_OR_REDIRECT,
    "accounts:mfa:enrol": SIGNED_IN_OR_REDIRECT,
    "accounts:mfa:recovery_codes": SIGNED_IN_OR_REDIRECT,
    # Only right after the codes were made (else 404: nothing to download).
    "accounts:mfa:recovery_codes_download": Access("signed_in", ok=(200, 302, 404)),
    "accounts:mfa:recovery_codes_done": SIGNED_IN_POST_ONLY,
    "accounts:mfa:recovery_codes_regenerate": SIGNED_IN_POST_ONLY,
    "accounts:mfa:remove_device": Access(
        "signed_in", ok=(200, 302, 404), kwargs={"kind": "totp", "pk": 0}
    ),
    # Security keys (accounts/mfa/webauthn.py): the ceremonies are POST-only
    # JSON endpoints; a user's own keys only.
    "accounts:mfa:security_key_added": SIGNED_IN_POST_ONLY,
    "otp_webauthn:credential-registration-begin": SIGNED_IN_POST_ONLY,
    "otp_webauthn:credential-registration-complete": SIGNED_IN_POST_ONLY,
    "otp_webauthn:credential-authentication-begin": SIGNED_IN_POST_ONLY,
    "otp_webauthn:credential-authentication-complete": SIGNED_IN_POST_ONLY,
    "otp_webauthn:js-i18n-catalog": SIGNED_IN,
    # Sign-in pages (django-allauth): open, or for the signed-in user only.
    "account_login": PUBLIC,
    "account_logout": PUBLIC,
    "account_inactive": PUBLIC,
    "account_signup": PUBLIC,
    "account_reset_password": PUBLIC,
    "account_reset_password_done": PUBLIC,
    "account_reset_password_from_key_done": PUBLIC,
    "account_reset_password_from_key": Access("public", kwargs={"uidb36": "0", "key": "x-y"}),
    "account_confirm_login_code": PUBLIC,
    "account_email_verification_sent": PUBLIC,
    "account_confirm_email": Access("public", kwargs={"key": "nope"}),
    "account_reauthenticate": SIGNED_IN_OR_REDIRECT,
    "account_email": SIGNED_IN_OR_REDIRECT,
    "account_change_password": SIGNED_IN_OR_REDIRECT,
    "account_set_password": SIGNED_IN_OR_REDIRECT,
    # Access policies (docs/policies.md): the draft, publishing, revisions.
    "policies:policy_list": perm("policies.view_policy"),
    "policies:policy_add": perm("policies.add_policy"),
    "policies:policy_detail": perm("policies.view_policy", "policy"),
    "policies:policy_edit": perm("policies.change_policy", "policy"),
    "policies:policy_delete": perm("policies.delete_policy", "policy"),
    "policies:rule_add": perm("policies.change_policy", "policy"),
    "policies:rule_edit": perm("policies.change_policy", "policy", ok=(404,), rule=NO_SUCH),
    "policies:rule_delete": perm("policies.change_policy", "policy", ok=(404,), rule=NO_SUCH),
    "policies:rule_move": perm("policies.change_policy", "policy", ok=(404,), rule=NO_SUCH),
    "policies:publish": perm("policies.publish_policy"),
    "policies:simulate": perm("policies.view_policy"),
    "policies:impact": perm("policies.view_policy"),
    "policies:export": perm("policies.view_policy"),
    "policies:import": perm("policies.change_policy"),  # and add/delete: roles hold all or none
    "policies:revision_list": perm("policies.view_policy"),
    "policies:revision_compare": perm("policies.view_policy"),
    "policies:revision_detail": perm("policies.view_policy", "policyrevision"),
    "policies:revision_rollback": perm("policies.publish_policy", "policyrevision"),
    "policies:policycategory_list": perm("policies.view_policycategory"),
    "policies:policycategory_add": perm("policies.add_policycategory"),
    "policies:policycategory_edit": perm("policies.change_policycategory", "policycategory"),
    "policies:policycategory_delete": perm("policies.delete_policycategory", "policycategory"),
    # Audit log (docs/audit.md): Auditor and Admin; exports need their own permission.
    "audit:record_list": perm("audit.view_auditrecord"),
    "audit:record_detail": perm("audit.view_auditrecord", ok=(404,), pk=10**12),
    "audit:verify": SIGNED_IN_POST_ONLY,
    "audit:export": perm("audit.export_auditrecord"),
    "audit:access_review": perm("audit.view_auditrecord"),
    "audit:reports": perm("audit.view_auditrecord"),
    "audit:change_report": perm("audit.view_auditrecord"),
    "audit:privileged_actions": perm("audit.view_auditrecord"),
    "audit:failed_access": perm("audit.view_auditrecord"),
    "audit:reportschedule_add": perm("audit.add_reportschedule"),
    "audit:reportschedule_edit": perm("audit.change_reportschedule", "reportschedule"),
    "audit:reportschedule_delete": perm("audit.delete_reportschedule", "reportschedule"),
    "audit:reportschedule_send": perm("audit.change_reportschedule", "reportschedule"),
    # REST API
    "api:api-root": SIGNED_IN,
    "api:region-list": perm("gateways.view_region"),
    "api:region-detail": perm("gateways.view_region", "region"),
    "api:gateway-list": perm("gateways.view_gateway"),
    "api:gateway-detail": perm("gateways.view_gateway", "gateway"),
    "api:tunnel-list": perm("tunnels.view_tunnel"),
    "api:tunnel-detail": perm("tunnels.view_tunnel", "tunnel"),
    "api:policy-list": perm("policies.view_policy"),
    "api:policy-detail": perm("policies.view_policy", "policy"),
    "api:policy-publish": Access("perm", "policies.publish_policy", ok=(405,)),  # POST only
    "api:policy-simulate": Access("perm", "policies.view_policy", ok=(405,)),  # POST only
    "api:policy-validation": perm("policies.view_policy"),
    "api:policy-export": perm("policies.view_policy"),
    "api:policy-import-set": Access("perm", "policies.change_policy", ok=(405,)),  # POST only
    "api:policy-rule-list": perm("policies.view_policy", "policy"),
    "api:policy-rule-detail": perm("policies.view_policy", "policy", ok=(404,), rule=NO_SUCH),
    "api:policyrevision-list": perm("policies.view_policy"),
    "api:policyrevision-detail": perm("policies.view_policy", "policyrevision"),
    "api:policyrevision-diff": perm("policies.view_policy", "policyrevision"),
    "api:policyrevision-rollback": Access(
        "perm", "policies.publish_policy", "policyrevision", ok=(405,)
    ),  # POST only
    "api:policycategory-list": perm("policies.view_policycategory"),
    "api:policycategory-detail": perm("policies.view_policycategory", "policycategory"),
    "api:token-obtain": Access("public"),  # POST only: GET is 405
    "api:token-refresh": Access("public"),
    "api:token-revoke": Access("public"),
    "api:securityevent-list": perm("security.view_securityevent"),
    "api:securityevent-detail": perm("security.view_securityevent", "securityevent"),
    "api:incident-list": perm("security.view_incident"),
    "api:incident-detail": perm("security.view_incident", "incident"),
    # POST only; a GET is refused after the read permission.
    "api:incident-notes": perm("security.view_incident", ok=(405,), uuid=NO_SUCH),
    "api:containment-list": perm("security.view_containmentaction"),
    "api:containment-detail": perm("security.view_containmentaction", "containmentaction"),
    "api:containment-block": perm("security.add_containmentaction", ok=(405,)),
    "api:containment-quarantine": perm("security.add_containmentaction", ok=(405,)),
    "api:containment-lift": perm("security.change_containmentaction", ok=(405,), uuid=NO_SUCH),
    "api:auditrecord-list": perm("audit.view_auditrecord"),
    "api:auditrecord-detail": perm("audit.view_auditrecord", ok=(404,), pk=10**12),
    "api:apikey-list": SIGNED_IN,  # each user's own keys
    "api:apikey-detail": Access("signed_in", ok=(404,), kwargs={"uuid": NO_SUCH}),
    "api-schema": SIGNED_IN,
    "api-docs": SIGNED_IN,  # an HTML page
    # Gateway agent API: gateway credentials only.
    "agent:enroll": AGENT,
    "agent:heartbeat": AGENT,
    "agent:events": AGENT,
    "agent:config": AGENT,
    # SCIM 2.0 (accounts/scim): its own bearer token only, so every user and
    # every session gets 401, as gateway credentials do.
    "scim:service_provider_config": AGENT,
    "scim:resource_types": AGENT,
    "scim:schemas": AGENT,
    "scim:users": AGENT,
    "scim:user": Access("agent", kwargs={"scim_id": NO_SUCH}),
    "scim:groups": AGENT,
    "scim:group": Access("agent", kwargs={"scim_id": NO_SUCH}),
    # Probes
    "healthz": PUBLIC,
    "readyz": PUBLIC,  # 503 while a worker or beat is missing, as in tests
}

ROLES = ("anonymous", "outsider", "Viewer", "Auditor", "Operator", "Admin", "scoped", "superuser")


def named_urls(patterns=None, namespace=None):
    """Every named URL outside Django admin (it has its own staff check)."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from named_urls(pattern.url_patterns, ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_is_declared():
    missing = sorted(set(named_urls()) - set(ACCESS))
    assert not missing, (
        f"Declare who may use {missing} in tests/test_permission_walk.py ACCESS "
        "(and make the view enforce it)."
    )
    stale = sorted(set(ACCESS) - set(named_urls()))
    assert not stale, f"ACCESS lists URLs that no longer exist: {stale}"


def walk_incident(gateway):
    from django.utils import timezone

    from security.models import Incident

    now = timezone.now()
    incident = Incident.objects.create(
        title="Walk incident", severity="high", key="walk", first_seen=now, last_seen=now
    )
    incident.gateways.add(gateway)
    return incident


def walk_rule():
    from security.models import CorrelationRule

    return CorrelationRule.objects.get(kind="distributed_scan")


@pytest.fixture
def world(db):
    home, far = RegionFactory(name="Home"), RegionFactory(name="Far")
    gateway = GatewayFactory(region=home)
    objects = {
        "region": home,
        "gateway": gateway,
        "tunnel": TunnelFactory(gateway_a=gateway, gateway_b=GatewayFactory(region=home)),
        "user": user_with_role("walk-target", "Viewer"),
        "role": scoped_role("Walk role", [], "gateways.view_gateway"),
        "service_account": user_with_role("walk-robot", is_service_account=True),
        "groupmapping": GroupMapping.objects.create(
            group="walk-group", role=Role.objects.get(group__name="Viewer")
        ),
        # Access policies: one policy, a revision and a category.
        "policy": PolicyFactory(),
        "policyrevision": PolicyRevision.objects.create(
            number=1, snapshot=empty_snapshot(), config_version=1
        ),
        "policycategory": PolicyCategoryFactory(),
        # Covers the test client's address, so the allowlist lets every request in.
        "allowlistentry": AllowlistEntry.objects.create(network="127.0.0.0/8", comment="tests"),
        "securityevent": SecurityEventFactory(gateway=gateway),  # security events
        # An incident reaching the home region, and a correlation rule.
        "incident": walk_incident(gateway),
        "correlationrule": walk_rule(),
        # A block in the home region (docs/containment.md).
        "containmentaction": ContainmentAction.objects.create(
            kind="block_source", cidr="203.0.113.9/32", region=home, target_name="203.0.113.9/32"
        ),
        # Audit report schedules (docs/audit.md).
        "reportschedule": ReportSchedule.objects.create(
            name="Walk schedule", report="change_report", recipients=["walk@example.com"]
        ),
    }
    users = {"anonymous": None, "outsider": user_with_role("walk-outsider")}
    for name in ("Viewer", "Auditor", "Operator", "Admin"):
        users[name] = user_with_role(f"walk-{name.lower()}", name)
    users["scoped"] = user_with_role("walk-scoped", "Operator", regions=[far])
    users["superuser"] = user_with_role("walk-root", is_superuser=True, is_staff=True)
    return objects, users


def url_for(name: str, access: Access, objects) -> str:
    kwargs = dict(access.kwargs)
    if access.obj:
        kwargs["uuid"] = objects[access.obj].uuid
    return reverse(name, kwargs=kwargs or None)


def settings_sections_for(user) -> list:
    from console.navigation import SETTINGS_SECTIONS

    return [s for s in SETTINGS_SECTIONS if not s.permission or user.has_perm(s.permission)]


def is_api(name: str) -> bool:
    return name.startswith(("api:", "agent:")) or name == "api-schema"


def expected(access: Access, role: str, user, api: bool) -> set[int]:
    anonymous_refusal = {401, 403} if api else {302}
    if access.kind == "public":
        return set(range(200, 500)) | {503}
    if access.kind == "settings":
        if role == "anonymous":
            return anonymous_refusal
        return {200} if settings_sections_for(user) else {403}
    if access.kind == "agent":
        return {401, 405}  # 405: a GET on a POST-only endpoint, refused before anything
    if role == "anonymous":
        return anonymous_refusal
    if access.kind == "signed_in":
        return set(access.ok)
    if not user.has_perm(access.perm):
        return {403}
    if role == "scoped" and access.obj in SCOPED_OBJECTS:
        return {404}
    return set(access.ok)


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_url_answers_each_role_as_declared(name, world):
    objects, users = world
    access = ACCESS[name]
    url = url_for(name, access, objects)
    api = is_api(name)
    wrong = []
    for role in ROLES:
        user = users[role]
        client = Client()
        if user is not None:
            login_with_second_factor(client, user)
        response = client.get(url, HTTP_ACCEPT="application/json" if api else "text/html")
        want = expected(access, role, user, api)
        if response.status_code not in want:
            wrong.append(f"{role}: got {response.status_code}, expected one of {sorted(want)[:6]}")
        if role == "anonymous" and access.kind != "public" and response.status_code == 302:
            assert "/accounts/login/" in response["Location"], (name, response["Location"])
    assert not wrong, f"GET {url}\n" + "\n".join(wrong)
