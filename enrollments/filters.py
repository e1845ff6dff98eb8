"""Filters of the plan's Active enrollments list (SPEC §5), shared by the page, the API and select-all jobs."""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from lms_admin.accounts.models import UserStatus, user_status_q

from .models import EnrollmentStatus, LearningPlanEnrollment


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


class ActiveEnrollmentFilterForm(forms.Form):
    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("enrolled_from"), cleaned.get("enrolled_to")
        if start and end and start > end:
            self.add_error("enrolled_to", "Must be on or after the “Enrolled from” date.")
        return cleaned


class ActiveEnrollmentFilter(django_filters.FilterSet):
    """`search`, `status`, `user_status`, `enrolled_from`, `enrolled_to` (dates, inclusive, UTC days)."""

    search = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, username or e-mail"}),
    )
    status = django_filters.ChoiceFilter(
        choices=EnrollmentStatus.choices, label="Enrollment status", empty_label="Any status"
    )
    user_status = django_filters.ChoiceFilter(
        choices=UserStatus.choices, method="filter_user_status", label="User status", empty_label="Any user status"
    )
    enrolled_from = django_filters.DateFilter(
        method="filter_enrolled_from",
        label="Enrolled from",
        widget=forms.DateInput(attrs={"type": "date"}),
        input_formats=["%Y-%m-%d"],
    )
    enrolled_to = django_filters.DateFilter(
        method="filter_enrolled_to",
        label="Enrolled to",
        widget=forms.DateInput(attrs={"type": "date"}),
        input_formats=["%Y-%m-%d"],
    )

    class Meta:
        model = LearningPlanEnrollment
        fields: list[str] = []
        form = ActiveEnrollmentFilterForm

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Every word must match one of the learner's names, username or e-mail ("Ada Lovelace" finds her).
        for word in value.split()[:5]:
            queryset = queryset.filter(
                Q(user__username__icontains=word)
                | Q(user__first_name__icontains=word)
                | Q(user__last_name__icontains=word)
                | Q(user__email__icontains=word)
            )
        return queryset

    def filter_user_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(user_status_q(value, prefix="user__"))

    def filter_enrolled_from(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        return queryset.filter(enrolled_at__gte=_day_start(value))

    def filter_enrolled_to(self, queryset: QuerySet, name: str, value: datetime.date) -> QuerySet:
        if value == datetime.date.max:  # the last representable day: nothing can be enrolled after it
            return queryset
        return queryset.filter(enrolled_at__lt=_day_start(value + datetime.timedelta(days=1)))

    def clean_errors_message(self) -> str:
        """The form's errors as one sentence, naming each bad filter."""
        parts = []
        for field, errors in self.form.errors.items():
            label = self.form.fields[field].label if field in self.form.fields else field
            parts.append(f"{label} ({field}): {' '.join(str(e) for e in errors)}")
        return "Invalid filter — " + "; ".join(parts)
