from django.apps import AppConfig


class TunnelsConfig(AppConfig):
    """Tunnels between gateways, or from a gateway to a remote site."""

    name = "tunnels"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from gateways.agent.hooks import (
            register_config_section,
            register_heartbeat_hook,
            register_offline_hook,
        )
        from tunnels.agent import (
            bump_config_after_commit,
            forget_state_of_offline_gateways,
            record_tunnel_reports,
            tunnel_config,
        )
        from tunnels.live import connect_receivers
        from tunnels.models import Tunnel

        connect_receivers()  # edits publish to live pages (tunnels/live.py)
        register_config_section("tunnels", tunnel_config)
        register_heartbeat_hook(record_tunnel_reports)
        register_offline_hook(forget_state_of_offline_gateways)
        post_save.connect(
            bump_config_after_commit, sender=Tunnel, dispatch_uid="tunnels.bump_config.save"
        )
        post_delete.connect(
            bump_config_after_commit, sender=Tunnel, dispatch_uid="tunnels.bump_config.delete"
        )
