from django.contrib import admin

from console.admin import ReadOnlyAdminMixin
from security.models import (
    AllowlistEntry,
    ContainmentAction,
    CorrelationRule,
    Incident,
    IncidentActivity,
    SecurityEvent,
    SessionPolicy,
    UserSession,
)
from security.sessions import end_sessions


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


@admin.register(SessionPolicy)
class SessionPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "idle_timeout_minutes",
        "absolute_lifetime_hours",
        "max_sessions_per_user",
        "reauthentication_minutes",
        "updated",
    )

    def has_add_permission(self, request):
        return not SessionPolicy.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AllowlistEntry)
class AllowlistEntryAdmin(admin.ModelAdmin):
    """Superusers' way in when the allowlist page itself is out of reach; the
    self-lockout check lives in the console's form, not here."""

    list_display = ("network", "scope", "comment", "expires", "created_by", "updated")
    list_filter = ("scope",)
    search_fields = ("network", "comment")
    readonly_fields = ("uuid", "created", "updated", "created_by")


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    """Deleting a row here signs that session out (security.sessions)."""

    list_display = ("user", "device", "ip_address", "created", "last_active")
    search_fields = ("user__username", "ip_address", "device")
    list_select_related = ("user",)
    readonly_fields = (
        "uuid",
        "user",
        "ip_address",
        "user_agent",
        "device",
        "created",
        "last_active",
    )
    exclude = ("session_key",)
    actions = ["sign_out"]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        end_sessions([obj], reason="deleted in Django admin")

    def delete_queryset(self, request, queryset):
        end_sessions(list(queryset), reason="deleted in Django admin")

    @admin.action(description="Sign the selected sessions out")
    def sign_out(self, request, queryset):
        count = end_sessions(list(queryset), reason="signed out in Django admin")
        self.message_user(request, f"Signed out {count} session(s).")


class IncidentActivityInline(admin.TabularInline):
    model = IncidentActivity

    extra = 0
    fields = ("at", "kind", "actor", "text")
    readonly_fields = fields
    can_delete = False
    ordering = ("-at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("title", "severity", "status", "rule", "event_count", "assignee", "last_seen")
    list_filter = ("status", "severity", "rule")
    search_fields = ("uuid", "title", "summary", "src_ip")
    list_select_related = ("rule", "assignee")
    readonly_fields = ("uuid", "key", "rule", "first_seen", "last_seen", "event_count", "created")
    raw_id_fields = ("assignee",)
    filter_horizontal = ("gateways",)
    inlines = [IncidentActivityInline]


@admin.register(CorrelationRule)
class CorrelationRuleAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "enabled", "window_seconds", "threshold", "cooldown_seconds")
    list_filter = ("kind", "enabled")
    readonly_fields = ("uuid", "builtin")


@admin.register(ContainmentAction)
class ContainmentActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a block or quarantine is made and lifted through
    security.containment, which publishes the Containment policy with it; a
    row edited here would no longer match what the gateways enforce."""

    list_display = ("kind", "target_name", "scope_name", "created_at", "expires_at", "lifted_at")
    list_filter = ("kind",)
    search_fields = ("cidr", "target_name", "reason")
    raw_id_fields = ("incident", "gateway", "revision", "lift_revision")
