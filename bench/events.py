"""How the security events pages scale: 10,000 and 1,000,000 events.

Fills a throw-away PostgreSQL database (BENCH_DATABASE, default
rustronaut_bench_events, on DATABASE_URL's server; migrated like production,
so the events table is partitioned by week) with events made by
``generate_series`` in SQL, and measures, at each size, p50/p95 server time of
the first page of the list — no filter, severity + time, a text search — and
of an incident's page (200 linked events at both sizes), and, in the same run,
the raw SQL that page needs: every query the page ran (session, user,
permissions, saved searches, rows, capped count…), captured from the page and
run directly on the same connection, page and SQL sampled in turn. Also the
``floor``: the list's URL with its view answering at once (middleware and
permission check only), the cost every console page pays before its view
runs. Prints JSON and one line:
  worst_vs_sql=… growth_1m_vs_10k=… p95_ms_list_1m=… floor_vs_sql=…
worst_vs_sql: the largest page/raw-SQL ratio of p50s; growth: the largest
1M/10k ratio of page p50s. Goals: ≤ 3 and ≤ 1.5. floor_vs_sql: the floor's
own ratio (its SQL: the user and MFA state queries).

BENCH_SIZES (default "10000,1000000") and BENCH_REPEAT (40) shorten a run;
BENCH_KEEP=1 leaves the database in place afterwards (to profile a page).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
os.environ.setdefault("HTTPS", "0")
os.environ.setdefault("TESTING", "1")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

DATABASE = os.environ.get("BENCH_DATABASE", "rustronaut_bench_events")
SIZES = tuple(int(n) for n in os.environ.get("BENCH_SIZES", "10000,1000000").split(","))
REPEAT = int(os.environ.get("BENCH_REPEAT", "40"))
GATEWAYS = 200
PAGES = {
    "list": "/security/events/",
    "severity_time": "/security/events/?severity=high&severity=critical&range=24h",
    "text": "/security/events/?q=nmap",
}
INCIDENT_EVENTS = 200
# Transaction control is how Django wraps the queries, not what the page needs.
_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")

# One event every 2 seconds back from now: 1M events cover ~23 days. 1 in 40
# is an Nmap scan, severities and categories rotate, sources vary.
FILL = """
INSERT INTO security_securityevent
  (uuid, gateway_id, occurred_at, received_at, severity, category, signature,
   src_ip, src_port, dst_ip, dst_port, protocol, message, details)
SELECT md5(i::text || %(seed)s)::uuid,
       %(first_gw)s + (i %% %(gateways)s),
       now() - (i * interval '2 seconds'),
       now() - (i * interval '2 seconds'),
       (ARRAY['info','low','medium','high','critical'])[1 + i %% 5],
       (ARRAY['intrusion','port_scan','auth_failure','malware','policy_violation',
              'anomaly'])[1 + i %% 6],
       CASE WHEN i %% 40 = 0 THEN 'ET SCAN Nmap SYN scan' ELSE 'ET POLICY rule ' || (i %% 97) END,
       ('198.51.' || (i %% 200) || '.' || (1 + i %% 250))::inet,
       30000 + i %% 30000,
       ('10.0.' || (i %% 50) || '.' || (1 + i %% 200))::inet,
       (ARRAY[22, 80, 443, 3389])[1 + i %% 4],
       'tcp',
       'event ' || i || ' seen by the sensor',
       jsonb_build_object('i', i)
