from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models.api_keys import DOMAIN_LABELS, READ, SCOPE_DOMAINS, WRITE
from gateways.models import Region

SCOPE_CHOICES = [("", _("No access")), (READ, _("Read")), (WRITE, _("Read and write"))]
EXPIRY_CHOICES = [
    ("30", _("30 days")),
    ("90", _("90 days")),
    ("365", _("1 year")),
    ("never", _("Never")),
]


class ApiKeyForm(forms.Form):
    """Name, expiry and one read/write choice per domain."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What uses the key, so that you know which to revoke: “Nightly backup job”."),
    )
    expires_in = forms.ChoiceField(
        label=_("Expires"), choices=EXPIRY_CHOICES, initial="90", widget=forms.RadioSelect
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for domain in SCOPE_DOMAINS:
            self.fields[f"scope_{domain}"] = forms.ChoiceField(
                label=DOMAIN_LABELS[domain], choices=SCOPE_CHOICES, required=False
            )

    def scope_fields(self):
        return [self[f"scope_{domain}"] for domain in SCOPE_DOMAINS]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.scopes():
            raise forms.ValidationError(_("Give the key at least one scope: read or write."))
        return cleaned

    def scopes(self) -> dict[str, str]:
        return {
            domain: self.cleaned_data[f"scope_{domain}"]
            for domain in SCOPE_DOMAINS
            if self.cleaned_data.get(f"scope_{domain}")
        }

    def expires(self):
        value = self.cleaned_data["expires_in"]
        return None if value == "never" else timezone.now() + timedelta(days=int(value))


class ServiceAccountForm(forms.ModelForm):
    """A user for automation: no password, no sign-in, only API keys."""

    roles = forms.ModelMultipleChoiceField(
        label=_("Roles"),
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the account may do; each key may do at most this."),
    )
    regions = forms.ModelMultipleChoiceField(
        label=_("Regions"),
        queryset=Region.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Limit the account to these regions. None: its roles decide."),
    )

    class Meta:
        model = get_user_model()
        fields = ["username", "first_name"]
        labels = {"first_name": _("Description")}
        help_texts = {"username": _("Letters, digits and @/./+/-/_ only, e.g. “ci-deploy”.")}

    def save(self, commit=True):
        user = super().save(commit=False)
        user.is_service_account = True
        user.set_unusable_password()
        if commit:
            user.save()
            user.groups.set(self.cleaned_data["roles"])
            user.regions.set(self.cleaned_data["regions"])
        return user
