"""Notices other apps show on a gateway's page, so that gateways (lower in the
app stack) never imports them: each registers a template and a function
``(gateway) -> context dict`` from its AppConfig.ready() (policies: "behind
on access policies")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.template.loader import render_to_string


@dataclass(frozen=True)
class GatewayNotice:
    template: str
    context: Callable


gateway_notices: list[GatewayNotice] = []


def register_gateway_notice(template: str, context: Callable) -> None:
    notice = GatewayNotice(template, context)
    if notice not in gateway_notices:
        gateway_notices.append(notice)


def notices_for(gateway, request=None) -> list[str]:
    """Each registered notice rendered for ``gateway`` (empty ones left out)."""
    rendered = (
        render_to_string(n.template, n.context(gateway), request=request) for n in gateway_notices
    )
    return [html for html in rendered if html.strip()]
