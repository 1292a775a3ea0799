"""What the apps' Django admin classes share."""

from __future__ import annotations


class ReadOnlyAdminMixin:
    """Rows that only the console's own code writes (audit records, policy
    revisions, containment actions): Django admin may show them, never add,
    change or delete one."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
