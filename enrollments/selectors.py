"""Reads of live learning data, starting from who may see what (SPEC §2).

Every plan page, form, download and API endpoint of the live data starts from `plans_visible_to` /
`get_plan_for`; the Active enrollments list (page, API, select-all jobs) filters through
`filter_plan_enrollments`.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, IntegerField, OrderBy, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from lms_admin.accounts import roles
from lms_admin.accounts.models import User

from .filters import ActiveEnrollmentFilter
from .models import IssuedCertificate, LearningPlan, LearningPlanCourse, LearningPlanEnrollment

# ---------------------------------------------------------------------------------------------- visibility


def sees_plans(user: User) -> bool:
    """Whether the user has the learning plans section at all (superadmins and power users)."""
    return roles.is_superadmin(user) or roles.is_power_user(user)


def plans_visible_to(user: User) -> QuerySet[LearningPlan]:
    """Superadmins: every plan. Power users: the plans assigned to them. Anyone else: none."""
    if roles.is_superadmin(user):
        return LearningPlan.objects.all()
    if roles.is_power_user(user):
        return LearningPlan.objects.filter(power_users=user)
    return LearningPlan.objects.none()


def require_plans_section(user: User) -> None:
    """403 for a logged-in user without the plans section (no admin role, or a manager only)."""
    roles.require_admin_role(user)
    if not sees_plans(user):
        raise PermissionDenied("Learning plans are for superadmins and power users.")


def get_plan_for(user: User, plan_id: int) -> LearningPlan:
    """The plan, if the user may see it. No admin role or no plans section → 403; not visible → 404."""
    require_plans_section(user)
    plan = plans_visible_to(user).filter(pk=plan_id).first()
    if plan is None:
        raise Http404("No such learning plan.")
    return plan


def get_certificate_for(user: User, certificate_id: int) -> IssuedCertificate:
    """A rendered live certificate of a plan the user sees. No admin role → 403; otherwise not visible → 404."""
    roles.require_admin_role(user)
    certificate = (
        IssuedCertificate.objects.filter(
            pk=certificate_id, learning_plan__in=plans_visible_to(user), rendered_at__isnull=False
        )
        .exclude(file="")
        .select_related("user", "learning_plan")
        .first()
    )
    if certificate is None:
        raise Http404("No such certificate.")
    return certificate


# ---------------------------------------------------------------------------------------------- plans list


def _count_per_plan(model) -> QuerySet:
    """A subquery counting `model`'s rows of the outer plan (`learning_plan` = the outer row)."""
    return (
        model.objects.filter(learning_plan=OuterRef("pk"))
        .order_by()
        .values("learning_plan")
        .annotate(n=Count("*"))
        .values("n")
    )


def plans_for_list(user: User, *, search: str = "") -> QuerySet[LearningPlan]:
    """The visible plans with `courses_count` and `active_count` (one subquery each, no row multiplication)."""
    plans = plans_visible_to(user)
    for word in search.split()[:5]:
        plans = plans.filter(Q(title__icontains=word) | Q(code__icontains=word))
    courses = _count_per_plan(LearningPlanCourse)
    active = _count_per_plan(LearningPlanEnrollment)
    return plans.annotate(
        courses_count=Coalesce(Subquery(courses, output_field=IntegerField()), Value(0)),
        active_count=Coalesce(Subquery(active, output_field=IntegerField()), Value(0)),
    )


# ---------------------------------------------------------------------------------------------- active list


def filter_plan_enrollments(plan: LearningPlan, filters: Mapping) -> QuerySet[LearningPlanEnrollment]:
    """The plan's enrollments matching the Active list's filters, newest first.

    `filters` may hold `search`, `status`, `user_status`, `enrolled_from`, `enrolled_to` (other keys are
    ignored). A bad value raises ValidationError(code="invalid_request") naming the filter.
    """
    filterset = ActiveEnrollmentFilter(data=filters, queryset=LearningPlanEnrollment.objects.filter(learning_plan=plan))
    if not filterset.is_valid():
        raise ValidationError(filterset.clean_errors_message(), code="invalid_request")
    return filterset.qs.order_by("-enrolled_at", "-id")


