from console.api.viewsets import ScopedModelViewSet
from tunnels.api.serializers import TunnelSerializer
from tunnels.filtersets import TunnelFilterSet
from tunnels.models import Tunnel


class TunnelViewSet(ScopedModelViewSet):
    """Tunnels between two gateways or to a remote site. The live state
    (state, latency, handshake, byte counters) is reported by the gateways."""

    queryset = Tunnel.objects.select_related("gateway_a", "gateway_b").prefetch_related("tags")
    serializer_class = TunnelSerializer
    filterset_class = TunnelFilterSet
    ordering_fields = ["name", "state", "protocol", "latency_ms", "last_handshake", "created"]
