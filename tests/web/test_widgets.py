"""The filter bars' widgets rendered in Python read exactly as Django's widget templates write them."""

from __future__ import annotations

from django import forms
from django.forms.renderers import DjangoTemplates

from lms_admin.web.widgets import FILTER_BAR_RENDERER

MARKUP = '<b title="x">O\'Hara & Co</b>'


class EveryWidget(forms.Form):
    search = forms.CharField(widget=forms.TextInput(attrs={"type": "search", "placeholder": MARKUP}))
    status = forms.ChoiceField(choices=[("", "Any"), ("a&b", MARKUP), (3, "Three")])
    grouped = forms.ChoiceField(choices=[("", "Any"), (MARKUP, [("x", "X"), ("y", "Y")])])
    several = forms.MultipleChoiceField(choices=[("a", "A"), ("b", "B")], widget=forms.SelectMultiple)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    count = forms.IntegerField(widget=forms.NumberInput(attrs={"min": 0, "disabled": True, "hidden": False}))


def render(form: forms.Form) -> list[str]:
    return [str(field) for field in form]


def test_each_widget_reads_as_its_template_with_every_value_escaped():
    data = {"search": MARKUP, "status": "a&b", "grouped": "y", "several": ["a", "b"], "day": "2026-03-01", "count": 7}
    for bound in (True, False):
        args = (data,) if bound else ()
        fast = render(EveryWidget(*args, renderer=FILTER_BAR_RENDERER))
        generic = render(EveryWidget(*args, renderer=DjangoTemplates()))
        assert fast == generic
    assert "<b title" not in "".join(fast)
