"""What changed since the archived round, in a real browser (issue 15): the single pop-up shows the materials added
and changed since the learner's last round and what keeping tracking leaves to do; "only what changed" resets just
those; axe-core finds no WCAG 2.1 A/AA violation in the pop-up. `SCREENSHOTS=1` saves it to docs/screenshots/."""

from __future__ import annotations

import datetime
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from archive.models import ArchivedPlanEnrollment
from archive.services import archive_enrollments
from enrollments.content import mark_materials_changed
from enrollments.models import MaterialTracking, TrackingStatus, TrainingMaterial
from enrollments.services import enroll_user, record_material_progress
from tests.e2e.test_archive_pages import screenshot
from tests.e2e.test_retraining import WCAG_21_AA
from tests.factories import SuperadminFactory, TrainingMaterialFactory, UserFactory, make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def second_round():
    """Ada completed a 2 × 2 plan and was archived and re-enrolled with her tracking kept; since then a material
    was added and one was marked substantively changed."""
    admin = SuperadminFactory(username="boss")
    plan = make_plan(courses=2, materials_per_course=2, title="Forklift licence")
    ada = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    enrollment = enroll_user(user=ada, learning_plan=plan, now=START)
    materials = list(TrainingMaterial.objects.filter(course__plan_links__learning_plan=plan).order_by("pk"))
    for material in materials:
        record_material_progress(user=ada, material=material, status=TrackingStatus.COMPLETED, now=START)
    archive_enrollments(enrollment_ids=[enrollment.pk], actor=admin, mode="reenroll", notify=False)
    TrainingMaterial.objects.filter(pk=materials[0].pk).update(title="Pre-use inspection")
    mark_materials_changed([materials[0].pk])
    added = TrainingMaterialFactory(course=materials[-1].course, title="Battery charging", position=9)
    return admin, plan, ada, materials[0], added


def open_popup(page: Page, live_server, user, plan) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")
    row = page.locator("#enrollments-table tr[data-enrollment-id]").filter(has_text="Ada Lovelace")
    row.get_by_role("button", name="Actions for Ada Lovelace").click()
    row.get_by_role("menuitem", name="Archive enrollment").click()


def test_the_popup_shows_what_changed_and_resets_only_that(live_server, page, second_round):
    admin, plan, ada, changed, added = second_round
    open_popup(page, live_server, admin, plan)

    dialog = page.locator("#modal")
    expect(dialog.locator('[data-diff="added"]')).to_have_text(f"1: Battery charging ({added.course.title})")
    expect(dialog.locator('[data-diff="changed"]')).to_contain_text("Pre-use inspection")
    expect(dialog.locator('[data-todo="new"]')).to_have_text("1")
    expect(dialog.locator('[data-todo="changed"]')).to_have_text("0")  # kept as done while the tracking is kept

    dialog.get_by_label(re.compile("Reset the tracking")).check()
    expect(dialog.locator('[data-preview="tracking"]')).to_have_text("4")  # everything, the first choice
    dialog.get_by_label("only what changed").check()
    expect(dialog.locator('[data-preview="tracking"]')).to_have_text("1")
    expect(dialog.locator('[data-todo="changed"]')).to_have_text("1")
    screenshot(page, "archive-popup-changes")
    dialog.get_by_role("button", name="Archive enrollment").click()

    expect(dialog).to_be_hidden()
    assert ArchivedPlanEnrollment.objects.filter(user=ada, round=2).get().reset_tracking == "changed"
    assert not MaterialTracking.objects.filter(user=ada, material=changed).exists()
    assert MaterialTracking.objects.filter(user=ada, status=TrackingStatus.COMPLETED).count() == 3


def test_the_popup_with_its_diff_has_no_accessibility_violations(live_server, browser: Browser, second_round):
    admin, plan, *_ = second_round
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        open_popup(page, live_server, admin, plan)
        expect(page.locator('#modal [data-diff="added"]')).to_be_visible()
        page.locator("#modal").get_by_label(re.compile("Reset the tracking")).check()
        expect(page.locator('#modal [data-preview="tracking"]')).to_have_text("4")
        results = Axe().run(page, options=WCAG_21_AA)
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()


def test_the_bulk_preview_with_its_warning_has_no_accessibility_violations(live_server, browser: Browser, second_round):
    admin, plan, ada, *_ = second_round
    others = [enroll_user(user=UserFactory(), learning_plan=plan, now=START) for _ in range(2)]
    ids = "&".join(f"enrollment_ids={pk}" for pk in [e.pk for e in others] + [plan.enrollments.get(user=ada).pk])
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        client = Client()
        client.force_login(admin)
        cookie = client.cookies["sessionid"].value
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        page.goto(f"{live_server.url}/archive/plans/{plan.pk}/archive/?{ids}&mode=reenroll&notify=1")
        expect(page.locator('[data-preview="completed-again"]')).to_have_text("0")
        expect(page.locator('[data-diff="never-archived"]')).to_contain_text("2 learners never archived")
        expect(page.locator('[data-diff="added"]')).to_contain_text("Battery charging")
        results = Axe().run(page, options=WCAG_21_AA)
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()
