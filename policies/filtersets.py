"""The policy FilterSet, shared by the list page and the REST API."""

from __future__ import annotations

import ipaddress

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from taggit.models import Tag

from gateways.filtersets import ByNameFilter
from policies.choices import RuleAction
from policies.models import Policy, PolicyCategory, Rule


def rules_matching(value: str) -> dict[int, list[int]]:
    """policy pk -> rule numbers whose CIDRs or host names match ``value``:
    an IP address finds the CIDRs that contain it, other text the CIDRs and
    names that contain it. Rules are scanned in Python (CIDRs live in JSON
    lists; a policy set is hundreds to a few thousand rules)."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    needle = value.lower()
    found: dict[int, list[int]] = {}
    rows = Rule.objects.order_by("policy_id", "position", "pk").values_list(
        "policy_id", "position", "src_cidrs", "dst_cidrs", "dst_hosts"
    )
    for policy_id, position, src, dst, hosts in rows:
        hit = False
        if address is not None:
            for text in (*src, *dst):
                try:
                    if address in ipaddress.ip_network(text, strict=False):
                        hit = True
                        break
                except ValueError:
                    continue
        else:
            hit = any(needle in text.lower() for text in (*src, *dst, *hosts))
        if hit:
            found.setdefault(policy_id, []).append(position)
    return found


class PolicyFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        help_text=_("Name, description, rule comments, CIDRs and hosts; an IP finds its CIDRs"),
    )
    category = ByNameFilter(
        field_name="category__name",
        to_field_name="name",
        queryset=PolicyCategory.objects.all(),
        label=_("Category"),
    )
    tag = ByNameFilter(
        field_name="tags__name",
        to_field_name="name",
        queryset=Tag.objects.all(),
        label=_("Tag"),
    )
    enabled = django_filters.BooleanFilter(
        label=_("Enabled"),
        widget=forms.Select(
            choices=[("", _("Any")), ("true", _("Enabled")), ("false", _("Disabled"))]
        ),
    )
    action = django_filters.ChoiceFilter(
        choices=RuleAction.choices,
        method="by_action",
        label=_("Has a rule that"),
        empty_label=_("Any action"),
    )

    class Meta:
        model = Policy
        fields = ["q", "category", "tag", "enabled", "action"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Which rules matched the search, for the list to show (policy pk -> numbers).
        self.rule_matches: dict[int, list[int]] = {}

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        self.rule_matches = rules_matching(value)
        return queryset.filter(
            Q(name__icontains=value)
            | Q(description__icontains=value)
            | Q(pk__in=Policy.objects.filter(rules__comment__icontains=value).values("pk"))
            | Q(pk__in=list(self.rule_matches))
        )

    def by_action(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(pk__in=Rule.objects.filter(action=value).values("policy_id"))