# Sort keys of the Active list: the table's column names → model fields (the id breaks ties).
ENROLLMENT_SORTS: dict[str, tuple[str, ...]] = {
    "user": ("user__first_name", "user__last_name", "user__username"),
    "username": ("user__username",),
    "status": ("status",),
    "enrolled_at": ("enrolled_at",),
    "validity": ("validity_end",),
    "completed_at": ("completed_at",),
    "round": ("round",),
}
NULLABLE_SORT_FIELDS = {"validity_end", "completed_at"}
DEFAULT_ENROLLMENT_SORT = "-enrolled_at"
# Sorts that the (learning_plan, enrolled_at, id) index serves: deep pages use a keyset there.
KEYSET_SORTS = {"enrolled_at", "-enrolled_at"}
# OFFSET reads and throws away every earlier row: numbered pages stop at this many rows.
MAX_NUMBERED_ROWS = 10_000


def enrollment_ordering(sort: str) -> list[OrderBy]:
    descending = sort.startswith("-")
    exprs = []
    for name in (*ENROLLMENT_SORTS[sort.lstrip("-")], "id"):
        # NULLS LAST only on nullable columns: on enrolled_at it would stop PostgreSQL using the index.
        nulls_last = True if name in NULLABLE_SORT_FIELDS else None
        exprs.append(F(name).desc(nulls_last=nulls_last) if descending else F(name).asc(nulls_last=nulls_last))
    return exprs


@dataclass(frozen=True)
class Cursor:
    """A row's position in the enrollment-date order: `<enrolled_at ISO>|<id>` in URLs."""

    enrolled_at: datetime.datetime
    id: int

    @classmethod
    def parse(cls, text: str) -> Cursor:
        try:
            stamp, _, pk = text.partition("|")
            enrolled_at = datetime.datetime.fromisoformat(stamp.strip())
            if enrolled_at.tzinfo is None:
                raise ValueError("naive")
            return cls(enrolled_at, int(pk))
        except ValueError as exc:
            raise ValidationError("That page link is not valid any more.", code="invalid_request") from exc

    @classmethod
    def of(cls, enrollment: LearningPlanEnrollment) -> Cursor:
        return cls(enrollment.enrolled_at, enrollment.pk)

    def __str__(self) -> str:
        return f"{self.enrolled_at.isoformat()}|{self.id}"


def _after(cursor: Cursor, descending: bool) -> Q:
    """Rows that come after `cursor` in the given direction (the redundant bound lets the index range-scan)."""
    t, pk = cursor.enrolled_at, cursor.id
    if descending:
        return Q(enrolled_at__lte=t) & (Q(enrolled_at__lt=t) | Q(id__lt=pk))
    return Q(enrolled_at__gte=t) & (Q(enrolled_at__gt=t) | Q(id__gt=pk))


def _before(cursor: Cursor, descending: bool) -> Q:
    return _after(cursor, not descending)


def _up_to(cursor: Cursor, descending: bool) -> Q:
    """Rows before `cursor`, and the cursor's row itself."""
    t, pk = cursor.enrolled_at, cursor.id
    if descending:
        return Q(enrolled_at__gte=t) & (Q(enrolled_at__gt=t) | Q(id__gte=pk))
    return Q(enrolled_at__lte=t) & (Q(enrolled_at__lt=t) | Q(id__lte=pk))


def counts_exactly(filters: Mapping) -> bool:
    """Whether counting the filtered list is cheap: filters on the learner (a join per row) get a capped count."""
    return not (str(filters.get("search") or "").strip() or filters.get("user_status"))


def _count(queryset: QuerySet, cap: int | None) -> int:
    return queryset.count() if cap is None else queryset[: cap + 1].count()


def _count_before(queryset: QuerySet, before: Q, rest: Q, total: int | None, cap: int | None) -> int:
    """How many rows match `before`, counting whichever side of the cursor is smaller when the total is known
    (`rest` is the complement of `before`): a page near the end never walks the 100,000 rows ahead of it."""
    if total is None:
        return _count(queryset.filter(before), cap)
    half = total // 2
    after = _count(queryset.filter(rest), half)
    if after <= half:
        return total - after
    return queryset.filter(before).count()


@dataclass
class EnrollmentPage:
    """One page of the Active list and what the pager needs to link onwards.

    `total` is None when there are more rows than `count_cap` (then only a capped count was made);
    `start_index` is None when the page lies beyond the counted rows.
    """

    rows: list[LearningPlanEnrollment]
    per_page: int
    total: int | None
    count_cap: int | None
    start_index: int | None
    has_previous: bool
    has_next: bool
    keyset: bool
    max_numbered_page: int
    notices: list[str] = field(default_factory=list)

    @property
    def number(self) -> int | None:
        return (self.start_index - 1) // self.per_page + 1 if self.start_index else None

    @property
    def num_pages(self) -> int | None:
        return max(1, math.ceil(self.total / self.per_page)) if self.total is not None else None

    @property
    def end_index(self) -> int | None:
        return self.start_index + len(self.rows) - 1 if self.start_index and self.rows else None

    @property
    def first_cursor(self) -> Cursor | None:
        return Cursor.of(self.rows[0]) if self.rows else None

    @property
    def last_cursor(self) -> Cursor | None:
        return Cursor.of(self.rows[-1]) if self.rows else None


