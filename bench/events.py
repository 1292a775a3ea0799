"""How the security events list scales: 10,000 and 1,000,000 events.

Fills a throw-away PostgreSQL database (BENCH_DATABASE, default
rustronaut_bench_events, on DATABASE_URL's server) with events made by
``generate_series`` in SQL, and measures, at each size, p50/p95 server time of
the first page of the list — no filter, severity + time, a text search — and,
in the same run, the raw SQL that page needs (its row query and its capped
count, captured from the page and run directly). Prints JSON and one line:
  worst_vs_sql=… growth_1m_vs_10k=… p95_ms_list_1m=…
worst_vs_sql: the largest page/raw-SQL ratio of p50s; growth: the largest
1M/10k ratio of page p50s. Goals: ≤ 3 and ≤ 1.5. (The incident page joins
when incidents exist.)
"""

from __future__ import annotations

import json
import os
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
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

DATABASE = os.environ.get("BENCH_DATABASE", "rustronaut_bench_events")
SIZES = (10_000, 1_000_000)
REPEAT = int(os.environ.get("BENCH_REPEAT", "40"))
GATEWAYS = 200
PAGES = {
    "list": "",
    "severity_time": "severity=high&severity=critical&range=24h",
    "text": "q=nmap",
}

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


def timed(fn, repeat=REPEAT) -> dict:
    fn()  # warm caches and the connection
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(percentile(samples, 95), 2),
    }


def page_queries(client, url) -> list[str]:
    """The SQL of the page's event queries (rows and capped count), as run."""
    with CaptureQueriesContext(connection) as context:
        client.get(url)
    return [
        query["sql"]
        for query in context.captured_queries
        if "security_securityevent" in query["sql"] and "savedeventsearch" not in query["sql"]
    ]


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("bench/events.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    setup_test_environment()
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
        client = Client()
        client.force_login(admin)
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
                cursor.execute("VACUUM ANALYZE security_securityevent")
            filled = size
            figures = {"fill_s": round(time.perf_counter() - started, 1)}
            for name, query in PAGES.items():
                url = "/security/events/?" + query
                assert client.get(url).status_code == 200, url
                sqls = page_queries(client, url)

                def raw(sqls=sqls):
                    with connection.cursor() as cursor:
                        for sql in sqls:
                            cursor.execute(sql)
                            cursor.fetchall()

                figures[name] = {"page": timed(lambda url=url: client.get(url)), "sql": timed(raw)}
                figures[name]["ratio"] = round(
                    figures[name]["page"]["p50_ms"] / max(figures[name]["sql"]["p50_ms"], 0.01), 2
                )
            results["sizes"][str(size)] = figures
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    small, large = (results["sizes"][str(s)] for s in SIZES)
    worst = max(large[n]["ratio"] for n in PAGES) if large else None
    worst = max(worst, *(small[n]["ratio"] for n in PAGES))
    growth = max(large[n]["page"]["p50_ms"] / small[n]["page"]["p50_ms"] for n in PAGES)
    results["worst_vs_sql"] = worst
    results["growth_1m_vs_10k"] = round(growth, 2)
    results["p95_ms_list_1m"] = large["list"]["page"]["p95_ms"]
    print(json.dumps(results, indent=2))
    print(
        f"worst_vs_sql={worst} growth_1m_vs_10k={results['growth_1m_vs_10k']} "
        f"p95_ms_list_1m={results['p95_ms_list_1m']}"
    )


if __name__ == "__main__":
    main()
