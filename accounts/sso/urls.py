"""The OpenID Connect sign-in URLs, loaded by allauth from the provider's
package (``ConsoleOpenIDConnectProvider.package``); same names and paths as
allauth's own openid_connect provider."""

from django.urls import include, path

from accounts.sso import oidc

urlpatterns = [
    path(
        "oidc/<str:provider_id>/",
        include(
            [
                path("login/", oidc.login, name="openid_connect_login"),
                path("login/callback/", oidc.callback, name="openid_connect_callback"),
            ]
        ),
    )
]
