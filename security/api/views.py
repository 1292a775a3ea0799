from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.pagination import CursorPagination

from security.api.serializers import SecurityEventSerializer
from security.filtersets import SecurityEventFilterSet
from security.models import SecurityEvent


class SecurityEventCursorPagination(CursorPagination):
    """Newest first on (occurred_at, id): no COUNT, no OFFSET scan of the
    table, stable while events keep arriving."""

    ordering = ("-occurred_at", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema_view(
    list=extend_schema(
        summary="Security events",
        description=(
            "Events reported by the gateways' agents, newest first, cursor-paginated "
            "(follow `next`), filtered like the console's list: `range` (1h, 24h, 7d, 30d), "
            "`since`/`until`, `severity`, `category`, `region`, `gateway` (name), `src`/`dst` "
            "(an address or a CIDR), `port`, `signature`, `acknowledged`, `q` (words of the "
            "signature or message). Only events of the regions the caller may see. Read-only."
        ),
    ),
    retrieve=extend_schema(summary="One security event"),
)
class SecurityEventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = SecurityEvent.objects.select_related("gateway__region", "acknowledged_by")
    serializer_class = SecurityEventSerializer
    filterset_class = SecurityEventFilterSet
    pagination_class = SecurityEventCursorPagination
    # No ordering parameter: the cursor needs its one order.
    filter_backends = [DjangoFilterBackend]
    lookup_field = "uuid"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return super().get_queryset().restrict(self.request.user, "view")
