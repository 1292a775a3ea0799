from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.pagination import CursorPagination

from audit.api.serializers import AuditRecordSerializer
from audit.filtersets import AuditRecordFilterSet
from audit.models import AuditRecord


class AuditCursorPagination(CursorPagination):
    """Newest first by id: stable under appends, no COUNT, no OFFSET."""

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


@extend_schema_view(
    list=extend_schema(
        summary="Audit records",
        description=(
            "Every recorded action, newest first, cursor-paginated (follow `next`). "
            "Read-only: records cannot be changed or deleted. Auditor and Admin roles."
        ),
    ),
    retrieve=extend_schema(summary="One audit record"),
)
class AuditRecordViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AuditRecord.objects.select_related("actor_user")
    serializer_class = AuditRecordSerializer
    filterset_class = AuditRecordFilterSet
    pagination_class = AuditCursorPagination
    # No ordering parameter: the cursor needs its one order.
    filter_backends = [DjangoFilterBackend]
