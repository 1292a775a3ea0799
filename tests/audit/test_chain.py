"""The hash chain: sealing, verification, tamper detection, append-only."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

import audit
from audit.chain import compute_hash, seal_pending, verify_chain
from audit.models import AuditChainHead, AuditRecord
from tests.audit.conftest import tamper
from tests.factories import RegionFactory

pytestmark = pytest.mark.django_db


def make_chain(n: int = 5) -> list[AuditRecord]:
    made = [audit.record("test.event", detail={"n": i}) for i in range(n)]
    seal_pending()
    return [AuditRecord.objects.get(pk=r.pk) for r in made]


def test_sealing_links_each_record_to_the_previous():
    chain = make_chain(4)
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert later.seq == earlier.seq + 1
        assert later.prev_hash == earlier.hash
    for record in chain:
        assert record.hash == compute_hash(record)
    head = AuditChainHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (chain[-1].seq, chain[-1].hash)
    assert verify_chain().ok


def test_records_of_a_transaction_are_sealed_after_it_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        RegionFactory()
        RegionFactory()
        assert AuditRecord.objects.filter(seq__isnull=True).exists()
    # One seal per transaction (other apps publish live changes after commit too).
    assert [c.__name__ for c in callbacks].count("_seal_after_commit") == 1
    assert not AuditRecord.objects.filter(seq__isnull=True).exists()


@pytest.mark.parametrize("field", ["action", "actor_name", "changes", "ip", "outcome"])
def test_an_altered_record_is_found_at_its_position(field):
    chain = make_chain(6)
    victim = chain[3]
    value = {"changes": "'{\"x\": [1, 2]}'", "outcome": "'failure'"}.get(field, "'forged'")
    tamper(f"UPDATE audit_auditrecord SET {field} = {value} WHERE id = %s", [victim.pk])
    result = verify_chain()
    assert not result.ok
    assert result.broken_seq == victim.seq
    assert result.broken_id == victim.pk
    assert "altered" in result.reason


def test_a_rehashed_record_breaks_the_next_link():
    chain = make_chain(5)
    victim = chain[2]
    victim.action = "forged"
    forged_hash = compute_hash(victim)
    tamper(
        "UPDATE audit_auditrecord SET action = 'forged', hash = %s WHERE id = %s",
        [forged_hash, victim.pk],
    )
    result = verify_chain()
    assert result.broken_seq == chain[3].seq
    assert "previous record" in result.reason


def test_a_deleted_record_is_found():
    chain = make_chain(5)
    tamper("DELETE FROM audit_auditrecord WHERE id = %s", [chain[1].pk])
    result = verify_chain()
    assert result.broken_seq == chain[1].seq
    assert "missing" in result.reason


def test_a_truncated_tail_is_found():
    chain = make_chain(5)
    tamper("DELETE FROM audit_auditrecord WHERE id = %s", [chain[-1].pk])
    result = verify_chain()
    assert not result.ok
    assert result.broken_seq == chain[-1].seq


def test_the_database_refuses_update_and_delete():
    (record,) = make_chain(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=record.pk).update(action="forged")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=record.pk).delete()
    unsealed = audit.record("test.unsealed")
    # Sealing is the one update allowed, once; nothing else may change with it.
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=unsealed.pk).update(seq=10**9, action="forged")
    seal_pending()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditRecord.objects.filter(pk=unsealed.pk).update(seq=10**9 + 1)
    assert verify_chain().ok


def test_audit_verify_command():
    chain = make_chain(3)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "intact" in out.getvalue()
    tamper("UPDATE audit_auditrecord SET actor_name = 'x' WHERE id = %s", [chain[1].pk])
    with pytest.raises(CommandError, match=f"#{chain[1].seq}"):
        call_command("audit_verify", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_make_one_unbroken_chain():
    AuditChainHead.objects.get_or_create(pk=1)
    errors = []

    def write(n):
        try:
            for i in range(15):
                with transaction.atomic():
                    audit.record("test.concurrent", detail={"writer": n, "i": i})
        except Exception as exc:  # pragma: no cover - shown on failure
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seal_pending()
    assert AuditRecord.objects.filter(action="test.concurrent", seq__isnull=False).count() == 60
    result = verify_chain()
    assert result.ok, result.summary()
