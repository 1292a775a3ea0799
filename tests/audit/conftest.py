import pytest
from django.db import connection

from audit.models import AuditRecord
from tests.factories import user_with_role


@pytest.fixture
def records(db):
    """The records written since the test started (migrations and earlier
    set-up leave their own)."""
    start = AuditRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def new(**filters):
        return list(AuditRecord.objects.filter(id__gt=start, **filters).order_by("id"))

    return new


@pytest.fixture
def auditor(db):
    return user_with_role("auditor", "Auditor")


@pytest.fixture
def admin_role_user(db):
    return user_with_role("boss", "Admin")


def tamper(sql: str, params=()) -> None:
    """Change audit rows behind the trigger's back, as someone with the
    database owner's rights could."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditrecord DISABLE TRIGGER audit_record_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditrecord ENABLE TRIGGER audit_record_append_only")
