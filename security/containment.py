"""Containment: block a source address or network (fleet-wide or in one
region) and quarantine a gateway, from an incident, an event or a gateway.

Built on the policies mechanism, not beside it: each action adds rules to the
**Containment** policy (created on first use, evaluated before every other
policy, not editable by hand) and publishes them at once as **one** policy
revision (``policies.publishing.publish_containment``): the latest published
set with only the Containment policy changed, so other admins' unpublished
draft changes stay drafts. Gateways pull it like any revision (the fleet's
config version moves); lifting removes the rules and publishes again; a beat
task lifts expired actions, all of one run in one revision.

- A block is one deny rule: source = the CIDR; held only in the chosen
  region (``enforced_in``) or everywhere; expiring with the action (so a
  gateway stops enforcing it at its expiry even before the task runs).
- A quarantine is two rules with the gateway as source: allow to the
  management destinations (the console: ``CONTAINMENT_MANAGEMENT_DESTINATIONS``,
  by default the host names in ``ALLOWED_HOSTS``), then deny everything.

docs/containment.md describes it for admins.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.scope import regions_for
from gateways.models import Gateway, Region
from policies import evaluation
from policies.models import Policy, PolicyRevision, Rule
from policies.publishing import publish_containment
from policies.snapshot import rule_to_dict
from security.choices import ActivityKind, ContainmentKind
from security.models import ContainmentAction, Incident, IncidentActivity

ADD = "security.add_containmentaction"
CHANGE = "security.change_containmentaction"

# Expiry choices offered by the forms and the API.
EXPIRY_CHOICES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
EXPIRY_CUSTOM, EXPIRY_NEVER = "custom", "never"
MAX_EXPIRY = timedelta(days=366)
# A network wider than this is refused unless the request confirms it
# (``confirm_wide``); /0 is always refused.
WIDE_PREFIX = {4: 8, 6: 32}


class ContainmentRefused(Exception):
    """Nothing was done. ``errors``: {field: [message]} for the form or API;
    ``status``: the HTTP status that says why (400 bad input, 403 out of
    scope, 409 already done)."""

    def __init__(self, errors: dict[str, list[str]], status: int = 400):
        super().__init__("; ".join(m for ms in errors.values() for m in ms))
        self.errors = errors
        self.status = status


def refuse(field: str, message: str, status: int = 400):
    raise ContainmentRefused({field: [message]}, status)


# --- Input -------------------------------------------------------------------


def parse_source(text: str, confirm_wide: bool = False) -> ipaddress.IPv4Network:
    """An address or a network to block, in canonical form."""
    value = (text or "").strip()
    if not value:
        refuse("cidr", _("Give the address or network to block (203.0.113.9 or 203.0.113.0/24)."))
    try:
        network = evaluation.parse_network(value)
    except ValueError as exc:
        refuse("cidr", str(exc))
    if network.prefixlen == 0:
        refuse(
            "cidr",
            _(
                "%(n)s is every address: blocking it would cut off all traffic. "
                "Quarantine the gateways instead."
            )
            % {"n": network},
        )
    if network.prefixlen < WIDE_PREFIX[network.version] and not confirm_wide:
        refuse(
            "confirm_wide",
            _(
                "%(n)s holds %(count)s addresses. Tick “I mean this whole network” "
                "to block it anyway."
            )
            % {"n": network, "count": f"{network.num_addresses:,}"},
        )
    for managed in management_networks():
        if network.overlaps(managed):
            refuse(
                "cidr",
                _(
                    "%(n)s includes the console's address (%(m)s): gateways would lose "
                    "their management connection."
                )
                % {"n": network, "m": managed},
            )
    return network


def expiry_from(choice: str, custom: datetime | None, now: datetime | None = None):
    """The moment an action expires (None: never) from a form's choice."""
    now = now or timezone.now()
    if choice in EXPIRY_CHOICES:
        return now + EXPIRY_CHOICES[choice]
    if choice == EXPIRY_NEVER:
        return None
    if choice != EXPIRY_CUSTOM:
        refuse("expires", _("Choose 1 hour, 24 hours, 7 days, a moment, or never."))
    if custom is None:
        refuse("expires_at", _("Give the moment the action ends."))
    if timezone.is_naive(custom):
        custom = timezone.make_aware(custom)
    if custom <= now + timedelta(minutes=1):
        refuse("expires_at", _("The expiry must be in the future."))
    if custom > now + MAX_EXPIRY:
        refuse("expires_at", _("At most a year ahead; choose “never” for no expiry."))
    return custom


