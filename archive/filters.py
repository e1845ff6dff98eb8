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
from django.db.models import F, QuerySet

from enrollments.filters import AnyOf
from lms_admin.accounts.models import UserStatus
from lms_admin.web.api import MAX_ID
from lms_admin.web.widgets import FILTER_BAR_RENDERER

from .models import ArchivedPlanEnrollment
from .planner import rows_planned_without

# A search matching at most this many records of the list filters the list by their ids; more are found by the
# index-only walk in date order (see filter_search).
SEARCH_IDS_MAX = 2_000
# The newest records a search looks at first, and how many of them must match for the list to be read in date
# order directly: one page's worth.
PROBE_ROWS = 1_000
PROBE_MATCHES = 25
# pg_trgm finds nothing shorter than a trigram through its index: a shorter term is checked on the rows.
TRIGRAM = 3
# Every plan but a bitmap scan (see _ids_through_trigram_index).
NOT_BITMAP_PLANS = ("seqscan", "indexscan", "indexonlyscan")


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


def _containing(records: QuerySet, terms: list[str]) -> QuerySet:
    """Records whose frozen names (`search_names`, in capitals) contain every term (given in capitals)."""
    for term in terms:
        records = records.filter(search_names__contains=term)
    return records


def _dense_among_newest(records: QuerySet, terms: list[str]) -> bool:
    """Whether a page's worth of the newest PROBE_ROWS records match every term (read in one index range, ~2 ms).

    Python's upper() differs from PostgreSQL's in rare letters (ß): this only chooses how to search, not what."""
    newest = records.order_by("-archived_at", "-id").values_list("user_username", "user_first_name", "user_last_name")
    found = 0
    for names in newest[:PROBE_ROWS]:
        text = " ".join(names).upper()
        found += all(term in text for term in terms)
        if found >= PROBE_MATCHES:
            return True
    return False


def _ids_through_trigram_index(matching: QuerySet) -> list[int]:
    """Ids of up to SEARCH_IDS_MAX + 1 matching records, read through the trigram index whatever PostgreSQL guesses.

    Planned freely, "any SEARCH_IDS_MAX + 1 matching records" is a walk that stops early, if the guess of how many
    match is right: for "First1 Last2" it walked 300,000 records to find none. A bitmap scan of the trigram index costs
    what the words' trigrams cost (0.8 ms there), so that is the only plan left open, for this statement alone."""
    ids = matching.order_by().values_list("pk", flat=True)[: SEARCH_IDS_MAX + 1]
    return [pk for (pk,) in rows_planned_without(ids, NOT_BITMAP_PLANS)]


class ArchivedFilterForm(forms.Form):
    """Checks that span two filters: the period's order and its representable end."""

    default_renderer = FILTER_BAR_RENDERER  # the widgets without a template per option

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
        """Every word (up to five) must be part of the frozen username, first or last name, in any case.

        The list is newest first, and which plan PostgreSQL picks for "the newest 25 matching" depends on a guess
        of how many records match, spread evenly over the dates; a wrong guess walked a 300,000-record plan in date
        order for 1.5 s. So the search decides itself, on facts: when a page's worth of the newest 1,000 records
        match, the walk in date order meets a page at once; otherwise the matching records are looked up through
        the trigram index (ape_names_trgm) and, when at most SEARCH_IDS_MAX match, the list is filtered by their
        ids. More matches, none of them recent: the walk in date order after all, an index-only scan of the plan's
        date index that tests the `search_names` it carries (the view pages with `ids_first`): 100,000 entries
        in ~20 ms, where testing an id list of 11,000 cost three times that — hence SEARCH_IDS_MAX at 2,000."""
        terms = [term.upper() for term in value.split()[:5]]
        if not terms:
            return queryset
        matching = _containing(queryset, terms)
        indexed = [term for term in terms if len(term) >= TRIGRAM]
        if not indexed or _dense_among_newest(queryset, terms):
            return matching
        ids = _ids_through_trigram_index(_containing(queryset, indexed))
        if len(ids) > SEARCH_IDS_MAX:
            return matching
        short = [term for term in terms if len(term) < TRIGRAM]
        return _containing(queryset.filter(AnyOf(F("pk"), ids)), short)

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
