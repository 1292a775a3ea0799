from django.contrib import admin

from tunnels.models import Tunnel


@admin.register(Tunnel)
class TunnelAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "gateway_a",
        "gateway_b",
        "remote_address",
        "protocol",
        "enabled",
        "state",
        "latency_ms",
        "last_handshake",
    )
    list_filter = ("state", "protocol", "enabled", "tags")
    search_fields = (
        "name",
        "description",
        "remote_address",
        "gateway_a__name",
        "gateway_b__name",
        "uuid",
    )
    list_select_related = ("gateway_a", "gateway_b")
    autocomplete_fields = ("gateway_a", "gateway_b")
    # The live state is reported by the gateways; an edit here would be
    # overwritten by the next heartbeat.
    readonly_fields = (
        "uuid",
        "state",
        "latency_ms",
        "last_handshake",
        "rx_bytes",
        "tx_bytes",
        "state_changed",
        "created",
        "updated",
    )
    date_hierarchy = "created"
