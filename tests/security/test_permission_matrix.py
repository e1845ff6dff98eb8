"""Every URL of the project × every role of SPEC §2 × the methods it accepts → the status it must answer.

The expected statuses are written by hand from SPEC §2 (not computed from the code under test):
not logged in → login redirect (pages, 302) / 401 (API); logged in without any admin role → 403; an
object outside the caller's visibility → 404; a visible object but an action the role may not take → 403;
a section the role never has → 403. A meta-test fails when a URL name has no row here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from archive.models import RetrainingExemption, RetrainingRun
from archive.services import form_options, validate_import
from archive.services.retraining import utc_today
from enrollments.models import RetrainingRule
from tests.security.conftest import ROLES, World

pytestmark = pytest.mark.django_db

# Columns, in ROLES order:
#   anonymous, learner, power user assigned, power user not assigned, manager (first level of the record's
#   learner), director (second level only), superadmin, support staff (is_staff, level user, manages nobody).
# 302 for a logged-in role means a redirect that is the page's normal answer (not a login redirect).
MATRIX: dict[tuple[str, str], tuple[int, int, int, int, int, int, int, int]] = {
    # name, method:                                    anon learner pu_in pu_out manager director super staff
    ("home", "GET"):                                    (302, 403, 302, 302, 302, 302, 302, 403),
    ("accounts:login", "GET"):                          (200, 302, 302, 302, 302, 302, 302, 302),
    ("accounts:login", "POST"):                         (200, 302, 302, 302, 302, 302, 302, 302),
    ("accounts:logout", "POST"):                        (302, 302, 302, 302, 302, 302, 302, 302),
    ("enrollments:plan_list", "GET"):                   (302, 403, 200, 200, 403, 403, 200, 403),
    ("enrollments:plan_enrollments", "GET"):            (302, 403, 200, 404, 403, 403, 200, 403),
    ("enrollments:certificate_download", "GET"):        (302, 403, 200, 404, 404, 404, 200, 403),
    ("archive:merge_users", "GET"):                 (302, 403, 403, 403, 403, 403, 200, 403),
    ("archive:merge_users", "POST"):                (302, 403, 403, 403, 403, 403, 422, 403),
    ("archive:archive_enrollment", "GET"):              (302, 403, 403, 404, 403, 403, 200, 403),
    ("archive:archive_enrollment", "POST"):             (302, 403, 403, 404, 403, 403, 422, 403),
    ("archive:bulk_archive", "GET"):                    (302, 403, 403, 404, 403, 403, 200, 403),
    ("archive:bulk_archive", "POST"):                   (302, 403, 403, 404, 403, 403, 422, 403),
    ("archive:bulk_preview_csv", "GET"):                (302, 403, 403, 404, 403, 403, 200, 403),
    ("archive:archived_list", "GET"):                   (302, 403, 200, 404, 403, 403, 200, 403),
    ("archive:archived_export", "GET"):                 (302, 403, 200, 404, 403, 403, 200, 403),
    ("archive:archived_detail", "GET"):                 (302, 403, 200, 404, 200, 404, 200, 403),
    ("archive:archived_certificate", "GET"):            (302, 403, 200, 404, 200, 404, 200, 403),
    ("archive:archived_delete", "GET"):                 (302, 403, 403, 404, 403, 404, 200, 403),
    ("archive:archived_delete", "POST"):                (302, 403, 403, 404, 403, 404, 422, 403),
    ("archive:archived_bulk_delete", "GET"):            (302, 403, 403, 404, 403, 403, 422, 403),
    ("archive:archived_bulk_delete", "POST"):           (302, 403, 403, 404, 403, 403, 422, 403),
    ("archive:job_list", "GET"):                        (302, 403, 403, 403, 403, 403, 200, 403),
    ("archive:job_detail", "GET"):                      (302, 403, 404, 404, 404, 404, 200, 403),
    ("archive:job_progress", "GET"):                    (302, 403, 404, 404, 404, 404, 200, 403),
    ("archive:job_items_csv", "GET"):                   (302, 403, 404, 404, 404, 404, 200, 403),
    ("archive:job_cancel", "POST"):                     (302, 403, 404, 404, 404, 404, 302, 403),
    ("archive:team", "GET"):                            (302, 403, 403, 403, 200, 200, 403, 403),
    ("archive:retraining", "GET"):                      (302, 403, 200, 404, 403, 403, 200, 403),
    ("archive:retraining", "POST"):                     (302, 403, 403, 404, 403, 403, 422, 403),
    ("archive:retraining_forecast", "GET"):             (302, 403, 200, 404, 403, 403, 200, 403),
    ("archive:retraining_dry_run", "GET"):              (302, 403, 200, 404, 403, 403, 200, 403),
    ("archive:retraining_rule_delete", "GET"):          (302, 403, 403, 404, 403, 403, 200, 403),
    ("archive:retraining_rule_delete", "POST"):         (302, 403, 403, 404, 403, 403, 302, 403),
    ("archive:retraining_run_now", "POST"):             (302, 403, 403, 404, 403, 403, 302, 403),
    ("archive:retraining_run_confirm", "POST"):         (302, 403, 403, 404, 403, 403, 422, 403),
    ("archive:retraining_exemption_add", "POST"):       (302, 403, 403, 404, 403, 403, 422, 403),
    ("archive:retraining_exemption_remove", "POST"):    (302, 403, 403, 404, 403, 403, 302, 403),
    ("archive:compliance", "GET"):                      (302, 403, 200, 200, 403, 403, 200, 403),
    ("archive:compliance_export", "GET"):               (302, 403, 200, 200, 403, 403, 200, 403),
    ("admin:index", "GET"):                             (302, 302, 302, 302, 302, 302, 302, 200),
    ("api:openapi-json", "GET"):                        (200, 200, 200, 200, 200, 200, 200, 200),
    ("api:openapi-view", "GET"):                        (200, 200, 200, 200, 200, 200, 200, 200),
    ("api:api-root", "GET"):                            (404, 404, 404, 404, 404, 404, 404, 404),
    ("api:list_plan_enrollments", "GET"):               (401, 403, 200, 404, 403, 403, 200, 403),
    ("api:list_plan_archived_enrollments", "GET"):      (401, 403, 200, 404, 403, 403, 200, 403),
    ("api:get_archived_enrollment", "GET"):             (401, 403, 200, 404, 200, 404, 200, 403),
    ("api:delete_archived_enrollment", "DELETE"):       (401, 403, 403, 404, 403, 404, 204, 403),
    ("api:archived_enrollment_certificate", "GET"):     (401, 403, 200, 404, 200, 404, 200, 403),
    ("api:archive_plan_enrollments", "POST"):           (401, 403, 403, 404, 403, 403, 400, 403),
    ("api:get_job", "GET"):                             (401, 403, 404, 404, 404, 404, 200, 403),
    ("api:list_job_items", "GET"):                      (401, 403, 404, 404, 404, 404, 200, 403),
    ("api:cancel_job", "POST"):                         (401, 403, 404, 404, 404, 404, 200, 403),
    ("api:get_retraining_rule", "GET"):                 (401, 403, 200, 404, 403, 403, 200, 403),
    ("api:put_retraining_rule", "PUT"):                 (401, 403, 403, 404, 403, 403, 400, 403),
    ("api:delete_retraining_rule", "DELETE"):           (401, 403, 403, 404, 403, 403, 204, 403),
    ("api:get_retraining_forecast", "GET"):             (401, 403, 200, 404, 403, 403, 200, 403),
    ("api:start_retraining_run", "POST"):               (401, 403, 403, 404, 403, 403, 202, 403),
    ("api:get_retraining_run", "GET"):                  (401, 403, 200, 404, 403, 403, 200, 403),
    ("api:confirm_retraining_run", "POST"):             (401, 403, 403, 404, 403, 403, 400, 403),
    ("api:list_compliance", "GET"):                     (401, 403, 200, 200, 403, 403, 200, 403),
    ("archive:import_upload", "GET"):                   (302, 403, 403, 403, 403, 403, 200, 403),
    ("archive:import_upload", "POST"):                  (302, 403, 403, 403, 403, 403, 422, 403),
    ("archive:import_report", "GET"):                   (302, 403, 403, 403, 403, 403, 200, 403),
    ("archive:import_errors_csv", "GET"):               (302, 403, 403, 403, 403, 403, 200, 403),
    ("archive:import_submit", "POST"):                  (302, 403, 403, 403, 403, 403, 302, 403),
    ("archive:import_progress", "GET"):                 (302, 403, 403, 403, 403, 403, 200, 403),
    ("api:upload_archive_import", "POST"):              (401, 403, 403, 403, 403, 403, 400, 403),
    ("api:get_archive_import", "GET"):                  (401, 403, 403, 403, 403, 403, 200, 403),
    ("api:get_archive_import_errors", "GET"):           (401, 403, 403, 403, 403, 403, 200, 403),
    ("api:submit_archive_import", "POST"):              (401, 403, 403, 403, 403, 403, 202, 403),
}  # fmt: skip


def _plan(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.plan.pk])


def _record(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.record.pk])


def _job(name: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.job.pk])


def _rule(w: World) -> RetrainingRule:
    """The plan's retraining rule, made on first use (the Retraining tab's objects hang from it)."""
    rule, _ = RetrainingRule.objects.get_or_create(
        learning_plan=w.plan, defaults={"valid_for_months": 12, "user_statuses": ["active"]}
    )
    return rule


def _retraining(name: str) -> Callable[[World], str]:
    def url(w: World) -> str:
        _rule(w)
        return reverse(name, args=[w.plan.pk])

    return url


def _waiting_run(w: World) -> str:
    run = RetrainingRun.objects.create(rule=_rule(w), run_date=utc_today(), status="awaiting_confirmation", selected=3)
    return reverse("archive:retraining_run_confirm", args=[w.plan.pk, run.pk])


def _exemption(w: World) -> str:
    exemption = RetrainingExemption.objects.create(rule=_rule(w), user=w.users["learner"], reason="On leave")
    return reverse("archive:retraining_exemption_remove", args=[w.plan.pk, exemption.pk])


def _api_run(name: str) -> Callable[[World], str]:
    def url(w: World) -> str:
        run = RetrainingRun.objects.create(
            rule=_rule(w), run_date=utc_today(), status="awaiting_confirmation", selected=3
        )
        return reverse(name, args=[run.pk])

    return url


def _import(name: str) -> Callable[[World], str]:
    """A validated import of one valid row (the plan's active enrollment), made on first use."""

    def url(w: World) -> str:
        options = form_options(mode="reenroll", reset_tracking="false", notify="true")
        data = f"user_id,plan_id\n{w.enrollment.user_id},{w.plan.pk}\nnobody,{w.plan.pk}\n".encode()
        archive_import, _ = validate_import(
            data=data, file_name="list.csv", actor=w.users["superadmin"], options=options
        )
        return reverse(name, args=[archive_import.pk])

    return url


def _selection(w: World) -> str:
    return f"?enrollment_ids={w.enrollment.pk}&enrollment_ids={w.record.enrollment_id}"


# How to reach each URL name in the world (object ids are the ones the "assigned"/"manager" columns can see).
URLS: dict[str, Callable[[World], str]] = {
    "home": lambda w: reverse("home"),
    "accounts:login": lambda w: reverse("accounts:login"),
    "accounts:logout": lambda w: reverse("accounts:logout"),
    "enrollments:plan_list": lambda w: reverse("enrollments:plan_list"),
    "enrollments:plan_enrollments": _plan("enrollments:plan_enrollments"),
    "enrollments:certificate_download": lambda w: reverse("enrollments:certificate_download", args=[w.certificate.pk]),
    "archive:merge_users": lambda w: reverse("archive:merge_users"),
    "archive:archive_enrollment": lambda w: reverse("archive:archive_enrollment", args=[w.plan.pk, w.enrollment.pk]),
    "archive:bulk_archive": lambda w: reverse("archive:bulk_archive", args=[w.plan.pk]) + _selection(w),
    "archive:bulk_preview_csv": lambda w: reverse("archive:bulk_preview_csv", args=[w.plan.pk]) + _selection(w),
    "archive:archived_list": _plan("archive:archived_list"),
    "archive:archived_export": _plan("archive:archived_export"),
    "archive:archived_detail": _record("archive:archived_detail"),
    "archive:archived_certificate": _record("archive:archived_certificate"),
    "archive:archived_delete": _record("archive:archived_delete"),
    "archive:archived_bulk_delete": _plan("archive:archived_bulk_delete"),
    "archive:job_list": lambda w: reverse("archive:job_list"),
    "archive:job_detail": _job("archive:job_detail"),
    "archive:job_progress": _job("archive:job_progress"),
    "archive:job_items_csv": _job("archive:job_items_csv"),
    "archive:job_cancel": _job("archive:job_cancel"),
    "archive:team": lambda w: reverse("archive:team"),
    "archive:retraining": _retraining("archive:retraining"),
    "archive:retraining_forecast": _retraining("archive:retraining_forecast"),
    "archive:retraining_dry_run": _retraining("archive:retraining_dry_run"),
    "archive:retraining_rule_delete": _retraining("archive:retraining_rule_delete"),
    "archive:retraining_run_now": _retraining("archive:retraining_run_now"),
    "archive:retraining_run_confirm": _waiting_run,
    "archive:retraining_exemption_add": _retraining("archive:retraining_exemption_add"),
    "archive:retraining_exemption_remove": _exemption,
    "archive:compliance": lambda w: reverse("archive:compliance"),
    "archive:compliance_export": lambda w: reverse("archive:compliance_export"),
    "admin:index": lambda w: reverse("admin:index"),
    "api:openapi-json": lambda w: reverse("api:openapi-json"),
    "api:openapi-view": lambda w: reverse("api:openapi-view"),
    "api:api-root": lambda w: reverse("api:api-root"),
    "api:list_plan_enrollments": _plan("api:list_plan_enrollments"),
    "api:list_plan_archived_enrollments": _plan("api:list_plan_archived_enrollments"),
    "api:get_archived_enrollment": _record("api:get_archived_enrollment"),
    "api:delete_archived_enrollment": _record("api:delete_archived_enrollment"),
    "api:archived_enrollment_certificate": _record("api:archived_enrollment_certificate"),
    "api:archive_plan_enrollments": _plan("api:archive_plan_enrollments"),
    "api:get_job": _job("api:get_job"),
    "api:list_job_items": _job("api:list_job_items"),
    "api:cancel_job": _job("api:cancel_job"),
    "api:get_retraining_rule": _retraining("api:get_retraining_rule"),
    "api:put_retraining_rule": _retraining("api:put_retraining_rule"),
    "api:delete_retraining_rule": _retraining("api:delete_retraining_rule"),
    "api:get_retraining_forecast": _retraining("api:get_retraining_forecast"),
    "api:start_retraining_run": _retraining("api:start_retraining_run"),
    "api:get_retraining_run": _api_run("api:get_retraining_run"),
    "api:confirm_retraining_run": _api_run("api:confirm_retraining_run"),
    "api:list_compliance": lambda w: reverse("api:list_compliance"),
    "archive:import_upload": lambda w: reverse("archive:import_upload"),
    "archive:import_report": _import("archive:import_report"),
    "archive:import_errors_csv": _import("archive:import_errors_csv"),
    "archive:import_submit": _import("archive:import_submit"),
    "archive:import_progress": _import("archive:import_progress"),
    "api:upload_archive_import": lambda w: reverse("api:upload_archive_import"),
    "api:get_archive_import": _import("api:get_archive_import"),
    "api:get_archive_import_errors": _import("api:get_archive_import_errors"),
    "api:submit_archive_import": _import("api:submit_archive_import"),
}


def request(client, method: str, name: str, url: str):
    if name.startswith("api:") and method in ("POST", "PUT", "DELETE"):
        return client.generic(method, url, "{}", content_type="application/json")
    return getattr(client, method.lower())(url)  # forms get an empty body: bad input for whoever may post


@pytest.mark.parametrize(("name", "method"), list(MATRIX))
def test_every_role_gets_the_status_the_spec_gives(world, name, method):
    # Superadmins last: their POST / DELETE succeed and may delete the object the others are checked against.
    order = [r for r in ROLES if r != "superadmin"] + ["superadmin"]
    expected = dict(zip(ROLES, MATRIX[name, method], strict=True))
    url = URLS[name](world)
    answered = {role: request(world.client(role), method, name, url).status_code for role in order}

    wrong = {
        role: f"expected {expected[role]}, got {answered[role]}" for role in order if answered[role] != expected[role]
    }
    assert not wrong, f"{method} {url}: {wrong}"


def test_anonymous_page_requests_are_sent_to_the_login_page(world):
    for (name, method), statuses in MATRIX.items():
        if statuses[0] == 302 and name not in ("accounts:logout", "admin:index"):
            response = request(world.client("anonymous"), method, name, URLS[name](world))
            assert response["Location"].startswith(reverse("accounts:login") + "?next="), name


# --- The meta-test: no URL name without a row -----------------------------------------------------------------


def url_names(patterns=None, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            names |= url_names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def project_url_names() -> set[str]:
    """Every named URL of the project; Django admin's own pages are left out, its index stays in."""
    return {n for n in url_names() if not n.startswith("admin:") or n == "admin:index"}


def test_every_url_name_has_a_row_in_the_matrix():
    covered = {name for name, _method in MATRIX}

    missing = sorted(project_url_names() - covered)

    assert not missing, f"URL names without a row in MATRIX (add their expected statuses): {missing}"


def test_every_row_of_the_matrix_is_a_url_of_the_project():
    stale = sorted({name for name, _method in MATRIX} - project_url_names())

    assert not stale, f"rows for URL names that no longer exist: {stale}"
    assert set(URLS) == {name for name, _method in MATRIX}
