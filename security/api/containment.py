"""/api/v1/containment/: containment actions (security.containment) —
list and read them, block a source, quarantine a gateway, lift an action.

Taking and lifting need ``security.add_containmentaction`` /
``change_containmentaction`` in the region concerned and, like publishing
policies, a recent sign-in (API keys are refused). docs/containment.md."""

from __future__ import annotations

import uuid as uuidlib

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from gateways.models import Gateway, Region
from policies.api.views import require_recent_authentication
from security import containment
from security.choices import ContainmentKind, ContainmentState
from security.models import ContainmentAction, Incident

EXPIRY_CHOICES = [*containment.EXPIRY_CHOICES, containment.EXPIRY_CUSTOM, containment.EXPIRY_NEVER]


class ContainmentActionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    state = serializers.ChoiceField(choices=ContainmentState.choices, read_only=True)
    incident = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    gateway = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    region = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    created_by = serializers.StringRelatedField()
    lifted_by = serializers.StringRelatedField()
    revision = serializers.SlugRelatedField(slug_field="number", read_only=True)
    lift_revision = serializers.SlugRelatedField(slug_field="number", read_only=True)
    rule_ids = serializers.ListField(child=serializers.UUIDField(), read_only=True)

    class Meta:
        model = ContainmentAction
        fields = [
            "id",
            "kind",
            "state",
            "cidr",
            "gateway",
            "region",
            "target_name",
            "scope_name",
            "incident",
            "reason",
            "expires_at",
            "created_by",
            "created_at",
            "revision",
            "lifted_at",
            "lifted_by",
            "lift_expired",
            "lift_revision",
            "rule_ids",
        ]
        read_only_fields = fields


class ExpiryInput(serializers.Serializer):
    expires = serializers.ChoiceField(choices=EXPIRY_CHOICES, default="24h")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    incident = serializers.UUIDField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, attrs):
        try:
            attrs["expires_on"] = containment.expiry_from(attrs["expires"], attrs.get("expires_at"))
        except containment.ContainmentRefused as refused:
            raise serializers.ValidationError(refused.errors) from None
        key = attrs.get("incident")
        attrs["incident_obj"] = None
        if key is not None:
            user = self.context["request"].user
            incident = Incident.objects.restrict(user, "view").filter(uuid=key).first()
            if incident is None:
                raise serializers.ValidationError({"incident": [_("No such incident.")]})
            attrs["incident_obj"] = incident
        return attrs


class BlockInput(ExpiryInput):
    cidr = serializers.CharField(max_length=49, allow_blank=True)
    region = serializers.UUIDField(
        required=False, allow_null=True, help_text="A region's id; null: the whole fleet."
    )
    confirm_wide = serializers.BooleanField(default=False)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        try:
            attrs["network"] = containment.parse_source(attrs["cidr"], attrs["confirm_wide"])
        except containment.ContainmentRefused as refused:
            raise serializers.ValidationError(refused.errors) from None
        attrs["region_obj"] = None
        if attrs.get("region") is not None:
            region = Region.objects.filter(uuid=attrs["region"]).first()
            if region is None:
                raise serializers.ValidationError({"region": [_("No such region.")]})
            attrs["region_obj"] = region
        return attrs


class QuarantineInput(ExpiryInput):
    gateway = serializers.UUIDField()
    expires = serializers.ChoiceField(choices=EXPIRY_CHOICES, default=containment.EXPIRY_NEVER)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        user = self.context["request"].user
        gateway = (
            Gateway.objects.restrict(user, "view")
            .select_related("region")
            .filter(uuid=attrs["gateway"])
            .first()
        )
        if gateway is None:
            raise serializers.ValidationError({"gateway": [_("No such gateway.")]})
        attrs["gateway_obj"] = gateway
        return attrs


class Refused(APIException):
    def __init__(self, refused: containment.ContainmentRefused):
        super().__init__(refused.errors)
        self.status_code = refused.status


PERMS = {
    "list": "security.view_containmentaction",
    "retrieve": "security.view_containmentaction",
    "block": containment.ADD,
    "quarantine": containment.ADD,
    "lift": containment.CHANGE,
}


class ContainmentPermission(BasePermission):
    def has_permission(self, request, view):
        perm = PERMS.get(view.action or _route(view), "security.view_containmentaction")
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(perm))


def _route(view) -> str:
    actions = set(getattr(view, "action_map", {}).values())
    return actions.pop() if len(actions) == 1 else ""


