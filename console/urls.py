from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated

from console import health
from console.views import pages


@login_not_required
def favicon(request):
    return redirect(static("console/favicon.svg"), permanent=True)


urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("settings/", pages.settings_index, name="settings"),
    path("account/", pages.account_index, name="account"),
    path("", include("gateways.urls")),
    path("", include("tunnels.urls")),
    path("", include("policies.urls")),  # access policies (docs/policies.md)
    path("", include("accounts.urls")),
    path("", include("security.urls")),  # sessions, IP allowlist (docs/sessions.md)
    path("", include("audit.urls")),  # audit log, exports, reports (docs/audit.md)
    path("accounts/", include("allauth.urls")),
    # WebAuthn security keys (accounts/mfa/webauthn.py, docs/mfa.md): the
    # package's template tags and scripts want the top-level "otp_webauthn" namespace.
    path("account/mfa/webauthn/", include("accounts.mfa.webauthn_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("console.api.urls")),
    path("api/agent/v1/", include("gateways.agent.urls")),
    # SCIM 2.0 provisioning, its own bearer tokens (accounts/scim, docs/directory.md).
    path("scim/v2/", include("accounts.scim.urls")),
    # DRF views skip LoginRequiredMiddleware and drf-spectacular serves to
    # anyone by default: the schema answers anonymous callers 403 like the rest
    # of the API, the docs page sends them to sign in like every other page.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]),
        name="api-schema",
    ),
    # The split view serves its start-up script as a file, so scripts stay
    # 'self'-only; Swagger UI sets inline styles, allowed on this page alone.
    path(
        "api/docs/",
        login_required(
            csp_update({"style-src": [UNSAFE_INLINE]})(
                SpectacularSwaggerSplitView.as_view(url_name="api-schema")
            )
        ),
        name="api-docs",
    ),
    path("favicon.ico", favicon),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

admin.site.site_header = "Rustronaut Console administration"
admin.site.site_title = "Rustronaut Console admin"
