"""What the archive API reads and answers (SPEC §7). Out schemas read the models themselves: a field named like
the model's attribute is copied, `alias` names the frozen copy it comes from, `resolve_<field>` computes the rest.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.urls import reverse
from ninja import Field, Schema
from pydantic import field_validator

from enrollments.api import LAST_FILTER_DAY, ActiveFiltersIn, reject_nul
from enrollments.content import RESET_TRACKING_MESSAGE
from lms_admin.web.api import MAX_ID, StrictSchema, UserRef, recorded_user

from ..models import ArchivedCourseEnrollment, ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, Outcome


def decimal_text(value: Decimal | None) -> str | None:
    """Decimals travel as strings with two places ("2.50"), never as floats."""
    return None if value is None else f"{value:.2f}"


# --- archived enrollments -----------------------------------------------------------------------------------
# One archived record is flat (frozen copies side by side); the API groups its copies. Each group's schema reads
# the same record, through aliases naming the copies.


class ArchivedUser(Schema):
    id: int = Field(..., alias="user_number")
    username: str = Field(..., alias="user_username")
    first_name: str = Field(..., alias="user_first_name")
    last_name: str = Field(..., alias="user_last_name")
    display_name: str = Field(..., alias="user_display_name")
    language: str = Field(..., alias="user_language")


class ArchivedPlan(Schema):
    id: int = Field(..., alias="plan_number")
    title: str = Field(..., alias="plan_title")
    code: str = Field(..., alias="plan_code")
    uid: str
    status: int = Field(..., alias="plan_status")
    course_list: str = Field(..., alias="plan_course_list")
    credits: str = Field(..., description='Decimal CEUs as a string, e.g. "2.50".')

    @staticmethod
    def resolve_uid(record: ArchivedPlanEnrollment) -> str:
        return str(record.plan_uid)

    @staticmethod
    def resolve_credits(record: ArchivedPlanEnrollment) -> str | None:
        return decimal_text(record.plan_credits)


class ArchivedCertificateOut(Schema):
    url: str | None = Field(
        ...,
        description="Download URL of the archived PDF (same authentication as the API); null while the PDF of a "
        "certificate issued just before the archive is still being prepared.",
    )
    assigned_at: datetime.datetime | None = Field(..., alias="certificate_assigned_at")

    @staticmethod
    def resolve_url(record: ArchivedPlanEnrollment, context: dict[str, Any]) -> str | None:
        if record.certificate_id is None:
            return None
        path = reverse("api:archived_enrollment_certificate", args=[record.pk])
        return context["request"].build_absolute_uri(path)


class ArchivedEnrollmentState(Schema):
    enrolled_at: datetime.datetime
    enrolled_by: UserRef | None
    validity_start: datetime.datetime | None
    validity_end: datetime.datetime | None
    status: str = Field(
        ..., alias="enrollment_status", description="Validity state when archived: active, expired or not_yet_valid."
    )
    completed_at: datetime.datetime | None

    @staticmethod
    def resolve_enrolled_by(record: ArchivedPlanEnrollment) -> UserRef | None:
        return recorded_user(record.enrolled_by_id, record.enrolled_by_username)


# reset_tracking travels as JSON false / true / "changed" (SPEC §13); it is stored as its text.
ResetTrackingJson = bool | Literal["changed"]
RESET_TRACKING_HELP = 'false keeps the tracking, true resets all of it, "changed" resets only what changed.'


class ArchiveOptions(Schema):
    mode: str
    reset_tracking: ResetTrackingJson = Field(..., description=RESET_TRACKING_HELP)
    notify: bool


class ArchivedEnrollmentOut(Schema):
    """An archived enrollment: the copies frozen when it was archived."""

    id: int
    archived_at: datetime.datetime
    archived_by: UserRef
    user: ArchivedUser
    learning_plan: ArchivedPlan
    certificate: ArchivedCertificateOut | None
    enrollment: ArchivedEnrollmentState
    options: ArchiveOptions
    trigger: str = Field(..., description="What archived it: manual, rule (a retraining rule's run) or file.")

    @staticmethod
    def resolve_archived_by(record: ArchivedPlanEnrollment) -> UserRef:
        return UserRef(id=record.archived_by_id, username=record.archived_by_username)

    @staticmethod
    def resolve_user(record: ArchivedPlanEnrollment) -> ArchivedPlanEnrollment:
        return record

    @staticmethod
    def resolve_learning_plan(record: ArchivedPlanEnrollment) -> ArchivedPlanEnrollment:
        return record

    @staticmethod
    def resolve_certificate(record: ArchivedPlanEnrollment) -> ArchivedPlanEnrollment | None:
        return record if record.certificate_id is not None or record.certificate_pending else None

    @staticmethod
    def resolve_enrollment(record: ArchivedPlanEnrollment) -> ArchivedPlanEnrollment:
        return record

    @staticmethod
    def resolve_options(record: ArchivedPlanEnrollment) -> ArchivedPlanEnrollment:
        return record


class ArchivedCourse(Schema):
    id: int = Field(..., alias="course_number")
    title: str = Field(..., alias="course_title")
    code: str = Field(..., alias="course_code")
    uid: str
    type: str = Field(..., alias="course_type")

    @staticmethod
    def resolve_uid(course: ArchivedCourseEnrollment) -> str:
        return str(course.course_uid)


class ArchivedCourseEnrollmentOut(Schema):
    course: ArchivedCourse
    enrolled_at: datetime.datetime
    status: int
    completed_at: datetime.datetime | None
    score: str | None = Field(..., description="Decimal as a string, or null.")
    materials_completed: int
    materials_total: int

    @staticmethod
    def resolve_course(course: ArchivedCourseEnrollment) -> ArchivedCourseEnrollment:
        return course

    @staticmethod
    def resolve_score(course: ArchivedCourseEnrollment) -> str | None:
        return decimal_text(course.score)


class ArchivedEnrollmentDetailOut(ArchivedEnrollmentOut):
    """An archived enrollment with its archived course enrollments, in the plan's course order."""

    course_enrollments: list[ArchivedCourseEnrollmentOut]


