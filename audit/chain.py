"""The hash chain: sealing records into it, and checking it.

Each sealed record's ``hash`` is SHA-256 over its canonical content (every
field, its position ``seq`` and the previous record's hash). Records are
written unsealed in the transaction of their change; ``seal_pending`` runs
right after that transaction commits (``transaction.on_commit``), takes the
lock on the single ``AuditChainHead`` row in a short transaction of its own,
and seals every committed unsealed record in id order. A beat task seals
whatever a crashed process left (audit/tasks.py).

Why not seal inside the change's transaction: it would hold the chain lock
from the first audited save until commit, serialising every writer behind
the slowest transaction and deadlocking two transactions that lock the same
rows in different order. Sealing after commit keeps the lock for a few
milliseconds, and batches: under load one seal covers many records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC

from django.conf import settings
from django.db import connection, transaction

from audit.models import GENESIS_HASH, AuditArchive, AuditChainHead, AuditRecord

# The content of a record, in the order hashed (the order does not matter:
# keys are sorted; the list is what is included).
HASHED_FIELDS = (
    "id",
    "seq",
    "prev_hash",
    "time",
    "actor_type",
    "actor_id",
    "actor_name",
    "actor_user_id",
    "action",
    "object_type",
    "object_id",
    "object_name",
    "changes",
    "detail",
    "ip",
    "user_agent",
    "request_id",
    "source",
    "outcome",
)


def canonical(values: dict) -> bytes:
    return json.dumps(
        values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def record_content(record) -> dict:
    """A record (model instance or exported dict) as the values hashed."""
    if isinstance(record, dict):
        values = {name: record.get(name) for name in HASHED_FIELDS}
    else:
        values = {name: getattr(record, name) for name in HASHED_FIELDS}
    moment = values["time"]
    if not isinstance(moment, str):
        values["time"] = moment.astimezone(UTC).isoformat()
    return values


def compute_hash(record) -> str:
    return hashlib.sha256(canonical(record_content(record))).hexdigest()


def chain_head() -> AuditChainHead:
    head = AuditChainHead.objects.filter(pk=1).first()
    return head or AuditChainHead(pk=1)


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # A flushed database (tests): create the row, then lock it.
        AuditChainHead.objects.bulk_create([AuditChainHead(pk=1)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def seal_pending(limit: int = 5000) -> int:
    """Seal committed records not in the chain yet, oldest id first. Returns
    how many were sealed."""
    with transaction.atomic():
        head = _locked_head()
        pending = list(AuditRecord.objects.filter(seq__isnull=True).order_by("id")[:limit])
        if not pending:
            return 0
        seq, prev = head.seq, head.hash
        for record in pending:
            seq += 1
            record.seq, record.prev_hash = seq, prev
            record.hash = compute_hash(record)
            prev = record.hash
        AuditRecord.objects.bulk_update(pending, ["seq", "prev_hash", "hash"])
        head.seq, head.hash = seq, prev
        head.save(update_fields=["seq", "hash", "updated"])
        if getattr(settings, "AUDIT_FORWARD_URL", None):
            first = pending[0].seq
            transaction.on_commit(lambda: _forward(first, seq))
    return len(pending)


def _forward(first_seq: int, last_seq: int) -> None:
    from audit.forwarding import enqueue

    enqueue(first_seq, last_seq)


def _seal_after_commit() -> None:
    try:
        seal_pending()
    except Exception:  # never fail the request that made the change
        import logging

        logging.getLogger("audit").exception("Sealing audit records failed; the beat task retries")


def schedule_seal() -> None:
    """Seal once the current transaction commits (at once outside one); one
    seal per transaction, however many records it wrote."""
    if connection.in_atomic_block and any(
        func is _seal_after_commit for _sids, func, _robust in connection.run_on_commit
    ):
        return
    transaction.on_commit(_seal_after_commit)


@dataclass
class Verification:
    ok: bool = True
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_hash: str = GENESIS_HASH
    unsealed: int = 0
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    def fail(self, seq, record_id, reason: str) -> Verification:
        self.ok, self.broken_seq, self.broken_id, self.reason = False, seq, record_id, reason
        return self

    def summary(self) -> str:
        if self.ok:
            return (
                f"Chain intact: {self.checked} records checked"
                + (f" (#{self.first_seq}–#{self.last_seq})" if self.checked else "")
                + f", head {self.head_hash[:16]}…"
                + (f"; {self.unsealed} not sealed yet" if self.unsealed else "")
                + "."
            )
        return f"Chain broken at #{self.broken_seq} (record id {self.broken_id}): {self.reason}"


def verify_sequence(
    records: Iterable, expected_seq: int, prev_hash: str, result: Verification
) -> Verification:
    """Check records (instances or dicts, in seq order) from ``expected_seq``
    whose first must follow ``prev_hash``; stops at the first broken link."""
    for record in records:
        get = record.get if isinstance(record, dict) else lambda n, r=record: getattr(r, n)
        seq, record_id = get("seq"), get("id")
        if result.checked == 0:
            result.first_seq = seq
        if seq != expected_seq:
            return result.fail(
                expected_seq,
                record_id,
                f"record #{expected_seq} is missing (next is #{seq}): deleted",
            )
        if get("prev_hash") != prev_hash:
            return result.fail(seq, record_id, "does not follow the previous record's hash")
        if compute_hash(record) != get("hash"):
            return result.fail(seq, record_id, "content does not match its hash: altered")
        prev_hash = get("hash")
        expected_seq += 1
        result.checked += 1
        result.last_seq = seq
    result.head_hash = prev_hash
    return result


def verify_chain(chunk_size: int = 2000) -> Verification:
    """Walk the live chain from the last archive (or the start) to the head."""
    result = Verification()
    archive = AuditArchive.objects.order_by("-last_seq").first()
    expected_seq, prev_hash = (
        (archive.last_seq + 1, archive.last_hash) if archive else (1, GENESIS_HASH)
    )
    # Records brought back from an archive (audit_import) sit below the live
    # chain's start; they were verified against their manifest when imported.
    sealed = AuditRecord.objects.filter(seq__gte=expected_seq).order_by("seq")
    verify_sequence(sealed.iterator(chunk_size=chunk_size), expected_seq, prev_hash, result)
    result.unsealed = AuditRecord.objects.filter(seq__isnull=True).count()
    if not result.ok:
        return result
    head = chain_head()
    last_seq = result.last_seq if result.checked else expected_seq - 1
    if head.seq != last_seq or head.hash != result.head_hash:
        return result.fail(
            last_seq + 1,
            None,
            f"the chain head says #{head.seq} but the last record is #{last_seq}: "
            "records were removed from the end",
        )
    return result
