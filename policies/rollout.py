"""Rollout status: which gateways have applied a revision, from the
``config_version`` their heartbeats report (Gateway.config_version).

Versions only grow, so a gateway at the revision's ``config_version`` or
newer has applied it. One that is behind has been behind since the first
revision it has not applied was published (or since it was added, if
later); behind for more than three heartbeat intervals, it is flagged.
Gateways that have never reported are listed apart and not flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from gateways.models import Gateway
from policies.models import PolicyRevision

FLAG_AFTER_INTERVALS = 3


def flag_after() -> timedelta:
    return timedelta(seconds=FLAG_AFTER_INTERVALS * settings.GATEWAY_HEARTBEAT_INTERVAL)


@dataclass(frozen=True)
class GatewayRollout:
    gateway: Gateway
    applied: bool
    behind_since: datetime | None
    flagged: bool


@dataclass(frozen=True)
class Rollout:
    revision: PolicyRevision
    applied: list[GatewayRollout]
    behind: list[GatewayRollout]
    never_reported: list[GatewayRollout]

    @property
    def total(self) -> int:
        return len(self.applied) + len(self.behind) + len(self.never_reported)

    @property
    def flagged(self) -> list[GatewayRollout]:
        return [g for g in self.behind if g.flagged]


def _revision_times() -> list[tuple[int, datetime]]:
    return list(
        PolicyRevision.objects.order_by("config_version").values_list("config_version", "created")
    )


def _behind_since(gateway: Gateway, versions, target: int) -> datetime | None:
    applied = gateway.config_version or 0
    for version, created in versions:
        if applied < version <= target:
            return max(created, gateway.created)
    return None


def gateway_rollout(gateway: Gateway, revision: PolicyRevision, versions, now) -> GatewayRollout:
    if gateway.config_version is None:
        return GatewayRollout(gateway, False, None, False)
    if gateway.config_version >= revision.config_version:
        return GatewayRollout(gateway, True, None, False)
    since = _behind_since(gateway, versions, revision.config_version) or revision.created
    return GatewayRollout(gateway, False, since, now - since > flag_after())


def rollout_status(revision: PolicyRevision, user, now: datetime | None = None) -> Rollout:
    """For the gateways ``user`` may see (enabled ones: a disabled gateway's
    agent is refused and cannot pull)."""
    now = now or timezone.now()
    versions = _revision_times()
    gateways = (
        Gateway.objects.restrict(user, "view")
        .filter(enabled=True)
        .only("uuid", "name", "status", "last_seen", "config_version", "created", "region")
        .order_by("name")
    )
    applied, behind, never = [], [], []
    for gateway in gateways:
        state = gateway_rollout(gateway, revision, versions, now)
        if gateway.config_version is None:
            never.append(state)
        elif state.applied:
            applied.append(state)
        else:
            behind.append(state)
    behind.sort(key=lambda g: g.behind_since)
    return Rollout(revision, applied, behind, never)


def gateway_policy_state(gateway: Gateway, now: datetime | None = None) -> GatewayRollout | None:
    """One gateway against the current revision, for its own page (see
    templates/policies/partials/gateway_policy_rollout.html)."""
    revision = PolicyRevision.current()
    if revision is None:
        return None
    return gateway_rollout(gateway, revision, _revision_times(), now or timezone.now())
