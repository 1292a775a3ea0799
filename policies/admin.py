from django.contrib import admin

from console.admin import ReadOnlyAdminMixin
from policies.models import Policy, PolicyCategory, PolicyRevision, Rule


@admin.register(PolicyCategory)
class PolicyCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "description")
    search_fields = ("name", "description")


class RuleInline(admin.StackedInline):
    model = Rule
    extra = 0
    ordering = ("position",)
    fields = (
        "position",
        "action",
        ("src_regions", "src_gateways", "src_groups", "src_cidrs"),
        ("dst_cidrs", "dst_hosts", "dst_services"),
        ("protocol", "ports"),
        ("schedule_days", "schedule_start", "schedule_end", "schedule_timezone"),
        "expires",
        "comment",
    )


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """Raw draft fixes. Publishing happens in the console (validation,
    confirmation, re-authentication), never here."""

    list_display = ("name", "priority", "category", "enabled", "updated")
    list_filter = ("enabled", "category", "tags")
    search_fields = ("name", "description", "uuid")
    list_select_related = ("category",)
    inlines = [RuleInline]


@admin.register(PolicyRevision)
class PolicyRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Revisions are immutable: read-only here."""

    list_display = ("number", "created", "author_name", "config_version", "message")
    search_fields = ("message", "author_name", "uuid")
    readonly_fields = [f.name for f in PolicyRevision._meta.fields]