COUNT_CAP = 1_000


def page_plan_enrollments(
    queryset: QuerySet[LearningPlanEnrollment],
    *,
    sort: str = DEFAULT_ENROLLMENT_SORT,
    per_page: int = 25,
    page: int = 1,
    after: Cursor | None = None,
    before: Cursor | None = None,
    last: bool = False,
    exact_count: bool = True,
) -> EnrollmentPage:
    """One page of a filtered enrollment list: numbered (OFFSET) near the top, keyset anywhere in date order.

    Costs a count and one SELECT (plus a count of the rows before a cursor). With `exact_count` off the
    counts stop at COUNT_CAP. Pages stay aligned with page numbers while the total is known: the last page
    holds the remainder and cursors step `per_page` rows at a time.
    """
    keyset = sort in KEYSET_SORTS
    descending = sort.startswith("-")
    ordering = enrollment_ordering(sort)
    reverse_ordering = enrollment_ordering(sort[1:] if descending else f"-{sort}")
    rows_qs = queryset.select_related("user")
    cap = None if exact_count else COUNT_CAP
    counted = _count(queryset, cap)
    total = counted if cap is None or counted <= cap else None
    max_numbered = max(1, MAX_NUMBERED_ROWS // per_page)
    notices: list[str] = []

    def result(rows, start_index, has_previous, has_next) -> EnrollmentPage:
        return EnrollmentPage(
            rows=list(rows),
            per_page=per_page,
            total=total,
            count_cap=cap,
            start_index=start_index if rows else None,
            has_previous=has_previous,
            has_next=has_next,
            keyset=keyset,
            max_numbered_page=max_numbered,
            notices=notices,
        )

    if keyset and last:
        size = total - (math.ceil(total / per_page) - 1) * per_page if total else per_page
        rows = list(rows_qs.order_by(*reverse_ordering)[: size + 1])
        earlier = len(rows) > size
        rows = rows[:size][::-1]
        return result(rows, total - len(rows) + 1 if total is not None else None, earlier, False)
    if keyset and after is not None:
        rows = list(rows_qs.filter(_after(after, descending)).order_by(*ordering)[: per_page + 1])
        preceding = _count_before(queryset, _up_to(after, descending), _after(after, descending), total, cap)
        start = preceding + 1 if cap is None or preceding <= cap else None
        return result(rows[:per_page], start, preceding > 0, len(rows) > per_page)
    if keyset and before is not None:
        rows = list(rows_qs.filter(_before(before, descending)).order_by(*reverse_ordering)[: per_page + 1])
        earlier = len(rows) > per_page
        rows = rows[:per_page][::-1]
        preceding = _count_before(queryset, _before(before, descending), _up_to(before, not descending), total, cap)
        start = preceding - len(rows) + 1 if cap is None or preceding <= cap else None
        return result(rows, start, earlier, True)

    pages = math.ceil(total / per_page) if total is not None else None
    if last:
        page = min(pages or max_numbered, max_numbered)
    if pages is not None and page > max(pages, 1):
        notices.append(f"Page {page:,} does not exist; there are {pages:,} pages. Showing the first page.")
        page = 1
    if page > max_numbered:
        notices.append(
            f"Numbered pages stop at page {max_numbered:,}. "
            + (
                "Use Next and Last to go further."
                if keyset
                else "Sort by enrollment date or narrow the filters to see further rows."
            )
        )
        page = max_numbered
    offset = (page - 1) * per_page
    rows = list(rows_qs.order_by(*ordering)[offset : offset + per_page + 1])
    if not rows and page > 1:
        notices.append(f"Page {page:,} is past the last enrollment. Showing the first page.")
        page, offset = 1, 0
        rows = list(rows_qs.order_by(*ordering)[: per_page + 1])
    return result(rows[:per_page], offset + 1, page > 1, len(rows) > per_page)


def live_certificate_ids(plan: LearningPlan, user_ids: Sequence[int]) -> dict[int, int]:
    """{user id: certificate id} of the rendered live certificates of these learners in the plan (one query)."""
    return dict(
        IssuedCertificate.objects.filter(learning_plan=plan, user_id__in=user_ids, rendered_at__isnull=False)
        .exclude(file="")
        .values_list("user_id", "id")
    )
