from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

from console.api.permissions import ModelPermissions
from security import incidents
from security.api.serializers import (
    IncidentActivitySerializer,
    IncidentNoteSerializer,
    IncidentSerializer,
    SecurityEventSerializer,
)
from security.filtersets import IncidentFilterSet, SecurityEventFilterSet
from security.models import Incident, SecurityEvent


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
            "(an address or a CIDR), `port`, `signature`, `acknowledged`, `incident` (id), "
            "`q` (words of the signature or message). Only events of the regions the caller "
            "may see. Read-only."
        ),
    ),
    retrieve=extend_schema(summary="One security event"),
)
class SecurityEventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = SecurityEvent.objects.select_related(
        "gateway__region", "acknowledged_by", "incident"
    )
    serializer_class = SecurityEventSerializer
    filterset_class = SecurityEventFilterSet
    pagination_class = SecurityEventCursorPagination
    # No ordering parameter: the cursor needs its one order.
    filter_backends = [DjangoFilterBackend]
    lookup_field = "uuid"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        return super().get_queryset().restrict(self.request.user, "view")


# --- Incidents ---------------------------------------------------------------------


class IncidentPermissions(ModelPermissions):
    """Reading needs ``view_incident``; a PATCH and a note (POST) need
    ``change_incident``: nobody creates incidents by hand."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


class IncidentPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


@extend_schema_view(
    list=extend_schema(
        summary="Incidents",
        description=(
            "Security events grouped by the correlation rules, most recent activity first "
            "(`ordering`: last_seen, first_seen, severity, event_count, with `-` for descending). "
            "Filters as on the console's list: `status`, `severity`, `kind`, `rule` (id), "
            "`region`, `gateway` (name), `assignee` (user name, `me` or `none`), `range`, "
            "`since`/`until`, `q`. Only incidents reaching a region the caller may see."
        ),
    ),
    retrieve=extend_schema(summary="One incident"),
    partial_update=extend_schema(
        summary="Change an incident's status or assignee",
        description=(
            "Send `status` and/or `assignee` (a user name, or null). Each change is written "
            "to the incident's timeline; sending the current value changes nothing. Needs "
            "the change permission in every region the incident reaches."
        ),
    ),
)
class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Incident.objects.select_related("rule", "assignee").prefetch_related(
        "gateways__region"
    )
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    pagination_class = IncidentPagination
    permission_classes = [IncidentPermissions]
    ordering_fields = ["last_seen", "first_seen", "severity", "event_count"]
    ordering = ["-last_seen", "-id"]
    lookup_field = "uuid"
    lookup_value_converter = "uuid"
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        action = "view" if self.request.method in ("GET", "HEAD", "OPTIONS") else "change"
        return super().get_queryset().restrict(self.request.user, action)

    def perform_update(self, serializer):
        incident = serializer.instance
        data = serializer.validated_data
        with transaction.atomic():
            if "status" in data:
                incidents.set_status(incident, data["status"], self.request.user)
            if "assignee" in data:
                incidents.set_assignee(incident, data["assignee"], self.request.user)

    @extend_schema(
        summary="Add a note to an incident's timeline",
        description=(
            "A plain-text note. Send an `Idempotency-Key` header (any string up to 100 "
            "characters) to make a retried request add the note once: the repeat answers "
            "200 with the note added the first time."
        ),
        request=IncidentNoteSerializer,
        responses={201: IncidentActivitySerializer, 200: IncidentActivitySerializer},
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)
        ],
    )
    @action(detail=True, methods=["post"], url_path="notes")
    def notes(self, request, uuid=None):
        incident = self.get_object()
        serializer = IncidentNoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 100:
            raise ValidationError({"Idempotency-Key": ["At most 100 characters."]})
        text = serializer.validated_data["text"]
        if not text.strip():
            raise ValidationError({"text": ["This field may not be blank."]})
        note, created = incidents.add_note(incident, text, request.user, key or None)
        return Response(
            IncidentActivitySerializer(note).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
