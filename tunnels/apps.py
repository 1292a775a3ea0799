from django.apps import AppConfig


class TunnelsConfig(AppConfig):
    """Tunnels between gateways; models arrive with the fleet issue."""

    name = "tunnels"
