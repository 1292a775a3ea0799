"""Every app's REST routes under /api/v1/, in one namespace."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from audit.api.urls import router as audit_router
from gateways.api.urls import router as gateways_router
from policies.api.urls import router as policies_router
from security.api.urls import router as security_router  # security events
from tunnels.api.urls import router as tunnels_router

app_name = "api"

# Each app keeps its own router; the API root lists the collections of all.
APP_ROUTERS = (gateways_router, tunnels_router, policies_router, audit_router, security_router)
_root = DefaultRouter()
_root.registry = [entry for router in APP_ROUTERS for entry in router.registry]


def _public(patterns):
    """API views answer anonymous callers with 401/403 JSON, not a login
    redirect: the login-required middleware lets them through to DRF, whose
    permission classes decide."""
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            _public(pattern.url_patterns)
        else:
            pattern.callback.login_required = False
    return patterns


urlpatterns = _public(
    [
        # Before the apps' own routes, whose routers each answer "" with their part.
        path("", _root.get_api_root_view(), name="api-root"),
        path("", include("gateways.api.urls")),
        path("", include("tunnels.api.urls")),
        path("", include("policies.api.urls")),  # access policies (docs/policies.md)
        path("", include("audit.api.urls")),  # read-only audit log (docs/audit.md)
        path("", include("security.api.urls")),  # security events (docs/security-events.md)
        # API authentication: JWT token endpoints and own API keys (docs/api.md).
        path("", include("accounts.api_auth.urls")),
    ]
)
