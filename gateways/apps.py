from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "gateways"

    def ready(self) -> None:
        from gateways import signals  # noqa: F401
        from gateways.agent import openapi  # noqa: F401
        from gateways.live import connect_receivers

        connect_receivers()  # edits publish to live pages (gateways/live.py)
