from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from console.forms import ScopedModelForm
from gateways.models import Gateway, Region


class RegionForm(ScopedModelForm):
    class Meta:
        model = Region
        fields = ["name", "slug", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class GatewayForm(ScopedModelForm):
    class Meta:
        model = Gateway
        fields = [
            "name",
            "region",
            "public_address",
            "capacity_mbps",
            "software_version",
            "tags",
            "description",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "tags": _("Comma-separated, for example: edge, eu, pci."),
            "software_version": _("Filled in by the gateway once it reports."),
        }
