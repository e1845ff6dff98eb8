"""Retraining in a real browser (issue 13): a superadmin creates a plan's rule, reads its live forecast, runs it and
sees the Compliance page change; axe-core finds no WCAG 2.1 A/AA violation on the Retraining tab or the Compliance
page. `SCREENSHOTS=1` saves both screens to docs/screenshots/ (the README shows them)."""

from __future__ import annotations

import datetime
import os
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from archive.models import ArchiveJob, RetrainingRun
from archive.services.retraining import utc_today
from enrollments.models import LearningPlan, LearningPlanEnrollment, RetrainingRule
from enrollments.retraining import save_rule
from lms_admin.accounts.models import User
from tests.e2e.test_archive_pages import SCREENSHOT_DIR, log_in
from tests.factories import SuperadminFactory, enroll_in_bulk, make_plan
from tests.workers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
# Each learner's days since completion under a 12-month, 30-day-window rule: four fall due (one of them, Edsger,
# gets an exemption), one expired a fortnight ago, two stay certified (due in ~4 and ~11 months), one never completed.
LEARNERS = {
    ("Ada", "Lovelace"): 335,
    ("Grace", "Hopper"): 340,
    ("Alan", "Turing"): 345,
    ("Edsger", "Dijkstra"): 350,
    ("Katherine", "Johnson"): 380,
    ("Barbara", "Liskov"): 200,
    ("Donald", "Knuth"): 30,
    ("Frances", "Allen"): None,
}


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    """Save the screen (or the whole page) for the README when SCREENSHOTS=1."""
    if os.environ.get("SCREENSHOTS") == "1":
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=full_page)


def assert_no_axe_violations(browser: Browser, live_server, user: User, path: str) -> None:
    """axe-core over the page as `user` sees it, from a context that lets its script in despite the CSP."""
    context = browser.new_context(bypass_csp=True)
    try:
        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"].value
        context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        page = context.new_page()
        page.goto(f"{live_server.url}{path}")
        results = Axe().run(page, options=WCAG_21_AA)
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()


@pytest.fixture
def forklift() -> tuple[User, LearningPlan]:
    admin = SuperadminFactory(username="boss", first_name="Bea", last_name="Boss")
    plan = make_plan(courses=1, materials_per_course=2, title="Forklift licence", code="FORK")
    today = utc_today()
    enrollments = enroll_in_bulk(plan, len(LEARNERS), prefix="driver")
    for enrollment, ((first, last), days) in zip(enrollments, LEARNERS.items(), strict=True):
        User.objects.filter(pk=enrollment.user_id).update(first_name=first, last_name=last, username=first.lower())
        if days is None:
            LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=1)
            continue
        completed = datetime.datetime.combine(today - datetime.timedelta(days=days), datetime.time(9), datetime.UTC)
        LearningPlanEnrollment.objects.filter(pk=enrollment.pk).update(status=2, completed_at=completed)
    return admin, plan


def counts_row(page: Page, plan: LearningPlan):
    return page.locator(f'#compliance-counts tr[data-plan-id="{plan.pk}"]')


