from django.apps import AppConfig


class SsoConfig(AppConfig):
    """An app so that allauth finds our OpenID Connect provider (provider.py,
    urls.py) and templates find the ``sso`` tags."""

    name = "accounts.sso"
    label = "sso"
    verbose_name = "Single sign-on"
