from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import render
from django.utils.translation import gettext as _

from console.navigation import ACCOUNT_SECTIONS, SETTINGS_SECTIONS, sections_for
from gateways.models import Gateway, Region


def dashboard(request):
    """The fleet at a glance: status counts, regions and recently changed gateways."""
    gateways = Gateway.objects.restrict(request.user, "view")
    summary = gateways.status_summary()
    regions = (
        Region.objects.restrict(request.user, "view")
        .annotate(total=Count("gateways"))
        .order_by("-total", "name")[:8]
    )
    context = {
        "status_summary": summary,
        "total_gateways": sum(entry["count"] for entry in summary),
        "regions": regions,
        "recent": gateways.select_related("region").order_by("-updated")[:8],
        "can_add_gateway": request.user.has_perm("gateways.add_gateway"),
        "breadcrumbs": [(_("Dashboard"), None)],
    }
    return render(request, "console/dashboard.html", context)


def settings_index(request):
    """Settings: one card per area the user may configure."""
    sections = sections_for(request, SETTINGS_SECTIONS)
    if not sections:
        raise PermissionDenied
    context = {
        "title": _("Settings"),
        "intro": _("How the console works for your team."),
        "sections": sections,
        "breadcrumbs": [(_("Settings"), None)],
    }
    return render(request, "console/sections.html", context)


def account_index(request):
    """Your account: who you are, your roles and scope, and your own security."""
    from accounts.scope import own_regions

    user = request.user
    context = {
        "title": _("Your account"),
        "intro": _("Your sign-in, second factor, sessions and API keys."),
        "sections": sections_for(request, ACCOUNT_SECTIONS),
        "profile": {
            "roles": list(user.groups.order_by("name").values_list("name", flat=True)),
            "regions": list(
                Region.objects.filter(pk__in=own_regions(user)).values_list("name", flat=True)
            ),
        },
        "breadcrumbs": [(_("Your account"), None)],
    }
    return render(request, "console/sections.html", context)
