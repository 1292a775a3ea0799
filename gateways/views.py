from django.db.models import Count

from console.views import generic
from gateways.filtersets import GatewayFilterSet, RegionFilterSet
from gateways.forms import GatewayForm, RegionForm
from gateways.models import Gateway, Region
from gateways.tables import GatewayTable, RegionTable

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


class GatewayEditView(generic.ObjectEditView):
    queryset = Gateway.objects.all()
    form = GatewayForm


class GatewayDeleteView(generic.ObjectDeleteView):
    queryset = Gateway.objects.all()
