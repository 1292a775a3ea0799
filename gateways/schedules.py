"""Periodic tasks of the gateways app, collected into CELERY_BEAT_SCHEDULE.

Kept free of Django imports: settings import this module.
"""

PERIODIC_TASKS = {
    "gateways.mark_offline_gateways": {
        "task": "gateways.tasks.mark_offline_gateways",
        # Often enough that a silent gateway shows offline within one interval
        # of crossing the threshold (three missed heartbeats).
        "schedule": 10.0,
        "options": {"expires": 10.0},
    },
    "gateways.rollup_metrics": {
        "task": "gateways.tasks.rollup_metrics",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    "gateways.prune_metrics": {
        "task": "gateways.tasks.prune_metrics",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
