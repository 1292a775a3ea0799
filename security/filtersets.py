"""One FilterSet per model, shared by the pages and the REST API."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from datetime import timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gateways.filtersets import ByNameFilter, visible_regions
from security.choices import AllowlistScope, Category, IncidentStatus, RuleKind, Severity
from security.models import AllowlistEntry, CorrelationRule, Incident, SecurityEvent


class AllowlistEntryFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label=_("Search"), help_text=_("Network or comment")
    )
    scope = django_filters.MultipleChoiceFilter(
        choices=AllowlistScope.choices, label=_("Applies to")
    )

    class Meta:
        model = AllowlistEntry
        fields = ["q", "scope"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(network__icontains=value) | Q(comment__icontains=value))


# --- Security events --------------------------------------------------------------

# The searched document: a stored generated column with a GIN index
# (migration 0008; PostgreSQL only, not in the model).
FTS_DOCUMENT = '"security_securityevent"."search_document"'
# Words, addresses and names as the 'simple' parser sees them; each becomes a
# prefix term ("nma" finds "nmap"), all of them must match.
_SEARCH_TERM = re.compile(r"[\w.:/-]+", re.UNICODE)
_WORD = re.compile(r"\w", re.UNICODE)
MAX_SEARCH_TERMS = 8


def text_search(queryset, value: str):
    """Events whose signature or message contain every word of ``value``.

    PostgreSQL: full-text search (``simple`` configuration: no stemming, no
    stop words, so "ET SCAN" and addresses match as written), prefix matching
    on each word, over the stored document of migration 0008 (GIN index). Other databases
    (the embedded SQLite): a case-insensitive substring of either field."""
    # A term of punctuation only (":", "/") is no word: to_tsquery would drop
    # it and the whole query would match nothing.
    terms = [t for t in _SEARCH_TERM.findall(value) if _WORD.search(t)][:MAX_SEARCH_TERMS]
    if not terms:
        return queryset
    if connection.vendor != "postgresql":
        for term in terms:
            queryset = queryset.filter(Q(signature__icontains=term) | Q(message__icontains=term))
        return queryset
    # Each term quoted for to_tsquery (a quote inside is doubled), then a prefix.
    query = " & ".join("'{}':*".format(term.replace("'", "''").replace("\\", "")) for term in terms)
    return queryset.filter(
        RawSQL(
            f"{FTS_DOCUMENT} @@ to_tsquery('simple'::regconfig, %s)",
            [query],
            output_field=BooleanField(),
        )
    )


def validate_ip_or_network(value: str) -> None:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError(
            _("%(value)s is not an IP address or network (10.0.0.5, 10.0.0.0/8, 2001:db8::/32).")
            % {"value": value}
        ) from None


# Largest network the SQLite fallback lists address by address.
_SQLITE_MAX_HOSTS = 4096


def address_condition(field: str, value: str):
    """``field`` (an inet column on PostgreSQL) is the address or inside the
    network ``value``.

    PostgreSQL: ``field <<= 'net'::inet``, which the planner turns into a range
    scan of the (field, occurred_at) btree index (network_subset_support). SQLite
    (demo data, text column): the addresses of small networks, or the textual
    prefix of an octet-aligned IPv4 network."""
    network = ipaddress.ip_network(value.strip(), strict=False)
    if network.num_addresses == 1:
        return Q(**{field: str(network.network_address)})
    if connection.vendor == "postgresql":
        column = f'"security_securityevent"."{field}"'
        return RawSQL(f"{column} <<= %s::inet", [str(network)], output_field=BooleanField())
    if network.num_addresses <= _SQLITE_MAX_HOSTS:
        return Q(**{f"{field}__in": [str(a) for a in network]})
    if network.version == 4:
        # The whole octets of the prefix: exact for /8, /16, /24; wider than
        # asked for other lengths (demo databases only).
        octets = str(network.network_address).split(".")[: network.prefixlen // 8]
        if octets:
            return Q(**{f"{field}__startswith": ".".join(octets) + "."})
    return Q(**{f"{field}__isnull": False})


class TimeRange(models.TextChoices):
    """The list's time presets (``range``); "custom" uses ``since``/``until``."""

    HOUR = "1h", _("Last hour")
    DAY = "24h", _("Last 24 hours")
    WEEK = "7d", _("Last 7 days")
    MONTH = "30d", _("Last 30 days")
    CUSTOM = "custom", _("Custom")


