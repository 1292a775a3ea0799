"""The scheduled LDAP sync (docs/directory.md, "Scheduled sync").

For every active LDAP user who has not signed in within the sync period,
the directory is asked again, with django-auth-ldap's own search, nested
group and require/deny group code (the same as at sign-in):

* gone from the directory, excluded by the search filter (disabled), linked
  to a DN that is no longer theirs, or failing the required / denied group:
  the user is deactivated (signed out everywhere, tokens and API keys revoked);
* otherwise their roles and regions follow the group mappings; a user in no
  mapped group loses every role, as at sign-in, but stays active.

A directory that does not answer changes nothing more: the run stops with a
warning, and nobody is deactivated because of an outage.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

import ldap
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_auth_ldap.backend import _LDAPUser, ldap_error

from accounts.directory import mapping
from accounts.directory.backend import DirectoryLDAPBackend, directory_groups
from accounts.directory.deactivation import deactivate

logger = logging.getLogger(__name__)

LEFT_REASON = "left the directory"


class DirectoryUnreachable(Exception):
    """The directory did not answer: stop, change nothing more."""


@dataclass
class SyncResult:
    checked: int = 0
    updated: int = 0
    no_group: int = 0
    deactivated: int = 0
    unreachable: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def stale_users(stale_after: timedelta):
    """Active LDAP users who did not sign in within ``stale_after`` (or never)."""
    from accounts.models import DirectoryIdentity
    from accounts.models.directory import DirectorySource

    cutoff = timezone.now() - stale_after
    return (
        DirectoryIdentity.objects.filter(source=DirectorySource.LDAP, user__is_active=True)
        .filter(Q(user__last_login__lt=cutoff) | Q(user__last_login__isnull=True))
        .select_related("user")
        .order_by("pk")
    )


def sync_ldap_users(stale_after: timedelta | None = None) -> dict:
    """Deactivate LDAP users who left the directory and refresh the roles of
    those who did not sign in lately. Returns the counts (``SyncResult``)."""
    result = SyncResult()
    if getattr(settings, "DIRECTORY_LDAP", None) is None:
        return result.as_dict()
    if stale_after is None:
        stale_after = timedelta(minutes=settings.DIRECTORY_SYNC_MINUTES)
    backend = DirectoryLDAPBackend()
    for identity in stale_users(stale_after):
        try:
            outcome = _sync_one(backend, identity)
        except (DirectoryUnreachable, ldap.LDAPError) as exc:
            result.unreachable = True
            logger.warning(
                "LDAP sync stopped, the directory did not answer: %s (nobody was deactivated "
                "because of it)",
                exc,
            )
            break
        result.checked += 1
        if outcome == "deactivated":
            result.deactivated += 1
        elif outcome == "no_group":
            result.no_group += 1
        else:
            result.updated += 1
    logger.info("LDAP sync done", extra=result.as_dict())
    return result.as_dict()


def _sync_one(backend: DirectoryLDAPBackend, identity) -> str:
    user = identity.user
    username = backend.django_to_ldap_username(user.get_username())
    ldap_user = _LDAPUser(backend, username=username)
    # Bind first: a directory that is down raises here (never "user gone").
    ldap_user._bind()
    entry_dn = _lookup_dn(backend, ldap_user)
    if entry_dn is None:
        return _left(user, "no longer in the directory (or disabled)")
    if identity.external_id and identity.external_id.lower() != entry_dn.lower():
        return _left(user, f"the directory's {username} is now another entry ({entry_dn})")
    try:
        ldap_user._check_requirements()
    except ldap_user.AuthenticationFailed as exc:
        return _left(user, str(exc))
    groups = directory_groups(ldap_user)
    try:
        mapping.apply(user, backend.source, groups, external_id=entry_dn)
    except mapping.NoMappedGroup:
        logger.info("LDAP sync: %s is in no mapped group, roles removed", user.get_username())
        return "no_group"
    return "updated"


def _lookup_dn(backend, ldap_user) -> str | None:
    """The user's DN if their entry exists (and passes the search filter).

    django-auth-ldap's user search reports LDAP errors through its
    ``ldap_error`` signal and answers "not found": such an error is turned
    back into an outage here."""
    errors: list[Exception] = []

    def note(sender, context, exception, **kwargs):
        if context == "search_for_user_dn":
            errors.append(exception)

    ldap_error.connect(note, sender=type(backend), weak=False)
    try:
        try:
            attrs = ldap_user.attrs
        except ldap.NO_SUCH_OBJECT:
            attrs = None  # direct bind mode: the DN from the template does not exist
    finally:
        ldap_error.disconnect(note, sender=type(backend))
    if errors:
        raise DirectoryUnreachable(errors[0])
    if attrs is None:
        return None
    return ldap_user.dn


def _left(user, why: str) -> str:
    logger.warning("LDAP sync: deactivating %s, %s", user.get_username(), why)
    deactivate(user, reason=LEFT_REASON)
    return "deactivated"
