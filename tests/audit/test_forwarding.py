"""Forwarding to a SIEM: RFC 5424 over UDP and TCP to real listeners, and
HTTPS-style JSON Lines to a real HTTP server; never in the request."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

import audit
from audit.chain import seal_pending
from audit.forwarding import send, syslog_message
from audit.models import AuditRecord

pytestmark = pytest.mark.django_db


def sealed(n: int = 2):
    made = [audit.record("test.forward", detail={"i": i}, outcome="denied") for i in range(n)]
    seal_pending()
    return list(AuditRecord.objects.filter(pk__in=[r.pk for r in made]).order_by("seq"))


def test_rfc5424_over_udp():
    entries = sealed(2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        send(entries, f"syslog+udp://127.0.0.1:{port}")
        got = [listener.recv(65535).decode() for _ in entries]
    first = got[0]
    assert first.startswith(f"<{13 * 8 + 4}>1 ")  # log audit, warning (denied)
    assert f" rustronaut-console - {entries[0].seq} [audit@32473 " in first
    assert 'action="test.forward"' in first and f'hash="{entries[0].hash}"' in first
    body = json.loads(first.split("\ufeff", 1)[1])
    assert body["seq"] == entries[0].seq and body["hash"] == entries[0].hash


def test_rfc5424_over_tcp_with_octet_counting():
    entries = sealed(3)
    received = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            data = b""
            while chunk := self.request.recv(65535):
                data += chunk
            while data:
                length, _, rest = data.partition(b" ")
                received.append(rest[: int(length)].decode())
                data = rest[int(length) :]

    with socketserver.TCPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.handle_request)
        thread.start()
        send(entries, f"syslog+tcp://127.0.0.1:{server.server_address[1]}")
        thread.join(5)
    assert len(received) == 3
    assert [json.loads(m.split("\ufeff", 1)[1])["seq"] for m in received] == [
        e.seq for e in entries
    ]


def test_https_endpoint_gets_json_lines():
    entries = sealed(2)
    bodies = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    send(entries, f"http://127.0.0.1:{server.server_address[1]}/ingest")
    thread.join(5)
    server.server_close()
    rows = [json.loads(line) for line in bodies[0].splitlines()]
    assert [r["hash"] for r in rows] == [e.hash for e in entries]


def test_an_unreachable_receiver_raises_for_a_retry_and_never_reaches_the_request(
    settings, client, admin_user, django_capture_on_commit_callbacks
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        send(sealed(1), f"syslog+tcp://127.0.0.1:{port}", timeout=1)
    settings.AUDIT_FORWARD_URL = f"syslog+tcp://127.0.0.1:{port}"
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/regions/add/", {"name": "Forwarded", "slug": "forwarded", "description": ""}
        )
    assert response.status_code == 302  # the request never waits for the SIEM


def test_message_escapes_structured_data():
    (entry,) = sealed(1)
    entry.actor_name = 'a "quoted" ] name'
    assert b'actor="a \\"quoted\\" \\] name"' in syslog_message(entry)
