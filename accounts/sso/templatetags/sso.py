"""What the sign-in page needs from the directory and SSO: one button per
configured provider, and whether the directory answered lately."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def sso_providers(context):
    """[(name, login url)] for every configured OIDC and SAML provider."""
    from allauth.socialaccount.adapter import get_adapter

    request = context.get("request")
    if request is None:
        return []
    buttons = []
    for provider in get_adapter().list_providers(request):
        buttons.append({"name": provider.name, "url": provider.get_login_url(request)})
    return buttons


@register.simple_tag
def directory_unreachable() -> bool:
    from django.conf import settings

    if getattr(settings, "AUTH_LDAP_SERVER_URI", None) is None:
        return False
    from accounts.directory.gate import directory_unreachable as down

    return down()
