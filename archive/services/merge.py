"""Merging user profiles into one kept user (SPEC §4.9).

Learning data moves; archived records do not: they stay with the merged user they belong to.
Every step is one set-based statement per table, whatever the amount of data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from enrollments.models import CourseEnrollment, LearningPlanEnrollment
from enrollments.races import retried_on_race
from enrollments.services import delete_live_certificates, refresh_plan_statuses
from enrollments.status import recompute_course_statuses
from lms_admin.accounts.models import ApiToken, ManagerLink, User
from lms_admin.accounts.roles import require_superadmin
from lms_admin.audit.services import record

from ..models import ArchivedPlanEnrollment

TRACKING_RANK = "CASE status WHEN 'completed' THEN 2 WHEN 'in_progress' THEN 1 ELSE 0 END"

# Every row of learning state the merge rewrites, locked in the one order (SPEC §4.10) before anything is read:
# plan enrollments, then course enrollments, then tracking, each by id, as three statements of one round trip.
LOCK_SQL = " ".join(
    f"SELECT id FROM {table} WHERE user_id = %(kept)s OR user_id = ANY(%(merged)s) ORDER BY id FOR UPDATE;"
    for table in ("enrollments_learningplanenrollment", "enrollments_courseenrollment", "enrollments_materialtracking")
)


@dataclasses.dataclass
class TableMerge:
    """One kind of row in a merge: moved, or in conflict and then kept (kept user) or replaced (merged user)."""

    label: str
    moving: int = 0
    conflicts: int = 0
    kept_wins: int = 0
    merged_wins: int = 0


@dataclasses.dataclass
class MergePreview:
    kept: User
    merged: list[User]
    tables: list[TableMerge]
    manager_links_moving: int
    archived_records_staying: int

    @property
    def has_conflicts(self) -> bool:
        return any(t.conflicts for t in self.tables)


# (label, table, key column, rank expression) — the rows whose conflicts are decided by progress.
RANKED_TABLES = [
    ("Learning plan enrollments", "enrollments_learningplanenrollment", "learning_plan_id", "status"),
    ("Course enrollments", "enrollments_courseenrollment", "course_id", "status"),
    ("Training material tracking", "enrollments_materialtracking", "material_id", TRACKING_RANK),
]


def _validate(kept: User, merged: Sequence[User]) -> list[int]:
    merged_ids = sorted({u.pk for u in merged})
    if not merged_ids:
        raise ValidationError("Choose at least one user to merge into the kept user.", code="invalid_selection")
    if kept.pk in merged_ids:
        raise ValidationError("The kept user cannot also be merged into themselves.", code="invalid_selection")
    already = [u.username for u in merged if u.merged_into_id]
    if already:
        raise ValidationError(f"Already merged: {', '.join(already)}.", code="invalid_selection")
    if kept.merged_into_id:
        raise ValidationError(
            f"{kept.username} was merged into another user and cannot be kept.", code="invalid_selection"
        )
    return merged_ids


def _ranked_sql(table: str, key: str, rank: str) -> str:
    """Rows of the kept and merged users, ranked per key: best progress first, the kept user's first on a tie."""
    return f"""
        SELECT id, user_id, {key} AS key,
               count(*) OVER (PARTITION BY {key}) AS copies,
               row_number() OVER (PARTITION BY {key} ORDER BY {rank} DESC, (user_id = %(kept)s) DESC, id) AS place
        FROM {table}
        WHERE user_id = %(kept)s OR user_id = ANY(%(merged)s)
    """


def preview_merge(*, kept: User, merged: Sequence[User]) -> MergePreview:
    """What a merge would move, which conflicts it meets and how each resolves; changes nothing."""
    merged_ids = _validate(kept, merged)
    params = {"kept": kept.pk, "merged": merged_ids}
    tables = []
    with connection.cursor() as cursor:
        for label, table, key, rank in RANKED_TABLES:
            cursor.execute(
                f"""
                WITH ranked AS ({_ranked_sql(table, key, rank)})
                SELECT
                  count(*) FILTER (WHERE user_id <> %(kept)s AND copies = 1),
                  count(DISTINCT key) FILTER (WHERE copies > 1),
                  count(*) FILTER (WHERE copies > 1 AND place = 1 AND user_id = %(kept)s),
                  count(*) FILTER (WHERE copies > 1 AND place = 1 AND user_id <> %(kept)s)
                FROM ranked
                """,
                params,
            )
            moving, conflicts, kept_wins, merged_wins = cursor.fetchone()
            tables.append(TableMerge(label, moving, conflicts, kept_wins, merged_wins))

    return MergePreview(
        kept=kept,
        merged=list(merged),
        tables=tables,
        manager_links_moving=ManagerLink.objects.filter(manager_id__in=merged_ids).count()
        + ManagerLink.objects.filter(employee_id__in=merged_ids).count(),
        archived_records_staying=ArchivedPlanEnrollment.objects.filter(user_id__in=merged_ids).count(),
    )


