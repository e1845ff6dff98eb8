"""Deleting archived records (SPEC §4.8): superadmins only, irreversible, audited, set-based."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.db.models.functions import Greatest

from enrollments.models import LearningPlan
from lms_admin.accounts.models import User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.audit.services import record_many

from ..models import ArchivedCertificate, ArchivedCourseEnrollment, ArchivedPlanEnrollment, PlanContentVersion


def delete_archived_enrollments(
    *, archives: QuerySet[ArchivedPlanEnrollment] | Iterable[ArchivedPlanEnrollment], actor: User
) -> int:
    """Delete archived plan enrollments with their course snapshots; returns how many were deleted.

    A stored certificate goes (row now, file after commit) when no remaining archive references its content.
    Raises PermissionDenied when `actor` is not a superadmin; nothing is deleted then.
    """
    require_superadmin(actor)
    ids_query = archives.values("pk") if isinstance(archives, QuerySet) else [archive.pk for archive in archives]
    with transaction.atomic():
        rows = list(
            ArchivedPlanEnrollment.objects.select_for_update()
            .filter(pk__in=ids_query)
            .order_by("pk")
            .values(
                "pk",
                "learning_plan_id",
                "certificate_id",
                "content_version_id",
                "enrollment_id",
                "round",
                "user_number",
                "plan_number",
            )
        )
        if not rows:
            return 0
        ids = [row["pk"] for row in rows]
        ArchivedCourseEnrollment.objects.filter(plan_archive_id__in=ids).delete()
        ArchivedPlanEnrollment.objects.filter(pk__in=ids).delete()

        per_plan = Counter(row["learning_plan_id"] for row in rows if row["learning_plan_id"] is not None)
        if per_plan:
            LearningPlan.objects.filter(pk__in=per_plan).update(
                archived_count=Greatest(
                    F("archived_count")
                    - Case(
                        *(When(pk=plan_id, then=Value(n)) for plan_id, n in per_plan.items()),
                        default=Value(0),
                        output_field=IntegerField(),
                    ),
                    Value(0),
                )
            )

        certificate_ids = {row["certificate_id"] for row in rows if row["certificate_id"] is not None}
        # Locked so that an archive being written now cannot start referencing a file we are about to drop.
        candidates = list(ArchivedCertificate.objects.select_for_update().filter(pk__in=certificate_ids).order_by("pk"))
        still_used = set(
            ArchivedPlanEnrollment.objects.filter(certificate_id__in=certificate_ids)
            .values_list("certificate_id", flat=True)
            .distinct()
        )
        orphans = [certificate for certificate in candidates if certificate.pk not in still_used]
        orphan_files = [(c.file.storage, c.file.name) for c in orphans if c.file.name]
        ArchivedCertificate.objects.filter(pk__in=[c.pk for c in orphans]).delete()
        _delete_unreferenced_versions({row["content_version_id"] for row in rows} - {None})

        record_many(
            actor=actor,
            action="archived_enrollment.delete",
            object_type="archived_plan_enrollment",
            objects=(
                (
                    row["pk"],
                    {
                        "enrollment_id": row["enrollment_id"],
                        "round": row["round"],
                        "user_id": row["user_number"],
                        "learning_plan_id": row["plan_number"],
                    },
                )
                for row in rows
            ),
        )

        def delete_files() -> None:
            for storage, name in orphan_files:
                storage.delete(name)

        transaction.on_commit(delete_files)
    return len(rows)


def _delete_unreferenced_versions(version_ids: set[int]) -> None:
    """Recorded plan contents (SPEC §13) that no archive references any more go with the last one. Locked first:
    an archive writing now waits on the row (its get-or-create updates it) and, once this commits, writes it anew."""
    if not version_ids:
        return
    locked = list(
        PlanContentVersion.objects.select_for_update()
        .filter(pk__in=version_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    still_used = set(
        ArchivedPlanEnrollment.objects.filter(content_version_id__in=locked)
        .values_list("content_version_id", flat=True)
        .distinct()
    )
    PlanContentVersion.objects.filter(pk__in=[pk for pk in locked if pk not in still_used]).delete()
