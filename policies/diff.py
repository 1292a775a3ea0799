"""A readable comparison of two policy sets (snapshots): policies and rules
added, removed, changed or moved, with the changed fields named — never raw
JSON. Also the one place that turns a rule into the words pages show."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from policies import evaluation

RULE_FIELDS = (
    ("action", gettext_lazy("Action")),
    ("sources", gettext_lazy("Sources")),
    ("destinations", gettext_lazy("Destinations")),
    ("protocol", gettext_lazy("Protocol / ports")),
    ("schedule", gettext_lazy("Schedule")),
    ("expires", gettext_lazy("Expires")),
    ("comment", gettext_lazy("Comment")),
)
POLICY_FIELDS = (
    ("name", gettext_lazy("Name")),
    ("priority", gettext_lazy("Priority")),
    ("enabled", gettext_lazy("Enabled")),
    ("category", gettext_lazy("Category")),
    ("tags", gettext_lazy("Tags")),
    ("description", gettext_lazy("Description")),
)


def _refs(refs) -> list[str]:
    return [ref.get("name") or str(ref["id"]) for ref in refs]


def describe_sources(rule: dict) -> list[str]:
    sources = rule.get("sources", {})
    parts = []
    if sources.get("regions"):
        parts.append(_("regions: %(v)s") % {"v": ", ".join(_refs(sources["regions"]))})
    if sources.get("gateways"):
        parts.append(_("gateways: %(v)s") % {"v": ", ".join(_refs(sources["gateways"]))})
    if sources.get("groups"):
        parts.append(_("groups: %(v)s") % {"v": ", ".join(_refs(sources["groups"]))})
    if sources.get("cidrs"):
        parts.append(", ".join(sources["cidrs"]))
    parts = parts or [_("any source")]
    if rule.get("enforced_in"):
        parts.append(_("only at gateways in: %(v)s") % {"v": ", ".join(_refs(rule["enforced_in"]))})
    return parts


def describe_destinations(rule: dict) -> list[str]:
    destinations = rule.get("destinations", {})
    parts = []
    addresses = list(destinations.get("cidrs", [])) + list(destinations.get("hosts", []))
    if addresses:
        parts.append(", ".join(addresses))
    if destinations.get("services"):
        parts.append(_("services: %(v)s") % {"v": ", ".join(destinations["services"])})
    return parts or [_("any destination")]


def describe_protocol(rule: dict) -> str:
    protocol = rule.get("protocol", "any")
    label = _("any protocol") if protocol == "any" else protocol.upper()
    if rule.get("ports"):
        return _("%(p)s, ports %(ports)s") % {"p": label, "ports": rule["ports"]}
    return label


def describe_schedule(rule: dict) -> str:
    schedule = rule.get("schedule")
    if not schedule:
        return _("always")
    days = ", ".join(evaluation.DAY_NAMES[d] for d in sorted(schedule.get("days", [])))
    start, end = schedule.get("start") or "?", schedule.get("end") or "?"
    return f"{days} {start}–{end} {schedule.get('timezone') or 'UTC'}"


def describe_expiry(rule: dict) -> str:
    if not rule.get("expires"):
        return _("never")
    try:
        moment = datetime.fromisoformat(rule["expires"])
    except ValueError:
        return rule["expires"]
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def describe(rule: dict) -> dict:
    """The words for each field of a rule (snapshot format)."""
    return {
        "id": str(rule.get("id")),
        "action": rule.get("action"),
        "sources": "; ".join(describe_sources(rule)),
        "source_parts": describe_sources(rule),
        "destinations": "; ".join(describe_destinations(rule)),
        "destination_parts": describe_destinations(rule),
        "protocol": describe_protocol(rule),
        "schedule": describe_schedule(rule),
        "expires": describe_expiry(rule),
        "comment": rule.get("comment", ""),
    }


def _policy_values(policy: dict) -> dict:
    return {
        "name": policy.get("name"),
        "priority": str(policy.get("priority")),
        "enabled": _("yes") if policy.get("enabled") else _("no"),
        "category": policy.get("category") or "—",
        "tags": ", ".join(policy.get("tags", [])) or "—",
        "description": policy.get("description") or "—",
    }


def diff_snapshots(old: dict | None, new: dict | None) -> dict:
    """``{"policies": [...], "changes": n}``; each policy entry has a
    ``status`` (added, removed, changed, unchanged), its changed fields as
    (label, before, after) and its rules, each with a ``status`` (added,
    removed, changed, moved, unchanged) and the set of changed fields."""
    old_policies = {p["id"]: p for p in (old or {}).get("policies", [])}
    new_policies = {p["id"]: p for p in (new or {}).get("policies", [])}
    order = [p["id"] for p in (new or {}).get("policies", [])] + [
        pid for pid in old_policies if pid not in new_policies
    ]
    entries, changes = [], 0
    for pid in order:
        before, after = old_policies.get(pid), new_policies.get(pid)
        entry = _policy_entry(before, after)
        if entry["status"] != "unchanged":
            changes += 1
        entries.append(entry)
    return {"policies": entries, "changes": changes}


def _policy_entry(before: dict | None, after: dict | None) -> dict:
    policy = after or before
    fields = []
    if before is not None and after is not None:
        b, a = _policy_values(before), _policy_values(after)
        fields = [(label, b[key], a[key]) for key, label in POLICY_FIELDS if b[key] != a[key]]
    old_rules = {r["id"]: (n, r) for n, r in enumerate((before or {}).get("rules", []), start=1)}
    new_rules = {r["id"]: (n, r) for n, r in enumerate((after or {}).get("rules", []), start=1)}
    rules = []
    for rid in [*new_rules, *(r for r in old_rules if r not in new_rules)]:
        rules.append(_rule_entry(old_rules.get(rid), new_rules.get(rid)))
    if before is None:
        status = "added"
    elif after is None:
        status = "removed"
    elif fields or any(r["status"] != "unchanged" for r in rules):
        status = "changed"
    else:
        status = "unchanged"
    return {
        "status": status,
        "id": policy["id"],
        "name": policy["name"],
        "fields": fields,
        "rules": rules,
    }


def _rule_entry(before, after) -> dict:
    old_number, old_rule = before if before else (None, None)
    new_number, new_rule = after if after else (None, None)
    old_words = describe(old_rule) if old_rule else None
    new_words = describe(new_rule) if new_rule else None
    changed: list[str] = []
    if old_words and new_words:
        changed = [key for key, _label in RULE_FIELDS if old_words[key] != new_words[key]]
    if old_rule is None:
        status = "added"
    elif new_rule is None:
        status = "removed"
    elif changed:
        status = "changed"
    elif old_number != new_number:
        status = "moved"
    else:
        status = "unchanged"
    rows = [
        {
            "key": key,
            "label": label,
            "before": old_words[key] if old_words else "",
            "after": new_words[key] if new_words else "",
            "changed": key in changed,
        }
        for key, label in RULE_FIELDS
    ]
    return {
        "status": status,
        "id": (new_rule or old_rule)["id"],
        "old_number": old_number,
        "new_number": new_number,
        "changed": changed,
        "rows": rows,
    }
