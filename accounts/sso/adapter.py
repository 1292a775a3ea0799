"""The console's rules for SSO sign-ins (docs/directory.md).

- Roles and regions come from the group mappings at every sign-in (the OIDC
  groups claim or SAML groups attribute named per provider); no mapped group,
  no access, with a page that says so.
- An SSO identity is linked to an existing console user only by its subject
  (allauth's SocialAccount) or by an email the provider says it verified
  (OIDC ``email_verified``; SAML only where the provider is trusted for
  email): never by an unverified email.
- Service accounts never sign in through SSO.
"""

from __future__ import annotations

import logging

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.shortcuts import render

from accounts.directory import mapping

logger = logging.getLogger(__name__)


def source_of(provider) -> str:
    return "saml" if provider.id == "saml" else "oidc"


def groups_of(sociallogin) -> list[str]:
    """The groups the provider sent, under the claim or attribute named in
    the provider's settings ("groups" by default)."""
    provider = sociallogin.account.get_provider()
    data = sociallogin.account.extra_data or {}
    if provider.id == "saml":
        name = provider.app.settings.get("groups_attribute", "groups")
        values = data.get(name) or []
    else:
        name = provider.app.settings.get("groups_claim", "groups")
        values = None
        for part in ("userinfo", "id_token"):
            claims = data.get(part) or {}
            if name in claims:
                values = claims[name]
                break
        values = values or []
    if isinstance(values, str):
        values = [values]
    return mapping.normalise_groups(v for v in values if isinstance(v, str | int))


def verified_email(sociallogin) -> str | None:
    provider = sociallogin.account.get_provider()
    if provider.id == "saml":
        if not provider.app.settings.get("trust_email", False):
            return None
        return (sociallogin.user.email or "").strip() or None
    for address in sociallogin.email_addresses:
        if address.verified:
            return address.email
    return None


def deny(request, message, status=403):
    return ImmediateHttpResponse(
        render(request, "accounts/directory/sso_denied.html", {"message": message}, status=status)
    )


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        # Local sign-up stays closed; SSO users are let in by the group
        # mappings, checked in pre_social_login before this is asked.
        return True

    def pre_social_login(self, request, sociallogin):
        from accounts.models import User

        provider = sociallogin.account.get_provider()
        source = source_of(provider)
        groups = groups_of(sociallogin)
        external_id = f"{provider.app.provider_id or provider.id}:{sociallogin.account.uid}"

        if not sociallogin.is_existing:
            email = verified_email(sociallogin)
            if email:
                matches = list(User.objects.filter(email__iexact=email)[:2])
                if len(matches) == 1:
                    candidate = matches[0]
                    if candidate.is_service_account:
                        raise deny(request, _service_account_message())
                    if mapping.resolve(source, groups).empty:
                        raise deny(request, mapping.NO_ACCESS_MESSAGE)
                    sociallogin.connect(request, candidate)
                    logger.info("SSO identity linked by verified email to %s", candidate)

        user = sociallogin.user if sociallogin.is_existing else None
        if user is not None and user.is_service_account:
            raise deny(request, _service_account_message())
        if user is not None:
            try:
                mapping.apply(user, source, groups, external_id=external_id)
            except mapping.NoMappedGroup:
                raise deny(request, mapping.NO_ACCESS_MESSAGE) from None
        elif mapping.resolve(source, groups).empty:
            raise deny(request, mapping.NO_ACCESS_MESSAGE)

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        provider = sociallogin.account.get_provider()
        external_id = f"{provider.app.provider_id or provider.id}:{sociallogin.account.uid}"
        try:
            mapping.apply(user, source_of(provider), groups_of(sociallogin), external_id)
        except mapping.NoMappedGroup:
            raise deny(request, mapping.NO_ACCESS_MESSAGE) from None
        return user

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ):
        # Logged without the exception's arguments (they may hold tokens).
        logger.warning(
            "SSO sign-in failed",
            extra={
                "provider": getattr(provider, "id", None),
                "error": str(error),
                "exception": type(exception).__name__ if exception else None,
            },
        )


def _service_account_message():
    from django.utils.translation import gettext

    return gettext("Service accounts cannot sign in to the console.")
