"""The side navigation: one entry per domain, shown only when its page exists
and the user may view it."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
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
    NavItem(_("Alerts"), "alerts:alert_list", "bell", "alerts.view_alert"),
    NavItem(_("Audit"), "audit:record_list", "scroll-text", "audit.view_auditrecord"),
    NavItem(_("Settings"), "settings", "settings"),
)


def items_for(request) -> list[dict]:
    user = request.user
    items = []
    for item in NAVIGATION:
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue  # that page does not exist yet
        if item.permission and not user.has_perm(item.permission):
            continue
        if url == "/":
            current = request.path == "/"
        else:
            current = request.path.startswith(url) or any(
                request.path.startswith(p) for p in item.prefixes
            )
        items.append({"label": item.label, "url": url, "icon": item.icon, "current": current})
    return items