def management_destinations() -> tuple[list[str], list[str]]:
    """(CIDRs, host names) a quarantined gateway may still reach: the
    console. ``CONTAINMENT_MANAGEMENT_DESTINATIONS`` when set, else the host
    names and addresses of ``ALLOWED_HOSTS`` (wildcards left out)."""
    configured = getattr(settings, "CONTAINMENT_MANAGEMENT_DESTINATIONS", None)
    entries = configured if configured is not None else settings.ALLOWED_HOSTS
    cidrs, hosts = [], []
    for raw in entries:
        value = str(raw).strip().strip("[]")
        if not value or value == "*" or value.startswith("."):
            continue
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            try:
                hosts.append(evaluation.normalise_host(value))
            except ValueError:
                continue
        else:
            cidrs.append(str(network))
    return sorted(set(cidrs)), sorted(set(hosts))


def management_networks() -> list:
    return [ipaddress.ip_network(c) for c in management_destinations()[0]]


# --- Scope -------------------------------------------------------------------


def may_act_in(user, region: Region | None, perm: str = ADD) -> bool:
    """Whether ``user`` may take (ADD) or lift (CHANGE) an action held in
    ``region`` (None: the whole fleet, which needs an unscoped user)."""
    if user is None or not user.is_authenticated or not user.has_perm(perm):
        return False
    regions = regions_for(user, perm)
    if regions is None:
        return True
    return region is not None and region.pk in regions


def may_contain(user) -> bool:
    return user.is_authenticated and user.has_perm(ADD)


def fleet_wide_allowed(user) -> bool:
    return may_act_in(user, None)


def regions_to_act_in(user):
    """The regions ``user`` may block in, for form choices."""
    if not may_contain(user):
        return Region.objects.none()
    regions = regions_for(user, ADD)
    qs = Region.objects.order_by("name")
    return qs if regions is None else qs.filter(pk__in=regions)


def gateways_to_quarantine(user):
    """The gateways ``user`` may quarantine: in scope, enabled or not, not
    quarantined already."""
    if not may_contain(user):
        return Gateway.objects.none()
    regions = regions_for(user, ADD)
    qs = Gateway.objects.filter(quarantined=False).select_related("region").order_by("name")
    return qs if regions is None else qs.filter(region__in=regions)


# --- Rules of the Containment policy -------------------------------------------


def _ref(obj) -> dict:
    return {"id": str(obj.uuid), "name": obj.name}


def _append_rules(policy: Policy, rules: list[Rule]) -> list[str]:
    last = policy.rules.aggregate(n=Max("position"))["n"] or 0
    for offset, rule in enumerate(rules, start=1):
        rule.policy = policy
        rule.position = last + offset
        rule.full_clean(exclude=["policy"])
        rule.save()
    return [str(rule.uuid) for rule in rules]


def _remove_rules(policy: Policy, rule_ids: list[str]) -> int:
    removed, _detail = Rule.objects.filter(policy=policy, uuid__in=rule_ids).delete()
    # Close the gaps: positions stay 1..n as the rule pages expect.
    for number, rule in enumerate(policy.rules.order_by("position", "pk"), start=1):
        if rule.position != number:
            Rule.objects.filter(pk=rule.pk).update(position=number)
    return removed


def _describe_where(region: Region | None) -> str:
    return region.name if region is not None else _("the whole fleet")


def _timeline(action: ContainmentAction, kind: str, user, text: str, revision) -> None:
    if action.incident_id is None:
        return
    IncidentActivity.objects.create(
        incident_id=action.incident_id,
        kind=kind,
        actor=user if user is not None and user.is_authenticated else None,
        text=text,
        data={
            "action": str(action.uuid),
            "kind": action.kind,
            "target": action.target_name,
            "where": action.scope_name,
            "expires_at": action.expires_at.isoformat() if action.expires_at else None,
            "revision": revision.number if revision is not None else None,
        },
    )


@dataclass
class BlockRequest:
    cidr: str
    region: Region | None = None
    expires_at: datetime | None = None
    incident: Incident | None = None
    reason: str = ""
    confirm_wide: bool = False


