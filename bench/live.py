"""Live console under load: daphne against uvicorn, in the same run.

For each ASGI server (BENCH_LIVE_SERVERS, default "daphne,uvicorn", uvicorn
as the console runs it: console/server.py) and each number of websocket
clients N (BENCH_LIVE_CLIENTS, default "100,1000"). BENCH_LIVE_TOPOLOGY:
``split`` (default, docs/deployment.md) runs three processes of that server on
console.asgi — one the websockets connect to (a proxy routes /ws/ there), one
the agent API (/api/agent/), one taking pages; ``pair`` runs two (websockets;
pages and the agent API together, the shape before 2026-12-07); ``single``
runs one process for everything.

1. N websocket clients (the ``websockets`` package, many per asyncio process,
   up to 500 per process) sign in with a session cookie and subscribe to the
   gateway list (``/ws/live/?watch=gateways.gateway``), as a tab on
   /gateways/?region=probes does: it names the rows it shows (the probes')
   and the topics it has counters over (none on that page), as console.js
   does, so other rows' changes do not reach it.
   Server memory per **idle** connection = RSS delta of the process holding
   the sockets / N, measured before any traffic (after one warm-up socket).
2. The fleet simulator (``manage.py simulate_fleet``, gateways/simulator.py)
   plays BENCH_LIVE_FLEET gateways (default 1,000) through the agent API with
   a heartbeat interval of 1 s (the console tells agents the interval): about
   1,000 heartbeats/s offered. It starts with the server and plays through
   both client counts; measuring starts once the fleet has enrolled and
   heartbeats (or after 90 s). Their rows reach list tabs only when a list
   shows a change (status, version: about 2 % of heartbeats, the simulator's
   random "degraded"), so this is also the fan-out load.
3. **Probes.** A heartbeat that changes nothing a list shows is not sent
   (docs/live.md), so latency and loss are measured on probe gateways whose
   heartbeats always change what the list shows: each probe heartbeat carries
   the software version ``2.<seq>.0``, shown in the row's Version column. A
   client that receives the row reads the sequence from it: a gap is a lost
   update. The probes heartbeat through the same HTTP agent API, each every
   2 s — longer than the coalescing window (LIVE_COALESCE_MS, 1 s), so every
   probe heartbeat must arrive as its own fragment. Latency = arrival at the
   client - the heartbeat's HTTP response (same machine, same clock);
   ``from_request_p50_ms``/``from_request_p95_ms`` run from its request
   instead, so a heartbeat held in a busy process before its answer counts.
4. **Reconnect.** Midway, some clients (10 %, at most 50) lose their socket
   for 2 s (probe updates are missed meanwhile), come back at their first
   retry after that on console.js's backoff schedule (250 ms + full jitter,
   doubling: ``back_after``), and re-fetch the page as console.js does
   (``X-Live-Refresh: 1``), each client process through one HTTP client that
   keeps its connections, as a browser does. At the end, every
   client's last known version of every probe must be the last one sent:
   ``stale_after_reconnect`` counts those that are not.
5. **Outbox.** The bench itself joins the probes' region group on the
   channel layer: ``outbox_p50_ms``/``outbox_p95_ms`` are from a probe
   heartbeat's answer to its fragment on the channel layer (coalescing,
   render and group_send in the web process); the rest of the latency is the
   websocket process forwarding it to the sockets.
6. Server CPU (process time / wall time, all the topology's processes, and
   each one's) over the load
   window, heartbeats stored per second (metric samples written in the
   window), and the p95 of the updates sent in each second of the phase.
   The whole machine's CPU by role, each second (``cpu_cores_by_role``: the
   server's processes, the clients, the simulator, this process, the rest):
   on a shared 2-core machine what the server waited for is there. Per
   stored heartbeat (``cpu_ms_per_heartbeat_by_role``), and the cores the
   agent API and the simulator alone would need for the fleet's offered rate
   at that cost (``ingest_cores_for_offered_rate``, printed as
   ``ingest_cores=…/<cores of the machine>``).

Prints JSON and one summary line
``p95_ms_100=… p95_ms_1000=… p99_ms_1000=… lost=… kb_per_conn=… server=…``
for the server with the lower p95 at the largest N (at the smallest when the
largest could not be measured; the figures of the other
are in the JSON).

Needs PostgreSQL (DATABASE_URL's server, database BENCH_DATABASE, default
bench_live, dropped and created) and Redis (REDIS_URL; the channel layer on
it too). Takes a few minutes on 2 cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE = os.environ.get("BENCH_DATABASE", "bench_live")
SERVERS = os.environ.get("BENCH_LIVE_SERVERS", "daphne,uvicorn").split(",")
CLIENTS = [int(n) for n in os.environ.get("BENCH_LIVE_CLIENTS", "100,1000").split(",")]
FLEET = int(os.environ.get("BENCH_LIVE_FLEET", "1000"))
SECONDS = float(os.environ.get("BENCH_LIVE_SECONDS", "15"))
TOPOLOGY = os.environ.get("BENCH_LIVE_TOPOLOGY", "split")
# The processes of each topology, by role name: websockets first, then pages,
# then the agent API (one name may take several roles).
TOPOLOGIES = {"split": ["live", "web", "agent"], "pair": ["live", "web"], "single": ["all"]}
if TOPOLOGY not in TOPOLOGIES:
    sys.exit(f"BENCH_LIVE_TOPOLOGY must be one of {', '.join(TOPOLOGIES)}")
# The page the clients show (and re-fetch after a reconnect).
PAGE = "/gateways/?region=probes"
PROBES = 10
PROBE_INTERVAL = 2.0
CLIENTS_PER_PROCESS = 500
CONNECT_SECONDS = 240
RECONNECT_SHARE, RECONNECT_MAX, RECONNECT_AWAY = 0.1, 50, 2.0
IN_FLIGHT = 5.0
ROW = re.compile(r'id="row-gateway-([0-9a-f-]{36})".*?\b2\.(\d+)\.0\b', re.S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def p95_by_second(values: dict[int, list[float]]) -> dict[str, float | None]:
    return {str(k): percentile(v, 0.95) for k, v in sorted(values.items())}


# --- Client processes -------------------------------------------------------------


def back_after(away: float) -> float:
    """When a tab whose network went away for ``away`` seconds is back: at its
    first retry after that, on console.js's schedule (``reconnectDelay``, used
    by the htmx websocket extension after an abnormal close): the k-th retry
    250 ms + U(0, min(30 s, 2^k s)) after the previous one; those before the
    network returns fail."""
    waited, retry = 0.0, 0
    while waited < away:
        waited += 0.25 + random.uniform(0, min(30.0, 2.0**retry))
        retry += 1
    return waited


async def client_process(
    port: int, web_port: int, count: int, cookie: str, probes: list[str]
) -> None:
    """``count`` sockets in this process. Reads commands from stdin
    ("reconnect <k>", "report <path>"), says "ready" once all are open."""
    import httpx
    import websockets

    probe_set = set(probes)

    def probe_rows(text: str):
        """(uuid, sequence) of each probe row in a pushed fragment or a page."""
        return ((u, int(q)) for u, q in ROW.findall(text) if u in probe_set)

    # One per process, made before measuring (see refetch).
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=None))
    shown = [f"row-gateway-{uuid}" for uuid in probes]
    url = f"ws://127.0.0.1:{port}/ws/live/?watch=gateways.gateway"
    headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
    sockets: list[dict] = [
        {"pushes": [], "received": [], "refetched": "", "away": None, "ws": None}
        for _ in range(count)
    ]
    opening = asyncio.Semaphore(10)

    async def run(state: dict) -> None:
        for attempt in range(6):
            try:
                async with opening:
                    state["ws"] = await websockets.connect(
                        url,
                        additional_headers=headers,
                        compression=None,
                        max_size=None,
                        open_timeout=90,
                    )
                # What console.js does once the socket is open: name the rows
                # the page shows (a tab on /gateways/?region=probes).
                await state["ws"].send(json.dumps({"show": shown, "hints": []}))
                break
            except (
                OSError,
                TimeoutError,
                websockets.InvalidHandshake,
                websockets.ConnectionClosed,
            ) as error:
                # As a tab does: try again after a while.
                print(f"connect failed ({error!r}), retrying", file=sys.stderr, flush=True)
                await asyncio.sleep(1 + attempt)
        else:
            raise SystemExit("a websocket client could not connect")
        state["opened"].set()
        try:
            async for text in state["ws"]:
                # Kept as received, read after the phase: parsing here would
                # take the CPU the server under test shares with the clients.
                if "row-gateway-" in text:
                    state["received"].append((time.time(), text))
        except websockets.ConnectionClosed:
            pass

    tasks = []
    for state in sockets:
        state["opened"] = asyncio.Event()
        tasks.append(asyncio.create_task(run(state)))
    await asyncio.wait_for(asyncio.gather(*(s["opened"].wait() for s in sockets)), CONNECT_SECONDS)
    print("ready", flush=True)

    async def reconnect(state: dict, index: int) -> None:
        await state["ws"].close()
        left = time.time()
        await asyncio.sleep(back_after(RECONNECT_AWAY))
        state["opened"] = asyncio.Event()
        tasks.append(asyncio.create_task(run(state)))
        await state["opened"].wait()
        back = time.time()
        state["away"] = (left, back)
        # What console.js does after a reconnect: re-fetch the page's live parts.
        state["refetched"] = await refetch(http, web_port, cookie)

    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not line:
            break
        command, _, argument = line.partition(" ")
        if command == "reconnect":
            await asyncio.gather(*(reconnect(s, i) for i, s in enumerate(sockets[: int(argument)])))
            print("reconnected", flush=True)
        elif command == "report":
            for state in sockets:
                for arrived, text in state["received"]:
                    for uuid, seq in probe_rows(text):
                        state["pushes"].append((uuid, seq, arrived))
                state["received"] = []
            report = [
                {
                    "pushes": s["pushes"],
                    "refetched": dict(probe_rows(s["refetched"])),
                    "away": s["away"],
                }
                for s in sockets
            ]
            Path(argument).write_text(json.dumps(report))
            for state in sockets:
                await state["ws"].close()
            print("reported", flush=True)
            break
    for task in tasks:
        task.cancel()


async def refetch(http, port: int, cookie: str) -> str:
    """The probes' list page as it is now (parsed after the phase, as the
    pushes are). Through the client process's one HTTP client, which keeps
    its connections as a browser does: a new ``httpx`` client per request
    costs ~16 ms of CPU (its TLS context) and 25 of them at once stalled the
    process's event loop, so its 500 sockets stamped their arrivals late."""
    response = await http.get(
        f"http://127.0.0.1:{port}{PAGE}",
        headers={"Cookie": cookie, "X-Live-Refresh": "1"},
        timeout=60,
    )
    response.raise_for_status()
    return response.text