FROM generate_series(%(start)s, %(stop)s) AS i
"""


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _summary(samples) -> dict:
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 95), 2),
    }


def timed_pair(page, raw, repeat=REPEAT) -> tuple[dict, dict]:
    """p50/p95 of the page and of its raw SQL, sampled in turn: a shared
    machine's speed drifts over seconds, and alternating makes both sides of
    the ratio see the same drift."""
    page(), raw()  # warm caches and the connection
    page_samples, raw_samples = [], []
    for _ in range(repeat):
        for fn, samples in ((page, page_samples), (raw, raw_samples)):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000)
    return _summary(page_samples), _summary(raw_samples)


# A server-side cursor (QuerySet.iterator(), e.g. a form's choices) is logged
# as its DECLARE: run directly, its query is what the page needed.
_DECLARE = re.compile(r"^DECLARE \S+ .*?CURSOR (?:WITH(?:OUT)? HOLD )?FOR ", re.DOTALL)


def page_queries(client, url) -> list[str]:
    """Every query the page ran, as run (parameters in place)."""
    with CaptureQueriesContext(connection) as context:
        client.get(url)
    return [
        _DECLARE.sub("", query["sql"])
        for query in context.captured_queries
        if not query["sql"].upper().startswith(_CONTROL)
    ]


def measure(client, url) -> dict:
    """The page's figures and its raw SQL's, with their ratio."""
    assert client.get(url).status_code == 200, url
    sqls = page_queries(client, url)

    def raw():
        with connection.cursor() as cursor:
            for sql in sqls:
                cursor.execute(sql)
                if cursor.description:
                    cursor.fetchall()

    page, sql = timed_pair(lambda: client.get(url), raw)
    return {
        "queries": len(sqls),
        "page": page,
        "sql": sql,
        "ratio": round(page["p50_ms"] / max(sql["p50_ms"], 0.01), 2),
    }


@contextlib.contextmanager
def answering_at_once():
    """The events list's view answering with an empty 200 at once. What is
    left is the floor every console page pays before its view does anything:
    the middleware (session, user, MFA state, IP allowlist, session policy,
    CSRF, CSP) and the view's permission check — reported as ``floor``, not
    one of the pages the goals are about."""
    from django.http import HttpResponse

    from security.views import SecurityEventListView

    get = SecurityEventListView.get
    SecurityEventListView.get = lambda self, request: HttpResponse(b"")
    try:
        yield
    finally:
        SecurityEventListView.get = get


def make_incident(gateways) -> str | None:
    """An incident of INCIDENT_EVENTS Nmap events from a few gateways, the
    same at both sizes; None before incidents exist."""
    from django.urls import NoReverseMatch, reverse

    try:
        from security.models import Incident

        reverse("security:incident_detail", kwargs={"uuid": "00000000-0000-0000-0000-000000000000"})
    except (ImportError, NoReverseMatch):
        return None
    from django.utils import timezone

    now = timezone.now()
    incident = Incident.objects.create(
        title="Distributed scan from 198.51.0.1",
        severity="high",
        key="bench:scan",
        first_seen=now,
        last_seen=now,
        event_count=INCIDENT_EVENTS,
    )
    incident.gateways.set(gateways[:5])
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE security_securityevent SET incident_id = %s WHERE id IN ("
            "SELECT id FROM security_securityevent WHERE signature = 'ET SCAN Nmap SYN scan' "
            "ORDER BY occurred_at DESC LIMIT %s)",
            [incident.pk, INCIDENT_EVENTS],
        )
    return incident.get_absolute_url()


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench/events.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    # No setup_test_environment(): it instruments every template render (the
    # test client copies each context), a cost no production request pays.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = DATABASE
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    results: dict = {"repeat": REPEAT, "sizes": {}}
    try:
        from accounts.models import User
        from gateways.models import Gateway, Region

        regions = Region.objects.bulk_create(
            [Region(name=f"Region {i}", slug=f"region-{i}") for i in range(10)]
        )
        gateways = Gateway.objects.bulk_create(
            [
                Gateway(name=f"gw-{i:04d}", region=regions[i % 10], public_address=f"10.9.{i}.1")
                for i in range(GATEWAYS)
            ]
        )
        first_gw = min(g.pk for g in gateways)
        admin = User.objects.create_superuser("bench", "bench@example.com", "x")
        client = Client(HTTP_HOST="localhost")  # in ALLOWED_HOSTS, no test environment
        client.force_login(admin)
        pages = dict(PAGES)
        filled = 0
        for size in SIZES:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    FILL,
                    {
                        "seed": "bench",
                        "first_gw": first_gw,
                        "gateways": GATEWAYS,
                        "start": filled,
                        "stop": size - 1,
                    },
                )
            filled = size
            if "incident" not in pages and "incident" not in results:
                incident_url = make_incident(gateways)
                if incident_url:
                    pages["incident"] = incident_url
                else:
                    results["incident"] = "no incident page yet"
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE security_securityevent")
            figures = {"fill_s": round(time.perf_counter() - started, 1)}
            for name, url in pages.items():
                figures[name] = measure(client, url)
            with answering_at_once():
                figures["floor"] = measure(client, PAGES["list"])
            results["sizes"][str(size)] = figures
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            connection.settings_dict["NAME"] = old_name
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    measured = [results["sizes"][str(s)] for s in SIZES]
    small, large = measured[0], measured[-1]
    worst = max(figures[n]["ratio"] for figures in measured for n in pages)
    growth = max(large[n]["page"]["p50_ms"] / small[n]["page"]["p50_ms"] for n in pages)
    results["worst_vs_sql"] = worst
    results["growth_1m_vs_10k"] = round(growth, 2)
    results["p95_ms_list_1m"] = large["list"]["page"]["p95_ms"]
    results["floor_vs_sql"] = max(figures["floor"]["ratio"] for figures in measured)
    print(json.dumps(results, indent=2))
    print(
        f"worst_vs_sql={worst} growth_1m_vs_10k={results['growth_1m_vs_10k']} "
        f"p95_ms_list_1m={results['p95_ms_list_1m']} floor_vs_sql={results['floor_vs_sql']}"
    )


if __name__ == "__main__":
    main()
