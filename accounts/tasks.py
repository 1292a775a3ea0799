"""Celery tasks of the accounts app (found by ``app.autodiscover_tasks()``)."""

from __future__ import annotations

from celery import shared_task


@shared_task(soft_time_limit=540, time_limit=600)
def sync_ldap_users() -> dict:
    """The scheduled LDAP sync (accounts/directory/sync.py). Idempotent: a
    second run finds nothing more to change; a directory outage changes nothing."""
    from accounts.directory.sync import sync_ldap_users as run

    return run()
