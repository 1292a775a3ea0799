from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from security import allowlist
from security.models import AllowlistEntry, SessionPolicy
from security.net import client_address, parse_network


class SessionPolicyForm(forms.ModelForm):
    class Meta:
        model = SessionPolicy
        fields = [
            "idle_timeout_minutes",
            "absolute_lifetime_hours",
            "max_sessions_per_user",
            "reauthentication_minutes",
        ]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        idle = cleaned.get("idle_timeout_minutes")
        lifetime = cleaned.get("absolute_lifetime_hours")
        if idle and lifetime and idle > lifetime * 60:
            self.add_error(
                "idle_timeout_minutes",
                _("The idle timeout cannot be longer than the absolute lifetime."),
            )
        return cleaned


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def lockout_message(address, when) -> str:
    if when is True:
        return str(
            _(
                "This change would lock you out: your address %(address)s would no longer be "
                "allowed to reach the console. Add an entry that covers it first."
            )
            % {"address": address or _("(unknown)")}
        )
    return str(
        _(
            "This change would lock you out at %(when)s, when the last entry covering your "
            "address %(address)s expires while others still restrict the console. Add an "
            "entry that covers it without that expiry first."
        )
        % {"address": address, "when": date_format(when, "DATETIME_FORMAT")}
    )


def check_self_lockout(request, rules: list[allowlist.Rule]) -> str | None:
    """The error to show when ``rules`` (the allowlist after a change) would
    shut out the admin making it; None when they keep access."""
    address = client_address(request)
    when = allowlist.lockout_time(address, rules)
    return None if when is False else lockout_message(address, when)


def rules_except(entry_pk: int | None) -> list[allowlist.Rule]:
    """Every unexpired entry from the database (not the cache), but one."""
    rules = []
    for pk, network, scope, expires in (
        AllowlistEntry.objects.unexpired()
        .exclude(pk=entry_pk)
        .values_list("pk", "network", "scope", "expires")
    ):
        try:
            rules.append(allowlist.Rule(parse_network(network), scope, expires, pk))
        except ValueError:
            continue
    return rules


class AllowlistEntryForm(forms.ModelForm):
    class Meta:
        model = AllowlistEntry
        fields = ["network", "scope", "comment", "expires"]
        widgets = {"expires": DateTimeInput()}

    def __init__(self, *args, user=None, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request
        self.fields["network"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "placeholder": "203.0.113.0/24"}
        )
        if request is not None:
            address = client_address(request)
            if address is not None:
                self.fields["network"].help_text = _(
                    "An address or a CIDR block: 203.0.113.0/24, 2001:db8::/48. "
                    "Your address is %(address)s."
                ) % {"address": address}

    def clean_network(self) -> str:
        value = self.cleaned_data["network"].strip()
        try:
            network = parse_network(value)
        except ValueError:
            raise forms.ValidationError(
                _("Enter an IPv4 or IPv6 address or CIDR block, such as 203.0.113.0/24."),
                code="invalid",
            ) from None
        return str(network)

    def clean_expires(self):
        expires = self.cleaned_data.get("expires")
        if expires is not None and expires <= timezone.now():
            raise forms.ValidationError(
                _("Choose a time in the future, or delete the entry."), code="past"
            )
        return expires

    def clean(self):
        cleaned = super().clean()
        if self.errors or self.request is None:
            return cleaned
        after = rules_except(self.instance.pk)
        after.append(
            allowlist.Rule(
                parse_network(cleaned["network"]),
                cleaned["scope"],
                cleaned.get("expires"),
                self.instance.pk,
            )
        )
        error = check_self_lockout(self.request, after)
        if error:
            raise forms.ValidationError(error, code="self_lockout")
        return cleaned

    def save(self, commit=True):
        if self.instance.pk is None and self.user is not None and self.user.is_authenticated:
            self.instance.created_by = self.user
        return super().save(commit=commit)


class SavedEventSearchForm(forms.Form):
    """Save the events list's current filter under a name (the user's own;
    saving an existing name again replaces its query)."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        error_messages={"required": _("Give the search a name.")},
    )
    query = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)
