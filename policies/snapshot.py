"""The whole policy set as JSON: what a revision stores, what export writes and
import reads (the same format, so an export imported and exported again is
byte-for-byte the same), and the bridge to the pure evaluator.

Format ``rustronaut-policies/1``::

    {"format": "rustronaut-policies/1",
     "categories": [{"name": "...", "description": "..."}],
     "policies": [{"id": "<uuid>", "name": "...", "description": "...",
                   "category": "<name>" | null, "tags": ["..."], "enabled": true,
                   "priority": 100,
                   "rules": [{"id": "<uuid>", "action": "allow" | "deny",
                              "sources": {"regions": [{"id": "<uuid>", "name": "..."}],
                                          "gateways": [{"id": "<uuid>", "name": "..."}],
                                          "groups": [{"id": "<group id>", "name": "..."}],
                                          "cidrs": ["10.0.0.0/8"]},
                              "destinations": {"cidrs": [], "hosts": [], "services": []},
                              "protocol": "tcp", "ports": "22, 443",
                              "schedule": null | {"days": [0, 1], "start": "08:00",
                                                  "end": "18:00", "timezone": "UTC"},
                              "expires": null | "2026-12-31T23:00:00+00:00",
                              "comment": "...",
                              "enforced_in": [{"id": "<uuid>", "name": "..."}]}]}]}

``enforced_in`` (only present when not empty) limits a rule to the gateways
of those regions, in addition to what it matches; containment sets it for a
block in one region.

Policies are listed in evaluation order: the Containment policy
(``CONTAINMENT_POLICY_ID``) first, then by priority, then name; rules in
their order; categories and tags by name.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, datetime, time

from django.db import transaction
from django.utils.translation import gettext as _

import audit
from policies import evaluation
from policies.models import CONTAINMENT_POLICY_ID, Policy, PolicyCategory, Rule

FORMAT = "rustronaut-policies/1"
REFERENCE_KINDS = ("regions", "gateways", "groups")


# --- Draft -> JSON -----------------------------------------------------------


def rule_to_dict(rule: Rule) -> dict:
    schedule = None
    if rule.has_schedule:
        schedule = {
            "days": sorted(rule.schedule_days),
            "start": rule.schedule_start.strftime("%H:%M") if rule.schedule_start else None,
            "end": rule.schedule_end.strftime("%H:%M") if rule.schedule_end else None,
            "timezone": rule.schedule_timezone or "UTC",
        }
    data = {
        "id": str(rule.uuid),
        "action": rule.action,
        "sources": {
            "regions": list(rule.src_regions),
            "gateways": list(rule.src_gateways),
            "groups": list(rule.src_groups),
            "cidrs": list(rule.src_cidrs),
        },
        "destinations": {
            "cidrs": list(rule.dst_cidrs),
            "hosts": list(rule.dst_hosts),
            "services": list(rule.dst_services),
        },
        "protocol": rule.protocol,
        "ports": rule.ports,
        "schedule": schedule,
        "expires": rule.expires.astimezone(UTC).isoformat() if rule.expires else None,
        "comment": rule.comment,
    }
    # Only when set: sets without it export (and compare) as they always did.
    if rule.enforced_regions:
        data["enforced_in"] = list(rule.enforced_regions)
    return data


def policy_order_key(policy) -> tuple:
    """Evaluation order of a policy (a dict of the snapshot or a Policy):
    the Containment policy first, then priority, then name."""
    if isinstance(policy, dict):
        return (str(policy["id"]) != CONTAINMENT_POLICY_ID, policy["priority"], policy["name"])
    return (str(policy.uuid) != CONTAINMENT_POLICY_ID, policy.priority, policy.name)


def policy_to_dict(policy: Policy, rules) -> dict:
    return {
        "id": str(policy.uuid),
        "name": policy.name,
        "description": policy.description,
        "category": policy.category.name if policy.category_id else None,
        "tags": sorted(tag.name for tag in policy.tags.all()),
        "enabled": policy.enabled,
        "priority": policy.priority,
        "rules": [rule_to_dict(rule) for rule in rules],
    }


def export_draft() -> dict:
    """The draft as it stands: three queries plus the tags' prefetch."""
    # Sorted here, not by the database: evaluation order must not depend on
    # the database's collation (ordered_policies sorts the same way).
    policies = sorted(
        Policy.objects.select_related("category").prefetch_related("tags"),
        key=policy_order_key,
    )
    rules_by_policy: dict[int, list[Rule]] = {p.pk: [] for p in policies}
    for rule in Rule.objects.order_by("policy_id", "position", "pk"):
        rules_by_policy.setdefault(rule.policy_id, []).append(rule)
    return {
        "format": FORMAT,
        "categories": [
            {"name": c.name, "description": c.description}
            for c in PolicyCategory.objects.order_by("name")
        ],
        "policies": [policy_to_dict(p, rules_by_policy[p.pk]) for p in policies],
    }


