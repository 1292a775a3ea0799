"""/account/mfa/…: included by accounts/urls.py under the "accounts:mfa" namespace."""

from django.urls import path

from accounts.mfa import views, webauthn

app_name = "mfa"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("verify/", views.verify, name="verify"),
    path("authenticator/", views.enrol, name="enrol"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path(
        "recovery-codes/rustronaut-recovery-codes.txt",
        views.recovery_codes_download,
        name="recovery_codes_download",
    ),
    path("recovery-codes/done/", views.recovery_codes_done, name="recovery_codes_done"),
    path(
        "recovery-codes/regenerate/",
        views.recovery_codes_regenerate,
        name="recovery_codes_regenerate",
    ),
    # Names the security key the page has just registered (webauthn.py).
    path("security-keys/added/", webauthn.key_added, name="security_key_added"),
    path(
        "devices/<str:kind>/<int:pk>/remove/",
        views.remove_device,
        name="remove_device",
    ),
]
