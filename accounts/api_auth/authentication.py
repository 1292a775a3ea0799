"""How API requests authenticate. Both credentials travel as
``Authorization: Bearer <credential>``: an API key starts with ``rck_``, a
JWT is anything else. The session stays for the browser (with CSRF); a
request authenticated by a key or a JWT is not subject to CSRF, as it carries
no cookie-borne credential.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework_simplejwt import authentication as simplejwt

from accounts.api_auth.tokens import revoked_before
from accounts.models.api_keys import API_KEY_PREFIX, ApiKey, digest

KEYWORD = "Bearer"


def client_ip(request) -> str | None:
    # The same address as the IP allowlist and lockouts: X-Forwarded-For only
    # from a configured trusted proxy (security/net.py).
    from security.net import client_ip as trusted_client_ip

    return trusted_client_ip(request)


def limit_to_key(user, api_key: ApiKey):
    """``user`` (the key's owner) with its permission checks narrowed to the
    key's scopes, so that every check — DRF permissions, ``restrict()``, a
    view's own ``has_perm`` — sees owner's permissions ∩ key scopes. The
    object stays the owner's User; only this request's copy is narrowed, and
    superusers too (Django would otherwise answer True before any backend)."""
    model = type(user)

    def has_perm(perm, obj=None):
        app_label, _, codename = perm.partition(".")
        if not api_key.allows(app_label, codename.split("_", 1)[0]):
            return False
        return model.has_perm(user, perm, obj)

    def has_module_perms(app_label):
        return api_key.allows(app_label, "view") and model.has_module_perms(user, app_label)

    user.has_perm = has_perm
    user.has_module_perms = has_module_perms
    user.api_key = api_key
    return user


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer rck_…``. Leaves every other credential to the
    next authentication class."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != KEYWORD.lower().encode():
            return None
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not key.startswith(API_KEY_PREFIX):
            return None
        api_key = ApiKey.objects.select_related("owner").filter(key_hash=digest(key)).first()
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Unknown API key."), code="key_unknown")
        if api_key.revoked:
            raise exceptions.AuthenticationFailed(
                _("This API key was revoked."), code="key_revoked"
            )
        if api_key.is_expired:
            raise exceptions.AuthenticationFailed(
                _("This API key has expired."), code="key_expired"
            )
        if not api_key.owner.is_active:
            raise exceptions.AuthenticationFailed(
                _("The owner of this API key is deactivated."), code="user_inactive"
            )
        api_key.touch(client_ip(request))
        return limit_to_key(api_key.owner, api_key), api_key

    def authenticate_header(self, request):
        # A caller that sent a credential gets 401 with this challenge; one
        # that sent none (a browser without a session) keeps DRF's 403.
        if get_authorization_header(request):
            return f'{KEYWORD} realm="api"'
        return None


class JWTAuthentication(simplejwt.JWTAuthentication):
    """simplejwt's, plus revocation of access tokens: a token whose sign-in
    (``auth_time``, else ``iat``) came before its user's last revocation
    (sign-out, deactivation, revoke-all) is refused."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        cutoff = revoked_before(user.pk)
        issued = validated_token.get("auth_time", validated_token.get("iat", 0))
        if cutoff is not None and issued < cutoff:
            raise exceptions.AuthenticationFailed(
                _("This token was revoked; obtain a new one."), code="token_revoked"
            )
        return user
