"""Every app's REST routes under /api/v1/, in one namespace."""

from django.urls import include, path

app_name = "api"


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


urlpatterns = _public([
    path("", include("gateways.api.urls")),
])