def settled(page: Page) -> None:
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def test_a_superadmin_creates_a_rule_reads_its_forecast_runs_it_and_sees_compliance_change(
    live_server, page, browser, forklift, settings
):
    settings.RETRAINING_CONFIRM_OVER = 0  # the run waits for the number to be typed
    admin, plan = forklift
    log_in(page, live_server, admin)

    page.goto(f"{live_server.url}/archive/compliance/")
    before = counts_row(page, plan)
    expect(before.locator('[data-state="certified"]')).to_have_text("7")  # no rule: certified with no end date
    expect(before.locator('[data-state="due"]')).to_have_text("0")

    page.goto(f"{live_server.url}/plans/{plan.pk}/enrollments/")
    page.get_by_role("link", name="Retraining", exact=True).click()
    expect(page.get_by_text("No rule yet")).to_be_visible()
    forecast = page.locator("#forecast")
    due_today = forecast.locator('[data-forecast="due-today"]')
    expect(due_today).to_have_text("The first run would re-enroll 5 learners today.")

    with page.expect_request(lambda request: "/retraining/forecast/" in request.url) as preview:
        page.get_by_label("Valid for (months)").fill("24")
    assert "valid_for_months=24" in preview.value.url and "csrfmiddlewaretoken" not in preview.value.url
    expect(due_today).to_have_text("The first run would re-enroll 0 learners today.")
    expect(forecast).to_contain_text("From the values in the form — not saved yet.")
    settled(page)
    page.get_by_label(re.compile("^Keep tracking")).check()
    expect(page.locator("#keep-tracking-warning")).to_be_visible()
    expect(page.locator("#keep-tracking-warning")).to_contain_text("Completed again at once")
    settled(page)
    page.get_by_label(re.compile("^Reset everything")).check()
    expect(page.locator("#keep-tracking-warning")).to_be_hidden()
    settled(page)
    page.get_by_label("Valid for (months)").fill("12")
    expect(due_today).to_have_text("The first run would re-enroll 5 learners today.")
    expect(forecast.locator("svg.forecast-chart g.chart-bar")).to_have_count(12)
    due_per_month = [int(n) for n in forecast.locator("#forecast-data tbody td").all_text_contents()]
    assert sum(due_per_month) == 2 and due_per_month.count(1) == 2  # Barbara in ~4 months, Donald in ~11
    settled(page)

    page.get_by_role("button", name="Save rule").click()
    expect(page.locator("#messages")).to_contain_text(
        "The retraining rule was created. Certification dates set for 7 completed rounds of this plan."
    )
    expect(forecast).to_contain_text("From the saved rule.")
    rule = RetrainingRule.objects.get(learning_plan=plan)
    assert (rule.valid_for_months, rule.window_days, rule.reset_tracking) == (12, 30, True)

    page.get_by_label("Learner (username or user id)").fill("edsger")
    page.get_by_label("Reason", exact=True).fill("Seconded abroad until spring")
    page.get_by_role("button", name="Add exemption").click()
    expect(page.locator("#messages")).to_contain_text("Edsger Dijkstra is exempt from the retraining rule")
    expect(due_today).to_have_text("The first run would re-enroll 4 learners today.")

    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#messages")).to_contain_text(
        "Today's run selected 4 learners; it waits for a superadmin to confirm the number."
    )
    run = RetrainingRun.objects.get(rule=rule)
    expect(page.locator(f"#run-{run.pk}")).to_contain_text("Awaiting confirmation")
    expect(page.locator(f"#run-{run.pk}")).to_contain_text("1 exempt")
    page.get_by_role("heading", name="Forklift licence").scroll_into_view_if_needed()
    screenshot(page, "retraining-tab", full_page=True)
    page.get_by_label(re.compile("Type 4 to confirm")).fill("5")
    page.get_by_role("button", name="Confirm run").click()
    expect(page.get_by_role("alert").filter(has_text="(4) to confirm it")).to_be_visible()
    run.refresh_from_db()
    assert run.status == "awaiting_confirmation" and not ArchiveJob.objects.exists()

    page.get_by_role("link", name="Compliance", exact=True).click()
    after = counts_row(page, plan)
    for state, count in {"certified": 2, "due": 3, "expired": 1, "never_completed": 1, "exempt": 1}.items():
        expect(after.locator(f'[data-state="{state}"]')).to_have_text(str(count))
    page.get_by_label("State", exact=True).select_option("due")
    expect(page.locator("#compliance-table tr[data-enrollment-id]")).to_have_count(3)
    expect(page.locator(".results-summary")).to_contain_text("3 enrollments")
    screenshot(page, "compliance")

    assert_no_axe_violations(browser, live_server, admin, f"/archive/plans/{plan.pk}/retraining/")
    assert_no_axe_violations(browser, live_server, admin, "/archive/compliance/?state=due")


@pytest.mark.worker
def test_a_run_now_re_enrolls_the_due_learners_and_the_compliance_page_shows_them_retraining(
    live_server, page, forklift, rq_worker
):
    admin, plan = forklift
    save_rule(learning_plan=plan, actor=admin, data={"valid_for_months": 12, "window_days": 30})
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/archive/plans/{plan.pk}/retraining/")

    page.get_by_role("button", name="Run now").click()
    expect(page.locator("#messages")).to_contain_text("Today's run started: 5 learners are being archived")
    wait_for(
        lambda: ArchiveJob.objects.filter(retraining_run__rule__learning_plan=plan, status="completed").exists(),
        timeout=60,
        message="the run's job never completed",
    )
    page.reload()
    job = ArchiveJob.objects.get(retraining_run__rule__learning_plan=plan)
    expect(page.locator("#runs-table")).to_contain_text(f"#{job.pk}")

    page.goto(f"{live_server.url}/archive/compliance/")
    row = counts_row(page, plan)
    expect(row.locator('[data-state="retraining"]')).to_have_text("4")  # re-enrolled while still certified
    expect(row.locator('[data-state="expired"]')).to_have_text("1")  # Katherine: re-enrolled after her last day
    expect(row.locator('[data-state="due"]')).to_have_text("0")
    assert LearningPlanEnrollment.objects.filter(learning_plan=plan, round=2).count() == 5
