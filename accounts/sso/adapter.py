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


def new_user_email(sociallogin) -> str:
    for address in sociallogin.email_addresses:
        if address.email:
            return address.email.strip()
    return (sociallogin.user.email or "").strip()


def email_in_use(email: str) -> bool:
    from allauth.account.models import EmailAddress

    from accounts.models import User

    return (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    )


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
        else:
            # A new user is created here and now, never through allauth's
            # sign-up form (where the person would choose their own email
            # and username): allauth sends them there when the provider's
            # email is missing or already someone's.
            email = new_user_email(sociallogin)
            if not email:
                raise deny(request, _no_email_message())
            if email_in_use(email):
                raise deny(request, _email_in_use_message(provider))

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return True

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
        """Every failed SSO sign-in ends on one page that says why, in words,
        with a way back (allauth's own page would be unstyled and vague)."""
        # Logged without the exception's arguments (they may hold tokens).
        logger.warning(
            "SSO sign-in failed",
            extra={
                "provider": getattr(provider, "id", None),
                "error": str(error),
                "exception": type(exception).__name__ if exception else None,
            },
        )
        message, status = failure_message(provider, error, exception, extra_context or {})
        record_failure(request, provider, error, exception)
        raise ImmediateHttpResponse(
            render(
                request,
                "sso/sign_in_failed.html",
                {"message": message, "provider_name": getattr(provider, "name", "")},
                status=status,
            )
        )


def record_failure(request, provider, error, exception) -> None:
    """One audit record of the refused SSO sign-in (``sso.failed``), for the
    failed-access report: the provider and the kind of failure, never the
    exception's arguments (they may hold tokens)."""
    import audit
    from audit.choices import ActorType, Outcome

    provider_id = str(getattr(provider, "id", "") or "")
    audit.record(
        "sso.failed",
        actor=audit.Actor(ActorType.ANONYMOUS, "", ""),
        request=request,
        object_type="sso.provider",
        object_id=provider_id,
        object_name=str(getattr(provider, "name", "") or provider_id),
        detail={
            "error": str(error or ""),
            "exception": type(exception).__name__ if exception else "",
        },
        outcome=Outcome.FAILURE,
    )


def failure_message(provider, error, exception, context) -> tuple[str, int]:
    from allauth.socialaccount.providers.base.constants import AuthError
    from django.core.exceptions import PermissionDenied
    from django.utils.translation import gettext
    from requests import RequestException

    from accounts.sso.oidc import IdTokenRejected, ProviderUnreachable

    name = getattr(provider, "name", "") or gettext("the sign-in service")
    if isinstance(exception, IdTokenRejected):
        return gettext("%(name)s's answer was refused: %(reason)s") % {
            "name": name,
            "reason": exception.message,
        }, 401
    if isinstance(exception, ProviderUnreachable | RequestException):
        return gettext("%(name)s cannot be reached right now. Try again in a moment.") % {
            "name": name
        }, 502
    if isinstance(exception, PermissionDenied) or (
        "state" not in context and ("state_id" in context or "callback_view" in context)
    ):
        return gettext(
            "This sign-in has expired or was already used. Start again from the sign-in page."
        ), 400
    if error == AuthError.CANCELLED:
        return gettext("The sign-in at %(name)s was cancelled.") % {"name": name}, 400
    if context.get("saml_errors"):
        # python3-saml's reasons are technical but safe ("The assertion of
        # the Response is not signed and the SP requires it"): an admin needs them.
        return gettext("%(name)s's answer was refused: %(reason)s") % {
            "name": name,
            "reason": context.get("saml_last_error_reason") or ", ".join(context["saml_errors"]),
        }, 401
    return gettext("%(name)s did not sign you in.") % {"name": name}, 401


def _service_account_message():
    from django.utils.translation import gettext

    return gettext("Service accounts cannot sign in to the console.")


def _no_email_message():
    from django.utils.translation import gettext

    return gettext(
        "Your organisation's sign-in did not send an email address, which the console "
        "needs. Ask your administrator to release the email attribute to the console."
    )


def _email_in_use_message(provider):
    from django.utils.translation import gettext

    return gettext(
        "A console account already uses your email address, and %(name)s did not confirm "
        "that the address is yours, so the two cannot be joined. Ask your administrator."
    ) % {"name": getattr(provider, "name", "") or gettext("your organisation's sign-in")}
