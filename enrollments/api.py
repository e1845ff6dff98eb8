"""API: a learning plan's active enrollments (SPEC §7), through the same selectors as the Active list."""

from __future__ import annotations

import datetime
from typing import Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from lms_admin.web.api import ERRORS, DataOut, JsonDate, ObjectId, Page, PageParams, StrictSchema, paginate

from .selectors import filter_plan_enrollments, get_plan_for

router = Router(tags=["Enrollments"])

# The last day whose "to" bound (the next midnight) still exists as a datetime.
LAST_FILTER_DAY = datetime.date(9999, 12, 30)


def reject_nul(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters: refuse them as a bad request, not a server error."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class AsActiveFilters:
    """`as_filters()` for a schema of the Active list's filters."""

    def as_filters(self) -> dict[str, str]:
        """The filters as the Active list's filter set reads them (query-string values)."""
        values = self.model_dump(exclude_none=True)
        return {
            key: value.isoformat() if isinstance(value, datetime.date) else str(value) for key, value in values.items()
        }


class EnrollmentFilters(AsActiveFilters, Schema):
    """The Active list's filters in a query string (GET): every value arrives as text."""

    search: str | None = Field(None, max_length=200, description="Words matching username, first or last name, e-mail.")
    status: int | None = Field(None, ge=0, le=2, description="0 Enrolled, 1 In progress, 2 Completed.")
    user_status: Literal["active", "deactivated", "expired"] | None = None
    enrolled_from: datetime.date | None = Field(None, le=LAST_FILTER_DAY, description="Inclusive, YYYY-MM-DD (UTC).")
    enrolled_to: datetime.date | None = Field(None, le=LAST_FILTER_DAY, description="Inclusive, YYYY-MM-DD (UTC).")

    _no_nul = field_validator("search")(reject_nul)


class ActiveFiltersIn(AsActiveFilters, StrictSchema):
    """The Active list's filters in a JSON body (select-all): the list's names only, each of its JSON type."""

    field_noun = "filter"

    search: str | None = Field(None, max_length=200, description="Words matching username, first or last name, e-mail.")
    status: int | None = Field(None, ge=0, le=2, description="0 Enrolled, 1 In progress, 2 Completed.")
    user_status: Literal["active", "deactivated", "expired"] | None = None
    enrolled_from: JsonDate | None = Field(None, le=LAST_FILTER_DAY, description="Inclusive, YYYY-MM-DD (UTC).")
    enrolled_to: JsonDate | None = Field(None, le=LAST_FILTER_DAY, description="Inclusive, YYYY-MM-DD (UTC).")

    _no_nul = field_validator("search")(reject_nul)


class EnrolledUser(Schema):
    id: int
    username: str
    first_name: str
    last_name: str


class EnrollmentOut(Schema):
    """An active enrollment of the learning plan, with its learner."""

    id: int
    user: EnrolledUser
    status: int
    round: int
    enrolled_at: datetime.datetime
    validity_start: datetime.datetime | None
    validity_end: datetime.datetime | None
    completed_at: datetime.datetime | None


@router.get(
    "/learning-plans/{plan_id}/enrollments",
    response={200: DataOut[Page[EnrollmentOut]], **ERRORS},
    summary="A learning plan's active enrollments",
)
def list_plan_enrollments(
    request: HttpRequest,
    plan_id: ObjectId,
    filters: Query[EnrollmentFilters] = None,
    paging: Query[PageParams] = None,
):
    """Newest enrollment first. Filters combine; dates are inclusive UTC days."""
    plan = get_plan_for(request.auth, plan_id)
    enrollments = (
        filter_plan_enrollments(plan, filters.as_filters())
        .select_related("user")
        .only(
            "id",
            "status",
            "round",
            "enrolled_at",
            "validity_start",
            "validity_end",
            "completed_at",
            "user__id",
            "user__username",
            "user__first_name",
            "user__last_name",
        )
        .order_by("-enrolled_at", "-id")
    )
    return {"data": paginate(enrollments, paging)}
