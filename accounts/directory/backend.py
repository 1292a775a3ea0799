"""Authentication backends of the directory (docs/directory.md).

``DirectoryLDAPBackend`` is django-auth-ldap's backend with the console's
rules on top (as NetBox's NBLDAPBackend): roles and regions come from the
group mappings at every sign-in; a user whose groups map to nothing is
refused with a message; a local account is never taken over by a directory
user of the same name; an empty password never reaches the directory; a
directory that does not answer is remembered for a minute so the sign-in
page can say so, and local accounts keep working.

``SsoOnlyGate`` (accounts/directory/gate.py, which needs no python-ldap: it
is installed with or without a directory) comes before every password
backend: members of a role set to "SSO only" cannot sign in with a password.
"""

from __future__ import annotations

import contextlib
import logging

import ldap
from django.core.cache import cache
from django_auth_ldap.backend import LDAPBackend, ldap_error

from accounts.directory import mapping
from accounts.directory.gate import (  # noqa: F401 (the names this module had)
    LOCAL_ACCOUNT,
    NO_GROUP,
    NOTICE_ATTRIBUTE,
    SSO_ONLY,
    UNREACHABLE,
    UNREACHABLE_CACHE_KEY,
    UNREACHABLE_FOR_SECONDS,
    SsoOnlyGate,
    directory_unreachable,
    set_notice,
)

logger = logging.getLogger(__name__)


# Errors that mean "the directory is not there", as opposed to "no such user".
DOWN_ERRORS = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.UNAVAILABLE)


def _on_ldap_error(sender, context, user, request, exception, **kwargs):
    if isinstance(exception, DOWN_ERRORS):
        cache.set(UNREACHABLE_CACHE_KEY, True, UNREACHABLE_FOR_SECONDS)
        set_notice(request, UNREACHABLE)


ldap_error.connect(_on_ldap_error, dispatch_uid="accounts.directory.ldap_down")


class DirectoryLDAPBackend(LDAPBackend):
    source = "ldap"

    def authenticate(self, request, username=None, password=None, **kwargs):
        # django-auth-ldap refuses empty passwords too (AUTH_LDAP_PERMIT_EMPTY_PASSWORD
        # is False); checked here as well so that no setting can change it.
        if not password or not username or not str(username).strip():
            return None
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            cache.delete(UNREACHABLE_CACHE_KEY)
        return user

    def get_or_build_user(self, username, ldap_user):
        """Refuse before a user is made: no mapped group, or a local account
        of that name that the directory must not take over."""
        groups = directory_groups(ldap_user)
        grant = mapping.resolve(self.source, groups)
        request = getattr(ldap_user, "_request", None)
        if grant.empty:
            set_notice(request, NO_GROUP)
            # A directory user who left every mapped group loses their roles now.
            existing = (
                self.get_user_model()
                .objects.filter(username__iexact=username, directory_identity__isnull=False)
                .first()
            )
            if existing is not None and _linked_to(existing, self.source, ldap_user.dn):
                with contextlib.suppress(mapping.NoMappedGroup):
                    mapping.apply(existing, self.source, groups, external_id=ldap_user.dn)
            raise ldap_user.AuthenticationFailed("no mapped directory group")
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and not _linked_to(user, self.source, ldap_user.dn):
            set_notice(request, LOCAL_ACCOUNT)
            logger.warning("Directory sign-in refused: %s is a local account", user.get_username())
            raise ldap_user.AuthenticationFailed("local account of the same name")
        ldap_user._console_groups = groups
        return user, built

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is None:
            return None
        groups = getattr(ldap_user, "_console_groups", None)
        if groups is None:
            groups = directory_groups(ldap_user)
        try:
            mapping.apply(user, self.source, groups, external_id=ldap_user.dn)
        except mapping.NoMappedGroup:
            set_notice(getattr(ldap_user, "_request", None), NO_GROUP)
            return None
        return user

    def get_group_permissions(self, user, obj=None):
        # Permissions come from the roles (groups) the mappings set, through
        # ModelBackend; never a second LDAP lookup per permission check.
        return set()


def directory_groups(ldap_user) -> list[str]:
    """Every group of the user: DNs and names, so mappings may name either."""
    try:
        return mapping.normalise_groups([*ldap_user.group_dns, *ldap_user.group_names])
    except ldap.LDAPError:
        raise
    except Exception:  # no group search configured
        return []


def _linked_to(user, source: str, dn: str) -> bool:
    identity = getattr(user, "directory_identity", None) if user.pk else None
    if identity is None:
        return False
    # A user provisioned by SCIM or first seen through SSO may also sign in
    # with the directory password: same person, same mappings.
    return (
        identity.source != source
        or not identity.external_id
        or (identity.external_id.lower() == dn.lower())
    )
