"""Periodic tasks of the accounts app, collected into CELERY_BEAT_SCHEDULE.

Kept free of Django models: settings import this module.
"""

from console.env import env_int, env_str

PERIODIC_TASKS: dict = {}

# The LDAP sync, only while a directory is configured (LDAP_SERVER_URI) and
# DIRECTORY_SYNC_MINUTES is not 0 (settings checks the value).
_SYNC_SECONDS = 60.0 * env_int("DIRECTORY_SYNC_MINUTES", 60)
if env_str("LDAP_SERVER_URI", "").strip() and _SYNC_SECONDS > 0:
    PERIODIC_TASKS["accounts.sync_ldap_users"] = {
        "task": "accounts.tasks.sync_ldap_users",
        "schedule": _SYNC_SECONDS,
        "options": {"expires": _SYNC_SECONDS},
    }
