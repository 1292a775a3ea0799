"""Validation before publishing: every problem of a policy set, each pointing
at its policy and rule.

Errors block publishing: a malformed CIDR, port, range, host, service or
schedule; a reference to a region, gateway or user group that no longer
exists; an enabled policy without rules; an allow and a deny with the same
match. Warnings need an explicit confirmation: a rule fully shadowed by an
earlier one (it can never match) and an expired rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.translation import gettext as _

from gateways.models import Gateway, Region
from policies import evaluation
from policies.choices import ISSUE_LEVEL_STYLE, IssueLevel
from policies.models import CONTAINMENT_POLICY_ID
from policies.snapshot import ordered_policies, rule_spec, rule_value_errors

ERROR, WARNING = IssueLevel.ERROR.value, IssueLevel.WARNING.value

KIND_LABELS = {"regions": "region", "gateways": "gateway", "groups": "user group"}


@dataclass(frozen=True)
class Issue:
    level: str
    code: str
    message: str
    policy_id: str | None = None
    policy_name: str = ""
    rule_id: str | None = None
    position: int | None = None  # the rule's number in its policy, from 1
    field: str | None = None

    @property
    def is_error(self) -> bool:
        return self.level == ERROR

    @property
    def level_style(self):
        return ISSUE_LEVEL_STYLE[IssueLevel(self.level)]

    @property
    def where(self) -> str:
        if self.position is not None:
            return _("%(policy)s · rule %(n)d") % {"policy": self.policy_name, "n": self.position}
        return self.policy_name

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "code": self.code,
            "message": self.message,
            "policy_id": self.policy_id,
            "policy": self.policy_name or None,
            "rule_id": self.rule_id,
            "rule_number": self.position,
            "field": self.field,
        }


@dataclass(frozen=True)
class Report:
    issues: tuple[Issue, ...]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.is_error]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if not i.is_error]

    @property
    def publishable(self) -> bool:
        return not self.errors

    def for_rule(self, rule_id) -> list[Issue]:
        return [i for i in self.issues if i.rule_id == str(rule_id)]

    def for_policy(self, policy_id) -> list[Issue]:
        return [i for i in self.issues if i.policy_id == str(policy_id)]

    def by_rule(self) -> dict[str, list[Issue]]:
        grouped: dict[str, list[Issue]] = {}
        for issue in self.issues:
            if issue.rule_id:
                grouped.setdefault(issue.rule_id, []).append(issue)
        return grouped


def existing_references() -> dict[str, set[str]]:
    """The ids that references may point at, three queries."""
    return {
        "regions": {str(u) for u in Region.objects.values_list("uuid", flat=True)},
        "gateways": {str(u) for u in Gateway.objects.values_list("uuid", flat=True)},
        "groups": {str(pk) for pk in Group.objects.values_list("pk", flat=True)},
    }


def gateway_regions() -> dict[str, str]:
    return {
        str(gateway): str(region)
        for gateway, region in Gateway.objects.values_list("uuid", "region__uuid")
    }


def validate(snapshot: dict, now: datetime | None = None) -> Report:
    now = now or timezone.now()
    existing = existing_references()
    issues: list[Issue] = []
    specs: list[evaluation.RuleSpec] = []
    where: dict[str, tuple[dict, int]] = {}

    for policy in ordered_policies(snapshot):
        pid, pname = str(policy["id"]), policy["name"]
        rules = policy.get("rules", [])
        # Containment without blocks is normal; and a quarantined gateway
        # deleted since only leaves a rule that matches nowhere (a warning:
        # it must not stop everyone else from publishing).
        containment = pid == CONTAINMENT_POLICY_ID
        if policy.get("enabled") and not rules and not containment:
            issues.append(
                Issue(
                    ERROR,
                    "empty_policy",
                    _("%(policy)s has no rules: add one, or disable or delete the policy.")
                    % {"policy": pname},
                    pid,
                    pname,
                )
            )
        for position, rule in enumerate(rules, start=1):
            rid = str(rule["id"])

            def issue(level, code, message, field=None, at=(pid, pname, rid, position)):
                return Issue(level, code, message, at[0], at[1], at[2], at[3], field)

            malformed = rule_value_errors(rule)
            for field, message in malformed:
                issues.append(issue(ERROR, "malformed", message, field))
            for kind in ("regions", "gateways", "groups"):
                for ref in rule.get("sources", {}).get(kind, []):
                    if str(ref["id"]) not in existing[kind]:
                        issues.append(
                            issue(
                                WARNING if containment else ERROR,
                                "deleted_reference",
                                _(
                                    "References the %(kind)s “%(name)s”, which no longer "
                                    "exists: remove it from the rule."
                                )
                                % {"kind": KIND_LABELS[kind], "name": ref.get("name") or ref["id"]},
                                f"src_{kind}",
                            )
                        )
            if rule.get("expires"):
                expires = datetime.fromisoformat(rule["expires"])
                if expires <= now:
                    issues.append(
                        issue(
                            WARNING,
                            "expired",
                            _(
                                "Expired on %(when)s: it no longer matches anything. "
                                "Delete it or move its expiry."
                            )
                            % {"when": timezone.localtime(expires).strftime("%Y-%m-%d %H:%M")},
                            "expires",
                        )
                    )
            if malformed or not policy.get("enabled"):
                continue
            try:
                spec = rule_spec(rule, policy, position)
            except (ValueError, KeyError, TypeError):
                continue
            specs.append(spec)
            where[spec.key] = (policy, position)

    conflicts = evaluation.find_conflicts(specs)
    conflicted = {overlap.rule.key for overlap in conflicts}
    for overlap in conflicts:
        policy, position = where[overlap.rule.key]
        issues.append(
            Issue(
                ERROR,
                "conflict",
                _(
                    "Matches exactly what %(other)s matches, with the opposite action "
                    "(%(action)s there): it can never apply. Delete one of the two or "
                    "change what they match."
                )
                % {"other": overlap.by.label, "action": overlap.by.action},
                str(policy["id"]),
                policy["name"],
                overlap.rule.key,
                position,
            )
        )
    expired = {
        s.key for s in specs if s.expires is not None and s.expires <= now
    }  # reported above already
    for overlap in evaluation.find_shadowed(specs, gateway_regions(), now):
        if overlap.rule.key in conflicted or overlap.rule.key in expired:
            continue
        policy, position = where[overlap.rule.key]
        issues.append(
            Issue(
                WARNING,
                "shadowed",
                _(
                    "Never matches: %(other)s (%(action)s) comes first and matches everything "
                    "this rule would. Move this rule above it, or delete it."
                )
                % {"other": overlap.by.label, "action": overlap.by.action},
                str(policy["id"]),
                policy["name"],
                overlap.rule.key,
                position,
            )
        )
    issues.sort(key=lambda i: 0 if i.is_error else 1)  # stable: errors first, in order
    return Report(tuple(issues))
