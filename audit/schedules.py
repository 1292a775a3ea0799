"""Periodic tasks of the audit app, collected into CELERY_BEAT_SCHEDULE.

Kept free of Django imports: settings import this module.
"""

from celery.schedules import crontab

PERIODIC_TASKS = {
    # Records are sealed right after their transaction commits; this catches
    # what a process that died in between left behind.
    "audit.seal_audit_records": {
        "task": "audit.tasks.seal_audit_records",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    "audit.verify_audit_chain": {
        "task": "audit.tasks.verify_audit_chain",
        "schedule": crontab(hour=2, minute=17),
    },
    "audit.archive_audit_records": {
        "task": "audit.tasks.archive_audit_records",
        "schedule": crontab(hour=3, minute=7),
    },
}