# --- The run ---------------------------------------------------------------------------


def database_urls() -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = urlparse(base)
    if not parsed.scheme.startswith("postgres"):
        sys.exit("bench/live.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    return urlunparse(parsed._replace(path="/postgres")), urlunparse(
        parsed._replace(path=f"/{DATABASE}")
    )


def server_command(kind: str, port: int) -> list[str]:
    app = "console.asgi:application"
    if kind == "daphne":
        # daphne closes a handshake the application has not accepted within
        # 5 s by default; uvicorn waits. The same patience for both.
        options = ["--websocket_connect_timeout", "60"]
        return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), *options, app]
    if kind == "uvicorn":
        # As the console is served (console/server.py).
        from console.server import server_command as console_server

        return console_server("127.0.0.1", port, access_log=False)
    raise SystemExit(f"unknown server {kind}")


async def warm_up_socket(port: int, cookie: str) -> None:
    import websockets

    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/live/?watch=gateways.gateway",
        additional_headers={"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"},
        compression=None,
    ) as ws:
        await ws.send(json.dumps({"show": [], "hints": []}))
        await asyncio.sleep(1)


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


async def drive_probes(port: int, probes: list[tuple[str, str]], seconds: float, sent: dict):
    """Each probe heartbeats every PROBE_INTERVAL after its previous answer,
    with a version carrying its sequence. ``sent[uuid][seq]`` = (request
    started, response received) for each 200."""
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        end = time.monotonic() + seconds

        async def probe(index: int, uuid: str, credential: str) -> None:
            await asyncio.sleep(index * PROBE_INTERVAL / len(probes))
            seq = 0
            while time.monotonic() < end:
                seq += 1
                body = {
                    "sent_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "status": "ok",
                    "version": f"2.{seq}.0",
                    "config_version": 1,
                    "metrics": {
                        "cpu_pct": 5,
                        "mem_pct": 10,
                        "rx_bps": 0,
                        "tx_bps": 0,
                        "sessions": 0,
                    },
                    "tunnels": [],
                }
                started = time.time()
                response = await client.post(
                    "/api/agent/v1/heartbeat",
                    json=body,
                    headers={"Authorization": f"Bearer {credential}"},
                )
                if response.status_code == 200:
                    sent[uuid][seq] = (started, time.time())
                await asyncio.sleep(PROBE_INTERVAL)

        await asyncio.gather(*(probe(i, u, c) for i, (u, c) in enumerate(probes)))