def block_source(user, block: BlockRequest, request=None) -> ContainmentAction:
    """Deny ``block.cidr`` at every gateway (or the region's), published at
    once. Raises ContainmentRefused (nothing stored) when the input is bad,
    out of the user's scope, or the same block is already active."""
    network = parse_source(block.cidr, block.confirm_wide)
    if not may_act_in(user, block.region):
        if block.region is None:
            refuse(
                "region",
                _("You may block only in your regions: choose one."),
                status=403,
            )
        refuse("region", _("You may not block in %(r)s.") % {"r": block.region}, status=403)
    if block.expires_at is not None and block.expires_at <= timezone.now():
        refuse("expires_at", _("The expiry must be in the future."))
    where = _describe_where(block.region)
    holder: dict = {}

    def change(policy: Policy) -> bool:
        # Under the publication lock: a double submit finds the first one.
        existing = ContainmentAction.objects.active().filter(
            kind=ContainmentKind.BLOCK_SOURCE, cidr=str(network), region=block.region
        )
        if existing.exists():
            refuse(
                "cidr",
                _("%(n)s is already blocked in %(w)s.") % {"n": network, "w": where},
                status=409,
            )
        rule = Rule(
            action=evaluation.DENY,
            src_cidrs=[str(network)],
            enforced_regions=[_ref(block.region)] if block.region is not None else [],
            expires=block.expires_at,
            comment=_block_comment(network, where, block, user),
        )
        holder["rule_ids"] = _append_rules(policy, [rule])
        return True

    message = _("Containment: block %(n)s in %(w)s") % {"n": network, "w": where}
    with transaction.atomic():
        revision = publish_containment(user, change, message, request=request)
        action = ContainmentAction.objects.create(
            kind=ContainmentKind.BLOCK_SOURCE,
            incident=block.incident,
            cidr=str(network),
            region=block.region,
            target_name=str(network),
            scope_name=where,
            reason=block.reason,
            rule_ids=holder["rule_ids"],
            expires_at=block.expires_at,
            created_by=user if user is not None and user.is_authenticated else None,
            revision=revision,
        )
        _record(action, "containment.block", user, revision, request)
        _timeline(
            action,
            ActivityKind.CONTAINMENT,
            user,
            _("Blocked %(n)s in %(w)s%(until)s (policy revision %(r)d).")
            % {"n": network, "w": where, "until": _until(block.expires_at), "r": revision.number},
            revision,
        )
    return action


