"""Archiving in the browser: the archive pop-up (one or many), the Archived view, details, certificates,
deletion, Background jobs and My team (SPEC §5). Every view starts from the visibility modules."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from enrollments import selectors as live
from enrollments.models import LearningPlan, LearningPlanEnrollment, TrainingMaterial
from enrollments.tables import PreparedRows
from enrollments.views import PAGE_SIZES, render_list
from lms_admin.accounts import roles
from lms_admin.accounts.models import User
from lms_admin.audit.models import AuditEvent

from .background import cancel_archive_job, start_archive_job
from .csv_export import _Line, job_items_csv_response
from .deletion import delete_archived_enrollments
from .filters import ArchivedFilterForm
from .forms import ArchiveOptionsForm, Selection
from .models import ArchivedPlanEnrollment, ArchiveJob, ArchiveJobItem, Outcome
from .previews import preview_one, preview_selection
from .selectors import archived_enrollments_visible_to, filter_archived, get_archived_for, get_job_for, jobs_visible_to
from .services import archive_enrollments, archived_certificate_response, check_shared_courses
from .tables import ARCHIVED_SORTS, DEFAULT_ARCHIVED_SORT, ArchivedEnrollmentTable, TeamArchivedTable

REFRESH_EVENT = "enrollments:refresh"

# ---------------------------------------------------------------------------------------------- helpers


def render_modal(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    """A pop-up: its content alone for htmx (into #modal), a full page around it without JavaScript."""
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, template, context, status=status)
    return render(request, "archive/modal_page.html", {**context, "modal_template": template}, status=status)


def finish_in_modal(request: HttpRequest, fallback_url: str, *, refresh: bool = True) -> HttpResponse:
    """After a pop-up's action: htmx closes the pop-up, shows the messages and refreshes the list; else redirect."""
    if not request.htmx:
        return redirect(fallback_url)
    response = trigger_client_event(render(request, "archive/includes/messages_oob.html"), "modal:close")
    return trigger_client_event(response, REFRESH_EVENT) if refresh else response


def require_archiver(user: User, plan_id: int) -> LearningPlan:
    """The plan for an archive action: 403 without the plans section, 404 when not visible, 403 unless superadmin."""
    plan = live.get_plan_for(user, plan_id)
    roles.require_superadmin(user)
    return plan


# ---------------------------------------------------------------------------------------------- home


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The start page by role: plans for superadmins and power users, My team for managers, else a 403 page."""
    if live.sees_plans(request.user):
        return redirect("enrollments:plan_list")
    if roles.manages_anyone(request.user):
        return redirect("archive:team")
    raise PermissionDenied(
        "Your account has no administration role. Ask an administrator if you think you should have access."
    )


# ---------------------------------------------------------------------------------------------- archive one


@login_required
@require_http_methods(["GET", "POST"])
def archive_enrollment(request: HttpRequest, plan_id: int, enrollment_id: int) -> HttpResponse:
    """The row's "Archive enrollment" pop-up: options, a live preview, and the confirmation (SPEC §5)."""
    plan = require_archiver(request.user, plan_id)
    enrollment = (
        LearningPlanEnrollment.objects.filter(learning_plan=plan, pk=enrollment_id).select_related("user").first()
    )
    if enrollment is None:
        raise Http404("This enrollment is not in this learning plan any more.")
    shares = check_shared_courses(plan)
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    form = ArchiveOptionsForm(request.POST if request.method == "POST" else request.GET, shares=shares)
    if request.method == "POST" and form.is_valid():
        outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=request.user, **form.cleaned_data)
        archived = outcome.counts.get(Outcome.ARCHIVED, 0)
        summary = f"{enrollment.user.display_name}: {outcome.summary()}."
        (messages.success if archived else messages.warning)(request, summary)
        return finish_in_modal(request, back_url)
    preview = preview_one(enrollment, shares=shares, **form.options())
    context = {
        "plan": plan,
        "enrollment": enrollment,
        "form": form,
        "preview": preview,
        "action_url": request.path,
        "back_url": back_url,
        "errors": form.errors if request.method == "POST" else {},
    }
    template = "archive/includes/preview.html" if _wants_preview(request) else "archive/archive_modal.html"
    return render_modal(request, template, context, status=422 if request.method == "POST" else 200)


def _wants_preview(request: HttpRequest) -> bool:
    return bool(request.htmx) and request.htmx.target == "archive-preview"


