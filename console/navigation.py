"""The side navigation: one entry per domain, shown only when its page exists
and the user may view it."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str
    permission: str | None = None
    # URL prefixes that mark the entry as current.
    prefixes: tuple[str, ...] = ()


NAVIGATION = (
    NavItem(_("Dashboard"), "dashboard", "layout-dashboard"),
    NavItem(
        _("Gateways"), "gateways:gateway_list", "server", "gateways.view_gateway", ("/gateways/",)
    ),
    NavItem(
        _("Regions"), "gateways:region_list", "map-pin", "gateways.view_region", ("/regions/",)
    ),
    NavItem(_("Tunnels"), "tunnels:tunnel_list", "cable", "tunnels.view_tunnel"),
    NavItem(_("Policies"), "policies:policy_list", "shield-check", "policies.view_policy"),
    NavItem(_("Security events"), "security:event_list", "siren", "security.view_securityevent"),
    NavItem(
        _("Containment"),
        "security:containmentaction_list",
        "shield-ban",
        "security.view_containmentaction",
        ("/security/containment/",),
    ),
    NavItem(_("Incidents"), "security:incident_list", "shield-alert", "security.view_incident"),
    NavItem(_("Alerts"), "alerts:alert_list", "bell", "alerts.view_alert"),
    NavItem(_("Audit"), "audit:record_list", "scroll-text", "audit.view_auditrecord"),
    NavItem(_("Settings"), "settings", "settings", prefixes=("/settings/",)),
)


@dataclass(frozen=True)
class Section:
    """A card on the Settings or Your account page, linking to one area."""

    label: str
    url_name: str
    icon: str
    description: str
    # None: every signed-in user (their own account pages).
    permission: str | None = None


# Settings: what admins configure. Each area adds its line here.
SETTINGS_SECTIONS = (
    Section(
        _("Users"),
        "accounts:user_list",
        "users",
        _("Invite people, assign roles and regions, reset MFA, sign users out."),
        "accounts.view_user",
    ),
    Section(
        _("Roles"),
        "accounts:role_list",
        "shield",
        _("The built-in roles and your own: permissions, region scope, MFA requirement."),
        "accounts.view_role",
    ),
    # security (docs/sessions.md)
    Section(
        _("Sessions & sign-in"),
        "security:session_policy",
        "timer",
        _("Idle timeout, session lifetime, concurrent sessions, re-authentication, lockout."),
        "security.view_sessionpolicy",
    ),
    Section(
        _("IP allowlist"),
        "security:allowlistentry_list",
        "network",
        _("The networks allowed to reach the console and the API."),
        "security.view_allowlistentry",
    ),
    # security (docs/incidents.md)
    Section(
        _("Correlation rules"),
        "security:correlationrule_list",
        "git-merge",
        _("How security events are grouped into incidents: windows, thresholds, severity."),
        "security.view_correlationrule",
    ),
    # accounts/api_auth (docs/api.md)
    Section(
        _("Service accounts & API keys"),
        "accounts:service_account_list",
        "bot",
        _("Accounts for automation and the API keys they use."),
        "accounts.view_user",
    ),
    # accounts/directory (docs/directory.md)
    Section(
        _("Directory & SSO"),
        "accounts:directory",
        "building",
        _("LDAP / Active Directory, single sign-on, group mappings and SCIM provisioning."),
        "accounts.view_groupmapping",
    ),
)

# Your account: what every user manages for themselves.
ACCOUNT_SECTIONS = (
    Section(
        _("Password"),
        "account_change_password",
        "key-round",
        _("Change the password you sign in with."),
    ),
    # accounts/api_auth (docs/api.md)
    Section(
        _("API keys"),
        "accounts:api_key_list",
        "key-square",
        _("Keys for scripts and tools that use the REST API as you."),
    ),
    # security (docs/sessions.md)
    Section(
        _("Your sessions"),
        "security:my_sessions",
        "monitor-smartphone",
        _("Where you are signed in; sign out any of those sessions."),
    ),
    # accounts/mfa (docs/mfa.md)
    Section(
        _("Two-factor authentication"),
        "accounts:mfa:overview",
        "smartphone",
        _("Authenticator app, recovery codes and security keys."),
    ),
)


@functools.lru_cache(maxsize=256)
def _reverse_once(url_name: str, urlconf: str, prefix: str, language: str | None) -> str | None:
    try:
        return reverse(url_name, urlconf=urlconf)
    except NoReverseMatch:
        return None


def url_of(url_name: str) -> str | None:
    """The URL of a page without arguments, or None when that page does not
    exist (yet). The same for the whole process for a given URLconf, script
    prefix and language (URL patterns may be translated), so each is worked
    out once, not on every page."""
    return _reverse_once(
        url_name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), get_language()
    )


def sections_for(request, sections) -> list[dict]:
    """The sections whose page exists and that the user may open."""
    visible = []
    for section in sections:
        url = url_of(section.url_name)
        if url is None:
            continue
        if section.permission and not request.user.has_perm(section.permission):
            continue
        visible.append(
            {
                "label": section.label,
                "url": url,
                "icon": section.icon,
                "description": section.description,
            }
        )
    return visible


def items_for(request) -> list[dict]:
    user = request.user
    items = []
    for item in NAVIGATION:
        url = url_of(item.url_name)
        if url is None:
            continue  # that page does not exist yet
        if item.permission and not user.has_perm(item.permission):
            continue
        if item.url_name == "settings" and not sections_for(request, SETTINGS_SECTIONS):
            continue  # nothing in it for this user
        if url == "/":
            current = request.path == "/"
        else:
            current = request.path.startswith(url) or any(
                request.path.startswith(p) for p in item.prefixes
            )
        items.append({"label": item.label, "url": url, "icon": item.icon, "current": current})
    return items
