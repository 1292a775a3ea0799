from django.contrib.auth import get_user_model
from rest_framework import serializers

from gateways.models import Gateway
from security.models import Incident, IncidentActivity, SecurityEvent


class SecurityEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.HyperlinkedIdentityField(
        view_name="api:securityevent-detail", lookup_field="uuid"
    )
    gateway = serializers.UUIDField(source="gateway.uuid", read_only=True)
    gateway_name = serializers.CharField(source="gateway.name", read_only=True)
    region = serializers.CharField(
        source="gateway.region.slug", read_only=True, help_text="The gateway's region (slug)."
    )
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", read_only=True, allow_null=True, default=None
    )
    incident = serializers.UUIDField(
        source="incident.uuid",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The incident correlation linked the event to, if any.",
    )

    class Meta:
        model = SecurityEvent
        fields = [
            "id",
            "url",
            "occurred_at",
            "received_at",
            "severity",
            "category",
            "signature",
            "message",
            "src_ip",
            "src_port",
            "dst_ip",
            "dst_port",
            "protocol",
            "gateway",
            "gateway_name",
            "region",
            "acknowledged_at",
            "acknowledged_by",
            "incident",
            "details",
        ]
        read_only_fields = fields


# --- Incidents ---------------------------------------------------------------------


class IncidentActivitySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = IncidentActivity
        fields = ["at", "kind", "actor", "text", "data"]
        read_only_fields = fields


class IncidentGatewaySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    region = serializers.CharField(source="region.slug", read_only=True)

    class Meta:
        model = Gateway
        fields = ["id", "name", "region"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    """An incident; ``status`` and ``assignee`` (a user name, or null) can be
    changed with PATCH, each change written to its timeline."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:incident-detail", lookup_field="uuid")
    rule = serializers.CharField(source="rule.name", read_only=True, allow_null=True, default=None)
    kind = serializers.CharField(source="rule.kind", read_only=True, allow_null=True, default=None)
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.none(),
        allow_null=True,
        required=False,
        help_text="The user name of someone who may change incidents, or null.",
    )
    gateways = IncidentGatewaySerializer(many=True, read_only=True)
    events = serializers.SerializerMethodField(
        help_text="The incident's events in the security events API."
    )

    class Meta:
        model = Incident
        fields = [
            "id",
            "url",
            "title",
            "summary",
            "severity",
            "status",
            "assignee",
            "rule",
            "kind",
            "src_ip",
            "first_seen",
            "last_seen",
            "event_count",
            "gateways",
            "details",
            "events",
            "created",
            "updated",
        ]
        read_only_fields = [name for name in fields if name not in ("status", "assignee")]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from security.incidents import assignable_users

        self.fields["assignee"].queryset = assignable_users()

    def get_events(self, obj) -> str:
        from django.urls import reverse

        url = f"{reverse('api:securityevent-list')}?incident={obj.uuid}"
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class IncidentNoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000, help_text="The note, plain text.")