@extend_schema(
    parameters=[
        OpenApiParameter("state", enum=[s.value for s in ContainmentState]),
        OpenApiParameter("kind", enum=[k.value for k in ContainmentKind]),
        OpenApiParameter("incident", str, description="An incident's id."),
    ]
)
class ContainmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Containment actions in your scope (fleet-wide ones included), newest
    first; block, quarantine and lift publish a policy revision at once."""

    serializer_class = ContainmentActionSerializer
    permission_classes = [ContainmentPermission]
    lookup_field = "uuid"
    lookup_value_converter = "uuid"
    filter_backends: list = []
    queryset = ContainmentAction.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ContainmentAction.objects.none()
        qs = ContainmentAction.objects.restrict(self.request.user, "view").select_related(
            "incident", "gateway", "region", "created_by", "lifted_by", "revision", "lift_revision"
        )
        params = self.request.query_params
        state = params.get("state")
        if state == ContainmentState.ACTIVE:
            qs = qs.filter(lifted_at__isnull=True)
        elif state == ContainmentState.EXPIRED:
            qs = qs.filter(lifted_at__isnull=False, lift_expired=True)
        elif state == ContainmentState.LIFTED:
            qs = qs.filter(lifted_at__isnull=False, lift_expired=False)
        if params.get("kind") in ContainmentKind.values:
            qs = qs.filter(kind=params["kind"])
        incident = params.get("incident")
        if incident:
            try:
                qs = qs.filter(incident__uuid=uuidlib.UUID(incident))
            except ValueError:  # a malformed id finds nothing
                qs = qs.none()
        return qs.order_by("-created_at", "-id")

    def _created(self, made, code=status.HTTP_201_CREATED):
        made = ContainmentAction.objects.select_related(
            "incident", "gateway", "region", "created_by", "lifted_by", "revision", "lift_revision"
        ).get(pk=made.pk)
        return Response(ContainmentActionSerializer(made).data, status=code)

    @extend_schema(
        request=BlockInput,
        responses={
            201: ContainmentActionSerializer,
            400: OpenApiResponse(description="Bad input: field messages."),
            403: OpenApiResponse(description="No permission, out of scope, or no recent sign-in."),
            409: OpenApiResponse(description="The same block is already active."),
        },
    )
    @action(detail=False, methods=["post"])
    def block(self, request):
        """Deny a source address or network at every gateway or a region's."""
        require_recent_authentication(request)
        data = BlockInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            made = containment.block_source(
                request.user,
                containment.BlockRequest(
                    cidr=str(values["network"]),
                    region=values["region_obj"],
                    expires_at=values["expires_on"],
                    incident=values["incident_obj"],
                    reason=values["reason"],
                    confirm_wide=values["confirm_wide"],
                ),
                request=request._request,
            )
        except containment.ContainmentRefused as refused:
            raise Refused(refused) from None
        return self._created(made)

    @extend_schema(
        request=QuarantineInput,
        responses={
            201: ContainmentActionSerializer,
            400: OpenApiResponse(description="Bad input: field messages."),
            403: OpenApiResponse(description="No permission, out of scope, or no recent sign-in."),
            409: OpenApiResponse(description="The gateway is already quarantined."),
        },
    )
    @action(detail=False, methods=["post"])
    def quarantine(self, request):
        """Let a gateway pass only management traffic."""
        require_recent_authentication(request)
        data = QuarantineInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            made = containment.quarantine_gateway(
                request.user,
                values["gateway_obj"],
                expires_at=values["expires_on"],
                incident=values["incident_obj"],
                reason=values["reason"],
                request=request._request,
            )
        except containment.ContainmentRefused as refused:
            raise Refused(refused) from None
        return self._created(made)

    @extend_schema(
        request=None,
        responses={
            200: ContainmentActionSerializer,
            403: OpenApiResponse(description="No permission, or no recent sign-in."),
            404: OpenApiResponse(description="No action you may lift has this id."),
            409: OpenApiResponse(description="Already lifted."),
        },
    )
    @action(detail=True, methods=["post"])
    def lift(self, request, uuid=None):
        """Remove the action's rules and publish at once."""
        require_recent_authentication(request)
        target = (
            ContainmentAction.objects.restrict(request.user, "change")
            .select_related("region", "incident")
            .filter(uuid=uuid)
            .first()
        )
        if target is None:
            from rest_framework.exceptions import NotFound

            raise NotFound(_("No containment action you may lift has this id."))
        try:
            lifted = containment.lift(request.user, target, request=request._request)
        except containment.ContainmentRefused as refused:
            raise Refused(refused) from None
        return self._created(lifted, status.HTTP_200_OK)
