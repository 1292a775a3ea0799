"""Exports of the events list's current filter: CSV and JSON Lines, streamed.

Rows are read with a server-side cursor (``iterator(chunk_size=…)``; a named
cursor on PostgreSQL) as tuples of plain values, never model instances, and
written one line at a time: a million events cost the memory of one chunk.
"""

from __future__ import annotations

import csv
import json

from django.utils import timezone

EXPORT_FIELDS = (
    "uuid",
    "occurred_at",
    "received_at",
    "severity",
    "category",
    "signature",
    "message",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "protocol",
    "gateway",
    "region",
    "acknowledged_at",
    "details",
)
# The columns read for each field (gateway and region by name, through joins).
_COLUMNS = {
    "gateway": "gateway__name",
    "region": "gateway__region__name",
}
CHUNK_SIZE = 2000
FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}


class _Echo:
    """A file whose write() returns what it is given: csv.writer makes lines."""

    def write(self, value):
        return value


def _plain(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool, dict, list)):
        return value
    return str(value)  # UUID


def export_rows(queryset, chunk_size: int = CHUNK_SIZE):
    """Each event as a dict of EXPORT_FIELDS, in the queryset's order."""
    columns = [_COLUMNS.get(name, name) for name in EXPORT_FIELDS]
    rows = queryset.select_related(None).values_list(*columns).iterator(chunk_size=chunk_size)
    for row in rows:
        yield dict(zip(EXPORT_FIELDS, (_plain(value) for value in row), strict=True))


def jsonl_lines(queryset, chunk_size: int = CHUNK_SIZE):
    for row in export_rows(queryset, chunk_size):
        yield json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def csv_lines(queryset, chunk_size: int = CHUNK_SIZE):
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_FIELDS)
    for row in export_rows(queryset, chunk_size):
        row["details"] = json.dumps(row["details"], sort_keys=True)
        yield writer.writerow(
            [_neutralise(row[name]) if name in _TEXT else row[name] for name in EXPORT_FIELDS]
        )


# Text that agents report (signature, message) may start with "=", "+"… and be
# taken for a formula by a spreadsheet: a leading apostrophe keeps it text.
_TEXT = {"signature", "message", "gateway", "region", "details"}


def _neutralise(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def filename(fmt: str) -> str:
    return f"security-events-{timezone.now().strftime('%Y%m%dT%H%M%SZ')}.{fmt}"


def stream(queryset, fmt: str):
    """The lines of an export of ``queryset`` in ``fmt`` (csv or jsonl)."""
    return csv_lines(queryset) if fmt == "csv" else jsonl_lines(queryset)