def _until(moment: datetime | None) -> str:
    if moment is None:
        return _(", no expiry")
    return _(" until %(t)s") % {"t": timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")}


def _block_comment(network, where, block: BlockRequest, user) -> str:
    parts = [_("Containment: block %(n)s in %(w)s") % {"n": network, "w": where}]
    if block.incident is not None:
        parts.append(_("incident “%(t)s”") % {"t": block.incident.title})
    if user is not None and user.is_authenticated:
        parts.append(_("by %(u)s") % {"u": user.get_username()})
    if block.reason:
        parts.append(block.reason)
    return " · ".join(parts)


def quarantine_gateway(
    user,
    gateway: Gateway,
    expires_at: datetime | None = None,
    incident: Incident | None = None,
    reason: str = "",
    request=None,
) -> ContainmentAction:
    """Let ``gateway`` pass only management traffic, published at once."""
    if not may_act_in(user, gateway.region):
        refuse("gateway", _("You may not quarantine %(g)s.") % {"g": gateway}, status=403)
    if expires_at is not None and expires_at <= timezone.now():
        refuse("expires_at", _("The expiry must be in the future."))
    cidrs, hosts = management_destinations()
    holder: dict = {}

    def change(policy: Policy) -> bool:
        locked = Gateway.objects.select_for_update().get(pk=gateway.pk)
        if locked.quarantined or (
            ContainmentAction.objects.active()
            .filter(kind=ContainmentKind.QUARANTINE_GATEWAY, gateway=gateway)
            .exists()
        ):
            refuse("gateway", _("%(g)s is already quarantined.") % {"g": gateway}, status=409)
        rules = []
        comment = _("Containment: quarantine of %(g)s") % {"g": gateway}
        if cidrs or hosts:
            rules.append(
                Rule(
                    action=evaluation.ALLOW,
                    src_gateways=[_ref(gateway)],
                    dst_cidrs=cidrs,
                    dst_hosts=hosts,
                    expires=expires_at,
                    comment=comment + " · " + _("management traffic to the console"),
                )
            )
        rules.append(
            Rule(
                action=evaluation.DENY,
                src_gateways=[_ref(gateway)],
                expires=expires_at,
                comment=comment + " · " + _("everything else"),
            )
        )
        holder["rule_ids"] = _append_rules(policy, rules)
        Gateway.objects.filter(pk=gateway.pk).update(quarantined=True, updated=timezone.now())
        return True

    message = _("Containment: quarantine gateway %(g)s") % {"g": gateway}
    with transaction.atomic():
        revision = publish_containment(user, change, message, request=request)
        gateway.quarantined = True
        action = ContainmentAction.objects.create(
            kind=ContainmentKind.QUARANTINE_GATEWAY,
            incident=incident,
            gateway=gateway,
            region=gateway.region,
            target_name=gateway.name,
            scope_name=gateway.region.name,
            reason=reason,
            rule_ids=holder["rule_ids"],
            expires_at=expires_at,
            created_by=user if user is not None and user.is_authenticated else None,
            revision=revision,
        )
        _record(action, "containment.quarantine", user, revision, request)
        _timeline(
            action,
            ActivityKind.CONTAINMENT,
            user,
            _("Quarantined gateway %(g)s%(until)s (policy revision %(r)d).")
            % {"g": gateway, "until": _until(expires_at), "r": revision.number},
            revision,
        )
    return action


def _clear_quarantine(actions) -> None:
    gateway_ids = [a.gateway_id for a in actions if a.kind == ContainmentKind.QUARANTINE_GATEWAY]
    if gateway_ids:
        Gateway.objects.filter(pk__in=[g for g in gateway_ids if g]).update(
            quarantined=False, updated=timezone.now()
        )


def lift(user, action: ContainmentAction, request=None) -> ContainmentAction:
    """Undo ``action``: its rules leave the Containment policy, published at
    once. Lifting what is already lifted changes nothing (409)."""
    if not may_act_in(user, action.region, CHANGE):
        refuse("action", _("You may not lift this action."), status=403)
    holder: dict = {}

    def change(policy: Policy) -> bool:
        locked = ContainmentAction.objects.select_for_update().get(pk=action.pk)
        if locked.lifted_at is not None:
            refuse("action", _("This action was already lifted."), status=409)
        _remove_rules(policy, locked.rule_ids)
        holder["action"] = locked
        return True

    target = action.target_name
    message = _("Containment lifted: %(k)s %(t)s") % {
        "k": action.get_kind_display().lower(),
        "t": target,
    }
    with transaction.atomic():
        revision = publish_containment(user, change, message, request=request)
        locked = holder["action"]
        locked.lifted_at = timezone.now()
        locked.lifted_by = user if user is not None and user.is_authenticated else None
        locked.lift_revision = revision
        locked.save(update_fields=["lifted_at", "lifted_by", "lift_revision"])
        _clear_quarantine([locked])
        _record(locked, "containment.lift", user, revision, request)
        _timeline(
            locked,
            ActivityKind.CONTAINMENT_LIFTED,
            user,
            _("Lifted: %(k)s %(t)s (policy revision %(r)d).")
            % {"k": locked.get_kind_display().lower(), "t": target, "r": revision.number},
            revision,
        )
    return locked


def lift_expired(now: datetime | None = None) -> PolicyRevision | None:
    """Lift every action whose expiry has passed, all in one revision (none
    when nothing expired). Safe to run twice at once: the second finds
    nothing under the publication lock."""
    now = now or timezone.now()
    if not ContainmentAction.objects.active().filter(expires_at__lte=now).exists():
        return None
    holder: dict = {}

    def change(policy: Policy) -> bool:
        expired = list(
            ContainmentAction.objects.select_for_update()
            .active()
            .filter(expires_at__lte=now)
            .order_by("expires_at", "pk")
        )
        if not expired:
            return False
        _remove_rules(policy, [rid for a in expired for rid in a.rule_ids])
        holder["expired"] = expired
        return True

    with transaction.atomic():
        revision = publish_containment(
            None, change, _("Containment: expired actions lifted"), request=None
        )
        if revision is None:
            return None
        expired = holder["expired"]
        ContainmentAction.objects.filter(pk__in=[a.pk for a in expired]).update(
            lifted_at=now, lift_expired=True, lift_revision=revision
        )
        _clear_quarantine(expired)
        for action in expired:
            action.lifted_at, action.lift_expired, action.lift_revision = now, True, revision
            # UPDATE sends no model signal: one audit record per action.
            _record(action, "containment.expire", None, revision, None)
            _timeline(
                action,
                ActivityKind.CONTAINMENT_LIFTED,
                None,
                _("Expired: %(k)s %(t)s lifted (policy revision %(r)d).")
                % {
                    "k": action.get_kind_display().lower(),
                    "t": action.target_name,
                    "r": revision.number,
                },
                revision,
            )
    return revision


def _record(action: ContainmentAction, name: str, user, revision, request) -> None:
    audit.record(
        name,
        action,
        actor=user if user is not None else audit.Actor.task("security.lift_expired_containment"),
        detail={
            "kind": action.kind,
            "target": action.target_name,
            "where": action.scope_name,
            "expires_at": action.expires_at.isoformat() if action.expires_at else None,
            "incident": str(action.incident.uuid) if action.incident_id else None,
            "revision": revision.number if revision is not None else None,
            "config_version": revision.config_version if revision is not None else None,
        },
        request=request,
    )


def action_rules(action: ContainmentAction) -> list[dict]:
    """The rules ``action`` made, as they stand in the draft (empty once lifted)."""
    return [rule_to_dict(r) for r in Rule.objects.filter(uuid__in=action.rule_ids)]
