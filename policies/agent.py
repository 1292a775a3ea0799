"""What the policies app plugs into the gateway agent API
(gateways.agent.hooks): the ``policies`` section of the configuration a
gateway pulls — the rules of the latest published revision that apply to
that gateway, in evaluation order. Publishing bumps the fleet's config
version (policies.publishing), so agents pull again.

gateways never imports policies; PoliciesConfig.ready() registers this.
"""

from __future__ import annotations

from django.db.models import Subquery

from gateways.models import Gateway, Region
from policies import evaluation
from policies.models import PolicyRevision
from policies.snapshot import ordered_policies, rule_spec


def applies_to(rule: dict, gateway_id: str, region_id: str | None) -> bool:
    """A rule is sent to a gateway unless it is enforced only in other
    regions (``enforced_in``: a containment block of one region), or its
    sources are only regions and gateways, none of them this gateway or its
    region (it could never match there). CIDR and user-group sources can
    match at any gateway."""
    enforced = {str(r["id"]) for r in rule.get("enforced_in", [])}
    if enforced and (region_id is None or region_id not in enforced):
        return False  # held only at the gateways of other regions
    sources = rule.get("sources", {})
    if sources.get("cidrs") or sources.get("groups"):
        return True
    regions = {str(r["id"]) for r in sources.get("regions", [])}
    gateways = {str(g["id"]) for g in sources.get("gateways", [])}
    if not regions and not gateways:
        return True
    return gateway_id in gateways or (region_id is not None and region_id in regions)


def agent_rule(rule: dict, policy: dict, position: int, spec: evaluation.RuleSpec) -> dict:
    sources = rule.get("sources", {})
    return {
        "policy_id": str(policy["id"]),
        "policy": policy["name"],
        "priority": policy["priority"],
        "rule_id": str(rule["id"]),
        "rule_number": position,
        "action": rule["action"],
        "sources": {
            "regions": [str(r["id"]) for r in sources.get("regions", [])],
            "gateways": [str(g["id"]) for g in sources.get("gateways", [])],
            "groups": [g.get("name") or str(g["id"]) for g in sources.get("groups", [])],
            "cidrs": [str(n) for n in spec.src_cidrs],
        },
        "destinations": {
            "cidrs": [str(n) for n in spec.dst_cidrs],
            "hosts": list(spec.dst_hosts),
            "services": [
                {
                    "name": name,
                    "ports": [
                        {"protocol": proto, "from": lo, "to": hi}
                        for proto, lo, hi in evaluation.SERVICES[name]
                    ],
                }
                for name in spec.services
            ],
        },
        "protocol": spec.protocol,
        "ports": [{"from": lo, "to": hi} for lo, hi in spec.ports],
        "schedule": rule.get("schedule"),
        "expires": rule.get("expires"),
    }


def policy_config(gateway: Gateway) -> list[dict]:
    """The published rules that apply to ``gateway``, in evaluation order
    (one query: the latest revision and the gateway's region id). The
    default when none matches is deny."""
    # One query: the latest revision, with the gateway's region id beside it.
    revision = (
        PolicyRevision.objects.only("snapshot")
        .annotate(
            region_uuid=Subquery(Region.objects.filter(pk=gateway.region_id).values("uuid")[:1])
        )
        .order_by("-number")
        .first()
    )
    if revision is None:
        return []
    region_id = revision.region_uuid
    gateway_id = str(gateway.uuid)
    region = str(region_id) if region_id is not None else None
    entries = []
    for policy in ordered_policies(revision.snapshot):
        if not policy.get("enabled"):
            continue
        for position, rule in enumerate(policy.get("rules", []), start=1):
            if not applies_to(rule, gateway_id, region):
                continue
            try:
                spec = rule_spec(rule, policy, position)
            except (ValueError, KeyError, TypeError):
                continue  # malformed: publishing refuses these; a rollback may not
            entries.append(agent_rule(rule, policy, position, spec))
    return entries