TIME_RANGE_SPAN = {
    TimeRange.HOUR: timedelta(hours=1),
    TimeRange.DAY: timedelta(hours=24),
    TimeRange.WEEK: timedelta(days=7),
    TimeRange.MONTH: timedelta(days=30),
}


class EventSort(models.TextChoices):
    NEWEST = "newest", _("Newest first")
    OLDEST = "oldest", _("Oldest first")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class SecurityEventFilterSet(django_filters.FilterSet):
    """The events list's filters, shared by the page, its exports and the API.

    Every filter pairs with the time order: the page reads the newest rows
    matching them through an index on (filter column, occurred_at) where one
    exists, see SecurityEvent.Meta.indexes. ``sort`` and the cursors are read
    by the page (security.views), not here."""

    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        help_text=_("Signature or message"),
    )
    range = django_filters.ChoiceFilter(
        choices=TimeRange.choices,
        method="by_range",
        label=_("Time"),
        empty_label=_("Any time"),
    )
    since = django_filters.IsoDateTimeFilter(
        field_name="occurred_at",
        lookup_expr="gte",
        label=_("From"),
        widget=DateTimeInput(),
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="occurred_at",
        lookup_expr="lt",
        label=_("Until"),
        widget=DateTimeInput(),
    )
    # distinct=False: django-filter's multiple-choice filters add DISTINCT by
    # default, which makes PostgreSQL read and de-duplicate every matching row
    # before LIMIT (the severity + time page grew with the table). These
    # columns, and the to-one gateway → region join, cannot repeat a row.
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.choices, label=_("Severity"), distinct=False
    )
    category = django_filters.MultipleChoiceFilter(
        choices=Category.choices, label=_("Category"), distinct=False
    )
    region = ByNameFilter(
        field_name="gateway__region__slug",
        to_field_name="slug",
        queryset=visible_regions,
        label=_("Region"),
        distinct=False,
    )
    gateway = django_filters.CharFilter(
        method="by_gateway",
        label=_("Gateway"),
        help_text=_("Gateway name"),
    )
    src = django_filters.CharFilter(
        method="by_address",
        label=_("Source"),
        help_text=_("IP or CIDR"),
        validators=[validate_ip_or_network],
    )
    dst = django_filters.CharFilter(
        method="by_address",
        label=_("Destination"),
        help_text=_("IP or CIDR"),
        validators=[validate_ip_or_network],
    )
    port = django_filters.NumberFilter(
        method="by_port",
        label=_("Port"),
        help_text=_("Source or destination port"),
        min_value=0,
        max_value=65535,
    )
    signature = django_filters.CharFilter(field_name="signature", label=_("Signature"))
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at",
        lookup_expr="isnull",
        exclude=True,
        label=_("Acknowledged"),
        widget=forms.Select(
            choices=[("", _("Any")), ("false", _("Not acknowledged")), ("true", _("Acknowledged"))]
        ),
    )

    incident = django_filters.UUIDFilter(
        method="by_incident",
        label=_("Incident"),
        help_text=_("Incident id"),
    )

    class Meta:
        model = SecurityEvent
        fields = [
            "q",
            "range",
            "since",
            "until",
            "severity",
            "category",
            "region",
            "gateway",
            "src",
            "dst",
            "port",
            "signature",
            "acknowledged",
            "incident",
        ]

    def by_incident(self, queryset, name, value):
        # The incident's id, then its events through (incident, occurred_at).
        if value is None:
            return queryset
        return queryset.filter(incident_id__in=Incident.objects.filter(uuid=value).values("pk"))

    def search(self, queryset, name, value):
        return text_search(queryset, value)

    def by_range(self, queryset, name, value):
        span = TIME_RANGE_SPAN.get(value)
        if span is None:  # custom: since / until say it
            return queryset
        return queryset.filter(occurred_at__gte=timezone.now() - span)

    def by_gateway(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(gateway__name=value) if value else queryset

    def by_address(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(address_condition("src_ip" if name == "src" else "dst_ip", value))

    def by_port(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(Q(dst_port=value) | Q(src_port=value))


# --- Incidents ---------------------------------------------------------------------


def _rules(request):
    return CorrelationRule.objects.all()


class IncidentFilterSet(django_filters.FilterSet):
    """The incidents list's filters, shared by the page and the API."""

    q = django_filters.CharFilter(
        method="search", label=_("Search"), help_text=_("Title, summary or source IP")
    )
    status = django_filters.MultipleChoiceFilter(choices=IncidentStatus.choices, label=_("Status"))
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, label=_("Severity"))
    kind = django_filters.MultipleChoiceFilter(
        field_name="rule__kind", choices=RuleKind.choices, label=_("Kind")
    )
    rule = django_filters.ModelChoiceFilter(
        queryset=_rules, to_field_name="uuid", label=_("Rule"), empty_label=_("Any rule")
    )
    region = ByNameFilter(
        method="by_region",
        field_name="gateways__region__slug",
        to_field_name="slug",
        queryset=visible_regions,
        label=_("Region"),
    )
    gateway = django_filters.CharFilter(
        method="by_gateway", label=_("Gateway"), help_text=_("Gateway name")
    )
    assignee = django_filters.CharFilter(
        method="by_assignee",
        label=_("Assignee"),
        help_text=_("A user name, “me” or “none”"),
    )
    range = django_filters.ChoiceFilter(
        choices=[choice for choice in TimeRange.choices if choice[0] != TimeRange.CUSTOM],
        method="by_range",
        label=_("Active"),
        empty_label=_("Any time"),
    )
    since = django_filters.IsoDateTimeFilter(
        field_name="last_seen",
        lookup_expr="gte",
        label=_("Last seen from"),
        widget=DateTimeInput(),
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="first_seen",
        lookup_expr="lt",
        label=_("First seen before"),
        widget=DateTimeInput(),
    )

    class Meta:
        model = Incident
        fields = [
            "q",
            "status",
            "severity",
            "kind",
            "rule",
            "region",
            "gateway",
            "assignee",
            "range",
            "since",
            "until",
        ]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q(title__icontains=value) | Q(summary__icontains=value)
        with contextlib.suppress(ValueError):
            condition |= Q(src_ip=str(ipaddress.ip_address(value)))
        return queryset.filter(condition)

    def _through(self, **lookup):
        # Through the gateways link, as a subquery: an incident is never repeated.
        links = Incident.gateways.through.objects.filter(**lookup)
        return links.values("incident_id")

    def by_region(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(pk__in=self._through(gateway__region__in=list(value)))

    def by_gateway(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(pk__in=self._through(gateway__name=value))

    def by_assignee(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if value.lower() == "none":
            return queryset.filter(assignee__isnull=True)
        if value.lower() == "me":
            user = getattr(self.request, "user", None)
            return queryset.filter(assignee=user) if user else queryset.none()
        return queryset.filter(assignee__username=value)

    def by_range(self, queryset, name, value):
        span = TIME_RANGE_SPAN.get(value)
        if span is None:
            return queryset
        return queryset.filter(last_seen__gte=timezone.now() - span)


class CorrelationRuleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label=_("Search"), help_text=_("Name"))
    kind = django_filters.MultipleChoiceFilter(choices=RuleKind.choices, label=_("Kind"))

    class Meta:
        model = CorrelationRule
        fields = ["q", "kind"]

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(name__icontains=value) if value else queryset
