from __future__ import annotations

from django.db.models import Count
from django.shortcuts import render
from django.utils.translation import gettext as _

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
