from __future__ import annotations

import json
import re
from zoneinfo import available_timezones

from django import forms
from django.contrib.auth.models import Group
from django.db.models import Max
from django.utils.translation import gettext_lazy as _

from console.forms import QuickSelect, QuickSelectMultiple, ScopedModelForm
from gateways.models import Gateway, Region
from policies import evaluation
from policies.choices import SERVICE_CHOICES, Weekday
from policies.models import Policy, PolicyCategory, Rule


class PolicyForm(ScopedModelForm):
    class Meta:
        model = Policy
        fields = ["name", "priority", "category", "enabled", "tags", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"tags": _("Comma-separated, for example: baseline, pci.")}


class PolicyCategoryForm(ScopedModelForm):
    class Meta:
        model = PolicyCategory
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


def _split(text: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", text or "") if item]


class ListField(forms.CharField):
    """Values separated by commas, spaces or new lines; shown one per line."""

    widget = forms.Textarea(attrs={"rows": 2})

    def __init__(self, *args, parse=None, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        self.parse = parse

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def clean(self, value):
        items = _split(super().clean(value))
        if self.parse is None:
            return items
        result, errors = [], []
        for item in items:
            try:
                result.append(self.parse(item))
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            raise forms.ValidationError(errors)
        return list(dict.fromkeys(result))


class ReferenceField(forms.ModelMultipleChoiceField):
    """Regions, gateways or groups, stored as ``[{"id", "name"}]``."""

    def __init__(self, queryset, id_field: str, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", QuickSelectMultiple(attrs={"size": 6}))
        super().__init__(queryset, to_field_name=id_field, **kwargs)
        self.id_field = id_field

    def label_from_instance(self, obj):
        return obj.name


COMMON_ZONES = sorted(available_timezones())


class RuleForm(forms.ModelForm):
    """A rule of the draft. Malformed CIDRs, ports, ranges, host names and
    schedules are refused here, on the field; what only the whole set shows
    (shadowing, conflicts, deleted references) is validation's, before
    publishing."""

    number = forms.IntegerField(
        label=_("Rule number"),
        min_value=1,
        required=False,
        help_text=_("Its place in the policy (1 runs first). Empty: at the end."),
    )
    src_regions = ReferenceField(Region.objects.all(), "uuid", label=_("Source regions"))
    src_gateways = ReferenceField(Gateway.objects.all(), "uuid", label=_("Source gateways"))
    src_groups = ReferenceField(Group.objects.all(), "pk", label=_("Source user groups"))
    src_cidrs = ListField(
        label=_("Source CIDRs"),
        parse=lambda v: str(evaluation.parse_network(v)),
        help_text=_("One per line or comma-separated: 10.20.0.0/16, 2001:db8::/48."),
    )
    dst_cidrs = ListField(
        label=_("Destination CIDRs"), parse=lambda v: str(evaluation.parse_network(v))
    )
    dst_hosts = ListField(
        label=_("Destination host names"),
        parse=evaluation.normalise_host,
        help_text=_("api.example.com, or *.example.com for every name below it."),
    )
    dst_services = forms.MultipleChoiceField(
        label=_("Destination services"),
        choices=SERVICE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Named services: the packet's protocol and port must be one of theirs."),
    )
    schedule_days = forms.TypedMultipleChoiceField(
        label=_("Schedule days"),
        choices=Weekday.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    schedule_timezone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[("", "—")] + [(z, z) for z in COMMON_ZONES],
        required=False,
    )

    class Meta:
        model = Rule
        # Regions, gateways and groups are declared above and stored by
        # save() as references (not model-form fields: a queryset is no JSON).
        fields = [
            "action",
            "src_cidrs",
            "dst_cidrs",
            "dst_hosts",
            "dst_services",
            "protocol",
            "ports",
            "schedule_days",
            "schedule_start",
            "schedule_end",
            "schedule_timezone",
            "expires",
            "comment",
        ]
        widgets = {
            "schedule_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "schedule_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "expires": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "comment": forms.Textarea(attrs={"rows": 2}),
        }

    field_order = [
        "number",
        "action",
        "src_regions",
        "src_gateways",
        "src_groups",
        "src_cidrs",
    ]

    def __init__(self, *args, policy: Policy, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.user = user
        self.fields["src_regions"].queryset = Region.objects.restrict(user, "view")
        self.fields["src_gateways"].queryset = Gateway.objects.restrict(user, "view").only(
            "pk", "uuid", "name"
        )
        rule = self.instance
        self.removed_references: list[str] = []
        if rule.pk:
            self.initial["number"] = rule.position
            for name, _kind in (("src_regions", "region"), ("src_gateways", "gateway")):
                self.initial[name] = [ref["id"] for ref in getattr(rule, name)]
            self.initial["src_groups"] = [ref["id"] for ref in rule.src_groups]
            self._note_missing_references()

    def _note_missing_references(self) -> None:
        rule = self.instance
        checks = (
            ("src_regions", _("region"), Region.objects.all(), "uuid"),
            ("src_gateways", _("gateway"), Gateway.objects.all(), "uuid"),
            ("src_groups", _("user group"), Group.objects.all(), "pk"),
        )
        for name, kind, queryset, key in checks:
            ids = [ref["id"] for ref in getattr(rule, name)]
            if not ids:
                continue
            existing = {
                str(v) for v in queryset.filter(**{f"{key}__in": ids}).values_list(key, flat=True)
            }
            for ref in getattr(rule, name):
                if str(ref["id"]) not in existing:
                    self.removed_references.append(
                        _("The %(kind)s “%(name)s” no longer exists and is removed when you save.")
                        % {"kind": kind, "name": ref.get("name") or ref["id"]}
                    )

    def clean_ports(self):
        text = self.cleaned_data.get("ports", "")
        try:
            return evaluation.format_ports(evaluation.parse_ports(text))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("ports") and cleaned.get("protocol") == evaluation.ICMP:
            self.add_error(
                "ports", _("ICMP has no ports: choose TCP, UDP or Any, or clear the ports.")
            )
        days = cleaned.get("schedule_days")
        start, end = cleaned.get("schedule_start"), cleaned.get("schedule_end")
        if days or start or end:
            if not days:
                self.add_error("schedule_days", _("A schedule needs at least one day."))
            if start is None:
                self.add_error("schedule_start", _("A schedule needs a start and an end time."))
            if end is None:
                self.add_error("schedule_end", _("A schedule needs a start and an end time."))
            if not cleaned.get("schedule_timezone"):
                cleaned["schedule_timezone"] = "UTC"
        else:
            cleaned["schedule_timezone"] = ""
        return cleaned

    def _references(self, name: str, id_field: str) -> list[dict]:
        """Selected objects, plus references the user cannot see (another
        region's): a scoped operator's edit must not drop them."""
        chosen = [
            {"id": str(getattr(obj, id_field)), "name": obj.name} for obj in self.cleaned_data[name]
        ]
        visible = {str(v) for v in self.fields[name].queryset.values_list(id_field, flat=True)}
        model = self.fields[name].queryset.model
        hidden_ids = [
            ref["id"] for ref in getattr(self.instance, name) if str(ref["id"]) not in visible
        ]
        if hidden_ids:
            still_there = {
                str(v)
                for v in model.objects.filter(**{f"{id_field}__in": hidden_ids}).values_list(
                    id_field, flat=True
                )
            }
            chosen = [
                ref for ref in getattr(self.instance, name) if str(ref["id"]) in still_there
            ] + chosen
        return chosen

    def save(self, commit=True):
        rule = super().save(commit=False)
        rule.policy = self.policy
        rule.src_regions = self._references("src_regions", "uuid")
        rule.src_gateways = self._references("src_gateways", "uuid")
        rule.src_groups = self._references("src_groups", "pk")
        rule.schedule_days = sorted(self.cleaned_data.get("schedule_days") or [])
        rule.schedule_timezone = self.cleaned_data.get("schedule_timezone", "")
        siblings = list(self.policy.rules.exclude(pk=rule.pk).order_by("position", "pk"))
        number = self.cleaned_data.get("number") or len(siblings) + 1
        number = min(number, len(siblings) + 1)
        rule.position = number
        if commit:
            rule.save()
            renumber(self.policy, first=rule)
        return rule


def renumber(policy: Policy, first: Rule | None = None) -> None:
    """Positions 1..n in order; ``first`` keeps the number it was given and
    the others close up around it."""
    rules = list(policy.rules.order_by("position", "pk"))
    if first is not None:
        rules = [r for r in rules if r.pk != first.pk]
        rules.insert(max(0, min(first.position, len(rules) + 1) - 1), first)
    changed = []
    for number, rule in enumerate(rules, start=1):
        if rule.position != number:
            rule.position = number
            changed.append(rule)
    Rule.objects.bulk_update(changed, ["position"])


def next_position(policy: Policy) -> int:
    return (policy.rules.aggregate(n=Max("position"))["n"] or 0) + 1


class PublishForm(forms.Form):
    message = forms.CharField(
        label=_("What changed and why"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text=_("Kept with the revision and shown in its history."),
    )
    confirm_warnings = forms.BooleanField(
        label=_("I have read the warnings and publish anyway"), required=False
    )


class RollbackForm(forms.Form):
    message = forms.CharField(
        label=_("Why roll back"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Policy set (JSON)"),
        help_text=_("A file exported from this page. It replaces the whole draft."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 5 MiB."))
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise forms.ValidationError(_("The file is not JSON.")) from None


SOURCE_KINDS = [
    ("ip", _("IP address")),
    ("gateway", _("Gateway")),
    ("region", _("Region")),
    ("group", _("User group")),
]


class SimulationForm(forms.Form):
    """“Would this be allowed?” A source (IP, gateway, region or user group —
    a gateway implies its region), a destination (IP or host name), a
    protocol and port, and optionally a moment (default: now)."""

    source_ip = forms.GenericIPAddressField(label=_("Source IP"), required=False)
    gateway = forms.ModelChoiceField(
        Gateway.objects.all(),
        label=_("At gateway"),
        required=False,
        to_field_name="uuid",
        widget=QuickSelect,
    )
    region = forms.ModelChoiceField(
        Region.objects.all(), label=_("In region"), required=False, to_field_name="uuid"
    )
    group = forms.ModelChoiceField(Group.objects.all(), label=_("User group"), required=False)
    destination = forms.CharField(
        label=_("Destination"), help_text=_("An IP address or a host name."), max_length=253
    )
    protocol = forms.ChoiceField(
        label=_("Protocol"),
        choices=[(p, p.upper()) for p in evaluation.PACKET_PROTOCOLS],
        initial=evaluation.TCP,
    )
    port = forms.IntegerField(
        label=_("Port"),
        min_value=evaluation.PORT_MIN,
        max_value=evaluation.PORT_MAX,
        required=False,
    )
    at = forms.DateTimeField(
        label=_("At (optional)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Schedules and expiry are judged at this moment; empty: now."),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway"].queryset = Gateway.objects.restrict(user, "view").select_related(
            "region"
        )
        self.fields["region"].queryset = Region.objects.restrict(user, "view")

    def clean_destination(self):
        value = self.cleaned_data["destination"].strip()
        try:
            return ("ip", evaluation.ipaddress.ip_address(value))
        except ValueError:
            pass
        try:
            return ("host", evaluation.normalise_host(value))
        except ValueError:
            raise forms.ValidationError(_("Give an IP address or a host name.")) from None

    def clean(self):
        cleaned = super().clean()
        protocol = cleaned.get("protocol")
        if protocol in (evaluation.TCP, evaluation.UDP) and cleaned.get("port") is None:
            self.add_error("port", _("TCP and UDP need a port."))
        if protocol == evaluation.ICMP:
            cleaned["port"] = None
        return cleaned
