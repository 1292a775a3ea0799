"""ASGI entry point: HTTP through Django, websockets through Channels.

The gateway agent API (``/api/agent/``) takes a lean path: the same URLconf
and DRF views without the browser's middleware, on a few persistent worker
threads (gateways/agent/asgi.py; docs/decisions.md, agent ingest).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.routing import websocket_urlpatterns  # noqa: E402
from gateways.agent.asgi import AgentASGIHandler, is_agent_path  # noqa: E402

agent_api_app = AgentASGIHandler()


async def http_app(scope, receive, send):
    """Agents to their own handler, everything else through the full stack."""
    if is_agent_path(scope):
        return await agent_api_app(scope, receive, send)
    return await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
