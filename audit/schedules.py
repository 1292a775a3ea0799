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
    # Scheduled compliance reports go out at 06:00 UTC; every 5 minutes finds
    # the due ones soon after (a late or repeated run sends each period once).
    "audit.send_due_reports": {
        "task": "audit.tasks.send_due_reports",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    "audit.archive_audit_records": {
        "task": "audit.tasks.archive_audit_records",
        "schedule": crontab(hour=3, minute=7),
    },
}
