"""The URLconf of the agent API's own ASGI path (gateways/agent/asgi.py).

The same ``gateways.agent.urls`` the console's URLconf includes, at the same
prefix, and the same error handlers: resolving an agent call through
console/urls.py first tries (and lists, for the 404) every page, the admin and
the REST API — a tenth of an agent call's time.
"""

from importlib import import_module

from django.conf import settings
from django.urls import include, path

urlpatterns = [
    path("api/agent/v1/", include("gateways.agent.urls")),
]

_root = import_module(settings.ROOT_URLCONF)
for _name in ("handler400", "handler403", "handler404", "handler500"):
    if hasattr(_root, _name):
        globals()[_name] = getattr(_root, _name)