def start_clients(
    port: int, web_port: int, total: int, cookie: str, probes: list[str]
) -> list[subprocess.Popen]:
    processes = []
    left = total
    while left > 0:
        count = min(CLIENTS_PER_PROCESS, left)
        left -= count
        processes.append(
            subprocess.Popen(
                [sys.executable, __file__, "--client", str(port), str(web_port), str(count)]
                + [cookie]
                + [",".join(probes)],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        if process.stdout.readline().strip() != "ready":
            for other in processes:
                other.kill()
            raise ClientsDidNotConnect(total)
    return processes


class ClientsDidNotConnect(Exception):
    """Not every websocket client connected within CONNECT_SECONDS."""


def tell(processes: list[subprocess.Popen], commands: list[str], answer: str) -> None:
    for process, command in zip(processes, commands, strict=True):
        process.stdin.write(command + "\n")
        process.stdin.flush()
    for process in processes:
        if process.stdout.readline().strip() != answer:
            raise SystemExit(f"a websocket client process did not answer {answer}")


def wait_for_fleet(region, seconds: float = 90) -> int:
    """Until (nearly) every simulated gateway has enrolled and heartbeats, or
    ``seconds``: the measurement is of a fleet in its steady state, not of
    1,000 enrolments. Returns how many heartbeat."""
    from django.utils import timezone

    from gateways.models import Gateway

    started = timezone.now()
    deadline = time.monotonic() + seconds
    while True:
        beating = Gateway.objects.filter(region=region, last_seen__gte=started).count()
        if beating >= 0.98 * FLEET or time.monotonic() > deadline:
            time.sleep(3)  # their heartbeats spread over the interval
            return beating
        time.sleep(2)


async def listen(group: str, published: dict, stop: asyncio.Event) -> None:
    """The outbox's share of the latency: a channel of the bench's own in the
    probes' region group receives what the web process's outbox sent, before
    the websocket process forwards it. ``published[(uuid, seq)]`` = arrival."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        while not stop.is_set():
            try:
                body = await asyncio.wait_for(layer.receive(channel), timeout=0.5)
            except TimeoutError:
                continue
            arrived = time.time()
            for uuid, seq in ROW.findall(body.get("html", "")):
                published.setdefault((uuid, int(seq)), arrived)
    finally:
        await layer.group_discard(group, channel)


class CpuSampler:
    """CPU of every process on the machine by role, each second of the
    phase: which of them the 2 cores went to (the server's own figures say
    nothing of what it waited for). ``roles``: name -> psutil processes;
    ``other`` is the rest of the machine (PostgreSQL, Redis, the kernel)."""

    def __init__(self, roles: dict, interval: float = 1.0):
        import threading

        import psutil

        self.psutil, self.roles, self.interval = psutil, roles, interval
        self.seconds: dict[str, list[float]] = {name: [] for name in [*roles, "other"]}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def busy(self) -> tuple[dict[str, float], float]:
        used = {}
        for name, processes in self.roles.items():
            total = 0.0
            for process in processes:
                try:
                    times = process.cpu_times()
                    total += times.user + times.system
                except self.psutil.Error:  # ended meanwhile
                    pass
            used[name] = total
        machine = self.psutil.cpu_times()
        return used, sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)

    def run(self) -> None:
        before, machine_before, wall = *self.busy(), time.monotonic()
        while not self.stop.wait(self.interval):
            after, machine_after, now = *self.busy(), time.monotonic()
            elapsed = now - wall
            for name in self.roles:
                self.seconds[name].append(round((after[name] - before[name]) / elapsed, 2))
            known = sum(after.values()) - sum(before.values())
            other = (machine_after - machine_before - known) / elapsed
            self.seconds["other"].append(round(max(0.0, other), 2))
            before, machine_before, wall = after, machine_after, now

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def figures(self) -> dict:
        return {
            "cpu_cores_by_role": {
                name: round(statistics.fmean(v), 2) if v else None
                for name, v in self.seconds.items()
            },
            "cpu_cores_by_role_by_second": self.seconds,
        }


def phase(servers, roles, ports, n, cookie, probes, probe_group, simulator) -> dict:
    """``servers``: the topology's processes, the websocket one first, and
    ``roles`` their names (the machine's CPU by role, with the simulator, the
    clients and this process); ``ports``: the websockets', the pages' and the
    agent API's (the same process may have several roles)."""
    import psutil

    from gateways.models import MetricSample

    live_port, web_port, agent_port = ports
    processes = [psutil.Process(server.pid) for server in servers]
    process = processes[0]
    rss_before = process.memory_info().rss
    probe_uuids = [u for u, _ in probes]
    clients = start_clients(live_port, web_port, n, cookie, probe_uuids)
    time.sleep(3)  # idle: no traffic yet
    rss_idle = process.memory_info().rss
    kb_per_conn = (rss_idle - rss_before) / n / 1024

    window_start = datetime.now(UTC)
    phase_start = time.time()
    cpu_start, wall_start = [p.cpu_times() for p in processes], time.monotonic()
    sent: dict[str, dict[int, tuple[float, float]]] = {u: {} for u in probe_uuids}
    reconnecting = min(RECONNECT_MAX, max(1, int(n * RECONNECT_SHARE)))

    published: dict[tuple[str, int], float] = {}

    async def load() -> None:
        stop = asyncio.Event()
        listener = asyncio.create_task(listen(probe_group, published, stop))
        probes_task = asyncio.create_task(drive_probes(agent_port, probes, SECONDS, sent))
        await asyncio.sleep(SECONDS / 2)
        # The first ``reconnecting`` sockets, spread over the client processes.
        share = [reconnecting // len(clients)] * len(clients)
        share[0] += reconnecting - sum(share)
        await asyncio.to_thread(tell, clients, [f"reconnect {k}" for k in share], "reconnected")
        await probes_task
        await asyncio.sleep(2)  # the last fragments reach the channel layer
        stop.set()
        await listener

    sampled = {name: [p] for name, p in zip(roles, processes, strict=True)}
    sampled["clients"] = [psutil.Process(c.pid) for c in clients]
    sampled["simulator"] = [psutil.Process(simulator.pid)]
    sampled["bench"] = [psutil.Process()]  # the probes and the channel-layer listener
    with CpuSampler(sampled) as sampler:
        asyncio.run(load())
    cpu_end, wall_end = [p.cpu_times() for p in processes], time.monotonic()
    stored = MetricSample.objects.filter(time__gte=window_start).count()
    time.sleep(3)  # the last fragments arrive
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = [str(Path(tmp) / f"client-{i}.json") for i in range(len(clients))]
        tell(clients, [f"report {p}" for p in paths], "reported")
        for path in paths:
            reports += json.loads(Path(path).read_text())
    for client in clients:
        client.wait(timeout=30)

    # lost: probe updates that never reached the client as a fragment of their
    # own (a gap in the sequence); of those, "superseded" ones were followed by
    # a later update that did arrive (folded by coalescing, or by the outbox
    # falling behind), so the row was right again; stale: a client whose last
    # known version of a probe, at the end, is not the last one sent.
    latencies, lost, superseded, expected, stale, stale_reconnected = [], 0, 0, 0, 0, 0
    # From the heartbeat's request instead of its answer: includes the time it
    # waited in a busy agent process, which the issue's figure leaves out.
    from_request: list[float] = []
    by_second: dict[int, list[float]] = {}
    last_sent = {u: max(s) for u, s in sent.items() if s}
    for report in reports:
        got: dict[str, dict[int, float]] = {}
        for uuid, seq, arrived in report["pushes"]:
            got.setdefault(uuid, {}).setdefault(seq, arrived)
        away = report["away"]
        for uuid, seqs in sent.items():
            newest = max(got.get(uuid, {}), default=0)
            for seq, (started, answered) in seqs.items():
                arrived = got.get(uuid, {}).get(seq)
                # Sent while this socket was away, or still on its way when the
                # client closed it (up to IN_FLIGHT before): the re-fetch covers
                # it; counted if it arrived all the same.
                if away and away[0] - IN_FLIGHT <= started <= away[1] + 0.5 and arrived is None:
                    continue
                expected += 1
                if arrived is None:
                    lost += 1
                    superseded += newest > seq
                else:
                    latencies.append((arrived - answered) * 1000)
                    from_request.append((arrived - started) * 1000)
                    second = int(answered - phase_start)
                    by_second.setdefault(second, []).append((arrived - answered) * 1000)
        for uuid, last in last_sent.items():
            known = max([*got.get(uuid, {}), report["refetched"].get(uuid, 0)])
            stale += known != last
            if away:
                stale_reconnected += known != last
    outbox, outbox_by_second = [], {}
    for uuid, seqs in sent.items():
        for seq, (_, answered) in seqs.items():
            if (uuid, seq) in published:
                ms = (published[(uuid, seq)] - answered) * 1000
                outbox.append(ms)
                outbox_by_second.setdefault(int(answered - phase_start), []).append(ms)
    cpu_by_process = [
        (end.user + end.system - start.user - start.system) / (wall_end - wall_start)
        for start, end in zip(cpu_start, cpu_end, strict=True)
    ]
    cpu = sum(cpu_by_process)
    machine = sampler.figures()
    rate = stored / (wall_end - wall_start)
    return {
        "clients": n,
        "kb_per_idle_conn": round(kb_per_conn, 1),
        "server_rss_mb_idle": round(rss_idle / 2**20, 1),
        "heartbeats_per_s": round(stored / (wall_end - wall_start)),
        "probe_updates_expected": expected,
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        # From the heartbeat's request (its wait for an answer included):
        # what a person watching sees; a stalled agent process hides here.
        "from_request_p50_ms": percentile(from_request, 0.50),
        "from_request_p95_ms": percentile(from_request, 0.95),
        # From the heartbeat's answer to the fragment on the channel layer
        # (the web process's outbox: coalescing, render, group_send); the rest
        # of p50_ms/p95_ms is the websocket process forwarding it.
        "outbox_p50_ms": percentile(outbox, 0.50),
        "outbox_p95_ms": percentile(outbox, 0.95),
        "lost": lost,
        "lost_but_superseded": superseded,
        "stale_at_end": stale,
        "reconnected_clients": reconnecting,
        "stale_after_reconnect": stale_reconnected,
        "server_cpu_cores": round(cpu, 2),
        # In the topology's order (websockets, pages, agent API).
        "server_cpu_cores_by_process": [round(c, 2) for c in cpu_by_process],
        # p95 of the updates sent in each second of the phase (the reconnect
        # is at the middle): where the tail comes from.
        "p95_ms_by_second": p95_by_second(by_second),
        "outbox_p95_ms_by_second": p95_by_second(outbox_by_second),
        # The whole machine, each second: the server's processes by role,
        # the websocket clients, the simulator, this process and the rest.
        **machine,
        # What one stored heartbeat cost the machine, by role, and the cores
        # the agent API and the simulator alone would take at that cost for
        # the fleet's whole offered rate (FLEET heartbeats/s): a lower bound,
        # without the database, Redis and the live path, which also grow with
        # the rate. Above the machine's cores the load cannot be carried.
        **capacity(machine["cpu_cores_by_role"], rate),
    }


def capacity(cores_by_role: dict, rate: float) -> dict:
    if not rate:
        return {"cpu_ms_per_heartbeat_by_role": None, "ingest_cores_for_offered_rate": None}
    per_heartbeat = {
        name: round(cores / rate * 1000, 2) for name, cores in cores_by_role.items() if cores
    }
    ingest = per_heartbeat.get("agent", 0) + per_heartbeat.get("simulator", 0)
    return {
        "cpu_ms_per_heartbeat_by_role": per_heartbeat,
        "ingest_cores_for_offered_rate": round(ingest * FLEET / 1000, 1),
    }


def main() -> None:
    import httpx
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
        "TESTING": "0",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AGENT_THROTTLE_PER_MINUTE": "100000000",
        "GATEWAY_HEARTBEAT_INTERVAL": "1",
        "LIVE_HEALTH_SECONDS": "0",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    # Served as in production (DEBUG off: the manifest storage of collected files).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from console.live import region_group as live_region_group
    from gateways.enrolment import enrol, issue_token
    from gateways.models import Gateway, Region

    fleet_region = Region.objects.create(name="Fleet", slug="fleet")
    probe_region = Region.objects.create(name="Probes", slug="probes")
    Gateway.objects.bulk_create(
        Gateway(name=f"fleet-{i:05d}", region=fleet_region) for i in range(FLEET)
    )
    fleet = list(Gateway.objects.filter(region=fleet_region).order_by("name"))
    probes = []
    for i in range(PROBES):
        gateway = Gateway.objects.create(name=f"probe-{i:02d}", region=probe_region)
        probes.append((str(gateway.uuid), enrol(issue_token(gateway), version="2.0.0").credential))
    admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "x" * 20)
    browser = Client()
    browser.force_login(admin)
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"

    result: dict = {
        "bench": "live",
        "fleet": FLEET,
        "heartbeat_interval_s": 1,
        "offered_heartbeats_per_s": FLEET,
        "probes": PROBES,
        "probe_interval_s": PROBE_INTERVAL,
        "seconds": SECONDS,
        "coalesce_ms": settings.LIVE_COALESCE_MS,
        "topology": TOPOLOGY,
        "cpus": os.cpu_count(),
        # The machine is shared: what else ran weighs on every figure.
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
        "servers": {},
    }
    tokens_dir = tempfile.mkdtemp(prefix="bench-live-")
    for kind in SERVERS:
        simulator = None
        # split: websockets (the proxy routes /ws/ there), the agent API
        # (/api/agent/) and pages each on a process of their own; pair:
        # pages and the agent API together; single: one process.
        names = TOPOLOGIES[TOPOLOGY]
        ports = {name: free_port() for name in names}
        servers = {
            name: subprocess.Popen(
                server_command(kind, port),
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, port in ports.items()
        }
        # The roles' processes: websockets first, then pages, then the agent API.
        live_name, web_name, agent_name = names[0], names[min(1, len(names) - 1)], names[-1]
        port, agent_port = ports[web_name], ports[agent_name]
        try:
            for name in names:
                wait_for_port(ports[name], servers[name])
            # Warm up: the first page renders (templates compiled, imports).
            httpx.get(
                f"http://127.0.0.1:{port}{PAGE}", headers={"Cookie": cookie}, timeout=60
            ).raise_for_status()
            # ...and the first socket (imports, the fan-out's groups): memory
            # per idle connection is then the connections' own.
            asyncio.run(warm_up_socket(ports[live_name], cookie))
            result["servers"][kind] = {}
            # The fleet plays through the whole run of this server. Fresh
            # one-time tokens: the simulator enrols its gateways again.
            tokens = [{"gateway": g.name, "token": issue_token(g)} for g in fleet]
            path = Path(tokens_dir) / f"{kind}.json"
            path.write_text(json.dumps(tokens))
            simulator = subprocess.Popen(
                [sys.executable, "manage.py", "simulate_fleet"]
                + ["--url", f"http://127.0.0.1:{agent_port}", "--gateways", str(FLEET)]
                + ["--tokens-file", str(path), "--rate-events", "0", "--quiet", "--seed", "7"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            result["servers"][kind]["fleet_heartbeating"] = wait_for_fleet(fleet_region)
            for n in CLIENTS:
                try:
                    figures = phase(
                        [servers[name] for name in names],
                        names,
                        (ports[live_name], port, agent_port),
                        n,
                        cookie,
                        probes,
                        live_region_group("gateways.gateway", probe_region.pk),
                        simulator,
                    )
                except ClientsDidNotConnect:
                    figures = {
                        "clients": n,
                        "error": f"not all {n} websocket clients connected in {CONNECT_SECONDS} s",
                    }
                result["servers"][kind][str(n)] = figures
                print(f"# {kind} N={n}: {json.dumps(figures)}", file=sys.stderr, flush=True)
        finally:
            if simulator is not None:
                simulator.terminate()
                simulator.wait(timeout=30)
            for server in servers.values():
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()

    result["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    largest, smallest = str(max(CLIENTS)), str(min(CLIENTS))

    def p95(kind: str) -> tuple[float, float]:
        """The p95 at the largest N, then at the smallest (when the largest
        could not be measured)."""
        figures = result["servers"][kind]
        values = [figures.get(n, {}).get("p95_ms") for n in (largest, smallest)]
        return tuple(float("inf") if v is None else v for v in values)

    best = min(result["servers"], key=p95)
    figures = result["servers"][best]
    result["lower_p95"] = best
    print(json.dumps(result, indent=2))
    phases = [figures.get(str(n), {}) for n in CLIENTS]
    sizes = dict.fromkeys((smallest, largest))  # one N run: printed once
    p95s = "".join(f"p95_ms_{n}={figures.get(n, {}).get('p95_ms')} " for n in sizes)
    print(
        f"{p95s}"
        f"p99_ms_{largest}={figures.get(largest, {}).get('p99_ms')} "
        f"lost={sum(f.get('lost', 0) + f.get('stale_after_reconnect', 0) for f in phases)} "
        f"kb_per_conn={figures.get(largest, {}).get('kb_per_idle_conn')} server={best}"
        f" topology={TOPOLOGY}"
        f" ingest_cores={figures.get(largest, {}).get('ingest_cores_for_offered_rate')}"
        f"/{os.cpu_count()}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        _, _, port, web_port, count, cookie, probes = sys.argv
        asyncio.run(client_process(int(port), int(web_port), int(count), cookie, probes.split(",")))
    else:
        main()
