from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"

    def ready(self) -> None:
        from gateways.agent.hooks import register_event_sink
        from security.ingest import store_events

        register_event_sink(store_events)
