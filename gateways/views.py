from django.db.models import Count
from django.utils.translation import gettext as _

from console.views import generic
from gateways.filtersets import GatewayFilterSet, RegionFilterSet
from gateways.forms import GatewayForm, RegionForm
from gateways.models import Gateway, Region
from gateways.tables import GatewayTable, RegionTable

# The one place gateways looks up at the app built on it: a gateway's page
# lists its tunnels and its delete page counts them.
from tunnels.models import Tunnel

# A hub can carry hundreds of tunnels; its page shows the first ones and
# links to the filtered tunnel list for the rest.
GATEWAY_TUNNELS_SHOWN = 10

_regions = Region.objects.annotate(gateway_count=Count("gateways"))


class RegionListView(generic.ObjectListView):
    queryset = _regions
    filterset = RegionFilterSet
    table = RegionTable


class RegionDetailView(generic.ObjectDetailView):
    queryset = _regions
    template_name = "gateways/region_detail.html"

    def get_extra_context(self, obj):
        gateways = Gateway.objects.restrict(self.request.user).filter(region=obj)
        return {
            "status_summary": gateways.status_summary(),
            "recent_gateways": gateways.order_by("-updated")[:10],
        }


class RegionEditView(generic.ObjectEditView):
    queryset = Region.objects.all()
    form = RegionForm


class RegionDeleteView(generic.ObjectDeleteView):
    queryset = _regions


class GatewayListView(generic.ObjectListView):
    queryset = Gateway.objects.all()
    filterset = GatewayFilterSet
    table = GatewayTable


class GatewayDetailView(generic.ObjectDetailView):
    queryset = Gateway.objects.select_related("region").prefetch_related("tags")
    template_name = "gateways/gateway_detail.html"

    def get_extra_context(self, obj):
        user = self.request.user
        tunnels = Tunnel.objects.restrict(user, "view").with_gateway(obj)
        return {
            "can_view_tunnels": user.has_perm("tunnels.view_tunnel"),
            "can_add_tunnel": user.has_perm("tunnels.add_tunnel"),
            "tunnel_count": tunnels.count(),
            "tunnels": tunnels.select_related("gateway_a", "gateway_b")[:GATEWAY_TUNNELS_SHOWN],
        }


class GatewayEditView(generic.ObjectEditView):
    queryset = Gateway.objects.all()
    form = GatewayForm


class GatewayDeleteView(generic.ObjectDeleteView):
    queryset = Gateway.objects.all()

    def get_dependents(self, obj):
        # Every tunnel counts, seen by this user or not: each one blocks the deletion.
        count = Tunnel.objects.with_gateway(obj).count()
        return [(_("Tunnels"), count)] if count else []
