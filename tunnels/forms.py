from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from console.forms import QuickSelect, ScopedModelForm
from tunnels.models import Tunnel


class TunnelForm(ScopedModelForm):
    class Meta:
        model = Tunnel
        fields = [
            "name",
            "protocol",
            "gateway_a",
            "gateway_b",
            "remote_address",
            "remote_subnets",
            "mtu",
            "enabled",
            "tags",
            "description",
        ]
        # A fleet's worth of gateways: options written in Python (console/forms.py).
        widgets = {
            "gateway_a": QuickSelect,
            "gateway_b": QuickSelect,
            "remote_subnets": forms.Textarea(attrs={"rows": 2}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"tags": _("Comma-separated, for example: hub, pci.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway_b"].empty_label = _("None: the far end is a remote site")
        # Each option's label is the gateway's name: no region query per option.
        for name in ("gateway_a", "gateway_b"):
            self.fields[name].queryset = self.fields[name].queryset.only("pk", "name")
