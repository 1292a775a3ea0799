"""Each step of the policy flow is recorded for the audit log: draft edits
as ordinary saves, publish, rollback, import and moves as named actions."""

from __future__ import annotations

import pytest

from audit.models import AuditRecord
from policies.publishing import publish, rollback
from policies.snapshot import export_draft, import_snapshot
from tests.factories import user_with_perms
from tests.policies.factories import PolicyFactory, RuleFactory

pytestmark = pytest.mark.django_db


def test_publish_rollback_and_import_are_recorded():
    author = user_with_perms("auditee", "policies.publish_policy")
    rule = RuleFactory(policy=PolicyFactory(name="web"))
    first = publish(author, "first")
    rule.ports = "8443"
    rule.save()
    publish(author, "second")
    rollback(author, first)
    import_snapshot(export_draft())
    actions = list(
        AuditRecord.objects.filter(action__startswith="policy.")
        .order_by("pk")
        .values_list("action", "object_name", "detail")
    )
    names = [a for a, _n, _d in actions]
    assert names == ["policy.publish", "policy.publish", "policy.rollback", "policy.import"]
    assert actions[0][2]["message"] == "first"
    assert actions[2][2]["rollback_of"] == 1
    assert actions[3][2] == {"policies": 1, "rules": 1}
