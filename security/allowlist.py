"""The IP allowlist as the middleware and the forms see it.

The entries are read from the Django cache (Redis), filled from the database
on a miss and dropped whenever an entry is saved or deleted, so a request
costs one cache read and no query. Expiry is checked on every request, so an
entry stops working at its time even while cached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from security.choices import AllowlistScope
from security.net import Address, Network, in_networks, parse_network

log = logging.getLogger("security.allowlist")

CACHE_KEY = "security:allowlist:v1"
CACHE_SECONDS = 3600  # a safety net only: saves and deletes drop the key

CONSOLE = "console"
API = "api"


@dataclass(frozen=True)
class Rule:
    network: Network
    scope: str
    expires: datetime | None
    pk: int | None = None

    def applies_to(self, part: str) -> bool:
        return self.scope in (AllowlistScope.BOTH, part)

    def active(self, now: datetime) -> bool:
        return self.expires is None or self.expires > now


def _load() -> list[Rule]:
    from security.models import AllowlistEntry

    rules = []
    for pk, network, scope, expires in AllowlistEntry.objects.unexpired().values_list(
        "pk", "network", "scope", "expires"
    ):
        try:
            rules.append(Rule(parse_network(network), scope, expires, pk))
        except ValueError:
            # Only a hand-edited database row can get here; the form validates.
            log.error("IP allowlist entry %s holds an invalid network %r; ignored", pk, network)
    return rules


def rules() -> list[Rule]:
    cached = cache.get(CACHE_KEY)
    if cached is None:
        cached = _load()
        cache.set(CACHE_KEY, cached, timeout=CACHE_SECONDS)
    return cached


def invalidate() -> None:
    cache.delete(CACHE_KEY)


def is_allowed(address: Address | None, part: str, entries: list[Rule] | None = None) -> bool:
    """Whether ``address`` may reach ``part`` (CONSOLE or API): yes when no
    active entry applies to that part, else only from a listed network."""
    now = timezone.now()
    networks = [
        rule.network
        for rule in (rules() if entries is None else entries)
        if rule.applies_to(part) and rule.active(now)
    ]
    return not networks or in_networks(address, networks)


def lockout_time(address: Address | None, entries: list[Rule]) -> datetime | None | bool:
    """For the admin at ``address``, given the entries as they would be after a
    change: False when the console stays open to them, True when it would
    shut them out at once, or the time it would (when the entries that let
    them in expire before the ones restricting the console)."""
    now = timezone.now()
    console = [r for r in entries if r.applies_to(CONSOLE) and r.active(now)]
    if not console:
        return False
    covering = [r for r in console if in_networks(address, [r.network])]
    if not covering:
        return True
    if any(r.expires is None for r in covering):
        return False
    covered_until = max(r.expires for r in covering)
    restricted_until = (
        None if any(r.expires is None for r in console) else max(r.expires for r in console)
    )
    if restricted_until is None or restricted_until > covered_until:
        return covered_until
    return False
