"""What the sign-in page needs of the directory without python-ldap (which
``make run`` does not install: it compiles against libldap): the notices the
page shows, and ``SsoOnlyGate``, installed whether or not a directory is
configured. The LDAP backend itself is in accounts/directory/backend.py."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Q

UNREACHABLE_CACHE_KEY = "directory:ldap:unreachable"
UNREACHABLE_FOR_SECONDS = 60
# What the sign-in page says (templates/account/login.html).
NOTICE_ATTRIBUTE = "directory_notice"
UNREACHABLE = "unreachable"
NO_GROUP = "no_group"
SSO_ONLY = "sso_only"
LOCAL_ACCOUNT = "local_account"


def set_notice(request, notice: str) -> None:
    if request is not None:
        setattr(request, NOTICE_ATTRIBUTE, notice)


def directory_unreachable() -> bool:
    return bool(cache.get(UNREACHABLE_CACHE_KEY))


class SsoOnlyGate:
    """Refuses a password sign-in (any backend after it) for members of a
    role that must use SSO. Raising PermissionDenied stops Django's backend
    loop; the sign-in page says why. No ``get_user``: sessions are never
    this backend's (Django's force_login picks the first backend that has one)."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        from accounts.models import User

        login = (username or email or "").strip()
        if not login or not password:
            return
        matches = User.objects.filter(
            Q(username__iexact=login) | Q(email__iexact=login),
            groups__role__sign_in_policy__sso_only=True,
        )
        if matches.exists():
            set_notice(request, SSO_ONLY)
            raise PermissionDenied("SSO only")
        return
