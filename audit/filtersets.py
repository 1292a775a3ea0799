"""The audit log's filters, shared by the page, the exports and the API."""

from __future__ import annotations

import ipaddress

import django_filters
from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from audit.choices import ActorType, Outcome, Source
from audit.models import AuditRecord


def object_type_choices():
    from audit.registry import is_audited

    labels = {m._meta.label_lower: m._meta.verbose_name for m in apps.get_models() if is_audited(m)}
    return sorted(
        ((label, f"{str(name).capitalize()} ({label})") for label, name in labels.items()),
        key=lambda choice: choice[1].lower(),
    )


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class AuditRecordFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        help_text=_("Actor, object, action or request id"),
    )
    actor = django_filters.CharFilter(
        field_name="actor_name", lookup_expr="icontains", label=_("Actor")
    )
    actor_type = django_filters.MultipleChoiceFilter(choices=ActorType.choices, label=_("Actor"))
    action = django_filters.CharFilter(
        field_name="action",
        lookup_expr="istartswith",
        label=_("Action"),
        help_text=_("Starts with: login, gateway., update…"),
    )
    object_type = django_filters.ChoiceFilter(choices=object_type_choices, label=_("Object type"))
    object_id = django_filters.CharFilter(field_name="object_id", label=_("Object id"))
    object = django_filters.CharFilter(
        field_name="object_name", lookup_expr="icontains", label=_("Object")
    )
    user = django_filters.UUIDFilter(field_name="actor_id", label=_("User id"), method="by_user")
    after = django_filters.DateTimeFilter(
        field_name="time", lookup_expr="gte", label=_("From"), widget=DateTimeInput()
    )
    before = django_filters.DateTimeFilter(
        field_name="time", lookup_expr="lt", label=_("Until"), widget=DateTimeInput()
    )
    outcome = django_filters.MultipleChoiceFilter(choices=Outcome.choices, label=_("Outcome"))
    source = django_filters.MultipleChoiceFilter(choices=Source.choices, label=_("Source"))
    ip = django_filters.CharFilter(
        method="by_ip",
        label=_("IP"),
        help_text=_("An address or a network: 10.0.0.0/8"),
        validators=[lambda value: validate_ip_or_network(value)],
    )
    request_id = django_filters.CharFilter(field_name="request_id", label=_("Request id"))

    class Meta:
        model = AuditRecord
        fields = [
            "q",
            "actor",
            "actor_type",
            "action",
            "object_type",
            "object",
            "outcome",
            "after",
            "before",
            "ip",
            "source",
            "object_id",
            "request_id",
            "user",
        ]

    # The fields the page shows in its filter bar (the others are reached by
    # links: an object's history, a user's actions, one request).
    PAGE_FIELDS = ("q", "actor", "action", "object_type", "outcome", "after", "before", "ip")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(actor_name__icontains=value)
            | Q(object_name__icontains=value)
            | Q(action__istartswith=value)
            | Q(request_id=value)
        )

    def by_user(self, queryset, name, value):
        return queryset.filter(actor_user__uuid=value)

    def by_ip(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        network = ipaddress.ip_network(value, strict=False)  # validated by the field
        if network.num_addresses == 1:
            return queryset.filter(ip=str(network.network_address))
        from django.db import connection

        if connection.vendor == "postgresql":
            # Addresses are kept as text (hashed exactly as written); inet
            # containment does the network test.
            return queryset.extra(
                where=["NULLIF(audit_auditrecord.ip, '')::inet <<= %s::inet"],
                params=[str(network)],
            )
        return queryset.filter(ip__in=[str(a) for a in network.hosts()][:4096])


def validate_ip_or_network(value: str) -> None:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError(
            _("%(value)s is not an IP address or network.") % {"value": value}
        ) from None
