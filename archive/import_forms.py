"""The upload form of an archive import (SPEC §12): the file and the three options the rows default to."""

from __future__ import annotations

from django import forms

from enrollments.models import ResetTracking

from .models import ArchiveMode


class ArchiveImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8 or Windows-1252, comma or semicolon, a header row.")
    mode = forms.ChoiceField(
        label="Mode", choices=ArchiveMode.choices, initial=ArchiveMode.REENROLL, widget=forms.RadioSelect
    )
    reset_tracking = forms.ChoiceField(
        label="Tracking",
        choices=[
            (ResetTracking.KEEP.value, "Keep the tracking of the training materials"),
            (ResetTracking.ALL.value, "Reset the tracking of the training materials in the plan's courses"),
            (ResetTracking.CHANGED.value, "Reset only the tracking of materials changed since it was completed"),
        ],
        initial=ResetTracking.KEEP.value,
        widget=forms.RadioSelect,
    )
    notify = forms.BooleanField(
        label="Send the notifications configured for these events", required=False, initial=True
    )
