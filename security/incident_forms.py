"""Forms of the incident page and the correlation rules settings page."""

from __future__ import annotations

import uuid

from django import forms
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from console.forms import QuickSelect
from security.choices import IncidentStatus, RuleKind
from security.incidents import NOTE_MAX_LENGTH, assignable_users
from security.models import CorrelationRule


class IncidentStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=IncidentStatus.choices)
    note = forms.CharField(
        label=_("Why (optional)"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. blocked at the edge, scanner")}),
    )


class _ChoicesInOneQuery(ModelChoiceIterator):
    """The choices read with one plain query. Django's iterator reads them
    through ``QuerySet.iterator()``, which on PostgreSQL opens a server-side
    cursor (``DECLARE … WITH HOLD``, ``FETCH``, ``CLOSE``: three round trips
    and a materialised result) — meant for huge lists, not a few users."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class _AssigneeField(forms.ModelChoiceField):
    iterator = _ChoicesInOneQuery


class IncidentAssigneeForm(forms.Form):
    assignee = _AssigneeField(
        label=_("Assignee"),
        queryset=None,
        required=False,
        empty_label=_("Nobody"),
        to_field_name="username",
        widget=QuickSelect,  # every assignable user: options written in Python
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()


class IncidentNoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"),
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("What you found, what you did")}),
    )
    # Made when the form is shown: a resubmitted form (a retry, a double
    # click) adds its note once.
    token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", uuid.uuid4())


class CorrelationRuleForm(forms.ModelForm):
    class Meta:
        model = CorrelationRule
        fields = [
            "name",
            "kind",
            "enabled",
            "description",
            "window_seconds",
            "threshold",
            "min_events",
            "min_severity",
            "severity_raise",
            "cooldown_seconds",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk and self.instance.builtin:
            # A built-in rule keeps its kind: tune it, or disable it.
            self.fields["kind"].disabled = True

    def clean(self):
        data = super().clean()
        kind, threshold = data.get("kind"), data.get("threshold")
        counted = kind in (RuleKind.DISTRIBUTED_SCAN, RuleKind.BRUTE_FORCE)
        if counted and threshold is not None and (threshold != int(threshold) or threshold < 2):
            what = _("gateways") if kind == RuleKind.DISTRIBUTED_SCAN else _("failed logins")
            self.add_error(
                "threshold", _("A whole number of %(what)s, at least 2.") % {"what": what}
            )
        return data
