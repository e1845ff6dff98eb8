"""The Archived view's filter form; the filtering itself is `selectors.filter_archived` (shared with the API)."""

from __future__ import annotations

from django import forms

from lms_admin.accounts.models import UserStatus

from .selectors import archivers_of_plan


class ArchivedFilterForm(forms.Form):
    """Renders the filters of SPEC §5 (archive period, archived by, user status as frozen, search)."""

    search = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or username"}),
    )
    archived_from = forms.DateField(
        required=False, label="Archived from", widget=forms.DateInput(attrs={"type": "date"})
    )
    archived_to = forms.DateField(required=False, label="Archived to", widget=forms.DateInput(attrs={"type": "date"}))
    archived_by = forms.ChoiceField(required=False, label="Archived by")
    user_status = forms.ChoiceField(
        required=False, label="User status (when archived)", choices=[("", "Any user status"), *UserStatus.choices]
    )

    def __init__(self, data, *, learning_plan_id: int) -> None:
        super().__init__(data)
        archivers = archivers_of_plan(learning_plan_id)
        self.fields["archived_by"].choices = [("", "Anyone"), *((str(pk), name) for pk, name in archivers)]