@retried_on_race
def merge_users(*, kept: User, merged: Sequence[User], actor: User) -> MergePreview:
    """Merge `merged` into `kept`. Returns the preview as it stood when the merge ran."""
    require_superadmin(actor)
    now = timezone.now()
    with transaction.atomic():
        # Lock the users involved so two merges of the same people cannot interleave. NO KEY UPDATE, the strength of
        # the update made below: FOR UPDATE would also block the foreign-key checks (KEY SHARE) of every path writing
        # a row of these users' (progress, archive), which hold their plan enrollments meanwhile — a deadlock.
        locked = list(
            User.objects.select_for_update(no_key=True).filter(pk__in=[kept.pk, *[u.pk for u in merged]]).order_by("pk")
        )
        by_id = {u.pk: u for u in locked}
        kept = by_id[kept.pk]
        merged = [by_id[u.pk] for u in merged if u.pk in by_id]
        merged_ids = sorted(u.pk for u in merged)
        params = {"kept": kept.pk, "merged": merged_ids}
        with connection.cursor() as cursor:
            cursor.execute(LOCK_SQL, params)
        preview = preview_merge(kept=kept, merged=merged)

        losing_plans = list(
            LearningPlanEnrollment.objects.raw(
                f"WITH ranked AS ({_ranked_sql(*RANKED_TABLES[0][1:])}) "
                "SELECT e.id, e.user_id, e.learning_plan_id FROM enrollments_learningplanenrollment e "
                "JOIN ranked ON ranked.id = e.id WHERE ranked.place > 1",
                params,
            )
        )
        # A live certificate follows the plan enrollment that wins.
        lost_pairs = [(e.user_id, e.learning_plan_id) for e in losing_plans]
        if lost_pairs:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT c.id FROM enrollments_issuedcertificate c "
                    "JOIN unnest(%s::bigint[], %s::bigint[]) AS p(user_id, plan_id) "
                    "ON c.user_id = p.user_id AND c.learning_plan_id = p.plan_id",
                    [[u for u, _ in lost_pairs], [p for _, p in lost_pairs]],
                )
                lost_certificates = [row[0] for row in cursor.fetchall()]
            delete_live_certificates(lost_certificates)

        with connection.cursor() as cursor:
            # The enrollment that stays keeps the later certification date of the merged ones (SPEC §11).
            cursor.execute(
                "UPDATE enrollments_learningplanenrollment e SET certified_until = m.until FROM ("
                "  SELECT learning_plan_id, max(certified_until) AS until FROM enrollments_learningplanenrollment"
                "  WHERE user_id = %(kept)s OR user_id = ANY(%(merged)s) GROUP BY learning_plan_id) m "
                "WHERE (e.user_id = %(kept)s OR e.user_id = ANY(%(merged)s))"
                " AND e.learning_plan_id = m.learning_plan_id AND m.until IS NOT NULL"
                " AND e.certified_until IS DISTINCT FROM m.until",
                params,
            )
            for _label, table, key, rank in RANKED_TABLES:
                cursor.execute(
                    f"WITH ranked AS ({_ranked_sql(table, key, rank)}) "
                    f"DELETE FROM {table} t USING ranked WHERE t.id = ranked.id AND ranked.place > 1",
                    params,
                )
                cursor.execute(f"UPDATE {table} SET user_id = %(kept)s WHERE user_id = ANY(%(merged)s)", params)
            # Certificates without a competing enrollment: the kept user's stays on a clash.
            cursor.execute(
                "DELETE FROM enrollments_issuedcertificate c WHERE c.user_id = ANY(%(merged)s) AND EXISTS "
                "(SELECT 1 FROM enrollments_issuedcertificate k WHERE k.user_id = %(kept)s "
                "AND k.learning_plan_id = c.learning_plan_id)",
                params,
            )
            cursor.execute(
                "UPDATE enrollments_issuedcertificate SET user_id = %(kept)s WHERE user_id = ANY(%(merged)s)", params
            )

        _merge_manager_links(kept, merged_ids)

        # Every row recomputed here is the kept user's, locked above (the merged users' rows moved to them).
        pairs = list(CourseEnrollment.objects.filter(user=kept).values_list("user_id", "course_id"))
        recompute_course_statuses(pairs, now=now, locked=True)
        refresh_plan_statuses(
            list(LearningPlanEnrollment.objects.filter(user=kept).values_list("id", flat=True)), now=now, locked=True
        )

        User.objects.filter(pk__in=merged_ids).update(is_active=False, merged_into=kept)
        _revoke_tokens(merged_ids, now)
        record(
            actor=actor,
            action="user.merge",
            object_type="user",
            object_id=kept.pk,
            details={
                "kept": kept.username,
                "merged": [u.username for u in merged],
                "moved": {t.label: t.moving for t in preview.tables},
                "conflicts": {t.label: {"kept": t.kept_wins, "merged": t.merged_wins} for t in preview.tables},
                "archived_records_staying": preview.archived_records_staying,
            },
        )
    return preview


def _merge_manager_links(kept: User, merged_ids: list[int]) -> None:
    """The kept user takes over the merged users' employees and gains their managers.

    The merged users keep the links to their own managers (copied, not moved), so those first-level
    managers still see the merged users' archived records.
    """
    existing_types = set(ManagerLink.objects.filter(employee=kept).values_list("manager_type", flat=True))
    gained = []
    for link in ManagerLink.objects.filter(employee_id__in=merged_ids).exclude(manager=kept).order_by("id"):
        if link.manager_type not in existing_types:
            existing_types.add(link.manager_type)
            gained.append(ManagerLink(manager_id=link.manager_id, employee=kept, manager_type=link.manager_type))
    ManagerLink.objects.bulk_create(gained)
    ManagerLink.objects.filter(manager_id__in=merged_ids, employee=kept).delete()
    ManagerLink.objects.filter(manager_id__in=merged_ids).update(manager=kept)


def _revoke_tokens(user_ids: list[int], now) -> None:
    ApiToken.objects.filter(user_id__in=user_ids, revoked_at__isnull=True).update(revoked_at=now)
