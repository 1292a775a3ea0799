"""Periodic tasks of the security app, collected into CELERY_BEAT_SCHEDULE.

Kept free of Django imports: settings import this module.
"""

PERIODIC_TASKS = {
    "security.end_timed_out_sessions": {
        "task": "security.tasks.end_timed_out_sessions",
        # An idle tab's websocket closes within a minute of its session's timeout.
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
}
