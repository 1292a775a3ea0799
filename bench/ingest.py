"""Agent API ingest throughput against PostgreSQL, with the production server.

Creates a throw-away database, enrols gateways, starts the console's server
(console/server.py: uvicorn; two processes, as behind a load balancer on this
2-core machine), and measures through the
real HTTP agent API:
  (a) security events per second, in batches of 100 and of 1,000;
  (b) heartbeats per second;
and, in the same run, (c) PostgreSQL COPY of the same event rows into the same
table — the machine's ceiling — and (d) GET /healthz per second through the
same servers: the web stack's own ceiling, with no agent work at all.
Prints JSON and one summary line:
  events_api=… events_copy=… ratio=… heartbeats_per_s=…

The load comes from wrk when it is installed (a C client: it leaves the CPU to
the servers) and from an httpx client otherwise; the JSON says which.

Needs PostgreSQL: DATABASE_URL (its server is used, with a database of its own,
BENCH_DATABASE, default rustronaut_bench) or postgres://postgres@127.0.0.1:5432.
Redis: REDIS_URL or the embedded one. BENCH_ASGI_APP picks the application
the server serves (default console.asgi:application, what production runs).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GATEWAYS = 200
EVENT_ROWS = {100: 20_000, 1000: 50_000}
HEARTBEATS = 6_000  # with the httpx client
WRK_SECONDS = 15  # with wrk
CONCURRENCY = 32
WEB_PROCESSES = 2
DATABASE = os.environ.get("BENCH_DATABASE", "rustronaut_bench")
ASGI_APP = os.environ.get("BENCH_ASGI_APP", "console.asgi:application")


def database_urls() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = urlparse(base)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("bench/ingest.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    admin = urlunparse(parsed._replace(path="/postgres"))
    bench = urlunparse(parsed._replace(path=f"/{DATABASE}"))
    return admin, bench


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def event(gateway_index: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "severity": "medium",
        "category": "port_scan",
        "signature": "ET SCAN Nmap SYN scan",
        "src_ip": f"203.0.113.{gateway_index % 250 + 1}",
        "src_port": 40000 + gateway_index,
        "dst_ip": "10.0.0.5",
        "dst_port": 22,
        "protocol": "tcp",
        "message": "SYN scan of 1,000 ports",
        "details": {"flags": "S"},
    }


def heartbeat() -> dict:
    return {
        "sent_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "status": "ok",
        "version": "1.8.2",
        "config_version": 1,
        "metrics": {
            "cpu_pct": 12.5,
            "mem_pct": 40.1,
            "rx_bps": 1_200_000,
            "tx_bps": 800_000,
            "sessions": 230,
        },
        "tunnels": [],
    }


async def drive(urls, credentials, bodies, concurrency) -> tuple[float, int, int]:
    """Send ``bodies`` (path, json) round-robin over servers and gateways."""
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    errors = 0
    accepted = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker(n: int) -> None:
            nonlocal errors, accepted
            i = n
            while True:
                try:
                    path, body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                base = urls[i % len(urls)]
                credential = credentials[i % len(credentials)]
                i += concurrency
                response = await client.post(
                    base + path,
                    content=body,
                    headers={
                        "Authorization": f"Bearer {credential}",
                        "Content-Type": "application/json",
                    },
                )
                if response.status_code >= 300:
                    errors += 1
                    if errors <= 3:  # show the first few, to say why
                        print(path, response.status_code, response.text[:300], file=sys.stderr)
                elif path.endswith("events"):
                    accepted += response.json()["accepted"]

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        return time.perf_counter() - started, accepted, errors


WRK_SCRIPT = """
local credentials = {%s}
local body = [[%s]]
local n = 0
request = function()
  n = n + 1
  if #credentials == 0 then
    return wrk.format("GET", "/healthz")
  end
  local credential = credentials[(n %% #credentials) + 1]
  return wrk.format("POST", "/api/agent/v1/heartbeat",
    {["Authorization"] = "Bearer " .. credential, ["Content-Type"] = "application/json"}, body)
end
"""


def run_wrk(wrk: str, ports: list[int], credentials: list[str] | None) -> tuple[int, int]:
    """Heartbeats (or, without credentials, GET /healthz) per second over all
    servers, one wrk per server, and the count of non-2xx answers."""
    quoted = ", ".join(f'"{c}"' for c in credentials or [])
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (quoted, json.dumps(heartbeat())))
    per_server = max(1, CONCURRENCY // len(ports))
    runs = [
        subprocess.Popen(
            [
                wrk,
                "-t1",
                f"-c{per_server}",
                f"-d{WRK_SECONDS}s",
                "-s",
                script.name,
                f"http://127.0.0.1:{port}/",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for port in ports
    ]
    rate, errors = 0.0, 0
    for run in runs:
        out, _ = run.communicate()
        rate += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        errors += int(bad.group(1)) if bad else 0
        failed = re.search(r"Socket errors: (.*)", out)
        if failed:
            print("wrk:", failed.group(0), file=sys.stderr)
    os.unlink(script.name)
    return round(rate), errors


def main() -> None:
    import psycopg

    admin_url, bench_url = database_urls()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')

    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "SECRET_KEY": secrets.token_urlsafe(60),
        "HTTPS": "0",
        "DEBUG": "0",
        "TESTING": "0",  # the production database pool, not the tests' settings
        "LOG_LEVEL": "WARNING",
        "AGENT_THROTTLE_PER_MINUTE": "100000000",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )

    import django

    django.setup()
    from console.server import server_command
    from gateways.enrolment import enrol, issue_token
    from gateways.models import Gateway, Region

    region = Region.objects.create(name="Bench", slug="bench")
    credentials = []
    for i in range(GATEWAYS):
        gateway = Gateway.objects.create(name=f"bench-{i:04d}", region=region)
        credentials.append(enrol(issue_token(gateway), version="1.8.2").credential)

    ports = [free_port() for _ in range(WEB_PROCESSES)]
    servers = [
        subprocess.Popen(
            server_command("127.0.0.1", port, application=ASGI_APP),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}/api/agent/v1/" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("the server did not start")
                    time.sleep(0.2)

        result: dict = {
            "bench": "ingest",
            "gateways": GATEWAYS,
            "web_processes": WEB_PROCESSES,
            "concurrency": CONCURRENCY,
        }
        all_rows = []
        for size, total in EVENT_ROWS.items():
            batches = []
            for b in range(total // size):
                rows = [event(b) for _ in range(size)]
                all_rows.extend(rows)
                batches.append(("events", json.dumps({"events": rows}).encode()))
            elapsed, accepted, errors = asyncio.run(
                drive(urls, credentials, batches, min(CONCURRENCY, 8))
            )
            result[f"events_api_batch{size}_per_s"] = round(accepted / elapsed)
            result[f"events_api_batch{size}_errors"] = errors

        wrk = shutil.which("wrk")
        result["load_generator"] = "wrk" if wrk else "httpx"
        if wrk:
            rate, errors = run_wrk(wrk, ports, credentials)
            result["heartbeats_per_s"] = rate
            result["heartbeat_errors"] = errors
            result["healthz_per_s"], _ = run_wrk(wrk, ports, None)
        else:
            bodies = [("heartbeat", json.dumps(heartbeat()).encode()) for _ in range(HEARTBEATS)]
            elapsed, _, errors = asyncio.run(drive(urls, credentials, bodies, CONCURRENCY))
            result["heartbeats_per_s"] = round(HEARTBEATS / elapsed)
            result["heartbeat_errors"] = errors

        # The ceiling: COPY the same rows into the same table, in one session.
        from django.db import connection

        gateway_id = Gateway.objects.values_list("pk", flat=True).first()
        columns = (
            "uuid",
            "gateway_id",
            "occurred_at",
            "received_at",
            "severity",
            "category",
            "signature",
            "src_ip",
            "src_port",
            "dst_ip",
            "dst_port",
            "protocol",
            "message",
            "details",
        )
        now = datetime.now(UTC)
        copy_rows = [
            (
                uuid.uuid4(),
                gateway_id,
                row["occurred_at"],
                now,
                row["severity"],
                row["category"],
                row["signature"],
                row["src_ip"],
                row["src_port"],
                row["dst_ip"],
                row["dst_port"],
                row["protocol"],
                row["message"],
                json.dumps(row["details"]),
            )
            for row in all_rows
        ]
        with psycopg.connect(bench_url) as conn, conn.cursor() as cursor:
            started = time.perf_counter()
            with cursor.copy(
                f"COPY security_securityevent ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in copy_rows:
                    copy.write_row(row)
            conn.commit()
            copy_elapsed = time.perf_counter() - started
        connection.close()
        result["events_copy_per_s"] = round(len(copy_rows) / copy_elapsed)
        best_api = max(result["events_api_batch100_per_s"], result["events_api_batch1000_per_s"])
        result["events_api_per_s"] = best_api
        result["ratio"] = round(best_api / result["events_copy_per_s"], 3)
        print(json.dumps(result))
        print(
            f"events_api={best_api} events_copy={result['events_copy_per_s']} "
            f"ratio={result['ratio']} heartbeats_per_s={result['heartbeats_per_s']} "
            f"(events batch100={result['events_api_batch100_per_s']}/s "
            f"batch1000={result['events_api_batch1000_per_s']}/s; "
            f"healthz={result.get('healthz_per_s', '-')}/s; {result['load_generator']})"
        )
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
