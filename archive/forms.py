"""Forms of the archive pop-up (one enrollment or a selection) and of deleting archived records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.conf import settings

from enrollments.filters import ActiveEnrollmentFilter

from .models import ArchiveMode
from .services import SharedCourses, shared_course_message

RESET_LABEL = "Reset the tracking of the training materials in the courses included in the learning plan"
ACTIVE_FILTERS = tuple(ActiveEnrollmentFilter.base_filters)


class ArchiveOptionsForm(forms.Form):
    """The three options of SPEC §4.2. Unenroll is refused on a plan that shares a course with another plan."""

    mode = forms.ChoiceField(
        choices=ArchiveMode.choices,
        initial=ArchiveMode.REENROLL,
        error_messages={"invalid_choice": "Choose “Archive and re-enroll” or “Archive and unenroll”."},
    )
    reset_tracking = forms.BooleanField(required=False, label=RESET_LABEL)
    notify = forms.BooleanField(required=False, initial=True, label="Send notifications")

    def __init__(self, data: Mapping | None = None, *, shares: SharedCourses) -> None:
        # Unbound until an option was sent: the first render shows the defaults (notifications on).
        super().__init__(data if data is not None and "mode" in data else None)
        self.shares = shares

    @property
    def shared_message(self) -> str:
        return shared_course_message(self.shares) if self.shares else ""

    def clean_mode(self) -> str:
        mode = self.cleaned_data["mode"]
        if mode == ArchiveMode.UNENROLL and self.shares:
            raise forms.ValidationError(self.shared_message)
        return mode

    def options(self) -> dict[str, Any]:
        """The options as the engine takes them: the cleaned data when valid, else the defaults shown."""
        if self.is_bound and self.is_valid():
            return dict(self.cleaned_data)
        if self.is_bound:
            mode = self.data.get("mode")
            return {
                "mode": mode if mode in ArchiveMode.values else ArchiveMode.REENROLL,
                "reset_tracking": bool(self.data.get("reset_tracking")),
                "notify": bool(self.data.get("notify")),
            }
        return {"mode": ArchiveMode.REENROLL, "reset_tracking": False, "notify": True}


class Selection:
    """The enrollments a bulk pop-up is about: ids picked by hand, or "select all" with the Active filters.

    Built from GET or POST data; `error` says what is wrong with a tampered or empty selection.
    """

    def __init__(self, data: Mapping) -> None:
        self.select_all = data.get("select_all") == "1"
        self.filters: dict[str, str] = {}
        self.ids: list[int] = []
        self.error = ""
        if self.select_all:
            self.filters = {name: data.get(name) for name in ACTIVE_FILTERS if data.get(name)}
            return
        raw = data.getlist("enrollment_ids") if hasattr(data, "getlist") else data.get("enrollment_ids", [])
        try:
            self.ids = sorted({int(value) for value in raw})
        except (TypeError, ValueError):
            self.error = "The selection is not valid: enrollment ids must be numbers. Nothing was archived."
            return
        if not self.ids:
            self.error = "No enrollment selected."
        elif len(self.ids) > settings.ARCHIVE_MAX_MANUAL_SELECTION:
            self.error = (
                f"{len(self.ids)} enrollments were picked by hand; at most {settings.ARCHIVE_MAX_MANUAL_SELECTION} "
                f"can be. Use “Select all” with filters for up to {settings.ARCHIVE_MAX_SELECT_ALL}."
            )

    def hidden_fields(self) -> list[tuple[str, Any]]:
        """(name, value) pairs that carry the selection through the pop-up's form."""
        if self.select_all:
            return [("select_all", "1"), *self.filters.items()]
        return [("enrollment_ids", pk) for pk in self.ids]

    def query(self) -> str:
        from django.http import QueryDict

        query = QueryDict(mutable=True)
        for name, value in self.hidden_fields():
            query.appendlist(name, str(value))
        return query.urlencode()
