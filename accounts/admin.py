from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "is_active",
        "is_staff",
        "last_login",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("username", "email", "first_name", "last_name", "uuid")
    readonly_fields = ("uuid", "last_login", "date_joined")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Console"), {"fields": ("uuid", "preferences")}),
    )
