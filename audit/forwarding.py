"""Forwarding sealed records to a SIEM, as they happen, never in the request.

Sealing enqueues the range it sealed (``forward_audit_records``, a Celery task
with retries and backoff); the task sends each record as an RFC 5424 syslog
message over TCP (octet-counted framing, RFC 6587) or UDP, or as JSON Lines
in one HTTPS POST. Delivery is at least once: a receiver deduplicates by
``seq`` (the syslog MSGID).
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

from django.conf import settings

from audit.chain import record_content

APP_NAME = "rustronaut-console"
FACILITY_LOG_AUDIT = 13
SEVERITY = {"success": 5, "failure": 4, "denied": 4}  # notice, warning


def _sd_escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_message(entry) -> bytes:
    """One record as an RFC 5424 message: structured data for the main
    fields, the full record as JSON in MSG."""
    pri = FACILITY_LOG_AUDIT * 8 + SEVERITY.get(entry.outcome, 5)
    stamp = entry.time.isoformat().replace("+00:00", "Z")
    host = (getattr(settings, "ALLOWED_HOSTS", None) or ["-"])[0].strip("[]*.") or "-"
    fields = {
        "seq": entry.seq,
        "action": entry.action,
        "actor": entry.actor_name,
        "object": entry.object_name,
        "outcome": entry.outcome,
        "ip": entry.ip,
        "hash": entry.hash,
    }
    sd = "[audit@32473 " + " ".join(f'{k}="{_sd_escape(v)}"' for k, v in fields.items()) + "]"
    content = dict(record_content(entry), hash=entry.hash)
    body = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str)
    return f"<{pri}>1 {stamp} {host} {APP_NAME} - {entry.seq} {sd} \ufeff{body}".encode()


def send(entries, url: str | None = None, timeout: float = 5.0) -> int:
    """Send ``entries`` to ``url`` (AUDIT_FORWARD_URL); raises on failure so
    the task retries."""
    url = url or settings.AUDIT_FORWARD_URL
    parsed = urlparse(url)
    entries = list(entries)
    if not entries:
        return 0
    if parsed.scheme == "syslog+udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for entry in entries:
                sock.sendto(syslog_message(entry), (parsed.hostname, parsed.port or 514))
    elif parsed.scheme == "syslog+tcp":
        with socket.create_connection((parsed.hostname, parsed.port or 514), timeout) as sock:
            for entry in entries:
                message = syslog_message(entry)
                sock.sendall(f"{len(message)} ".encode() + message)
    else:
        import urllib.request

        lines = "".join(
            json.dumps(dict(record_content(e), hash=e.hash), sort_keys=True, default=str) + "\n"
            for e in entries
        )
        request = urllib.request.Request(
            url,
            data=lines.encode(),
            headers={"Content-Type": "application/x-ndjson"},
            method="POST",
        )
        # URLError and HTTPError are OSErrors: the task retries them.
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
    return len(entries)


def enqueue(first_seq: int, last_seq: int) -> None:
    """After sealing: hand the range to the worker; never fails the caller."""
    if not getattr(settings, "AUDIT_FORWARD_URL", None):
        return
    try:
        from audit.tasks import forward_audit_records

        forward_audit_records.delay(first_seq, last_seq)
    except Exception:
        import logging

        logging.getLogger("audit").exception("Could not enqueue audit forwarding")
