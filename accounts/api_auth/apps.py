from django.apps import AppConfig


class ApiAuthConfig(AppConfig):
    """No models (ApiKey lives in accounts.models): this app only connects the
    token-revocation signals and the OpenAPI description at start-up."""

    name = "accounts.api_auth"
    label = "api_auth"
    verbose_name = "API authentication"

    def ready(self) -> None:
        from accounts.api_auth import openapi, signals  # noqa: F401