def same_set(a: dict | None, b: dict | None) -> bool:
    """Whether two snapshots hold the same policy set."""
    return (a or empty_snapshot()) == (b or empty_snapshot())


def empty_snapshot() -> dict:
    return {"format": FORMAT, "categories": [], "policies": []}


# --- JSON -> draft -----------------------------------------------------------


class SnapshotError(ValueError):
    """The file is not a policy set this console can import; ``errors`` says
    where (paths like ``policies[2].rules[0].ports``)."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def check_snapshot(data) -> list[str]:
    """Every structural problem of ``data`` (empty: importable)."""
    errors: list[str] = []
    if not isinstance(data, dict):
        return [_("The file must hold a JSON object.")]
    if data.get("format") != FORMAT:
        errors.append(_("format: expected “%(f)s”.") % {"f": FORMAT})
    categories = data.get("categories")
    if not isinstance(categories, list):
        errors.append(_("categories: expected a list."))
        categories = []
    names = set()
    for i, category in enumerate(categories):
        where = f"categories[{i}]"
        if not isinstance(category, dict) or not isinstance(category.get("name"), str):
            errors.append(_("%(w)s: expected {name, description}.") % {"w": where})
            continue
        if not category["name"].strip():
            errors.append(_("%(w)s.name: must not be empty.") % {"w": where})
        if category["name"] in names:
            errors.append(_("%(w)s.name: listed twice.") % {"w": where})
        if not isinstance(category.get("description", ""), str):
            errors.append(_("%(w)s.description: expected text.") % {"w": where})
        names.add(category["name"])
    policies = data.get("policies")
    if not isinstance(policies, list):
        errors.append(_("policies: expected a list."))
        policies = []
    ids: set[str] = set()
    policy_names: set[str] = set()
    for i, policy in enumerate(policies):
        errors.extend(_check_policy(policy, f"policies[{i}]", names, ids, policy_names))
    return errors


def _check_id(value, where: str, ids: set[str]) -> list[str]:
    try:
        uuidlib.UUID(str(value))
    except ValueError:
        return [_("%(w)s.id: not a UUID.") % {"w": where}]
    if str(value) in ids:
        return [_("%(w)s.id: used twice.") % {"w": where}]
    ids.add(str(value))
    return []


def _check_policy(policy, where, categories, ids, names) -> list[str]:
    if not isinstance(policy, dict):
        return [_("%(w)s: expected an object.") % {"w": where}]
    errors = _check_id(policy.get("id"), where, ids)
    name = policy.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        errors.append(_("%(w)s.name: expected a name of 1–100 characters.") % {"w": where})
    elif name in names:
        errors.append(_("%(w)s.name: “%(n)s” is used twice.") % {"w": where, "n": name})
    else:
        names.add(name)
    if not isinstance(policy.get("description", ""), str):
        errors.append(_("%(w)s.description: expected text.") % {"w": where})
    category = policy.get("category")
    if category is not None and category not in categories:
        errors.append(
            _("%(w)s.category: “%(c)s” is not in categories.") % {"w": where, "c": category}
        )
    tags = policy.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        errors.append(_("%(w)s.tags: expected a list of names.") % {"w": where})
    if not isinstance(policy.get("enabled"), bool):
        errors.append(_("%(w)s.enabled: expected true or false.") % {"w": where})
    priority = policy.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        errors.append(_("%(w)s.priority: expected a whole number ≥ 0.") % {"w": where})
    rules = policy.get("rules")
    if not isinstance(rules, list):
        errors.append(_("%(w)s.rules: expected a list.") % {"w": where})
        return errors
    for j, rule in enumerate(rules):
        errors.extend(_check_rule(rule, f"{where}.rules[{j}]", ids))
    return errors


def _check_rule(rule, where, ids) -> list[str]:
    if not isinstance(rule, dict):
        return [_("%(w)s: expected an object.") % {"w": where}]
    errors = _check_id(rule.get("id"), where, ids)
    if rule.get("action") not in evaluation.ACTIONS:
        errors.append(_("%(w)s.action: expected allow or deny.") % {"w": where})
    if rule.get("protocol") not in evaluation.PROTOCOLS:
        errors.append(_("%(w)s.protocol: expected tcp, udp, icmp or any.") % {"w": where})
    sources, destinations = rule.get("sources"), rule.get("destinations")
    if not isinstance(sources, dict) or not isinstance(destinations, dict):
        errors.append(_("%(w)s: expected sources and destinations objects.") % {"w": where})
        return errors
    for kind in REFERENCE_KINDS:
        refs = sources.get(kind, [])
        if not isinstance(refs, list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("name"), str)
            for r in refs
        ):
            errors.append(
                _('%(w)s.sources.%(k)s: expected [{"id", "name"}].') % {"w": where, "k": kind}
            )
    for path, values in (
        ("sources.cidrs", sources.get("cidrs", [])),
        ("destinations.cidrs", destinations.get("cidrs", [])),
        ("destinations.hosts", destinations.get("hosts", [])),
        ("destinations.services", destinations.get("services", [])),
    ):
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            errors.append(_("%(w)s.%(p)s: expected a list of text.") % {"w": where, "p": path})
    if not isinstance(rule.get("ports", ""), str):
        errors.append(_("%(w)s.ports: expected text such as “22, 443”.") % {"w": where})
    if not isinstance(rule.get("comment", ""), str):
        errors.append(_("%(w)s.comment: expected text.") % {"w": where})
    enforced = rule.get("enforced_in", [])
    if not isinstance(enforced, list) or not all(
        isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("name"), str)
        for r in enforced
    ):
        errors.append(_('%(w)s.enforced_in: expected [{"id", "name"}].') % {"w": where})
    schedule = rule.get("schedule")
    if schedule is not None and not (
        isinstance(schedule, dict)
        and isinstance(schedule.get("days"), list)
        and all(isinstance(d, int) and 0 <= d <= 6 for d in schedule["days"])
        and all(isinstance(schedule.get(k), str | None) for k in ("start", "end"))
        and isinstance(schedule.get("timezone"), str)
    ):
        errors.append(
            _("%(w)s.schedule: expected {days: [0–6], start, end, timezone}.") % {"w": where}
        )
    if not errors:
        # Values: the same checks as the rule form (rule_value_errors).
        errors.extend(f"{where}: {message}" for _field, message in rule_value_errors(rule))
    expires = rule.get("expires")
    if expires is not None:
        try:
            parsed = datetime.fromisoformat(expires) if isinstance(expires, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            errors.append(
                _("%(w)s.expires: expected an ISO 8601 time with its offset.") % {"w": where}
            )
    return errors


def rule_value_errors(rule: dict) -> list[tuple[str, str]]:
    """Malformed values of a rule in the snapshot format, as (field, message):
    CIDRs, ports, host names, services, the schedule. Shared by import, the
    API and validation before publishing."""
    errors: list[tuple[str, str]] = []
    sources, destinations = rule.get("sources", {}), rule.get("destinations", {})
    for field, values in (
        ("src_cidrs", sources.get("cidrs", [])),
        ("dst_cidrs", destinations.get("cidrs", [])),
    ):
        for value in values:
            try:
                evaluation.parse_network(value)
            except ValueError as exc:
                errors.append((field, str(exc)))
    for value in destinations.get("hosts", []):
        try:
            evaluation.normalise_host(value)
        except ValueError as exc:
            errors.append(("dst_hosts", str(exc)))
    for value in destinations.get("services", []):
        if value not in evaluation.SERVICES:
            errors.append(("dst_services", _("“%(s)s” is not a known service.") % {"s": value}))
    try:
        ports = evaluation.parse_ports(rule.get("ports", ""))
    except ValueError as exc:
        errors.append(("ports", str(exc)))
        ports = ()
    if ports and rule.get("protocol") == evaluation.ICMP:
        errors.append(
            ("ports", _("ICMP has no ports: choose TCP, UDP or Any, or clear the ports."))
        )
    schedule = rule.get("schedule")
    if schedule:
        if not schedule.get("days"):
            errors.append(("schedule_days", _("A schedule needs at least one day.")))
        for key, field in (("start", "schedule_start"), ("end", "schedule_end")):
            if not schedule.get(key):
                errors.append((field, _("A schedule needs a start and an end time.")))
            else:
                try:
                    evaluation.parse_time_of_day(schedule[key])
                except ValueError as exc:
                    errors.append((field, str(exc)))
        try:
            evaluation.parse_zone(schedule.get("timezone") or "UTC")
        except ValueError as exc:
            errors.append(("schedule_timezone", str(exc)))
    return errors


@transaction.atomic
def import_snapshot(data: dict, recorded: bool = True) -> None:
    """Replace the draft with ``data`` (check_snapshot first; raises
    SnapshotError when it does not pass). Ids are kept, so URLs and
    revision diffs still line up."""
    errors = check_snapshot(data)
    kept = Policy.objects.filter(uuid=CONTAINMENT_POLICY_ID).first()
    if kept is not None and isinstance(data, dict):
        errors.extend(
            _("policies[%(i)d].name: “%(n)s” is the Containment policy's name.")
            % {"i": i, "n": p["name"]}
            for i, p in enumerate(data.get("policies") or [])
            if isinstance(p, dict)
            and p.get("name") == kept.name
            and str(p.get("id")) != CONTAINMENT_POLICY_ID
        )
    if errors:
        raise SnapshotError(errors)
    # The Containment policy is not part of what import or rollback replace:
    # its blocks and quarantines stay as they are (security.containment
    # changes them, published at once).
    Policy.objects.exclude(uuid=CONTAINMENT_POLICY_ID).delete()
    wanted = {c["name"]: c.get("description", "") for c in data["categories"]}
    PolicyCategory.objects.exclude(name__in=wanted).delete()
    categories = {}
    for name, description in wanted.items():
        category, _created = PolicyCategory.objects.update_or_create(
            name=name, defaults={"description": description}
        )
        categories[name] = category
    rules = []
    for entry in data["policies"]:
        if str(entry["id"]) == CONTAINMENT_POLICY_ID:
            continue  # kept as it is (above); a file's containment is not ours
        policy = Policy.objects.create(
            uuid=entry["id"],
            name=entry["name"],
            description=entry.get("description", ""),
            category=categories.get(entry.get("category")),
            enabled=entry["enabled"],
            priority=entry["priority"],
        )
        if entry.get("tags"):
            policy.tags.set(entry["tags"])
        for position, rule in enumerate(entry["rules"], start=1):
            rules.append(rule_from_dict(rule, policy, position))
    Rule.objects.bulk_create(rules)
    # bulk_create sends no save signals: one audit record for the whole set
    # (a rollback records itself instead).
    if recorded:
        audit.record(
            "policy.import",
            object_type="policy set",
            object_name=_("Draft policy set"),
            detail={"policies": len(data["policies"]), "rules": len(rules)},
        )


def rule_from_dict(rule: dict, policy: Policy, position: int) -> Rule:
    sources, destinations = rule["sources"], rule["destinations"]
    schedule = rule.get("schedule") or {}
    return Rule(
        uuid=rule["id"],
        policy=policy,
        position=position,
        action=rule["action"],
        src_regions=sources.get("regions", []),
        src_gateways=sources.get("gateways", []),
        src_groups=sources.get("groups", []),
        src_cidrs=sources.get("cidrs", []),
        dst_cidrs=destinations.get("cidrs", []),
        dst_hosts=destinations.get("hosts", []),
        dst_services=destinations.get("services", []),
        protocol=rule["protocol"],
        ports=rule.get("ports", ""),
        schedule_days=schedule.get("days", []),
        schedule_start=time.fromisoformat(schedule["start"]) if schedule.get("start") else None,
        schedule_end=time.fromisoformat(schedule["end"]) if schedule.get("end") else None,
        schedule_timezone=schedule.get("timezone", "") if schedule else "",
        expires=datetime.fromisoformat(rule["expires"]) if rule.get("expires") else None,
        comment=rule.get("comment", ""),
        enforced_regions=rule.get("enforced_in", []),
    )


# --- JSON -> evaluator ---------------------------------------------------------


def ordered_policies(snapshot: dict) -> list[dict]:
    """Policies in evaluation order (Containment first, priority, then name)."""
    return sorted(snapshot.get("policies", []), key=policy_order_key)


def rule_spec(rule: dict, policy: dict, position: int) -> evaluation.RuleSpec:
    """One rule of the snapshot for the evaluator; ValueError when malformed."""
    sources, destinations = rule.get("sources", {}), rule.get("destinations", {})
    names = {}
    for kind in REFERENCE_KINDS:
        for ref in sources.get(kind, []):
            names[str(ref["id"])] = ref.get("name") or str(ref["id"])
    for ref in rule.get("enforced_in", []):
        names[str(ref["id"])] = ref.get("name") or str(ref["id"])
    schedule = None
    if rule.get("schedule"):
        data = rule["schedule"]
        zone = data.get("timezone") or "UTC"
        evaluation.parse_zone(zone)
        schedule = evaluation.Schedule(
            days=frozenset(data.get("days", [])),
            start=evaluation.parse_time_of_day(data.get("start") or ""),
            end=evaluation.parse_time_of_day(data.get("end") or ""),
            zone=zone,
        )
    protocol = rule.get("protocol", evaluation.ANY)
    ports = evaluation.parse_ports(rule.get("ports", ""))
    if ports and protocol == evaluation.ICMP:
        raise ValueError("ICMP has no ports.")
    return evaluation.RuleSpec(
        key=str(rule["id"]),
        action=rule["action"],
        label=_("%(policy)s · rule %(n)d") % {"policy": policy["name"], "n": position},
        policy_key=str(policy["id"]),
        src_regions=frozenset(str(r["id"]) for r in sources.get("regions", [])),
        src_gateways=frozenset(str(r["id"]) for r in sources.get("gateways", [])),
        src_groups=frozenset(str(r["id"]) for r in sources.get("groups", [])),
        src_cidrs=tuple(evaluation.parse_network(c) for c in sources.get("cidrs", [])),
        dst_cidrs=tuple(evaluation.parse_network(c) for c in destinations.get("cidrs", [])),
        dst_hosts=tuple(evaluation.normalise_host(h) for h in destinations.get("hosts", [])),
        services=tuple(destinations.get("services", [])),
        protocol=protocol,
        ports=ports,
        schedule=schedule,
        expires=datetime.fromisoformat(rule["expires"]) if rule.get("expires") else None,
        enforced_regions=frozenset(str(r["id"]) for r in rule.get("enforced_in", [])),
        names=names,
    )


def rule_specs(snapshot: dict | None) -> list[evaluation.RuleSpec]:
    """The enforced rules of ``snapshot`` in evaluation order: enabled
    policies only; a malformed rule (which validation blocks from being
    published) is left out rather than guessed at."""
    specs = []
    for policy in ordered_policies(snapshot or {}):
        if not policy.get("enabled"):
            continue
        for position, rule in enumerate(policy.get("rules", []), start=1):
            try:
                specs.append(rule_spec(rule, policy, position))
            except (ValueError, KeyError, TypeError):
                continue
    return specs


def rule_index(snapshot: dict | None) -> dict[str, tuple[dict, dict, int]]:
    """rule id -> (policy, rule, position) of a snapshot."""
    index = {}
    for policy in (snapshot or {}).get("policies", []):
        for position, rule in enumerate(policy.get("rules", []), start=1):
            index[str(rule["id"])] = (policy, rule, position)
    return index
