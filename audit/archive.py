"""Retention: the oldest part of the chain moves into compressed JSON Lines
files with a manifest, then out of the live table; ``audit_import`` brings a
file back and checks it against its manifest and its own hash chain.

An archive is always a prefix of the live chain (every sealed record up to
the first one younger than the cutoff), so the live chain keeps verifying
from the last archive's last hash.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.chain import Verification, _locked_head, seal_pending, verify_sequence
from audit.models import AuditArchive, AuditRecord
from audit.views import export_rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def archive_before(cutoff: datetime, directory: Path | None = None) -> AuditArchive | None:
    """Archive and remove the chain's prefix older than ``cutoff``.

    1. Under the chain lock (a moment): which sealed records form the prefix.
    2. Without it (sealed records never change): write the file and its
       manifest, and upload both when a bucket is configured, checking what
       the bucket holds.
    3. Under the lock again: record the archive and delete its records, in one
       transaction. A failed write or upload raises before anything is
       deleted; the next run writes the same range again.
    """
    directory = Path(directory or settings.AUDIT_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    seal_pending()
    with transaction.atomic():
        _locked_head()  # no sealing meanwhile: the prefix stays a prefix
        start = _next_archive_seq()
        young = (
            AuditRecord.objects.filter(seq__gte=start, time__gte=cutoff)
            .order_by("seq")
            .values_list("seq", flat=True)
            .first()
        )
        prefix = AuditRecord.objects.filter(seq__gte=start)
        if young is not None:
            prefix = prefix.filter(seq__lt=young)
        bounds = prefix.order_by("seq").values_list("seq", "prev_hash", "time").first()
        last_seq = prefix.order_by("-seq").values_list("seq", flat=True).first()
    if bounds is None:
        return None
    first_seq, first_prev_hash, first_time = bounds
    records = AuditRecord.objects.filter(seq__gte=first_seq, seq__lte=last_seq)

    name = f"audit-{first_seq:012d}"
    tmp = directory / f".{name}.tmp"
    count, last_row = 0, None
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        for row in export_rows(records.order_by("seq")):
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count, last_row = count + 1, row
    file_name = f"{name}-{last_row['seq']:012d}.jsonl.gz"
    path = directory / file_name
    os.replace(tmp, path)
    archive = AuditArchive(
        file_name=file_name,
        location=str(path),
        count=count,
        first_seq=first_seq,
        last_seq=last_row["seq"],
        first_time=first_time,
        last_time=parse_datetime(last_row["time"]),
        first_prev_hash=first_prev_hash,
        last_hash=last_row["hash"],
        sha256=_sha256(path),
    )
    manifest_path = directory / f"{file_name}.manifest.json"
    manifest_path.write_text(json.dumps(archive.manifest(), indent=2) + "\n")
    if settings.AUDIT_ARCHIVE_S3_BUCKET:
        from audit.storage import upload_archive

        archive.remote = upload_archive(path, manifest_path, archive.sha256)

    with transaction.atomic():
        _locked_head()
        if _next_archive_seq() > first_seq:
            return None  # another run archived this range meanwhile
        archive.save()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('audit.allow_delete', 'on', true)")
        deleted, _by_model = records.delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('audit.allow_delete', 'off', true)")
        if deleted != count:  # never delete what the file does not hold
            raise RuntimeError(f"archive {file_name}: {count} records written, {deleted} found")
    return archive


def _next_archive_seq() -> int:
    last = AuditArchive.objects.order_by("-last_seq").values_list("last_seq", flat=True).first()
    return last + 1 if last is not None else 1


def archive_expired(now: datetime | None = None) -> AuditArchive | None:
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    return archive_before(cutoff)


def read_archive(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def verify_archive(path: Path, manifest: dict | None = None) -> Verification:
    """The file against its manifest (SHA-256, count, ends) and its chain."""
    path = Path(path)
    if manifest is None:
        side = path.with_name(path.name + ".manifest.json")
        manifest = json.loads(side.read_text()) if side.exists() else None
    result = Verification()
    if manifest is not None and _sha256(path) != manifest["sha256"]:
        return result.fail(None, None, "the file's SHA-256 does not match its manifest")
    rows = read_archive(path)
    first = next(rows, None)
    if first is None:
        return result.fail(None, None, "the archive is empty")
    start_hash = manifest["first_prev_hash"] if manifest else first["prev_hash"]

    def chained():
        yield first
        yield from rows

    verify_sequence(chained(), first["seq"], start_hash, result)
    if (
        result.ok
        and manifest is not None
        and (result.checked != manifest["count"] or result.head_hash != manifest["last_hash"])
    ):
        return result.fail(result.last_seq, None, "the file ends differently from its manifest")
    return result


def import_archive(path: Path, manifest: dict | None = None) -> tuple[Verification, int]:
    """Verify, then put the records back in the table (below the live chain,
    which verification skips) for searching; records already there are kept."""
    result = verify_archive(path, manifest)
    if not result.ok:
        return result, 0
    fields = {f.attname: f for f in AuditRecord._meta.concrete_fields}
    created = 0
    batch = []
    with transaction.atomic():
        for row in read_archive(path):
            values = {name: row.get(name) for name in fields if name in row}
            values["time"] = parse_datetime(row["time"])
            batch.append(AuditRecord(**values))
            if len(batch) >= 1000:
                created += len(AuditRecord.objects.bulk_create(batch, ignore_conflicts=True))
                batch = []
        if batch:
            created += len(AuditRecord.objects.bulk_create(batch, ignore_conflicts=True))
    return result, created
