"""The shared-course guard (SPEC §4.3 step 6): unenroll is refused for a plan whose course another plan contains."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from enrollments.models import Course, LearningPlan, LearningPlanCourse

# The plans' courses, each with the other plans containing it: the guard's input, read once per batch.
PLAN_COURSES_SQL = """
SELECT lpc.learning_plan_id, lpc.course_id, c.title,
       coalesce(array_agg(op.id ORDER BY op.title, op.id) FILTER (WHERE op.id IS NOT NULL), '{}'),
       coalesce(array_agg(op.title ORDER BY op.title, op.id) FILTER (WHERE op.id IS NOT NULL), '{}')
FROM enrollments_learningplancourse lpc
JOIN enrollments_course c ON c.id = lpc.course_id
LEFT JOIN enrollments_learningplancourse other
       ON other.course_id = lpc.course_id AND other.learning_plan_id <> lpc.learning_plan_id
LEFT JOIN enrollments_learningplan op ON op.id = other.learning_plan_id
WHERE lpc.learning_plan_id = ANY(%(plan_ids)s::bigint[])
GROUP BY lpc.learning_plan_id, lpc.course_id, c.title, lpc.position, lpc.id
ORDER BY lpc.learning_plan_id, lpc.position, lpc.id
"""


@dataclass(frozen=True)
class PlanCourse:
    learning_plan_id: int
    course_id: int
    title: str
    other_plans: tuple[tuple[int, str], ...]


def plan_courses(plan_ids: Sequence[int]) -> list[PlanCourse]:
    """The courses of these plans in plan order, each with the other plans that contain it."""
    if not plan_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(PLAN_COURSES_SQL, {"plan_ids": list(plan_ids)})
        return [
            PlanCourse(plan_id, course_id, title, tuple(zip(other_ids, other_titles, strict=True)))
            for plan_id, course_id, title, other_ids, other_titles in cursor.fetchall()
        ]


SharedCourses = list[tuple[Course, list[LearningPlan]]]


def check_shared_courses(plan: LearningPlan) -> SharedCourses:
    """The shared-course guard (plan level): the plan's courses that another plan contains too, with those plans."""
    links = (
        LearningPlanCourse.objects.filter(course__plan_links__learning_plan=plan)
        .exclude(learning_plan=plan)
        .select_related("course", "learning_plan")
        .order_by("course__plan_links__position", "course_id", "learning_plan__title", "learning_plan_id")
    )
    shares: dict[int, tuple[Course, list[LearningPlan]]] = {}
    for link in links:
        shares.setdefault(link.course_id, (link.course, []))[1].append(link.learning_plan)
    return list(shares.values())


def shared_course_message(shares: SharedCourses) -> str:
    """'Unenroll is not possible: course "A" is also in learning plan "B"; …' naming courses and plans."""
    parts = []
    for course, plans in shares:
        titles = ", ".join(f'"{plan.title}"' for plan in plans)
        parts.append(f'course "{course.title}" is also in learning plan{"s" if len(plans) > 1 else ""} {titles}')
    return "Unenroll is not possible: " + "; ".join(parts) + "."


def shared_by_plan(courses: list[PlanCourse]) -> dict[int, str]:
    """{plan id: the guard's message} for the plans of the batch that have a shared course."""
    shares: dict[int, SharedCourses] = {}
    for course in courses:
        if course.other_plans:
            shares.setdefault(course.learning_plan_id, []).append(
                (
                    Course(pk=course.course_id, title=course.title),
                    [LearningPlan(pk=pk, title=title) for pk, title in course.other_plans],
                )
            )
    return {plan_id: shared_course_message(plan_shares) for plan_id, plan_shares in shares.items()}
