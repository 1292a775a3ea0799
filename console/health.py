"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.decorators import login_not_required
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from console.celery import app as celery_app


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "reachable"


def check_redis() -> str:
    # Straight through Django's Redis cache: the console's own backend
    # (console/cache.py) answers as an empty cache while Redis is down, which
    # would turn the outage into a vague "not read back".
    backend = caches["default"]
    raw = RedisCache if isinstance(backend, RedisCache) else type(backend)
    key = f"readyz:{uuid.uuid4().hex}"
    raw.set(backend, key, "1", timeout=5)
    if raw.get(backend, key) != "1":
        raise RuntimeError("value written was not read back")
    raw.delete(backend, key)
    return "read and write ok"


def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip() -> None:
        channel = await layer.new_channel("readyz.")
        await layer.send(channel, {"type": "readyz.ping"})
        message = await layer.receive(channel)
        if message.get("type") != "readyz.ping":
            raise RuntimeError("message sent was not received")

    async_to_sync(round_trip)()
    return "message round trip ok"


def check_celery() -> str:
    # The first answer is enough: waiting out the timeout for more would make
    # every probe take over a second (Kubernetes' default probe timeout is 1 s).
    replies = celery_app.control.ping(timeout=1.0, limit=1)
    if not replies:
        raise RuntimeError("no worker answered a ping within 1 s")
    return "a worker answered a ping"


CHECKS = {
    "database": check_database,
    "redis": check_redis,
    "channel_layer": check_channel_layer,
    "celery": check_celery,
}


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """The process is alive and serving requests; checks no dependency."""
    return JsonResponse({"status": "ok"})


def run_checks(skip: tuple[str, ...] = ()) -> dict:
    """Every check (but ``skip``), timed; a failed one is reported, never
    raised. The readiness probe answers with it and the live console pushes it
    to open tabs when it changes (console/live.py)."""
    results = {}
    for name, check in CHECKS.items():
        if name in skip:
            continue
        started = time.perf_counter()
        try:
            detail, ok = check(), True
        except Exception as exc:  # a readiness probe reports, it never raises
            detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
        results[name] = {
            "ok": ok,
            "detail": detail,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return results


@login_not_required
@never_cache
@require_GET
def readyz(request):
    """Every dependency answers; 503 naming the failed check otherwise."""
    results = run_checks()
    ready = all(result["ok"] for result in results.values())
    return JsonResponse(
        {"status": "ok" if ready else "fail", "checks": results}, status=200 if ready else 503
    )
