from rest_framework import serializers

from audit.models import AuditRecord


class AuditRecordSerializer(serializers.ModelSerializer):
    actor_user = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = AuditRecord
        fields = [
            "id",
            "seq",
            "time",
            "actor_type",
            "actor_id",
            "actor_name",
            "actor_user",
            "action",
            "object_type",
            "object_id",
            "object_name",
            "changes",
            "detail",
            "ip",
            "user_agent",
            "request_id",
            "source",
            "outcome",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields
