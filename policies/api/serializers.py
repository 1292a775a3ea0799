"""REST API serializers. Rules are read and written in the snapshot format
(policies.snapshot), the same JSON export and import use, so automation
needs to learn one shape."""

from __future__ import annotations

import uuid as uuidlib
from datetime import datetime

from django.contrib.auth.models import Group
from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from taggit.serializers import TaggitSerializer, TagListSerializerField

from gateways.models import Gateway, Region
from policies import evaluation
from policies.forms import renumber
from policies.models import Policy, PolicyCategory, PolicyRevision, Rule
from policies.snapshot import rule_from_dict, rule_to_dict, rule_value_errors

FIELD_PATHS = {
    "src_cidrs": "sources.cidrs",
    "dst_cidrs": "destinations.cidrs",
    "dst_hosts": "destinations.hosts",
    "dst_services": "destinations.services",
    "ports": "ports",
    "schedule_days": "schedule.days",
    "schedule_start": "schedule.start",
    "schedule_end": "schedule.end",
    "schedule_timezone": "schedule.timezone",
}


class ReferenceSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Region or gateway UUID; user group id.")
    name = serializers.CharField(read_only=True, help_text="Its name when the rule was saved.")


class SourcesSerializer(serializers.Serializer):
    regions = ReferenceSerializer(many=True, required=False)
    gateways = ReferenceSerializer(many=True, required=False)
    groups = ReferenceSerializer(many=True, required=False)
    cidrs = serializers.ListField(child=serializers.CharField(), required=False)


class DestinationsSerializer(serializers.Serializer):
    cidrs = serializers.ListField(child=serializers.CharField(), required=False)
    hosts = serializers.ListField(child=serializers.CharField(), required=False)
    services = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(evaluation.SERVICES)), required=False
    )


class ScheduleSerializer(serializers.Serializer):
    days = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6))
    start = serializers.CharField(help_text="HH:MM")
    end = serializers.CharField(help_text="HH:MM; before start: runs over midnight.")
    timezone = serializers.CharField(default="UTC")


class RuleSerializer(serializers.Serializer):
    """One rule. ``number`` is its place in the policy (1 runs first); on
    write, leave it out to append."""

    id = serializers.UUIDField(read_only=True)
    number = serializers.IntegerField(min_value=1, required=False)
    action = serializers.ChoiceField(choices=evaluation.ACTIONS)
    sources = SourcesSerializer(required=False)
    destinations = DestinationsSerializer(required=False)
    protocol = serializers.ChoiceField(choices=evaluation.PROTOCOLS, default=evaluation.ANY)
    ports = serializers.CharField(required=False, allow_blank=True, default="")
    schedule = ScheduleSerializer(required=False, allow_null=True)
    expires = serializers.DateTimeField(required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, default="")

    def to_representation(self, rule: Rule):
        data = rule_to_dict(rule)
        data["number"] = rule.position
        return data

    def validate(self, attrs):
        request = self.context.get("request")
        user = request.user if request is not None else None
        sources = dict(attrs.get("sources") or {})
        destinations = dict(attrs.get("destinations") or {})
        errors: dict[str, list[str]] = {}
        resolved = {}
        for kind, model, key in (
            ("regions", Region, "uuid"),
            ("gateways", Gateway, "uuid"),
        ):
            ids = [ref["id"] for ref in sources.get(kind, [])]
            names = {}
            valid = []
            for value in ids:
                try:
                    valid.append(str(uuidlib.UUID(value)))
                except ValueError:
                    errors.setdefault(f"sources.{kind}", []).append(f"“{value}” is not a UUID.")
            if valid:
                names = {
                    str(u): n
                    for u, n in model.objects.restrict(user, "view")
                    .filter(uuid__in=valid)
                    .values_list(key, "name")
                }
            for value in valid:
                if value not in names:
                    errors.setdefault(f"sources.{kind}", []).append(
                        f"No {kind[:-1]} has the id {value}."
                    )
            resolved[kind] = [{"id": v, "name": names[v]} for v in valid if v in names]
        group_ids = [ref["id"] for ref in sources.get("groups", [])]
        groups = {
            str(pk): name
            for pk, name in Group.objects.filter(
                pk__in=[g for g in group_ids if g.isdigit()]
            ).values_list("pk", "name")
        }
        for value in group_ids:
            if value not in groups:
                errors.setdefault("sources.groups", []).append(f"No user group has the id {value}.")
        resolved["groups"] = [{"id": v, "name": groups[v]} for v in group_ids if v in groups]
        schedule = attrs.get("schedule")
        data = {
            "action": attrs["action"],
            "sources": {**resolved, "cidrs": sources.get("cidrs", [])},
            "destinations": {
                "cidrs": destinations.get("cidrs", []),
                "hosts": destinations.get("hosts", []),
                "services": destinations.get("services", []),
            },
            "protocol": attrs.get("protocol", evaluation.ANY),
            "ports": attrs.get("ports", ""),
            "schedule": dict(schedule) if schedule else None,
            "comment": attrs.get("comment", ""),
        }
        for field, message in rule_value_errors(data):
            errors.setdefault(FIELD_PATHS.get(field, field), []).append(message)
        if errors:
            raise serializers.ValidationError(errors)
        # Canonical spellings, as the rule form stores them.
        data["sources"]["cidrs"] = list(
            dict.fromkeys(str(evaluation.parse_network(c)) for c in data["sources"]["cidrs"])
        )
        data["destinations"]["cidrs"] = list(
            dict.fromkeys(str(evaluation.parse_network(c)) for c in data["destinations"]["cidrs"])
        )
        data["destinations"]["hosts"] = list(
            dict.fromkeys(evaluation.normalise_host(h) for h in data["destinations"]["hosts"])
        )
        data["ports"] = evaluation.format_ports(evaluation.parse_ports(data["ports"]))
        expires: datetime | None = attrs.get("expires")
        data["expires"] = expires.isoformat() if expires else None
        data["number"] = attrs.get("number")
        return data

    def _apply(self, data: dict, policy: Policy, rule: Rule | None) -> Rule:
        count = policy.rules.exclude(pk=rule.pk if rule else None).count()
        number = min(data.get("number") or count + 1, count + 1)
        fresh = rule_from_dict(
            {**data, "id": str(rule.uuid) if rule else str(uuidlib.uuid4())}, policy, number
        )
        if rule is not None:
            fresh.pk, fresh.created = rule.pk, rule.created
        fresh.save()
        renumber(policy, first=fresh)
        fresh.refresh_from_db()
        return fresh

    def create(self, validated_data):
        with transaction.atomic():
            return self._apply(validated_data, self.context["policy"], None)

    def update(self, instance, validated_data):
        with transaction.atomic():
            return self._apply(validated_data, instance.policy, instance)


class PolicySerializer(TaggitSerializer, serializers.ModelSerializer):
    """A policy of the draft with its rules in order. Writing ``rules``
    replaces them all; leave it out to change only the policy's fields."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:policy-detail", lookup_field="uuid")
    category = serializers.SlugRelatedField(
        slug_field="name",
        queryset=PolicyCategory.objects.all(),
        required=False,
        allow_null=True,
        help_text="The category's name.",
    )
    tags = TagListSerializerField(required=False)
    rules = RuleSerializer(many=True, required=False)

    class Meta:
        model = Policy
        fields = [
            "id",
            "url",
            "name",
            "description",
            "category",
            "tags",
            "enabled",
            "priority",
            "rules",
            "created",
            "updated",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["rules"] = [
            RuleSerializer(rule, context=self.context).data
            for rule in sorted(instance.rules.all(), key=lambda r: (r.position, r.pk))
        ]
        return data

    def _replace_rules(self, policy: Policy, rules: list[dict]) -> None:
        policy.rules.all().delete()
        Rule.objects.bulk_create(
            [
                rule_from_dict({**data, "id": str(uuidlib.uuid4())}, policy, number)
                for number, data in enumerate(rules, start=1)
            ]
        )

    def create(self, validated_data):
        rules = validated_data.pop("rules", None)
        with transaction.atomic():
            policy = super().create(validated_data)
            if rules is not None:
                self._replace_rules(policy, rules)
        return policy

    def update(self, instance, validated_data):
        rules = validated_data.pop("rules", None)
        with transaction.atomic():
            policy = super().update(instance, validated_data)
            if rules is not None:
                self._replace_rules(policy, rules)
        return policy


class PolicyCategorySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = PolicyCategory
        fields = ["id", "name", "description", "created", "updated"]


class RevisionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.HyperlinkedIdentityField(
        view_name="api:policyrevision-detail", lookup_field="uuid"
    )
    author = serializers.CharField(source="author_name", read_only=True)
    rollback_of = serializers.SerializerMethodField()

    class Meta:
        model = PolicyRevision
        fields = [
            "id",
            "url",
            "number",
            "message",
            "author",
            "created",
            "config_version",
            "rollback_of",
            "warnings_confirmed",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_rollback_of(self, revision) -> int | None:
        return revision.rolled_back_from.number if revision.rolled_back_from_id else None


class RevisionDetailSerializer(RevisionSerializer):
    snapshot = serializers.JSONField(read_only=True, help_text="The policy set (export format).")

    class Meta(RevisionSerializer.Meta):
        fields = [*RevisionSerializer.Meta.fields, "snapshot"]


class PublishSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=2000)
    confirm_warnings = serializers.BooleanField(
        default=False, help_text="Publish although validation found warnings."
    )


class RollbackSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SimulateSerializer(serializers.Serializer):
    source_ip = serializers.IPAddressField(required=False, allow_null=True)
    gateway = serializers.UUIDField(required=False, allow_null=True)
    region = serializers.UUIDField(required=False, allow_null=True)
    group = serializers.IntegerField(required=False, allow_null=True, help_text="User group id.")
    destination = serializers.CharField(help_text="An IP address or a host name.")
    protocol = serializers.ChoiceField(choices=evaluation.PACKET_PROTOCOLS)
    port = serializers.IntegerField(
        min_value=evaluation.PORT_MIN,
        max_value=evaluation.PORT_MAX,
        required=False,
        allow_null=True,
    )
    at = serializers.DateTimeField(required=False, allow_null=True)
