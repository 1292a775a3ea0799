"""Django admin: the audit log is read-only there too (no add, change or
delete, not even for superusers)."""

from django.contrib import admin

from audit.models import AuditRecord
from console.admin import ReadOnlyAdminMixin


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "time", "actor_name", "action", "object_type", "object_name", "outcome")
    list_filter = ("outcome", "actor_type", "source")
    search_fields = ("actor_name", "object_name", "action", "request_id")
    date_hierarchy = "time"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]
