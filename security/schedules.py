"""Periodic tasks of the security app, collected into CELERY_BEAT_SCHEDULE.

Kept free of Django imports: settings import this module.
"""

PERIODIC_TASKS = {
    "security.lift_expired_containment": {
        "task": "security.tasks.lift_expired_containment",
        # Blocks and quarantines end within a minute of their expiry (the
        # rules' own expiry already stops gateways enforcing them on time).
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "security.end_timed_out_sessions": {
        "task": "security.tasks.end_timed_out_sessions",
        # An idle tab's websocket closes within a minute of its session's timeout.
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "security.prune_event_rates": {
        "task": "security.tasks.prune_event_rates",
        # Per-minute event counts older than the anomaly baseline's day.
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
    "security.enforce_event_retention": {
        "task": "security.tasks.enforce_event_retention",
        # Hourly: week partitions are made two weeks ahead and old ones dropped
        # within the hour they pass SECURITY_EVENT_RETENTION_DAYS (security.retention).
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
