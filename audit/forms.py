"""Forms of the audit app: report schedules."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.models import ReportSchedule
from audit.report_schedules import next_run_after
from console.forms import ScopedModelForm

MAX_RECIPIENTS = 50


class RecipientsField(forms.CharField):
    """Email addresses, one per line or separated by commas or spaces, kept
    as a list (each checked, duplicates dropped, case kept)."""

    widget = forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"})

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [part for part in re.split(r"[\s,;]+", text) if part]

    def validate(self, value):
        if not value:
            raise ValidationError(_("Enter at least one email address."), code="required")
        bad = []
        for address in value:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                _("Not an email address: %(list)s.") % {"list": ", ".join(bad[:5])},
                code="invalid",
            )
        if len(value) > MAX_RECIPIENTS:
            raise ValidationError(
                _("At most %(n)d recipients; use a mailing list for more.") % {"n": MAX_RECIPIENTS},
                code="too_many",
            )

    def clean(self, value):
        addresses = super().clean(value)
        seen, unique = set(), []
        for address in addresses:
            if address.lower() not in seen:
                seen.add(address.lower())
                unique.append(address)
        return unique


class ReportScheduleForm(ScopedModelForm):
    recipients = RecipientsField(
        label=gettext_lazy("Recipients"),
        help_text=gettext_lazy(
            "Email addresses, one per line (or separated by commas), at most 50."
        ),
    )

    class Meta:
        model = ReportSchedule
        fields = ["name", "report", "period", "frequency", "recipients", "enabled"]

    def save(self, commit=True):
        schedule = super().save(commit=False)
        if schedule.pk is None and self.user is not None:
            schedule.created_by = self.user
        # A new schedule, or a new rhythm, starts from the next sending time.
        if schedule.next_run is None or {"frequency", "enabled"} & set(self.changed_data):
            schedule.next_run = next_run_after(schedule.frequency, timezone.now())
        if commit:
            schedule.save()
        return schedule
