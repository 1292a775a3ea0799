from django.contrib import admin
from django.db.models import Count

from gateways.models import Gateway, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "gateway_count", "created")
    search_fields = ("name", "slug", "description", "uuid")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("uuid", "created", "updated")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(gateway_count=Count("gateways"))

    @admin.display(ordering="gateway_count", description="Gateways")
    def gateway_count(self, obj):
        return obj.gateway_count


@admin.register(Gateway)
class GatewayAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "region",
        "status",
        "public_address",
        "software_version",
        "capacity_mbps",
        "last_seen",
    )
    list_filter = ("status", "region", "tags")
    search_fields = ("name", "description", "public_address", "uuid")
    list_select_related = ("region",)
    readonly_fields = ("uuid", "created", "updated")
    date_hierarchy = "created"
