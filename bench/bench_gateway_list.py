"""How much the gateway list costs on top of the database.

Fills a throw-away test database with 2,000 gateways and measures, for one
page of 100 rows: the full page, the htmx table fragment, the REST API page,
and — as the reference measured in the same run — the raw SQL that fetches the
same 100 rows with their region. Prints JSON and a one-line summary.
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
from django.test.utils import setup_test_environment  # noqa: E402

ROWS, PAGE, REPEAT = 2000, 100, 30


def timed(fn, repeat=REPEAT) -> float:
    fn()  # warm up caches and connections
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def main() -> None:
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from accounts.models import User
        from gateways.models import Gateway, Region

        regions = Region.objects.bulk_create(
            [Region(name=f"Region {i}", slug=f"region-{i}") for i in range(10)]
        )
        Gateway.objects.bulk_create(
            [
                Gateway(
                    name=f"gw-{i:05d}",
                    region=regions[i % 10],
                    public_address=f"10.{i // 250}.{i % 250}.1",
                    capacity_mbps=1000,
                )
                for i in range(ROWS)
            ],
            batch_size=500,
        )
        for gateway in Gateway.objects.all()[:200]:
            gateway.tags.add("edge", "pci")
        user = User.objects.create_superuser("bench", "bench@example.com", "bench-password-1")
        client = Client()
        client.force_login(user)

        page_url = f"/gateways/?per_page={PAGE}"
        api_url = f"/api/v1/gateways/?page_size={PAGE}"
        assert client.get(page_url).status_code == 200
        # Counted with an execute wrapper: the request_started signal resets
        # connection.queries, so CaptureQueriesContext sees nothing here.
        page_queries = []
        with connection.execute_wrapper(
            lambda execute, sql, params, many, context: (
                page_queries.append(sql) or execute(sql, params, many, context)
            )
        ):
            client.get(page_url)

        raw_sql = (
            "SELECT g.uuid, g.name, g.status, g.public_address, g.software_version, "
            "g.capacity_mbps, g.last_seen, r.uuid, r.name FROM gateways_gateway g "
            "JOIN gateways_region r ON r.id = g.region_id ORDER BY g.name LIMIT %s"
        )

        def raw():
            with connection.cursor() as cursor:
                cursor.execute(raw_sql, [PAGE])
                cursor.fetchall()

        result = {
            "bench": "gateway_list",
            "database": connection.vendor,
            "rows": ROWS,
            "page_size": PAGE,
            "page_ms": timed(lambda: client.get(page_url)),
            "fragment_ms": timed(lambda: client.get(page_url, headers={"HX-Request": "true"})),
            "api_ms": timed(lambda: client.get(api_url)),
            "raw_sql_ms": timed(raw),
            "queries_per_page": len(page_queries),
        }
        result["page_vs_raw"] = round(result["page_ms"] / max(result["raw_sql_ms"], 0.001), 1)
        print(json.dumps(result))
        print(
            f"gateway_list ({result['database']}, {PAGE} of {ROWS} rows): page "
            f"{result['page_ms']} ms, htmx fragment {result['fragment_ms']} ms, API "
            f"{result['api_ms']} ms; raw SQL {result['raw_sql_ms']} ms "
            f"(page = {result['page_vs_raw']}x raw), {result['queries_per_page']} queries"
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
