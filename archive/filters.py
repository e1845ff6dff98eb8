"""Filters of a plan's Archived enrollments list (SPEC §5), shared by the page, its CSV and the API.

Errors name the filter ("archived_from must be a date (YYYY-MM-DD), not 'yesterday'."): `selectors.filter_archived`
raises the first one as ValidationError(code="invalid_request").
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import CharField, Func, QuerySet

from lms_admin.accounts.models import UserStatus
from lms_admin.web.api import MAX_ID

from .models import ArchivedPlanEnrollment


class FrozenNames(Func):
    """The frozen username, first and last name in capitals: the expression the trigram index ape_names_trgm
    covers, so a search stays an index lookup at a million records (a term never spans two names: terms
    are split on spaces)."""

    template = "upper(user_username || ' ' || user_first_name || ' ' || user_last_name)"
    arity = 0
    output_field = CharField()


class IsoDateField(forms.Field):
    """A day as YYYY-MM-DD text or a `date` (the API hands over parsed dates); a datetime is not a day."""

    default_error_messages = {"invalid": "Enter a date (YYYY-MM-DD).", "not_a_day": "Enter a date (YYYY-MM-DD)."}

    def to_python(self, value) -> datetime.date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.datetime):
            raise ValidationError(self.error_messages["not_a_day"], code="not_a_day")
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": value}) from exc


class IdField(forms.Field):
    """An object id: a whole number (int or text) that fits a bigint."""

    default_error_messages = {"invalid": "Enter an id.", "range": "The id is out of range."}

    def to_python(self, value) -> int | None:
        if value in self.empty_values:
            return None
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid", params={"value": value}) from exc
        if not 1 <= number <= MAX_ID:
            raise ValidationError(self.error_messages["range"], code="range")
        return number


class IsoDateFilter(django_filters.Filter):
    field_class = IsoDateField


class IdFilter(django_filters.Filter):
    field_class = IdField


def _date_errors(name: str) -> dict[str, str]:
    return {
        "invalid": f"{name} must be a date (YYYY-MM-DD), not %(value)r.",
        "not_a_day": f"{name} must be a date (YYYY-MM-DD).",
    }


def _start_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


class ArchivedFilterForm(forms.Form):
    """Checks that span two filters: the period's order and its representable end."""

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("archived_from"), cleaned.get("archived_to")
        if start and end and start > end:
            self.add_error("archived_from", "archived_from must not be after archived_to.")
        elif end == datetime.date.max:  # the day after it, where the period ends, does not exist
            self.add_error("archived_to", "archived_to is out of range.")
        return cleaned


class ArchivedFilterSet(django_filters.FilterSet):
    """`search` (frozen username, first or last name), `archived_from`, `archived_to` (inclusive UTC days),
    `archived_by` (the archiving user's id), `user_status` (as frozen at archive time)."""

    search = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or username"}),
        error_messages={"null_characters_not_allowed": "search must not contain NUL characters."},
    )
    archived_from = IsoDateFilter(
        method="filter_archived_from",
        label="Archived from",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages=_date_errors("archived_from"),
    )
    archived_to = IsoDateFilter(
        method="filter_archived_to",
        label="Archived to",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages=_date_errors("archived_to"),
    )
    archived_by = IdFilter(
        field_name="archived_by_id",
        label="Archived by",
        widget=forms.Select,
        error_messages={
            "invalid": "archived_by must be a user id, not %(value)r.",
            "range": "archived_by is out of range.",
        },
    )
    user_status = django_filters.ChoiceFilter(
        choices=UserStatus.choices,
        label="User status (when archived)",
        empty_label="Any user status",
        error_messages={"invalid_choice": f"user_status must be one of {', '.join(UserStatus.values)}."},
    )

    class Meta:
        model = ArchivedPlanEnrollment
        fields: list[str] = []
        form = ArchivedFilterForm

    def __init__(self, data=None, queryset=None, *, archivers: Iterable[tuple[int, str]] = (), **kwargs) -> None:
        """`archivers`: (id, username) of the plan's archivers, the "Archived by" choices shown."""
        super().__init__(data, queryset, **kwargs)
        self.form.fields["archived_by"].widget.choices = [("", "Anyone"), *((str(pk), name) for pk, name in archivers)]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Every word (up to five) must be part of the frozen username, first or last name, in any case."""
        terms = value.split()[:5]
        if not terms:
            return queryset
        queryset = queryset.alias(frozen_names=FrozenNames())
        for term in terms:
            queryset = queryset.filter(frozen_names__contains=term.upper())
        return queryset

    def filter_archived_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(archived_at__gte=_start_of(value))

    def filter_archived_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(archived_at__lt=_start_of(value + datetime.timedelta(days=1)))

    def error_message(self) -> str:
        """The first error, in the order of the filters (each names its filter)."""
        errors = self.form.errors
        for name in (*self.form.fields, *errors):
            if errors.get(name):
                return errors[name][0]
        return ""
