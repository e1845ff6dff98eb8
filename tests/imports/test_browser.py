"""Archive from a file in a real browser (issue 14): a superadmin goes from the Learning plans list to the upload
page, uploads a CSV across two plans, reads the report, archives the valid rows and follows the jobs to the end on a
real worker; axe-core finds no WCAG 2.1 A/AA violation on the upload, report and progress pages. `SCREENSHOTS=1`
saves the report to docs/screenshots/ (the README shows it)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from archive.models import ArchivedPlanEnrollment, ArchiveImport
from tests.e2e.test_archive_pages import log_in
from tests.e2e.test_retraining import assert_no_axe_violations, screenshot
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    b"email;plan_code;mode;notify\r\n"
    b"ANN@example.com;SAFETY;;\r\n"
    b"bob@example.com;SAFETY;;no\r\n"
    b"cec@example.com;FIRE;unenroll;\r\n"
    b"nobody@example.com;FIRE;;\r\n"
    b"ann@example.com;SAFETY;;\r\n"
    b"bob@example.com;FIRE;archive;\r\n"
)


@pytest.mark.worker
def test_upload_read_the_report_archive_and_follow_the_progress(live_server, page: Page, browser, world, rq_worker):
    admin = UserFactory(username="boss", first_name="Bea", last_name="Boss", level="superadmin")
    log_in(page, live_server, admin)
    page.goto(f"{live_server.url}/plans/")
    page.get_by_role("link", name="Archive from a file").click()
    expect(page.get_by_role("heading", name="Archive from a file")).to_be_visible()
    assert_no_axe_violations(browser, live_server, admin, "/archive/imports/new/")

    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "hr-leavers.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.get_by_label("Archive and re-enroll").check()
    page.get_by_role("button", name="Check the file").click()

    expect(page.get_by_role("heading", name="Import #")).to_contain_text("hr-leavers.csv")
    expect(page.locator('[data-total="rows"]')).to_have_text("6")
    expect(page.locator('[data-total="valid"]')).to_have_text("3")
    expect(page.locator('[data-total="errors"]')).to_have_text("3")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(3)
    expect(page.locator('#import-errors tr[data-line="5"]')).to_contain_text("No user has the e-mail")
    expect(page.locator('#import-errors tr[data-line="6"]')).to_contain_text("duplicate_row")
    expect(page.locator('#import-errors tr[data-line="7"]')).to_contain_text("invalid_mode")
    safety = page.locator(f'tr[data-plan="{world.plans[0].pk}"]')
    expect(safety.locator('[data-count="valid"]')).to_have_text("2")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the errors").click()
    assert download.value.suggested_filename == "hr-leavers-errors.csv"
    screenshot(page, "archive-import-report", full_page=True)
    imp = ArchiveImport.objects.get()
    assert_no_axe_violations(browser, live_server, admin, f"/archive/imports/{imp.pk}/")

    page.get_by_role("button", name="Archive 3 valid rows").click()
    expect(page.get_by_role("heading", name="Archiving hr-leavers.csv")).to_be_visible()
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-finished", "true", timeout=60_000)
    expect(progress.locator('[data-count="archived"]')).to_have_text("3")
    expect(progress.locator("tbody tr")).to_have_count(3)
    assert_no_axe_violations(browser, live_server, admin, f"/archive/imports/{imp.pk}/progress/")
    assert ArchivedPlanEnrollment.objects.filter(trigger="file").count() == 3

    page.goto(f"{live_server.url}/archive/imports/{imp.pk}/")
    expect(page.locator("[data-import-status]")).to_have_text("Submitted")
    expect(page.get_by_role("button", name="Archive 3 valid rows")).to_have_count(0)