# ---------------------------------------------------------------------------------------------- archive many


def _selected(plan: LearningPlan, selection: Selection) -> tuple[QuerySet[LearningPlanEnrollment] | None, str]:
    """The selection's enrollments, or None and a message saying why it cannot be archived."""
    if selection.error:
        return None, selection.error
    if selection.select_all:
        try:
            queryset = live.filter_plan_enrollments(plan, selection.filters)
        except ValidationError as exc:
            return None, exc.message
        limit = settings.ARCHIVE_MAX_SELECT_ALL
        if queryset[: limit + 1].count() > limit:
            matching = queryset.order_by().count()
            return None, (
                f"{matching:,} enrollments match these filters; “Select all” archives at most {limit:,}. "
                "Narrow the filters and run it in several jobs."
            )
        return queryset, ""
    queryset = plan.enrollments.filter(pk__in=selection.ids)
    missing = sorted(set(selection.ids) - set(queryset.values_list("pk", flat=True)))
    if missing:
        shown = ", ".join(str(pk) for pk in missing[:20]) + (" …" if len(missing) > 20 else "")
        return None, f"Not active enrollments of “{plan.title}”: {shown}. Nothing was archived."
    return queryset, ""


@login_required
@require_http_methods(["GET", "POST"])
def bulk_archive(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The pop-up for a selection: the preview of the whole selection, then a background job and its progress."""
    plan = require_archiver(request.user, plan_id)
    data = request.POST if request.method == "POST" else request.GET
    selection = Selection(data)
    shares = check_shared_courses(plan)
    form = ArchiveOptionsForm(data, shares=shares)
    back_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    queryset, error = _selected(plan, selection)

    if request.method == "POST" and not error and form.is_valid():
        if not selection.select_all and len(selection.ids) == 1:  # one enrollment is archived in the request
            outcome = archive_enrollments(enrollment_ids=selection.ids, actor=request.user, **form.cleaned_data)
            messages.success(request, outcome.summary() + ".")
            response = finish_in_modal(request, back_url)
            return trigger_client_event(response, "selection:clear", {"plan": plan.pk}) if request.htmx else response
        try:
            job = start_archive_job(
                learning_plan=plan,
                actor=request.user,
                enrollment_ids=None if selection.select_all else selection.ids,
                select_all_filters=selection.filters if selection.select_all else None,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if not request.htmx:
                messages.success(request, f"Archive job #{job.pk} started for {job.total:,} enrollments.")
                return redirect(job.get_absolute_url())
            response = render(request, "archive/job_started_modal.html", {"job": job, "plan": plan})
            return trigger_client_event(response, "selection:clear", {"plan": plan.pk})

    preview = None
    if queryset is not None:
        preview = preview_selection(plan, queryset, shares=shares, **form.options())
    context = {
        "plan": plan,
        "form": form,
        "selection": selection,
        "selection_error": error,
        "preview": preview,
        "action_url": request.path,
        "csv_url": reverse("archive:bulk_preview_csv", args=[plan.pk]) + "?" + selection.query(),
        "back_url": back_url,
        "errors": form.errors if request.method == "POST" else {},
    }
    template = "archive/includes/preview.html" if _wants_preview(request) else "archive/bulk_modal.html"
    status = 422 if error or (request.method == "POST") else 200
    return render_modal(request, template, context, status=status)


PREVIEW_CSV_COLUMNS = ("enrollment_id", "username", "name", "status", "enrolled_at", "completed_at", "round")


@login_required
@require_GET
def bulk_preview_csv(request: HttpRequest, plan_id: int) -> StreamingHttpResponse:
    """The enrollments a bulk archive would take, as CSV (streamed, one query)."""
    plan = require_archiver(request.user, plan_id)
    queryset, error = _selected(plan, Selection(request.GET))
    if queryset is None:
        raise Http404(error)
    rows = queryset.order_by("pk").values_list(
        "pk", "user__username", "user__first_name", "user__last_name", "status", "enrolled_at", "completed_at", "round"
    )

    def lines() -> Iterator[str]:
        writer = csv.writer(_Line())
        yield writer.writerow(PREVIEW_CSV_COLUMNS)
        labels = dict(LearningPlanEnrollment._meta.get_field("status").choices)
        for pk, username, first, last, status, enrolled, completed, rnd in rows.iterator(chunk_size=2000):
            name = f"{first} {last}".strip() or username
            yield writer.writerow([pk, username, name, labels[status], _iso(enrolled), _iso(completed), rnd])

    return _csv_response(lines(), f"archive-preview-{plan.code or plan.pk}.csv")


def _iso(value: datetime.datetime | datetime.date | None) -> str:
    return value.isoformat() if value else ""


def _csv_response(lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------------------------------------- archived view


@dataclass
class ArchivedPage:
    rows: list[ArchivedPlanEnrollment]
    total: int | None
    start: int | None
    previous_url: str | None
    next_url: str | None
    first_url: str | None

    @property
    def end(self) -> int | None:
        return self.start + len(self.rows) - 1 if self.start and self.rows else None


COUNT_CAP = 1_000
MAX_OFFSET_ROWS = 10_000


def _newer(stamp: datetime.datetime, pk: int) -> Q:
    """Rows before (stamp, pk) in the default newest-first order; the redundant bound lets the index range-scan."""
    return Q(archived_at__gte=stamp) & (Q(archived_at__gt=stamp) | Q(id__gt=pk))


def _older(stamp: datetime.datetime, pk: int) -> Q:
    return Q(archived_at__lte=stamp) & (Q(archived_at__lt=stamp) | Q(id__lt=pk))


def _cursor(text: str) -> tuple[datetime.datetime, int] | None:
    stamp, _, pk = text.partition("|")
    try:
        parsed = datetime.datetime.fromisoformat(stamp)
        return (parsed, int(pk)) if parsed.tzinfo else None
    except ValueError:
        return None


def page_archived(request: HttpRequest, records: QuerySet, *, sort: str, per_page: int, notices: list[str]):
    """One page: keyset (after/before cursors) in the default order, capped numbered pages in other orders."""

    def url(**params) -> str:
        query = request.GET.copy()
        for name in ("page", "after", "before"):
            query.pop(name, None)
        for name, value in params.items():
            query[name] = str(value)
        return f"{request.path}?{query.urlencode()}"

    # Exact counts for the whole plan (an index-only count); filtered views count up to COUNT_CAP, because a
    # filter that keeps most of 100,000 records would otherwise cost a scan of them all.
    exact = not any((request.GET.get(name) or "").strip() for name in ARCHIVED_FILTER_NAMES)
    counted = records.count() if exact else records[: COUNT_CAP + 1].count()
    total = counted if exact or counted <= COUNT_CAP else None
    if sort == DEFAULT_ARCHIVED_SORT:
        after, before = _cursor(request.GET.get("after", "")), _cursor(request.GET.get("before", ""))
        if (request.GET.get("after") and not after) or (request.GET.get("before") and not before):
            notices.append("That page link is not valid any more. Showing the first page.")
        if before:
            rows = list(records.filter(_newer(*before)).order_by("archived_at", "id")[: per_page + 1])
            has_previous = len(rows) > per_page
            rows = rows[:per_page][::-1]
            has_next = True
        else:
            queryset = records.filter(_older(*after)) if after else records
            rows = list(queryset.order_by("-archived_at", "-id")[: per_page + 1])
            has_next = len(rows) > per_page
            rows = rows[:per_page]
            has_previous = after is not None
        start = None
        if rows:
            preceding = records.filter(_newer(rows[0].archived_at, rows[0].pk))
            before_count = preceding.count() if exact else preceding[: COUNT_CAP + 1].count()
            start = before_count + 1 if exact or before_count <= COUNT_CAP else None
        return ArchivedPage(
            rows=rows,
            total=total,
            start=start,
            first_url=url() if has_previous else None,
            previous_url=url(before=f"{rows[0].archived_at.isoformat()}|{rows[0].pk}") if has_previous else None,
            next_url=url(after=f"{rows[-1].archived_at.isoformat()}|{rows[-1].pk}") if has_next and rows else None,
        )
    raw = request.GET.get("page", "1")
    page = int(raw) if raw.isdigit() and int(raw) >= 1 else 1
    max_page = max(1, MAX_OFFSET_ROWS // per_page)
    if page > max_page:
        notices.append(f"Numbered pages stop at page {max_page}. Sort by archive date to go further.")
        page = max_page
    descending = sort.startswith("-")
    ordering = [
        (F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True))
        for name in (*ARCHIVED_SORTS[sort.lstrip("-")], "id")
    ]
    offset = (page - 1) * per_page
    rows = list(records.order_by(*ordering)[offset : offset + per_page + 1])
    has_next = len(rows) > per_page and page < max_page
    return ArchivedPage(
        rows=rows[:per_page],
        total=total,
        start=offset + 1 if rows else None,
        first_url=url(page=1) if page > 1 else None,
        previous_url=url(page=page - 1) if page > 1 else None,
        next_url=url(page=page + 1) if has_next else None,
    )


def _list_options(request: HttpRequest, notices: list[str]) -> tuple[str, int]:
    sort = request.GET.get("sort") or DEFAULT_ARCHIVED_SORT
    if sort.lstrip("-") not in ARCHIVED_SORTS:
        notices.append("That column cannot be sorted; showing the newest archives first.")
        sort = DEFAULT_ARCHIVED_SORT
    raw = request.GET.get("per_page", "")
    per_page = int(raw) if raw.isdigit() and int(raw) in PAGE_SIZES else PAGE_SIZES[0]
    if raw and not (raw.isdigit() and int(raw) in PAGE_SIZES):
        notices.append("Rows per page must be one of 25, 50, 100 or 200; showing 25.")
    return sort, per_page


ARCHIVED_FILTER_NAMES = ("archived_from", "archived_to", "archived_by", "user_status", "search")


@login_required
@require_GET
def archived_list(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan's Enrollments tab, Archived view: filters, search, sorting, pages and the CSV of the filtered rows."""
    plan = live.get_plan_for(request.user, plan_id)
    records = archived_enrollments_visible_to(request.user).filter(learning_plan=plan)
    notices: list[str] = []
    sort, per_page = _list_options(request, notices)
    filter_form = ArchivedFilterForm(request.GET or None, learning_plan_id=plan.pk)
    filter_error, page = "", None
    try:
        filtered = filter_archived(records, request.GET)
    except ValidationError as exc:
        filter_error = exc.message
    else:
        page = page_archived(request, filtered, sort=sort, per_page=per_page, notices=notices)
    can_delete = roles.is_superadmin(request.user)
    table = ArchivedEnrollmentTable(
        PreparedRows(page.rows if page else []), order_by=sort, exclude=() if can_delete else ("select",)
    )
    if page and page.total == 0 and not any(request.GET.get(name) for name in ARCHIVED_FILTER_NAMES):
        table.empty_text = "No enrollment of this learning plan has been archived yet."
    export_query = request.GET.copy()
    for name in ("page", "after", "before", "per_page"):
        export_query.pop(name, None)
    context = {
        "plan": plan,
        "filter_form": filter_form,
        "filter_error": filter_error,
        "table": table,
        "page": page,
        "notices": notices,
        "sort": sort,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "export_url": reverse("archive:archived_export", args=[plan.pk]) + "?" + export_query.urlencode(),
        "enrollment_view": "archived",
        "nav_section": "plans",
        "can_delete": can_delete,
    }
    return render_list(request, "archive/archived_list.html", "archive/includes/archived_results.html", context)


ARCHIVED_CSV_COLUMNS = (
    "archive_id",
    "username",
    "name",
    "user_status",
    "archived_at",
    "archived_by",
    "mode",
    "round",
    "plan_status",
    "enrolled_at",
    "completed_at",
    "certificate",
)


@login_required
@require_GET
def archived_export(request: HttpRequest, plan_id: int) -> StreamingHttpResponse:
    """Every archived record matching the Archived view's filters, as CSV streamed from one query."""
    plan = live.get_plan_for(request.user, plan_id)
    try:
        records = filter_archived(archived_enrollments_visible_to(request.user).filter(learning_plan=plan), request.GET)
    except ValidationError as exc:
        raise Http404(exc.message) from exc
    rows = records.order_by("-archived_at", "-id").values_list(
        "pk",
        "user_username",
        "user_display_name",
        "user_status",
        "archived_at",
        "archived_by_username",
        "mode",
        "round",
        "plan_status",
        "enrolled_at",
        "completed_at",
        "certificate_id",
    )
    labels = dict(ArchivedPlanEnrollment._meta.get_field("plan_status").choices)

    def lines() -> Iterator[str]:
        writer = csv.writer(_Line())
        yield writer.writerow(ARCHIVED_CSV_COLUMNS)
        for row in rows.iterator(chunk_size=2000):
            pk, username, name, status, archived, by, mode, rnd, plan_status, enrolled, completed, cert = row
            yield writer.writerow(
                [pk, username, name, status, _iso(archived), by, mode, rnd, labels[plan_status]]
                + [_iso(enrolled), _iso(completed), "yes" if cert else "no"]
            )

    return _csv_response(lines(), f"archived-{plan.code or plan.pk}.csv")


# ---------------------------------------------------------------------------------------------- details


def _visible_record(user: User, pk: int) -> ArchivedPlanEnrollment:
    roles.require_admin_role(user)
    return get_archived_for(user, pk)


@login_required
@require_GET
def archived_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Every stored field grouped as SPEC §4.4, the course snapshots with material progress, the audit trail."""
    archived = _visible_record(request.user, pk)
    courses = list(archived.course_enrollments.all())
    material_ids = {entry[0] for course in courses for entry in course.tracking}
    titles = dict(TrainingMaterial.objects.filter(pk__in=material_ids).values_list("pk", "title"))
    for course in courses:
        course.materials = [
            {
                "title": titles.get(material_id, f"Material #{material_id} (deleted)"),
                "status": status.replace("_", " "),
                "completed_at": datetime.datetime.fromisoformat(completed) if completed else None,
                "score": score,
            }
            for material_id, status, completed, score in course.tracking
        ]
    trail = Q(object_type="archived_plan_enrollment", object_id=archived.pk)
    if archived.job_id:
        trail |= Q(object_type="archive_job", object_id=archived.job_id, details__archive_ids__contains=[archived.pk])
    plan_visible = (
        archived.learning_plan_id is not None
        and live.plans_visible_to(request.user).filter(pk=archived.learning_plan_id).exists()
    )
    context = {
        "archived": archived,
        "courses": courses,
        "audit_events": AuditEvent.objects.filter(trail).order_by("created_at", "id")[:200],
        "plan_visible": plan_visible,
        "can_delete": roles.is_superadmin(request.user),
        "nav_section": "plans" if plan_visible else "team",
    }
    return render(request, "archive/archived_detail.html", context)


@login_required
@require_GET
def archived_certificate(request: HttpRequest, pk: int) -> FileResponse:
    """The certificate as it was archived, from archive storage; audited as a certificate download."""
    archived = _visible_record(request.user, pk)
    try:
        response = archived_certificate_response(archived, actor=request.user)
    except FileNotFoundError as exc:
        raise Http404("The archived certificate file is missing.") from exc
    if response is None:
        raise Http404("This archived enrollment has no certificate.")
    return response


@login_required
@require_http_methods(["GET", "POST"])
def archived_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one archived record after a confirmation pop-up (superadmins; irreversible, audited)."""
    archived = _visible_record(request.user, pk)
    roles.require_superadmin(request.user)
    if archived.learning_plan_id and live.plans_visible_to(request.user).filter(pk=archived.learning_plan_id).exists():
        back_url = reverse("archive:archived_list", args=[archived.learning_plan_id])
    else:
        back_url = reverse("archive:team") if roles.manages_anyone(request.user) else reverse("home")
    if request.method == "POST":
        deleted = delete_archived_enrollments(
            archives=ArchivedPlanEnrollment.objects.filter(pk=archived.pk), actor=request.user
        )
        if deleted:
            messages.success(
                request, f"Archived enrollment of {archived.user_display_name} (round {archived.round}) deleted."
            )
        if request.htmx:
            return HttpResponseClientRedirect(back_url)
        return redirect(back_url)
    context = {"archived": archived, "action_url": request.path, "back_url": archived.get_absolute_url()}
    return render_modal(request, "archive/delete_modal.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def archived_bulk_delete(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Delete the archived records ticked in the Archived view, after a confirmation pop-up (superadmins)."""
    plan = require_archiver(request.user, plan_id)
    data = request.POST if request.method == "POST" else request.GET
    back_url = reverse("archive:archived_list", args=[plan.pk])
    error = ""
    try:
        ids = sorted({int(value) for value in data.getlist("archive_ids")})
    except ValueError:
        ids, error = [], "The selection is not valid: archived record ids must be numbers. Nothing was deleted."
    records = archived_enrollments_visible_to(request.user).filter(learning_plan=plan, pk__in=ids)
    found = list(records.order_by("-archived_at", "-id").values_list("pk", "user_display_name", "round"))
    if not error and not ids:
        error = "No archived enrollment selected."
    elif not error and len(found) != len(ids):
        missing = sorted(set(ids) - {pk for pk, _, _ in found})
        error = f"Not archived enrollments of “{plan.title}”: {', '.join(map(str, missing[:20]))}. Nothing was deleted."
    if request.method == "POST" and not error:
        deleted = delete_archived_enrollments(archives=records, actor=request.user)
        messages.success(request, f"{deleted} archived enrollment{'s' if deleted != 1 else ''} deleted.")
        return finish_in_modal(request, back_url)
    context = {"plan": plan, "records": found, "ids": ids, "error": error, "action_url": request.path}
    context["back_url"] = back_url
    return render_modal(request, "archive/bulk_delete_modal.html", context, status=422 if error else 200)


# ---------------------------------------------------------------------------------------------- jobs


def _require_jobs_section(user: User) -> None:
    roles.require_admin_role(user)
    if not roles.is_superadmin(user):
        raise PermissionDenied("Background jobs are for superadmins.")


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    _require_jobs_section(request.user)
    paginator = Paginator(jobs_visible_to(request.user).order_by("-created_at", "-id"), 25)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "archive/job_list.html", {"page": page, "nav_section": "jobs"})


def _visible_job(user: User, pk: int) -> ArchiveJob:
    roles.require_admin_role(user)
    return get_job_for(user, pk)


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's progress, counts and per-item outcomes (filterable by outcome), with its CSV and Cancel."""
    job = _visible_job(request.user, pk)
    outcome = request.GET.get("outcome", "")
    items = ArchiveJobItem.objects.filter(job=job).order_by("position")
    if outcome and outcome in Outcome.values:
        items = items.filter(outcome=outcome)
    elif outcome:
        messages.warning(request, f"“{outcome}” is not an outcome; showing every item.")
        outcome = ""
    counts = dict(ArchiveJobItem.objects.filter(job=job).values_list("outcome").annotate(n=Count("*")))
    context = {
        "job": job,
        "items": Paginator(items, 50).get_page(request.GET.get("page")),
        "outcome": outcome,
        "outcomes": [(value, label, counts.get(value, 0)) for value, label in Outcome.choices],
        "csv_url": reverse("archive:job_items_csv", args=[job.pk]) + (f"?outcome={outcome}" if outcome else ""),
        "nav_section": "jobs",
    }
    return render(request, "archive/job_detail.html", context)


@login_required
@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live progress panel (htmx polls it every second until the job is finished)."""
    job = _visible_job(request.user, pk)
    response = render(request, "archive/includes/job_progress.html", {"job": job})
    return trigger_client_event(response, REFRESH_EVENT) if job.is_finished else response


@login_required
@require_GET
def job_items_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = _visible_job(request.user, pk)
    outcome = request.GET.get("outcome") or None
    return job_items_csv_response(job, outcome=outcome if outcome in Outcome.values else None)


@login_required
@require_POST
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _visible_job(request.user, pk)
    try:
        cancel_archive_job(job, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Archive job #{job.pk}: cancel requested; it stops after the current batch.")
    return redirect(job.get_absolute_url())


# ---------------------------------------------------------------------------------------------- my team


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    """My team: the direct reports and their archived plan enrollments (first level only, SPEC §2)."""
    roles.require_admin_role(request.user)
    if not roles.manages_anyone(request.user):
        raise PermissionDenied("My team is for people who manage someone.")
    reports = roles.direct_report_ids(request.user)
    records = archived_enrollments_visible_to(request.user).filter(user_id__in=reports)
    members = list(User.objects.filter(pk__in=reports).order_by("last_name", "first_name", "username"))
    archived_counts = dict(records.order_by().values_list("user_id").annotate(n=Count("*")))
    for person in members:
        person.archived = archived_counts.get(person.pk, 0)
    member = request.GET.get("user", "")
    if member:
        if not member.isdigit() or int(member) not in {m.pk for m in members}:
            raise Http404("This person is not in your team.")
        records = records.filter(user_id=int(member))
    page = Paginator(records.order_by("-archived_at", "-id"), 25).get_page(request.GET.get("page"))
    table = TeamArchivedTable(PreparedRows(list(page.object_list)))
    context = {"members": members, "member": member, "page": page, "table": table, "nav_section": "team"}
    return render(request, "archive/team.html", context)
