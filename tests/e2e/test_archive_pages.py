"""Archiving in a real browser (issue 5): each test checks what the person sees and what the database holds.

`SCREENSHOTS=1` saves the main screens to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from archive.models import ArchivedPlanEnrollment, ArchiveJob, ArchiveMode
from archive.services import archive_batch, current_rounds
from enrollments.jobs import render_certificates
from enrollments.models import IssuedCertificate, LearningPlanEnrollment, MaterialTracking, TrackingStatus
from enrollments.services import enroll_user, record_material_progress
from lms_admin.accounts.models import User
from tests.factories import (
    CourseFactory,
    ManagerLinkFactory,
    PowerUserFactory,
    SuperadminFactory,
    TrainingMaterialFactory,
    UserFactory,
    add_course,
    enroll_in_bulk,
    make_plan,
)

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def screenshot(page: Page, name: str) -> None:
    """Save the screen for the README when SCREENSHOTS=1."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"))


def log_in(page: Page, live_server, user) -> None:
    """Sign the browser in as `user` (a real session cookie of the live server)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    page.set_viewport_size({"width": 1280, "height": 820})


def rows(page: Page):
    return page.locator("#enrollments-table tr[data-enrollment-id]")


@pytest.fixture
def ada_plan():
    """Ada completed every material of a 2×2 plan and holds a rendered certificate (a real PDF)."""
    admin = SuperadminFactory(username="boss")
    plan = make_plan(courses=2, materials_per_course=2, template=True, title="Forklift licence")
    ada = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    enroll_user(user=ada, learning_plan=plan, now=START)
    for link in plan.plan_courses.select_related("course"):
        for material in link.course.materials.all():
            record_material_progress(user=ada, material=material, status=TrackingStatus.COMPLETED, now=START)
    render_certificates(list(IssuedCertificate.objects.filter(user=ada).values_list("pk", flat=True)))
    enroll_in_bulk(plan, 3, prefix="driver", start=START)
    return admin, plan, ada


def test_superadmin_archives_one_enrollment_with_reenroll_and_reset_then_finds_it_archived(live_server, page, ada_plan):
    admin, plan, ada = ada_plan
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")
    row = rows(page).filter(has_text="Ada Lovelace")
    row.get_by_role("button", name="Actions for Ada Lovelace").click()
    row.get_by_role("menuitem", name="Archive enrollment").click()

    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Archive enrollment")).to_be_visible()
    expect(dialog.get_by_label("Archive and re-enroll")).to_be_checked()
    expect(dialog.get_by_label("Send notifications")).to_be_checked()
    expect(dialog.locator('[data-preview="course-enrollments"]')).to_have_text("2")
    expect(dialog.locator('[data-preview="tracking"]')).to_have_text("0")
    expect(dialog.locator('[data-preview="redo"]')).to_contain_text("Nothing: every material is completed")

    dialog.get_by_label(re.compile("Reset the tracking")).check()
    expect(dialog.locator('[data-preview="tracking"]')).to_have_text("4")
    expect(dialog.locator('[data-preview="redo"]')).to_have_text("4 of 4 training materials. Their progress is reset.")
    screenshot(page, "archive-popup-preview")
    dialog.get_by_role("button", name="Archive enrollment").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#messages")).to_contain_text("Ada Lovelace: 1 enrollment archived.")
    expect(row.locator("td.num")).to_have_text("2")  # the refreshed table shows round 2
    archived = ArchivedPlanEnrollment.objects.get(user=ada)
    assert (archived.mode, archived.reset_tracking, archived.round, archived.plan_status) == ("reenroll", True, 1, 2)
    live = LearningPlanEnrollment.objects.get(user=ada, learning_plan=plan)
    assert (live.round, live.status) == (2, 0)
    assert not MaterialTracking.objects.filter(user=ada).exists()

    page.get_by_role("button", name=re.compile("Active enrollments")).click()
    page.get_by_role("menuitem", name="Archived enrollments").click()
    expect(page).to_have_url(re.compile(rf"/archive/plans/{plan.pk}/archived/"))
    archived_row = page.locator(f'tr[data-archive-id="{archived.pk}"]')
    expect(archived_row).to_contain_text("Ada Lovelace")
    expect(archived_row).to_contain_text("Completed")
    archived_row.get_by_role("button", name="Actions for Ada Lovelace").click()
    archived_row.get_by_role("menuitem", name="Details").click()

    expect(page.get_by_role("heading", name=re.compile("Ada Lovelace"))).to_be_visible()
    expect(page.locator('[data-field="plan_title"]')).to_have_text("Forklift licence")
    expect(page.locator('[data-field="plan_status"]')).to_have_text("Completed")
    expect(page.locator('[data-field="user_username"]')).to_have_text("ada")
    expect(page.locator(".course-snapshot").first).to_contain_text("2 / 2 materials completed")
    expect(page.locator("#audit-trail")).to_contain_text("archive")
    screenshot(page, "archived-details")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download certificate").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    from pypdf import PdfReader

    assert "Ada Lovelace" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert archived.certificate.sha256


@pytest.mark.worker
def test_superadmin_archives_three_rows_picked_on_two_pages_with_unenroll_as_a_job(live_server, page, rq_worker):
    admin = SuperadminFactory(username="boss")
    plan = make_plan(courses=1, materials_per_course=1, title="Night shift")
    enrollments = enroll_in_bulk(plan, 30, prefix="worker", start=START)  # newest first: worker00029 on top
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")
    bar = page.locator("#selection-form")
    expect(bar).to_be_hidden()
    rows(page).nth(0).locator("input.row-select").check()
    rows(page).nth(1).locator("input.row-select").check()
    expect(bar).to_contain_text("2 selected")
    expect(bar).to_contain_text("2 of at most 200 picked by hand")
    page.get_by_role("link", name="Next", exact=True).click()
    expect(page.locator(".results-summary")).to_contain_text("Showing 26–30 of 30")
    expect(bar).to_contain_text("2 selected")  # kept across pages
    rows(page).nth(0).locator("input.row-select").check()
    expect(bar).to_contain_text("3 selected")
    screenshot(page, "active-selection-bar")
    picked = [enrollments[29].pk, enrollments[28].pk, enrollments[4].pk]

    bar.get_by_role("button", name=re.compile("Choose action")).click()
    bar.get_by_role("menuitem", name="Archive enrollments").click()
    dialog = page.locator("#modal")
    expect(dialog.locator('[data-preview="enrollments"]')).to_have_text("3")
    expect(dialog.locator('[data-preview="by-status"]')).to_contain_text("Enrolled: 3")
    dialog.get_by_label("Archive and unenroll").check()
    expect(dialog.locator('[data-preview="redo"]')).to_contain_text("they leave the plan")
    dialog.get_by_role("button", name="Archive enrollments").click()

    expect(dialog.get_by_role("heading", name="Archiving 3 enrollments")).to_be_visible()
    expect(dialog.locator("[data-job-status-label]")).to_have_text("Completed", timeout=30_000)
    expect(dialog.locator(".job-processed")).to_contain_text("3 / 3 processed (100%)")
    screenshot(page, "job-progress")
    job = ArchiveJob.objects.get()
    assert (job.status, job.mode, job.total, job.counts) == ("completed", "unenroll", 3, {"archived": 3})
    assert sorted(ArchivedPlanEnrollment.objects.values_list("enrollment_id", flat=True)) == sorted(picked)
    assert not LearningPlanEnrollment.objects.filter(pk__in=picked).exists()

    expect(page.locator(".results-summary")).to_contain_text("of 27 enrollments")  # the list refreshed itself
    dialog.get_by_role("button", name="Close").first.click()
    expect(bar).to_be_hidden()  # the selection was cleared
    page.goto(f"{live_server.url}/archive/plans/{plan.pk}/archived/")
    expect(page.locator("#archived-table tr[data-archive-id]")).to_have_count(3)


def test_select_all_counts_the_filtered_rows_and_refuses_a_selection_over_the_limit(live_server, page, settings):
    settings.ARCHIVE_MAX_SELECT_ALL = 5
    admin = SuperadminFactory(username="boss")
    plan = make_plan(courses=1, materials_per_course=1, title="Crane operation")
    enrollments = enroll_in_bulk(plan, 8, prefix="crane", start=START)
    LearningPlanEnrollment.objects.filter(pk__in=[e.pk for e in enrollments[:3]]).update(status=2, completed_at=START)
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")

    page.get_by_label("Enrollment status").select_option("2")
    expect(page.locator(".results-summary")).to_contain_text("of 3 enrollments")
    page.get_by_label("Select every row on this page").check()
    bar = page.locator("#selection-form")
    bar.get_by_role("button", name="Select all 3 matching enrollments").click()
    expect(bar).to_contain_text("All 3 matching enrollments selected")
    expect(bar).to_contain_text("(up to 5)")
    bar.get_by_role("button", name=re.compile("Choose action")).click()
    bar.get_by_role("menuitem", name="Archive enrollments").click()
    dialog = page.locator("#modal")
    expect(dialog.locator('[data-preview="enrollments"]')).to_have_text("3")
    expect(dialog.locator('[data-preview="by-status"]')).to_contain_text("Completed: 3")
    expect(dialog.locator('[data-preview="notifications"]')).not_to_have_text("0")
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_be_hidden()

    page.get_by_label("Enrollment status").select_option("")
    expect(page.locator(".results-summary")).to_contain_text("of 8 enrollments")
    page.get_by_label("Select every row on this page").check()
    bar.get_by_role("button", name="Select all 8 matching enrollments").click()
    bar.get_by_role("button", name=re.compile("Choose action")).click()
    bar.get_by_role("menuitem", name="Archive enrollments").click()
    limit_message = "8 enrollments match these filters; “Select all” archives at most 5."
    expect(dialog.locator("#archive-errors")).to_contain_text(limit_message)
    dialog.get_by_role("button", name="Archive enrollments").click()
    expect(dialog.locator("#archive-errors")).to_contain_text("archives at most 5")
    assert not ArchiveJob.objects.exists()
    assert not ArchivedPlanEnrollment.objects.exists()


def test_the_unenroll_option_is_disabled_with_the_explanation_on_a_plan_sharing_a_course(live_server, page):
    admin = SuperadminFactory(username="boss")
    plan = make_plan(courses=1, materials_per_course=1, title="Warehouse basics")
    shared = CourseFactory(title="Fire safety")
    TrainingMaterialFactory(course=shared)
    add_course(plan, shared)
    other = make_plan(courses=0, title="Office basics")
    add_course(other, shared)
    enroll_in_bulk(plan, 1, prefix="stock", start=START)
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")
    rows(page).first.get_by_role("button", name=re.compile("Actions for")).click()
    page.get_by_role("menuitem", name="Archive enrollment").click()
    dialog = page.locator("#modal")
    expect(dialog.get_by_label("Archive and unenroll")).to_be_disabled()
    expect(dialog.get_by_label("Archive and re-enroll")).to_be_checked()
    expect(dialog.locator("#shared-explanation")).to_contain_text(
        'course "Fire safety" is also in learning plan "Office basics"'
    )
    assert LearningPlanEnrollment.objects.get().round == 1


@pytest.fixture
def archived_history():
    """Six archived records of one plan: two archivers, three dates, one learner deactivated when archived."""
    alice = SuperadminFactory(username="alice")
    bob = SuperadminFactory(username="bob")
    plan = make_plan(courses=1, materials_per_course=1, title="Ladder safety")
    enrollments = enroll_in_bulk(plan, 6, prefix="climber", start=START)
    User.objects.filter(username="climber00005").update(is_active=False)
    batches = [
        (enrollments[0:2], alice, datetime.datetime(2026, 4, 1, 10, tzinfo=datetime.UTC)),
        (enrollments[2:4], bob, datetime.datetime(2026, 5, 10, 10, tzinfo=datetime.UTC)),
        (enrollments[4:6], alice, datetime.datetime(2026, 6, 20, 10, tzinfo=datetime.UTC)),
    ]
    for batch, actor, when in batches:
        archive_batch(
            current_rounds([e.pk for e in batch]),
            actor=actor,
            mode=ArchiveMode.REENROLL,
            reset_tracking=False,
            notify=False,
            now=when,
        )
    return alice, bob, plan


def test_archived_view_filters_narrow_the_table_and_the_csv_has_exactly_the_filtered_rows(
    live_server, page, archived_history
):
    alice, bob, plan = archived_history
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/archive/plans/{plan.pk}/archived/")
    table_rows = page.locator("#archived-table tr[data-archive-id]")
    expect(table_rows).to_have_count(6)

    page.get_by_label("Archived from").fill("2026-04-15")
    page.get_by_label("Archived to").fill("2026-06-30")
    page.get_by_role("button", name="Apply").click()
    expect(table_rows).to_have_count(4)
    page.get_by_label("Archived by").select_option(label="alice")
    expect(table_rows).to_have_count(2)
    page.get_by_label("User status (when archived)").select_option("deactivated")
    expect(table_rows).to_have_count(1)
    expect(table_rows.first).to_contain_text("climber00005")
    page.get_by_label("User status (when archived)").select_option("")
    expect(table_rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"archived_by=\d+"))
    screenshot(page, "archived-view-filters")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    lines = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    expected = ArchivedPlanEnrollment.objects.filter(
        learning_plan=plan, archived_by=alice, archived_at__date__gte=datetime.date(2026, 4, 15)
    )
    assert sorted(int(line["archive_id"]) for line in lines) == sorted(expected.values_list("pk", flat=True))
    assert {line["username"] for line in lines} == {"climber00004", "climber00005"}
    assert {line["archived_by"] for line in lines} == {"alice"}


def test_superadmin_deletes_an_archived_record_after_confirming(live_server, page, archived_history):
    alice, _, plan = archived_history
    doomed = ArchivedPlanEnrollment.objects.get(user_username="climber00000")
    log_in(page, live_server, alice)
    page.goto(f"{live_server.url}/archive/plans/{plan.pk}/archived/")
    row = page.locator(f'tr[data-archive-id="{doomed.pk}"]')
    row.get_by_role("button", name=re.compile("Actions for")).click()
    row.get_by_role("menuitem", name="Delete").click()
    dialog = page.locator("#modal")
    expect(dialog).to_contain_text("This cannot be undone")
    assert ArchivedPlanEnrollment.objects.filter(pk=doomed.pk).exists()  # nothing happens before confirming
    dialog.get_by_role("button", name="Delete for good").click()
    expect(page.locator("#messages")).to_contain_text("deleted")
    expect(page.locator(f'tr[data-archive-id="{doomed.pk}"]')).to_have_count(0)
    expect(page.locator("#archived-table tr[data-archive-id]")).to_have_count(5)
    assert not ArchivedPlanEnrollment.objects.filter(pk=doomed.pk).exists()
    plan.refresh_from_db()
    assert plan.archived_count == 5


def test_power_users_see_no_archive_controls_and_managers_see_only_direct_reports(live_server, page, archived_history):
    alice, _, plan = archived_history
    power = PowerUserFactory(username="power")
    plan.power_users.add(power)
    record = ArchivedPlanEnrollment.objects.get(user_username="climber00001")
    director, manager = UserFactory(username="director"), UserFactory(username="manager")
    ManagerLinkFactory(manager=director, employee=manager)
    ManagerLinkFactory(manager=manager, employee=record.user)

    log_in(page, live_server, power)
    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")
    rows(page).first.get_by_role("button", name=re.compile("Actions for")).click()
    expect(page.get_by_role("menuitem", name="Archive enrollment")).to_have_count(0)
    expect(page.locator("#selection-form")).to_have_count(0)
    page.goto(f"{live_server.url}/archive/plans/{plan.pk}/archived/")
    expect(page.locator("#archived-table tr[data-archive-id]")).to_have_count(6)
    page.locator("#archived-table tr[data-archive-id]").first.get_by_role("button").click()
    expect(page.get_by_role("menuitem", name="Details")).to_be_visible()
    expect(page.get_by_role("menuitem", name="Delete")).to_have_count(0)
    page.goto(f"{live_server.url}{record.get_absolute_url()}")
    expect(page.get_by_role("heading", name=re.compile(record.user_display_name))).to_be_visible()
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    expect(page.get_by_role("link", name="Background jobs")).to_have_count(0)

    page.context.clear_cookies()
    log_in(page, live_server, manager)
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="My team")).to_be_visible()
    team_rows = page.locator("#team-archived-table tr[data-archive-id]")
    expect(team_rows).to_have_count(1)
    expect(team_rows.first).to_contain_text(record.user_display_name)
    screenshot(page, "my-team")
    team_rows.first.get_by_role("link", name="Details").click()
    expect(page.locator('[data-field="plan_title"]')).to_have_text("Ladder safety")
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)

    page.context.clear_cookies()
    log_in(page, live_server, director)
    page.goto(f"{live_server.url}/archive/team/")
    expect(page.locator("#team-archived-table tr[data-archive-id]")).to_have_count(0)
    expect(page.get_by_text(record.user_display_name)).to_have_count(0)
    response = page.goto(f"{live_server.url}{record.get_absolute_url()}")
    assert response.status == 404


def test_the_archive_popup_is_keyboard_operable(live_server, page):
    admin = SuperadminFactory(username="boss")
    plan = make_plan(courses=1, materials_per_course=1, title="Keyboard plan")
    enroll_in_bulk(plan, 2, prefix="typist", start=START)
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")
    menu_button = rows(page).first.get_by_role("button", name=re.compile("Actions for"))
    menu_button.focus()
    page.keyboard.press("Enter")
    item = page.get_by_role("menuitem", name="Archive enrollment").first
    expect(item).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator("#modal")
    expect(dialog.get_by_role("heading", name="Archive enrollment")).to_be_visible()
    expect(dialog.get_by_label("Archive and re-enroll")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(menu_button).to_be_focused()
    assert LearningPlanEnrollment.objects.filter(round=1).count() == 2
    assert not ArchivedPlanEnrollment.objects.exists()
