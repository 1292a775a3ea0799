"""/account/mfa/webauthn/…: the WebAuthn ceremonies (accounts/mfa/webauthn.py).

Included from console/urls.py as the top-level "otp_webauthn" namespace, with
the package's own URL names: its template configuration and scripts reverse
them. Who may call which: ``middleware.ALLOWED_URL_NAMES``.
"""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from accounts.mfa import webauthn

app_name = "otp_webauthn"

urlpatterns = [
    path(
        "registration/begin/",
        webauthn.RegistrationBegin.as_view(),
        name="credential-registration-begin",
    ),
    path(
        "registration/complete/",
        webauthn.RegistrationComplete.as_view(),
        name="credential-registration-complete",
    ),
    path(
        "authentication/begin/",
        webauthn.AuthenticationBegin.as_view(),
        name="credential-authentication-begin",
    ),
    path(
        "authentication/complete/",
        webauthn.AuthenticationComplete.as_view(),
        name="credential-authentication-complete",
    ),
    # The strings of the package's scripts (they call gettext()).
    path(
        "jsi18n/",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="js-i18n-catalog",
    ),
]
