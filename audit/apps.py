from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from audit import signals

        signals.connect_models()
        signals.connect_signals()
        # Tasks are actors: Celery's task signals set the context in the
        # worker (console/celery.py needs nothing more).
        signals.connect_celery()
