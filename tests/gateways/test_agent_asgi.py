"""The agent API through the ASGI application daphne serves (console.asgi),
which routes /api/agent/ to its own lean handler (gateways/agent/asgi.py).

The rest of the agent tests use Django's test client (the full middleware
stack); these check that the path agents really take answers the same:
status codes, bodies, field errors, 413, 401/403, a user's session refused,
the request id, Django's exception handling, and no database connection left
behind in the worker threads.

The views run in worker threads with connections of their own, so the data
must be committed: ``transaction=True``.
"""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings
from django.core import signals
from django.db import connections
from django.test import Client

from console.asgi import agent_api_app, application
from gateways.agent import views
from gateways.agent.asgi import AgentASGIHandler, is_agent_path
from gateways.models import GatewayStatusChange, MetricSample
from security.models import SecurityEvent
from tests.gateways.test_agent_api import (
    AGENT,
    Agent,
    assert_errors,
    enrolled_agent,
    event,
    heartbeat_body,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _unthrottled(settings):
    settings.AGENT_THROTTLE_PER_MINUTE = 10**9


class AsgiResponse:
    """What the tests read of an answer, as on Django's test client's."""

    def __init__(self, message: dict, body: bytes):
        self.status_code = message["status"]
        self.content = body
        self.headers: dict[str, str] = {}
        self.header_list = [(k.decode("latin1"), v.decode("latin1")) for k, v in message["headers"]]
        for name, value in self.header_list:
            self.headers[name.lower()] = value

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.headers

    def json(self):
        return json.loads(self.content)


class AsgiClient:
    """Django test client's get/post, sent through an ASGI application as
    daphne would send them."""

    def __init__(self, app=application):
        self.app = app
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes = b"", **extra) -> AsgiResponse:
        headers = [(b"host", b"testserver")]
        content_type = extra.pop("content_type", None)
        if content_type:
            headers.append((b"content-type", content_type.encode()))
        if body:
            headers.append((b"content-length", str(len(body)).encode()))
        for key, value in extra.items():
            assert key.startswith("HTTP_"), key
            headers.append((key[5:].replace("_", "-").lower().encode(), value.encode("latin1")))
        if self.cookies:
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            headers.append((b"cookie", cookie.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        return async_to_sync(self._run)(scope, body)

    async def _run(self, scope, body: bytes) -> AsgiResponse:
        communicator = ApplicationCommunicator(self.app, scope)
        await communicator.send_input({"type": "http.request", "body": body})
        start = await communicator.receive_output(10)
        assert start["type"] == "http.response.start", start
        content = b""
        while True:
            chunk = await communicator.receive_output(10)
            content += chunk.get("body", b"")
            if not chunk.get("more_body"):
                break
        await communicator.wait(10)
        return AsgiResponse(start, content)

    def post(self, path: str, data=b"", content_type="application/json", **extra):
        body = data.encode() if isinstance(data, str) else data
        return self.request("POST", path, body, content_type=content_type, **extra)

    def get(self, path: str, **extra):
        return self.request("GET", path, **extra)


@pytest.fixture
def agent() -> Agent:
    new = enrolled_agent()
    new.client = AsgiClient()
    return new


def test_the_agent_api_takes_its_own_path():
    assert is_agent_path({"path": "/api/agent/v1/heartbeat"})
    assert is_agent_path({"path": "/console/api/agent/v1/config", "root_path": "/console"})
    assert not is_agent_path({"path": "/api/v1/gateways/"})
    assert not is_agent_path({"path": "/api/agentx/"})
    assert not is_agent_path({"path": "/healthz"})


def test_a_heartbeat(agent):
    response = agent.post("heartbeat", heartbeat_body(status="degraded"))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "config_version": 1,
        "heartbeat_interval": settings.GATEWAY_HEARTBEAT_INTERVAL,
    }
    assert response["Content-Type"] == "application/json"
    sample = MetricSample.objects.get()
    assert sample.gateway_id == agent.gateway.pk
    assert agent.refresh().status == "degraded"
    assert GatewayStatusChange.objects.filter(gateway=agent.gateway).count() == 1


def test_events_and_their_retry(agent):
    batch = {"events": [event(), event()]}

    first = agent.post("events", batch)
    again = agent.post("events", batch)

    assert first.status_code == 202, first.content
    assert first.json() == {"accepted": 2, "duplicates": 0}
    assert again.json() == {"accepted": 0, "duplicates": 2}
    assert SecurityEvent.objects.filter(gateway=agent.gateway).count() == 2


def test_config_and_304(agent):
    first = agent.get("config")
    assert first.status_code == 200, first.content
    assert first["ETag"] == '"1"'
    assert set(first.json()) == {"version", "policies", "tunnels"}

    second = agent.get("config", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 304
    assert second.content == b""


def test_bad_fields_are_400(agent):
    body = heartbeat_body(status="sleepy")
    body["metrics"]["cpu_pct"] = "high"

    response = agent.post("heartbeat", body)

    assert_errors(response, 400, "status", "metrics.cpu_pct")
    assert not MetricSample.objects.exists()


def test_malformed_json_is_400(agent):
    assert_errors(agent.post("events", b'{"events": ['), 400, "body")


def test_a_body_over_1_mib_is_413(agent):
    response = agent.post("heartbeat", heartbeat_body(padding="x" * (1024 * 1024)))

    assert_errors(response, 413, "body")
    assert not MetricSample.objects.exists()


def test_a_batch_over_1000_events_is_413(agent):
    response = agent.post("events", {"events": [event() for _ in range(1001)]})

    assert_errors(response, 413, "events")
    assert not SecurityEvent.objects.exists()


def test_no_credential_is_401():
    response = AsgiClient().post(AGENT + "heartbeat", json.dumps(heartbeat_body()))

    assert_errors(response, 401, "authorization")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_disabled_gateway_is_403(agent):
    agent.gateway.enabled = False
    agent.gateway.save(update_fields=["enabled"])

    assert_errors(agent.call("events"), 403, "authorization")
    assert not SecurityEvent.objects.exists()


def test_the_429_says_when_to_retry(agent, settings):
    settings.AGENT_THROTTLE_PER_MINUTE = 1
    agent.call("config")

    response = agent.call("config")

    assert_errors(response, 429, "rate")
    assert int(response["Retry-After"]) >= 1


def test_a_users_session_is_refused(admin_user):
    """The lean path has no session middleware; a signed-in admin's cookie
    opens nothing, exactly as through the full stack."""
    browser = Client()
    browser.force_login(admin_user)
    client = AsgiClient()
    client.cookies = {name: morsel.value for name, morsel in browser.cookies.items()}
    assert client.cookies[settings.SESSION_COOKIE_NAME]

    for endpoint in ("heartbeat", "events"):
        body = heartbeat_body() if endpoint == "heartbeat" else {"events": [event()]}
        response = client.post(AGENT + endpoint, json.dumps(body))
        assert_errors(response, 401, "authorization")
    assert_errors(client.get(AGENT + "config"), 401, "authorization")
    assert not MetricSample.objects.exists()
    assert not SecurityEvent.objects.exists()
    # The same cookie does open the console's pages through the full stack.
    assert client.get("/").status_code == 200


def test_the_browser_middleware_does_not_run(agent):
    response = agent.call("heartbeat")

    assert response.status_code == 200
    assert "Content-Security-Policy" not in response
    assert "Set-Cookie" not in response
    assert "Vary" not in response  # no session or CSRF middleware looked at cookies


def test_the_request_id_is_set_and_echoed(agent):
    seen = []
    original = views.HeartbeatView.post

    def spy(self, request):
        from console.logging import request_id

        seen.append((request.request_id, request_id.get()))
        return original(self, request)

    views.HeartbeatView.post = spy
    try:
        given = agent.post("heartbeat", heartbeat_body(), HTTP_X_REQUEST_ID="lb-1234abcd")
        made = agent.post("heartbeat", heartbeat_body(), HTTP_X_REQUEST_ID="bad id!")
    finally:
        views.HeartbeatView.post = original

    assert given["X-Request-ID"] == "lb-1234abcd"
    assert len(made["X-Request-ID"]) == 32
    assert seen == [("lb-1234abcd", "lb-1234abcd"), (made["X-Request-ID"],) * 2]


def test_an_error_in_the_view_is_djangos_500_and_logged(agent, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not anything the agent sent")

    monkeypatch.setattr(views, "record_heartbeat", broken)

    response = agent.call("heartbeat")

    assert response.status_code == 500
    assert "X-Request-ID" in response
    assert b"a bug" not in response.content
    assert any(record.exc_info for record in caplog.records if record.name == "django.request")


def test_a_foreign_host_header_is_400(agent):
    response = agent.client.request(
        "GET", AGENT + "config", HTTP_HOST="evil.example", **agent.headers()
    )

    assert response.status_code == 400


def test_an_unknown_agent_path_is_404(agent):
    response = agent.client.get(AGENT + "nothing-here", **agent.headers())

    assert response.status_code == 404


@pytest.fixture
def one_thread_handler():
    handler = AgentASGIHandler(threads=1)
    yield handler
    handler.executor.shutdown(wait=True)


def test_each_request_is_started_finished_and_returns_its_connection(one_thread_handler):
    """request_started and request_finished run in the worker thread that ran
    the view, once each, and the thread holds no database connection after
    the request: with the psycopg pool, close returns it to the pool."""
    events = []
    agent = enrolled_agent()
    agent.client = AsgiClient(one_thread_handler)

    def started(**kwargs):
        events.append(("started", threading.current_thread().name))

    def finished(**kwargs):
        events.append(("finished", threading.current_thread().name))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        for endpoint in ("heartbeat", "events", "config"):
            assert agent.call(endpoint).status_code < 300
        assert_errors(agent.post("heartbeat", {"status": 1}), 400)
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)

    names = {name for _, name in events}
    assert len(names) == 1 and names.pop().startswith("agent-api")
    assert [kind for kind, _ in events] == ["started", "finished"] * 4

    def holds_a_connection() -> bool:
        return any(conn.connection is not None for conn in connections.all())

    assert one_thread_handler.executor.submit(holds_a_connection).result() is False


def test_the_server_keeps_one_handler_for_agents():
    assert isinstance(agent_api_app, AgentASGIHandler)
    assert agent_api_app.threads >= 1
