"""Forms of the archive pop-up (one enrollment or a selection) and of the Merge users page (SPEC §4.9)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from enrollments.filters import ActiveEnrollmentFilter
from enrollments.models import ResetTracking
from lms_admin.accounts.models import User
from lms_admin.web.api import MAX_ID

from .models import ArchiveMode
from .services import MergePreview, SharedCourses, preview_merge, shared_course_message

RESET_LABEL = "Reset the tracking of the training materials in the courses included in the learning plan"
# Under the reset checkbox (SPEC §13): reset everything, or only the materials changed since they were completed.
RESET_SCOPES = (("everything", "everything"), ("changed", "only what changed"))
CHECKED = ("1", "on", "true")
ACTIVE_FILTERS = tuple(ActiveEnrollmentFilter.base_filters)


class ArchiveOptionsForm(forms.Form):
    """The three options of SPEC §4.2. Unenroll is refused on a plan that shares a course with another plan."""

    mode = forms.ChoiceField(
        choices=ArchiveMode.choices,
        initial=ArchiveMode.REENROLL,
        error_messages={"invalid_choice": "Choose “Archive and re-enroll” or “Archive and unenroll”."},
    )
    reset_tracking = forms.BooleanField(required=False, label=RESET_LABEL)
    reset_scope = forms.ChoiceField(
        choices=RESET_SCOPES,
        required=False,
        initial="everything",
        label="What to reset",
        error_messages={"invalid_choice": "Choose what to reset: “everything” or “only what changed”."},
    )
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

    def clean_reset_tracking(self) -> bool:
        if str(self.data.get("reset_tracking") or "").lower() not in ("", *CHECKED):
            raise forms.ValidationError("The reset option was changed: tick the box or leave it empty.")
        return self.cleaned_data["reset_tracking"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "reset_tracking" in cleaned and "reset_scope" in cleaned:
            cleaned["reset_tracking"] = _reset_option(cleaned["reset_tracking"], cleaned.pop("reset_scope"))
        return cleaned

    def options(self) -> dict[str, Any]:
        """The options as the engine takes them: the cleaned data when valid, else the defaults shown.
        `reset_tracking` is "false", "true" or "changed" (SPEC §13)."""
        if self.is_bound and self.is_valid():
            return {name: value for name, value in self.cleaned_data.items() if name != "reset_scope"}
        if self.is_bound:
            mode = self.data.get("mode")
            checked = str(self.data.get("reset_tracking") or "").lower() in CHECKED
            return {
                "mode": mode if mode in ArchiveMode.values else ArchiveMode.REENROLL,
                "reset_tracking": _reset_option(checked, self.data.get("reset_scope")),
                "notify": bool(self.data.get("notify")),
            }
        return {"mode": ArchiveMode.REENROLL, "reset_tracking": ResetTracking.KEEP.value, "notify": True}


def _reset_option(checked: bool, scope: str | None) -> str:
    if not checked:
        return ResetTracking.KEEP.value
    return ResetTracking.CHANGED.value if scope == "changed" else ResetTracking.ALL.value


ROUND_CHANGED = "This form was changed: the round it showed is missing or not valid. Nothing was archived."


class ArchiveOneForm(ArchiveOptionsForm):
    """The single pop-up: the options and the round it showed (SPEC §4.10), so a repeat never archives the next one."""

    round = forms.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        widget=forms.HiddenInput,
        error_messages={name: ROUND_CHANGED for name in ("required", "invalid", "min_value", "max_value")},
    )

    def options(self) -> dict[str, Any]:
        return {name: value for name, value in super().options().items() if name != "round"}


# Everything a bulk pop-up's requests carry (its opening GET, preview GETs and the confirming POST): the selection,
# the Active filters of a select-all, the options, the request key and the CSRF token. Anything else was added by
# hand: a select-all must not quietly ignore a filter it does not know and archive more than was asked.
SELECTION_FIELDS = frozenset(
    {
        "select_all",
        "enrollment_ids",
        *ACTIVE_FILTERS,
        *ArchiveOptionsForm.base_fields,
        "request_key",
        "csrfmiddlewaretoken",
    }
)
MULTI_VALUED_FIELDS = frozenset({"enrollment_ids"})
ENROLLMENT_ID = re.compile(r"[1-9][0-9]{0,18}")  # ASCII digits only: int() would also take " 26", "2_6" and "٢٦"


def _values(data: Mapping, name: str) -> list[Any]:
    if hasattr(data, "getlist"):
        return data.getlist(name)
    value = data.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _shown(names: list[str]) -> str:
    return ", ".join(name[:40] for name in names[:5]) + (" …" if len(names) > 5 else "")


class Selection:
    """The enrollments a bulk pop-up is about: ids picked by hand, or "select all" with the Active filters.

    Built from GET or POST data; `error` says when the data was not what the pop-up sends (unknown fields, a field
    sent twice, ids that are not whole numbers). What the selection selects, within the limits, is
    `selected_enrollments`'s to say.
    """

    def __init__(self, data: Mapping) -> None:
        self.select_all = False
        self.filters: dict[str, str] = {}
        self.ids: list[int] = []
        self.error = self._tampering(data)
        if self.error:
            return
        self.select_all = data.get("select_all") == "1"
        if self.select_all:
            self.filters = {name: data.get(name) for name in ACTIVE_FILTERS if data.get(name)}
            return
        raw = [str(value) for value in _values(data, "enrollment_ids")]
        bad = [value for value in raw if not ENROLLMENT_ID.fullmatch(value) or int(value) > MAX_ID]
        if bad:
            self.error = (
                "The selection is not valid: enrollment ids must be numbers written in digits, not "
                f"{_shown([repr(value) for value in bad])}. Nothing was archived."
            )
            return
        self.ids = sorted({int(value) for value in raw})

    @staticmethod
    def _tampering(data: Mapping) -> str:
        """Why the data is not what a bulk pop-up sends ("" when it is)."""
        unknown = sorted(str(name) for name in data if name not in SELECTION_FIELDS)
        if unknown:
            noun = "fields" if len(unknown) > 1 else "field"
            return (
                f"This form was changed: it carries the unknown {noun} {_shown(unknown)} (a selection takes only the "
                f"Active list's filters: {', '.join(ACTIVE_FILTERS)}). Nothing was archived."
            )
        repeated = sorted(name for name in data if name not in MULTI_VALUED_FIELDS and len(_values(data, name)) > 1)
        if repeated:
            return f"This form was changed: {_shown(repeated)} sent more than once. Nothing was archived."
        if data.get("select_all") not in (None, "", "1"):
            return "This form was changed: select_all must be 1 or empty. Nothing was archived."
        return ""

    def arguments(self) -> dict[str, Any]:
        """The selection as `selected_enrollments` and `submit_archive` take it."""
        if self.select_all:
            return {"select_all_filters": self.filters}
        return {"enrollment_ids": self.ids}

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


# ---------------------------------------------------------------------------------------------- merge users

MAX_MERGED_USERS = 20


def _lookup(references: list[str]) -> tuple[dict[str, User], list[str]]:
    """Users by username or numeric id, in one query; also the references that match nobody."""
    ids = [int(ref) for ref in references if ref.isdigit() and int(ref) < 2**63]
    users = list(User.objects.filter(username__in=references) | User.objects.filter(pk__in=ids))
    by_reference: dict[str, User] = {}
    for user in users:
        by_reference[user.username] = user
        by_reference.setdefault(str(user.pk), user)
    return by_reference, [ref for ref in references if ref not in by_reference]


class MergePreviewForm(forms.Form):
    """A form that is valid only when the merge it names could run; `merge_preview()` says what it would do."""

    def preview_merge(self, kept: User, merged: list[User]) -> None:
        try:
            self.preview = preview_merge(kept=kept, merged=merged)
        except ValidationError as exc:
            raise ValidationError(exc.messages, code="invalid_selection") from exc

    def merge_preview(self) -> MergePreview:
        """What the merge would do (only after `is_valid()`)."""
        return self.preview


class MergeUsersForm(MergePreviewForm):
    """The kept user and the users merged into them, by username or id; valid only when a merge could run."""

    kept = forms.CharField(
        label="Kept user",
        max_length=150,
        help_text="Username or id of the profile that stays.",
    )
    merged = forms.CharField(
        label="Users to merge into the kept user",
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Usernames or ids, separated by commas, spaces or new lines.",
    )

    def clean_kept(self) -> User:
        reference = self.cleaned_data["kept"].strip()
        users, unknown = _lookup([reference])
        if unknown:
            raise ValidationError(f"No user with the username or id “{reference}”.", code="unknown_user")
        return users[reference]

    def clean_merged(self) -> list[User]:
        references = list(dict.fromkeys(r for r in re.split(r"[\s,;]+", self.cleaned_data["merged"]) if r))
        if not references:
            raise ValidationError("Name at least one user to merge.", code="invalid_selection")
        if len(references) > MAX_MERGED_USERS:
            raise ValidationError(f"Merge at most {MAX_MERGED_USERS} users at once.", code="invalid_selection")
        users, unknown = _lookup(references)
        if unknown:
            raise ValidationError(f"No user with the username or id: {', '.join(unknown)}.", code="unknown_user")
        return list({users[ref].pk: users[ref] for ref in references}.values())

    def clean(self) -> dict:
        cleaned = super().clean()
        kept, merged = cleaned.get("kept"), cleaned.get("merged")
        if kept is not None and merged is not None:
            self.preview_merge(kept, merged)
        return cleaned


class AdminMergeUsersForm(MergePreviewForm):
    """The Django admin action's intermediate page: which of the selected users is kept."""

    kept = forms.ModelChoiceField(queryset=User.objects.none(), widget=forms.RadioSelect, label="Kept user")

    def __init__(self, *args, users, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.users = list(users)
        self.fields["kept"].queryset = User.objects.filter(pk__in=[u.pk for u in self.users])

    def clean(self) -> dict:
        cleaned = super().clean()
        kept = cleaned.get("kept")
        if kept is not None:
            self.preview_merge(kept, [u for u in self.users if u.pk != kept.pk])
        return cleaned
