from django.contrib import admin

from security.models import SecurityEvent


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "gateway",
        "severity",
        "category",
        "signature",
        "src_ip",
        "dst_ip",
        "dst_port",
    )
    list_filter = ("severity", "category", "protocol")
    search_fields = ("uuid", "signature", "message", "src_ip", "dst_ip")
    list_select_related = ("gateway",)
    date_hierarchy = "occurred_at"
    readonly_fields = ("uuid", "received_at")
    show_full_result_count = False  # COUNT(*) over millions of rows is slow
