"""console.forms: the selects that write their options in Python."""

from __future__ import annotations

import pytest
from django import forms
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from console.forms import QuickSelect, QuickSelectMultiple

HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"
CHOICES = [
    ("", gettext_lazy("Nobody")),
    ("alice", "Alice"),
    ("b&b", HOSTILE),
    (3, "three"),
    ("safe", mark_safe("<b>safe</b>")),
]
GROUPED = [
    ("", "Any"),
    ("Europe <west>", [("eu-1", "eu-1"), ("eu-2", "<eu-2>")]),
    ("Asia", [("as-1", "as-1")]),
    ("loose", "Loose"),
]


@pytest.mark.parametrize(
    ("choices", "value", "attrs"),
    [
        (CHOICES, "alice", None),
        (CHOICES, None, {"id": "id_who", "aria-describedby": "id_who_helptext"}),
        (CHOICES, "b&b", {"required": True, "disabled": False, "data-x": HOSTILE}),
        (CHOICES, 3, {"class": mark_safe("a&b")}),
        (GROUPED, "eu-2", {"id": "id_where"}),
        ([], None, None),
    ],
)
def test_quick_select_writes_what_django_select_writes(choices, value, attrs):
    ours = QuickSelect(choices=choices).render("who", value, attrs)
    django = forms.Select(choices=choices).render("who", value, attrs)
    assert ours == django


@pytest.mark.parametrize("value", [["alice", "b&b"], [], None, ["eu-1", "as-1"]])
def test_quick_select_multiple_writes_what_django_writes(value):
    for choices in (CHOICES, GROUPED):
        ours = QuickSelectMultiple(choices=choices).render("many", value, {"id": "id_many"})
        django = forms.SelectMultiple(choices=choices).render("many", value, {"id": "id_many"})
        assert ours == django


def test_hostile_labels_and_values_are_escaped():
    html = QuickSelect(choices=[(HOSTILE, HOSTILE)]).render("x<y", HOSTILE, {"data-q": '"'})
    assert "<script>" not in html and 'name="x&lt;y"' in html
    assert 'data-q="&quot;"' in html and "selected" in html


def test_a_bound_form_field_renders_the_same_as_with_django_select():
    class Ours(forms.Form):
        who = forms.ChoiceField(choices=CHOICES, widget=QuickSelect, help_text="pick one")

    class Theirs(forms.Form):
        who = forms.ChoiceField(choices=CHOICES, help_text="pick one")

    data = {"who": "nobody-like-this"}  # invalid: aria-invalid is added
    ours, theirs = Ours(data), Theirs(data)
    assert not ours.is_valid() and not theirs.is_valid()
    assert str(ours["who"]) == str(theirs["who"])
    assert 'aria-invalid="true"' in str(ours["who"])
