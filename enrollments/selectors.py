"""Reads of live learning data, starting from who may see what (SPEC §2).

Every plan page, form, download and API endpoint of the live data starts from `plans_visible_to` /
`get_plan_for`; the Active enrollments list (page, API, select-all jobs) filters through
`filter_plan_enrollments`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from lms_admin.accounts import roles
from lms_admin.accounts.models import User
from lms_admin.web.pager import COUNT_CAP, MAX_NUMBERED_ROWS, ListParams, ListSpec, Page, paginate
from lms_admin.web.reads import fetch_by_pk

from .filters import ActiveEnrollmentFilter
from .models import IssuedCertificate, LearningPlan, LearningPlanCourse, LearningPlanEnrollment

# ---------------------------------------------------------------------------------------------- visibility


def sees_plans(user: User) -> bool:
    """Whether the user has the learning plans section at all (superadmins and power users)."""
    return roles.is_superadmin(user) or roles.is_power_user(user)


def sees_every_plan(user: User) -> bool:
    """Superadmins see every plan; `plans_visible_to` and `get_plan_for` both ask here."""
    return roles.is_superadmin(user)


def plans_visible_to(user: User) -> QuerySet[LearningPlan]:
    """Superadmins: every plan. Power users: the plans assigned to them. Anyone else: none."""
    if sees_every_plan(user):
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
    if sees_every_plan(user):  # read by one plain statement: every page of a plan asks
        plan = fetch_by_pk(LearningPlan, int(plan_id))
    else:
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


# Sort keys of the plans list (the table's column names); plans are few, so every order is cheap.
PLAN_LIST = ListSpec(
    sorts={
        "title": ("title",),
        "code": ("code",),
        "courses_count": ("courses_count",),
        "active_count": ("active_count",),
        "archived_count": ("archived_count",),
    },
    default_sort="title",
    noun="learning plan",
    sort_notice="That column cannot be sorted; showing the plans by title.",
    parse_key=str,
    per_page=25,
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


# Sort keys of the Active list: the table's column names → model fields (the id breaks ties). The default
# order's field is the key the (learning_plan, enrolled_at, id) index walks: deep pages use a keyset there.
ACTIVE_LIST = ListSpec(
    sorts={
        "user": ("user__first_name", "user__last_name", "user__username"),
        "username": ("user__username",),
        "status": ("status",),
        "enrolled_at": ("enrolled_at",),
        "validity": ("validity_end",),
        "completed_at": ("completed_at",),
        "round": ("round",),
    },
    default_sort="-enrolled_at",
    noun="enrollment",
    sort_notice="That column cannot be sorted; showing the newest enrollments first.",
    deep_hint="Sort by enrollment date or narrow the filters to see further rows.",
    nullable=frozenset({"validity_end", "completed_at"}),
)


def counts_exactly(filters: Mapping) -> bool:
    """Whether counting the filtered list is cheap: filters on the learner (a join per row) get a capped count."""
    return not (str(filters.get("search") or "").strip() or filters.get("user_status"))


# What a row of the Active view shows (ActiveEnrollmentTable.render_row) and its sort keys (ACTIVE_LIST): the
# learner's other columns, their password hash among them, are not read for a page of rows.
ACTIVE_ROW_FIELDS = (
    "id",
    "learning_plan_id",
    "enrolled_at",
    "validity_start",
    "validity_end",
    "status",
    "completed_at",
    "round",
    "user__id",
    "user__first_name",
    "user__last_name",
    "user__username",
)


def page_plan_enrollments(
    queryset: QuerySet[LearningPlanEnrollment], params: ListParams, *, exact_count: bool = True
) -> Page:
    """One page of a filtered enrollment list (see `paginate`), its learners read in the same query."""
    # The limits are read here, at call time, so that a test can lower them.
    return paginate(
        queryset,
        ACTIVE_LIST,
        params,
        rows=queryset.select_related("user").only(*ACTIVE_ROW_FIELDS),
        exact_count=exact_count,
        count_cap=COUNT_CAP,
        max_numbered_rows=MAX_NUMBERED_ROWS,
    )


def live_certificate_ids(plan: LearningPlan, user_ids: Sequence[int]) -> dict[int, int]:
    """{user id: certificate id} of the rendered live certificates of these learners in the plan (one query)."""
    return dict(
        IssuedCertificate.objects.filter(learning_plan=plan, user_id__in=user_ids, rendered_at__isnull=False)
        .exclude(file="")
        .values_list("user_id", "id")
    )
