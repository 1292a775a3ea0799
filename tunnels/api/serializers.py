from copy import copy

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework.settings import api_settings
from taggit.serializers import TaggitSerializer, TagListSerializerField

from gateways.models import Gateway
from tunnels.models import Tunnel

LIVE_STATE_FIELDS = [
    "state",
    "latency_ms",
    "last_handshake",
    "rx_bytes",
    "tx_bytes",
    "state_changed",
]


class GatewayByIdField(serializers.SlugRelatedField):
    """A gateway named by its public id (UUID), like ``id`` in /api/v1/gateways/."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="uuid", queryset=Gateway.objects.all(), **kwargs)

    def to_internal_value(self, data):
        try:
            serializers.UUIDField().to_internal_value(data)
        except serializers.ValidationError:
            self.fail("invalid")
        return super().to_internal_value(data)

    def to_representation(self, obj):
        return str(obj.uuid)


class TunnelSerializer(TaggitSerializer, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:tunnel-detail", lookup_field="uuid")
    gateway_a = GatewayByIdField(
        label="Gateway A", help_text="The public id (UUID) of the gateway at end A."
    )
    gateway_b = GatewayByIdField(
        label="Gateway B",
        required=False,
        allow_null=True,
        help_text=(
            "The public id (UUID) of the gateway at end B; null when the far end is a "
            "remote site (then give remote_address and remote_subnets)."
        ),
    )
    tags = TagListSerializerField(required=False)

    class Meta:
        model = Tunnel
        fields = [
            "id",
            "url",
            "name",
            "protocol",
            "enabled",
            "gateway_a",
            "gateway_b",
            "remote_address",
            "remote_subnets",
            "mtu",
            "tags",
            "description",
            *LIVE_STATE_FIELDS,
            "created",
            "updated",
        ]
        read_only_fields = LIVE_STATE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Only gateways the caller may see can be chosen.
            for name in ("gateway_a", "gateway_b"):
                self.fields[name].queryset = Gateway.objects.restrict(request.user, "view")

    def validate(self, attrs):
        """Run the model's own rules (Tunnel.clean and its constraints) so that a
        self tunnel or a duplicate pair is a 400 on the field, as on the page."""
        attrs = super().validate(attrs)
        candidate = copy(self.instance) if self.instance is not None else Tunnel()
        for name, value in attrs.items():
            if name != "tags":
                setattr(candidate, name, value)
        try:
            candidate.full_clean(exclude=["tags"])
        except DjangoValidationError as exc:
            errors = serializers.as_serializer_error(exc)
            if NON_FIELD_ERRORS in errors:
                errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
            raise serializers.ValidationError(errors) from None
        # clean() writes the subnets in one canonical spelling.
        attrs["remote_subnets"] = candidate.remote_subnets
        return attrs

    def save(self, **kwargs):
        # validate() saw the database as it was; a concurrent write of the same
        # pair still ends in the unique index, answered as a 400 rather than a 500.
        try:
            with transaction.atomic():
                return super().save(**kwargs)
        except IntegrityError as exc:
            if "tunnel_unique_gateway_pair" not in str(exc):
                raise
            raise serializers.ValidationError(
                {"gateway_b": ["These two gateways already have a tunnel."]}
            ) from None
