"""Who sees which archived records and jobs (SPEC §2), and the Archived view's filtering.

Every list, detail, download and API endpoint on archived records starts from
`archived_enrollments_visible_to`, so a forgotten check is impossible rather than unlikely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from enrollments.models import LearningPlan, TrainingMaterial
from enrollments.selectors import get_plan_for
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import direct_report_ids, is_power_user, is_superadmin, require_superadmin
from lms_admin.audit.models import AuditEvent
from lms_admin.web.pager import ListSpec, bigint
from lms_admin.web.reads import fetch_by_pk

from .filters import ArchivedFilterSet
from .models import ArchivedPlanEnrollment, ArchiveJob

ARCHIVED_FILTERS = tuple(ArchivedFilterSet.base_filters)

# The lists' sort keys (column name → fields, the id breaking ties) and keyset keys; see lms_admin/web/pager.py.
ARCHIVED_LIST = ListSpec(
    sorts={
        "user": ("user_last_name", "user_first_name", "user_username"),
        "archived_at": ("archived_at",),  # the key of ape_plan_archived_idx (learning_plan, -archived_at, -id)
        "archived_by": ("archived_by_username",),
        "plan_status": ("plan_status",),
        "completed_at": ("completed_at",),
    },
    default_sort="-archived_at",
    noun="archived enrollment",
    sort_notice="That column cannot be sorted; showing the newest archives first.",
    deep_hint="Sort by archive date to go further.",
    nullable=frozenset({"completed_at"}),
)
# What a row of the Archived view shows and sorts by: a snapshot has ~50 columns, 8 of them timestamps, and
# decoding the others for 25–200 rows cost more than rendering them.
ARCHIVED_ROW_FIELDS = (
    "id",
    "learning_plan_id",
    "round",
    "user_display_name",
    "user_username",
    "user_first_name",
    "user_last_name",
    "archived_at",
    "archived_by_username",
    "plan_status",
    "completed_at",
    "certificate_id",
)


def archived_rows() -> QuerySet:
    """What the Archived view's rows are read from, by id: only the columns its table shows."""
    return ArchivedPlanEnrollment.objects.only(*ARCHIVED_ROW_FIELDS)


TEAM_LIST = ListSpec(
    sorts={"archived_at": ("archived_at",)}, default_sort="-archived_at", noun="archived enrollment", per_page=25
)
JOB_LIST = ListSpec(sorts={"created_at": ("created_at",)}, default_sort="-created_at", noun="job", per_page=25)
# A job's items in their order (the unique (job, position) index); positions are numbers.
JOB_ITEM_LIST = ListSpec(
    sorts={"position": ("position",)}, default_sort="position", noun="item", parse_key=bigint, per_page=50
)


def archived_enrollments_visible_to(user: User) -> QuerySet[ArchivedPlanEnrollment]:
    """Superadmins: all. Otherwise the union of: records of plans assigned to a power user, and
    records of the user's direct reports (first level only), both through the live references."""
    records = ArchivedPlanEnrollment.objects.all()
    if not (user.is_authenticated and user.is_active):
        return records.none()
    if is_superadmin(user):
        return records
    visible = Q(user_id__in=direct_report_ids(user))
    if is_power_user(user):
        visible |= Q(learning_plan__power_users=user.pk)
    # The power-user branch joins an M2M; filtering by ids keeps one row per record.
    return records.filter(pk__in=ArchivedPlanEnrollment.objects.filter(visible).values("pk"))


def get_archived_for(user: User, pk: Any) -> ArchivedPlanEnrollment:
    """The archived record `pk` if `user` may see it; Http404 otherwise (also for records that never existed)."""
    try:
        return archived_enrollments_visible_to(user).select_related("certificate").get(pk=int(pk))
    except (ArchivedPlanEnrollment.DoesNotExist, TypeError, ValueError, OverflowError) as exc:
        raise Http404("No such archived enrollment.") from exc


