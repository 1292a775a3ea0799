"""console.asgi: agent calls take their own lean path (tests/gateways/
test_agent_asgi.py), everything else Django's full stack, which now starts
with an async RequestIdMiddleware."""

from __future__ import annotations

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.urls import resolve

from console.middleware import RequestIdMiddleware
from gateways.agent.asgi import URLCONF
from tests.gateways.test_agent_asgi import AsgiClient

pytestmark = pytest.mark.django_db(transaction=True)


def test_other_paths_go_through_the_full_stack_with_a_request_id():
    response = AsgiClient().get("/healthz", HTTP_X_REQUEST_ID="probe-12345678")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "probe-12345678"
    assert "Content-Security-Policy" in response or "X-Frame-Options" in response


def test_pages_still_ask_to_sign_in():
    response = AsgiClient().get("/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert len(response["X-Request-ID"]) == 32


def test_the_request_id_runs_on_the_event_loop_when_the_chain_below_is_async(settings):
    """Django keeps a middleware sync when the one below it is sync (one hop
    at the top instead of two): with an async chain below, no thread hop for
    the request id. (The browser stack still has sync-only middleware below
    it: WhiteNoise, the allowlist, MFA and session policy.)"""
    settings.MIDDLEWARE = [
        "console.middleware.RequestIdMiddleware",
        "django.middleware.security.SecurityMiddleware",
    ]
    outermost = ASGIHandler()._middleware_chain.__wrapped__

    assert isinstance(outermost, RequestIdMiddleware)
    assert outermost.is_async


@pytest.mark.parametrize("endpoint", ["enroll", "heartbeat", "events", "config"])
def test_the_agent_urlconf_has_the_consoles_agent_views(endpoint):
    path = f"/api/agent/v1/{endpoint}"
    lean, full = resolve(path, urlconf=URLCONF), resolve(path)

    assert lean.func.view_class is full.func.view_class
    assert lean.view_name == full.view_name == f"agent:{endpoint}"
