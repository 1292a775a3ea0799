from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "security"

    def ready(self) -> None:
        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from gateways.agent.hooks import register_event_sink
        from security import allowlist
        from security import sessions as _sessions  # noqa: F401  (sign-in/out receivers)
        from security.ingest import store_events
        from security.models import AllowlistEntry, SessionPolicy

        register_event_sink(store_events)
        # Per-minute event counts (correlation's anomaly baseline): telemetry,
        # rewritten with every batch and pruned hourly; never audited per row.
        from audit.registry import register as audit_register

        audit_register("security.GatewayEventRate", noise=True)

        def drop_allowlist(**kwargs):
            # Now and after commit: a request in between must not cache the old list.
            allowlist.invalidate()
            transaction.on_commit(allowlist.invalidate)

        def drop_policy(**kwargs):
            from django.core.cache import cache

            cache.delete(SessionPolicy.CACHE_KEY)
            transaction.on_commit(lambda: cache.delete(SessionPolicy.CACHE_KEY))

        for signal in (post_save, post_delete):
            signal.connect(
                drop_allowlist, sender=AllowlistEntry, weak=False, dispatch_uid="allowlist-cache"
            )
            signal.connect(
                drop_policy, sender=SessionPolicy, weak=False, dispatch_uid="policy-cache"
            )
