"""Filters of the Compliance page's per-learner list (SPEC §11), shared by the page and its CSV: plan, state, search
and user. Errors name the filter; the queryset must carry `with_compliance`'s annotations."""

from __future__ import annotations

from collections.abc import Iterable

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from enrollments.models import LearningPlanEnrollment

from .compliance import ComplianceState
from .filters import IdFilter


class ComplianceFilterSet(django_filters.FilterSet):
    """`learning_plan` (one of the caller's plans), `state` (a compliance state), `search` (username, first or last
    name: every word must match), `user` (a user id)."""

    search = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or username"}),
    )
    learning_plan = django_filters.ChoiceFilter(
        field_name="learning_plan_id",
        label="Learning plan",
        empty_label="Every plan",
        error_messages={"invalid_choice": "learning_plan must be the id of one of your learning plans."},
    )
    state = django_filters.ChoiceFilter(
        field_name="compliance_state",
        choices=ComplianceState.choices,
        label="State",
        empty_label="Any state",
        error_messages={"invalid_choice": f"state must be one of {', '.join(ComplianceState.values)}."},
    )
    user = IdFilter(
        field_name="user_id",
        label="User id",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 8}),
        error_messages={"invalid": "user must be a user id, not %(value)r.", "range": "user is out of range."},
    )

    class Meta:
        model = LearningPlanEnrollment
        fields: list[str] = []

    def __init__(self, data=None, queryset=None, *, plans: Iterable[tuple[int, str]] = (), **kwargs) -> None:
        """`plans`: (id, title) of the plans the caller sees, the "Learning plan" choices."""
        super().__init__(data, queryset, **kwargs)
        self.filters["learning_plan"].extra["choices"] = [(str(pk), title) for pk, title in plans]

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Every word (up to five) must be part of the learner's username, first or last name, in any case."""
        for term in value.split()[:5]:
            queryset = queryset.filter(
                Q(user__username__icontains=term)
                | Q(user__first_name__icontains=term)
                | Q(user__last_name__icontains=term)
            )
        return queryset

    def error_message(self) -> str:
        """The first error, in the order of the filters (each names its filter)."""
        errors = self.form.errors
        for name in (*self.form.fields, *errors):
            if errors.get(name):
                return errors[name][0]
        return ""
