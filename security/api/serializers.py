from rest_framework import serializers

from security.models import SecurityEvent


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
            "details",
        ]
        read_only_fields = fields
