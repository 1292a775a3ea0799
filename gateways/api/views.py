from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.response import Response

from console.api.viewsets import ScopedModelViewSet
from gateways.api.serializers import GatewaySerializer, RegionSerializer
from gateways.filtersets import GatewayFilterSet, RegionFilterSet
from gateways.models import Gateway, Region


class RegionViewSet(ScopedModelViewSet):
    """Regions group gateways and are the unit of access scope."""

    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    filterset_class = RegionFilterSet
    ordering_fields = ["name", "slug", "created"]

    def destroy(self, request, *args, **kwargs):
        region = self.get_object()
        try:
            region.delete()
        except ProtectedError:
            return Response(
                {"detail": "This region still has gateways; move or delete them first."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class GatewayViewSet(ScopedModelViewSet):
    """Gateways of the fleet. Status and last seen are reported by the gateway."""

    queryset = Gateway.objects.select_related("region").prefetch_related("tags")
    serializer_class = GatewaySerializer
    filterset_class = GatewayFilterSet
    ordering_fields = ["name", "status", "last_seen", "created", "capacity_mbps"]
