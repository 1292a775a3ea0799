"""Pages of API authentication, in the accounts namespace (one include in
accounts/urls.py)."""

from django.urls import path

from accounts.api_auth import pages

urlpatterns = [
    path("account/api-keys/", pages.own_key_list, name="api_key_list"),
    path("account/api-keys/new/", pages.own_key_create, name="api_key_add"),
    path("account/api-keys/<uuid:uuid>/revoke/", pages.own_key_revoke, name="api_key_revoke"),
    path("settings/service-accounts/", pages.service_account_list, name="service_account_list"),
    path(
        "settings/service-accounts/new/",
        pages.service_account_create,
        name="service_account_add",
    ),
    path(
        "settings/service-accounts/<uuid:uuid>/keys/new/",
        pages.service_key_create,
        name="service_key_add",
    ),
    path(
        "settings/service-accounts/<uuid:uuid>/keys/<uuid:key_uuid>/revoke/",
        pages.service_key_revoke,
        name="service_key_revoke",
    ),
]
