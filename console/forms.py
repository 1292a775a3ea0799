from __future__ import annotations

from django import forms


class ScopedModelForm(forms.ModelForm):
    """A model form whose dropdowns offer only what the user may see: every
    choice field over a restricted queryset goes through ``restrict(user)``."""

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for field in self.fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is not None and hasattr(queryset, "restrict"):
                field.queryset = queryset.restrict(user, "view")