class ArchivedFilters(Schema):
    archived_from: datetime.date | None = Field(None, description="Inclusive, YYYY-MM-DD (UTC).")
    archived_to: datetime.date | None = Field(None, le=LAST_FILTER_DAY, description="Inclusive, YYYY-MM-DD (UTC).")
    archived_by: int | None = Field(None, ge=1, le=MAX_ID, description="Id of the user who archived.")
    user_status: Literal["active", "deactivated", "expired"] | None = Field(None, description="As frozen.")
    search: str | None = Field(None, max_length=200, description="Words matching username, first or last name.")

    _no_nul = field_validator("search")(reject_nul)


# --- archiving --------------------------------------------------------------------------------------------------


class ArchiveIn(StrictSchema):
    """What to archive and how; an unknown field or filter, or a value of another JSON type, answers 400."""

    enrollment_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, description="Enrollments of this plan to archive. One id is archived at once; two or more start a job."
    )
    rounds: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        None,
        description=(
            "The round of each enrollment as you saw it, parallel to `enrollment_ids`: a round that moved on (already "
            "archived) comes out `already_archived` instead of archiving the next one. Makes a retry safe without "
            "an `Idempotency-Key`."
        ),
    )
    select_all: bool = Field(False, description="Archive every enrollment matching `filters` (as a job).")
    filters: ActiveFiltersIn | None = Field(
        None, description="The Active list's filters, with select_all; another name is refused, not ignored."
    )
    mode: str | None = Field(None, description="reenroll or unenroll.", examples=["reenroll"])
    reset_tracking: ResetTrackingJson = Field(False, description=RESET_TRACKING_HELP)
    notify: bool = True

    @field_validator("reset_tracking", mode="before")
    @classmethod
    def _one_of_three(cls, value: Any) -> Any:
        if value is True or value is False or value == "changed":
            return value
        raise ValueError(RESET_TRACKING_MESSAGE)


class ArchivedNowOut(Schema):
    """The outcome of the one enrollment archived in the request."""

    enrollment_id: int
    outcome: str
    archive_id: int | None
    message: str


class JobOut(Schema):
    id: int
    status: str
    mode: str
    reset_tracking: ResetTrackingJson = Field(..., description=RESET_TRACKING_HELP)
    notify: bool
    trigger: str
    total: int
    processed: int
    progress: int = Field(..., ge=0, le=100)
    counts: dict[str, int]
    requested_by: UserRef | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    eta_seconds: int | None
    error: str | None

    @staticmethod
    def resolve_progress(job: ArchiveJob) -> int:
        return max(0, min(100, job.progress))

    @staticmethod
    def resolve_counts(job: ArchiveJob) -> dict[str, int]:
        return {str(key): int(value) for key, value in (job.counts or {}).items()}

    @staticmethod
    def resolve_requested_by(job: ArchiveJob) -> UserRef | None:
        return recorded_user(job.requested_by_id, job.requested_by_username)

    @staticmethod
    def resolve_error(job: ArchiveJob) -> str | None:
        return job.error or None


class JobStartedOut(Schema):
    job: JobOut


# --- jobs ------------------------------------------------------------------------------------------------------


class JobItemOut(Schema):
    enrollment_id: int
    outcome: str | None = Field(..., description="Null while the item is still waiting to be processed.")
    archive_id: int | None
    message: str

    @staticmethod
    def resolve_outcome(item: ArchiveJobItem) -> str | None:
        return item.outcome or None


class JobItemFilters(Schema):
    outcome: Literal[tuple(Outcome.values)] | None = None  # type: ignore[valid-type]
