"""Forms of the containment actions (security.containment): block a source,
quarantine a gateway. Both show what will happen and are the confirmation
step: nothing is done before the form is submitted (with a recent password)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from console.forms import QuickSelect
from security import containment
from security.models import Incident

EXPIRY_CHOICES = (
    ("1h", _("1 hour")),
    ("24h", _("24 hours")),
    ("7d", _("7 days")),
    (containment.EXPIRY_CUSTOM, _("Until a moment…")),
    (containment.EXPIRY_NEVER, _("Never (until lifted)")),
)
FLEET = "fleet"


class ExpiryMixin(forms.Form):
    expires = forms.ChoiceField(
        label=_("Expires"), choices=EXPIRY_CHOICES, initial="24h", widget=forms.RadioSelect
    )
    expires_at = forms.DateTimeField(
        label=_("Expires at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In the console's time zone. Only with “Until a moment…”."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown on the action, the incident timeline and the rule's comment."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires_at"].help_text = _("In %(tz)s. Only with “Until a moment…”.") % {
            "tz": timezone.get_current_timezone_name()
        }

    def clean_expiry(self, cleaned) -> None:
        if "incident" in self.errors:
            # A hidden field: say it where the form shows it.
            self.add_error(None, _("That incident does not exist or is not yours to see."))
        if "expires" not in cleaned:
            return
        try:
            cleaned["expires_on"] = containment.expiry_from(
                cleaned["expires"], cleaned.get("expires_at")
            )
        except containment.ContainmentRefused as refused:
            for field, messages in refused.errors.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)


class IncidentField(forms.ModelChoiceField):
    """An incident the user may change (hidden: it comes from the page)."""

    def __init__(self, user, **kwargs):
        super().__init__(
            queryset=Incident.objects.restrict(user, "view"),
            to_field_name="uuid",
            required=False,
            widget=forms.HiddenInput,
            **kwargs,
        )


class BlockSourceForm(ExpiryMixin):
    cidr = forms.CharField(
        label=_("Source address or network"),
        max_length=49,
        help_text=_("An address (203.0.113.9) or a network (203.0.113.0/24)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    region = forms.ChoiceField(label=_("Where"))
    confirm_wide = forms.BooleanField(
        label=_("I mean this whole network"),
        required=False,
        help_text=_("Needed for networks wider than /8 (IPv4) or /32 (IPv6)."),
    )
    field_order = ["cidr", "region", "expires", "expires_at", "confirm_wide", "reason"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.regions = {str(r.uuid): r for r in containment.regions_to_act_in(user)}
        choices = []
        if containment.fleet_wide_allowed(user):
            choices.append((FLEET, _("Every gateway (the whole fleet)")))
        choices.extend(
            (key, _("Gateways in %(r)s") % {"r": r.name}) for key, r in self.regions.items()
        )
        self.fields["region"].choices = choices
        self.fields["incident"] = IncidentField(user)

    def clean(self):
        cleaned = super().clean()
        self.clean_expiry(cleaned)
        if "cidr" in cleaned:
            try:
                cleaned["network"] = containment.parse_source(
                    cleaned["cidr"], cleaned.get("confirm_wide", False)
                )
            except containment.ContainmentRefused as refused:
                for field, messages in refused.errors.items():
                    for message in messages:
                        self.add_error(field if field in self.fields else None, message)
        region = cleaned.get("region")
        cleaned["region_obj"] = None if region in (None, FLEET) else self.regions.get(region)
        return cleaned

    def block_request(self) -> containment.BlockRequest:
        data = self.cleaned_data
        return containment.BlockRequest(
            cidr=str(data["network"]),
            region=data["region_obj"],
            expires_at=data["expires_on"],
            incident=data.get("incident"),
            reason=data.get("reason", ""),
            confirm_wide=data.get("confirm_wide", False),
        )


class QuarantineForm(ExpiryMixin):
    gateway = forms.ModelChoiceField(
        label=_("Gateway"),
        queryset=None,
        to_field_name="uuid",
        empty_label=None,
        widget=QuickSelect,
    )
    field_order = ["gateway", "expires", "expires_at", "reason"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway"].queryset = containment.gateways_to_quarantine(user)
        self.fields["expires"].initial = containment.EXPIRY_NEVER
        self.fields["incident"] = IncidentField(user)

    def clean(self):
        cleaned = super().clean()
        self.clean_expiry(cleaned)
        return cleaned
