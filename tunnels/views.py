import uuid

from console.views import generic
from tunnels.filtersets import TunnelFilterSet
from tunnels.forms import TunnelForm
from tunnels.models import Tunnel
from tunnels.tables import TunnelTable


class TunnelListView(generic.ObjectListView):
    queryset = Tunnel.objects.all()
    filterset = TunnelFilterSet
    table = TunnelTable


class TunnelDetailView(generic.ObjectDetailView):
    queryset = Tunnel.objects.select_related(
        "gateway_a__region", "gateway_b__region"
    ).prefetch_related("tags")
    template_name = "tunnels/tunnel_detail.html"


class TunnelEditView(generic.ObjectEditView):
    queryset = Tunnel.objects.all()
    form = TunnelForm

    def get_form(self, instance, data=None):
        form = super().get_form(instance, data)
        if self.creating and data is None:
            # "Add a tunnel" on a gateway's page links here with ?gateway=<uuid>.
            gateway = self._gateway_from_query(form.fields["gateway_a"].queryset)
            if gateway is not None:
                form.initial["gateway_a"] = gateway.pk
        return form

    def _gateway_from_query(self, gateways):
        try:
            public_id = uuid.UUID(self.request.GET.get("gateway", ""))
        except ValueError:
            return None
        return gateways.filter(uuid=public_id).first()


class TunnelDeleteView(generic.ObjectDeleteView):
    queryset = Tunnel.objects.all()
