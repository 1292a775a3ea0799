from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "gateways"

    def ready(self) -> None:
        from gateways import signals  # noqa: F401
        from gateways.agent import openapi  # noqa: F401
