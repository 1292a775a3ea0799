from rest_framework import serializers
from taggit.serializers import TaggitSerializer, TagListSerializerField

from gateways.models import Gateway, Region


class RegionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:region-detail", lookup_field="uuid")

    class Meta:
        model = Region
        fields = ["id", "url", "name", "slug", "description", "created", "updated"]


class GatewaySerializer(TaggitSerializer, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:gateway-detail", lookup_field="uuid")
    region = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Region.objects.all(),
        help_text="The region's slug.",
    )
    tags = TagListSerializerField(required=False)

    class Meta:
        model = Gateway
        fields = [
            "id",
            "url",
            "name",
            "region",
            "tags",
            "description",
            "public_address",
            "software_version",
            "capacity_mbps",
            "status",
            "last_seen",
            "created",
            "updated",
        ]
        read_only_fields = ["status", "last_seen"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Only regions the caller may see can be chosen.
            self.fields["region"].queryset = Region.objects.restrict(request.user, "view")