def filter_archived(records: QuerySet[ArchivedPlanEnrollment], filters: Mapping[str, Any]) -> QuerySet:
    """Apply the Archived view's filters (empty values ignored); ValidationError(code="invalid_request") on bad ones.

    archived_from / archived_to: inclusive dates (UTC days); archived_by: the archiving user's id;
    user_status: the user's status as frozen at archive time; search: username, first or last name.
    """
    filterset = ArchivedFilterSet(data=filters, queryset=records)
    if not filterset.is_valid():
        raise ValidationError(filterset.error_message(), code="invalid_request")
    return filterset.qs


def archived_counts_exactly(filters: Mapping[str, Any]) -> bool:
    """Whether to count the list exactly: the whole plan is an index-only count; a filter that keeps most of
    100,000 records would cost a scan of them all, so filtered lists count up to a cap."""
    return not any(str(filters.get(name) or "").strip() for name in ARCHIVED_FILTERS)


def sees_jobs(user: User) -> bool:
    """Background jobs: superadmins see all of them, nobody else any."""
    return is_superadmin(user)


def jobs_visible_to(user: User) -> QuerySet[ArchiveJob]:
    jobs = ArchiveJob.objects.all()
    return jobs if sees_jobs(user) else jobs.none()


def get_job_for(user: User, pk: Any) -> ArchiveJob:
    """The job `pk` if `user` may see it; Http404 otherwise. Read by one plain statement: the progress panel polls
    it every second."""
    try:
        job = fetch_by_pk(ArchiveJob, int(pk)) if sees_jobs(user) else None
    except (TypeError, ValueError) as exc:
        raise Http404("No such job.") from exc
    if job is None:
        raise Http404("No such job.")
    return job


ARCHIVERS_SQL = """
WITH RECURSIVE archivers(id) AS (
    (SELECT archived_by_id FROM archive_archivedplanenrollment
     WHERE learning_plan_id = %(plan)s AND archived_by_id IS NOT NULL
     ORDER BY archived_by_id LIMIT 1)
    UNION ALL
    SELECT (SELECT a.archived_by_id FROM archive_archivedplanenrollment a
            WHERE a.learning_plan_id = %(plan)s AND a.archived_by_id > archivers.id
            ORDER BY a.archived_by_id LIMIT 1)
    FROM archivers WHERE archivers.id IS NOT NULL
)
SELECT u.id, u.username FROM archivers JOIN accounts_user u ON u.id = archivers.id ORDER BY u.username
"""


def archivers_of_plan(learning_plan_id: int) -> list[tuple[int, str]]:
    """(id, username) of everyone who archived an enrollment of the plan and still exists.

    A skip scan over ape_plan_by_idx: one index probe per distinct archiver, however many records
    the plan has (a DISTINCT over 100,000 records took half a second).
    """
    with connection.cursor() as cursor:
        cursor.execute(ARCHIVERS_SQL, {"plan": learning_plan_id})
        return [(pk, username) for pk, username in cursor.fetchall()]


def get_plan_for_archiving(user: User, plan_id: int) -> LearningPlan:
    """The plan for an archive action: 403 without the plans section, 404 when not visible, 403 unless superadmin."""
    plan = get_plan_for(user, plan_id)
    require_superadmin(user)
    return plan


def material_titles(courses) -> dict[int, str]:
    """{material id: live title} of the materials in these course snapshots' tracking (one query)."""
    material_ids = {entry[0] for course in courses for entry in course.tracking}
    return dict(TrainingMaterial.objects.filter(pk__in=material_ids).values_list("pk", "title"))


def audit_trail_of(archived: ArchivedPlanEnrollment) -> QuerySet[AuditEvent]:
    """The record's audit trail, oldest first: events about the record itself, and every archive event that
    names it in `archive_ids` — whatever archived it (one id, several ids, a job)."""
    trail = Q(object_type="archived_plan_enrollment", object_id=archived.pk) | Q(
        details__archive_ids__contains=[archived.pk]
    )
    return AuditEvent.objects.filter(trail).order_by("created_at", "id")
