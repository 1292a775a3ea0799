"""Accounts pages: users and roles (Settings), and each user's own security
(Your account). Each concern keeps its views in its own module."""

from django.urls import include, path

app_name = "accounts"

urlpatterns: list = [
    # Your account → Two-factor authentication (accounts/mfa, docs/mfa.md).
    path("account/mfa/", include("accounts.mfa.urls")),
]
