"""A superadmin browses a plan's Active enrollments in a real browser: filter, page, row menu."""

import datetime
import re

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from playwright.sync_api import expect

from enrollments.models import IssuedCertificate, LearningPlanEnrollment
from tests.factories import SuperadminFactory, enroll_in_bulk, make_plan

START = datetime.datetime(2026, 2, 2, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def forklift_plan(settings):
    """50 learners: the 40 oldest Completed with a rendered certificate, the 10 newest just Enrolled."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    SuperadminFactory(username="boss", password="forklift-admin")
    plan = make_plan(courses=1, materials_per_course=1, title="Forklift licence")
    enrollments = enroll_in_bulk(plan, 50, prefix="driver", start=START, step=datetime.timedelta(hours=1))
    completed = enrollments[:40]
    LearningPlanEnrollment.objects.filter(pk__in=[e.pk for e in completed]).update(status=2, completed_at=START)
    for enrollment in completed:
        certificate = IssuedCertificate.objects.create(
            user_id=enrollment.user_id, learning_plan=plan, rendered_at=timezone.now()
        )
        certificate.file.save("certificate.pdf", ContentFile(b"%PDF-1.4"))
    return plan


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_superadmin_filters_pages_and_opens_a_row_menu(live_server, page, forklift_plan):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("forklift-admin")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Learning plans")).to_be_visible()

    page.get_by_role("link", name="Forklift licence").click()
    expect(page.get_by_role("button", name=re.compile("Active enrollments"))).to_be_visible()
    expect(page.locator(".results-summary")).to_contain_text("Showing 1–25 of 50 enrollments")

    page.get_by_label("Enrollment status").select_option("2")
    expect(page.locator(".results-summary")).to_contain_text("Showing 1–25 of 40 enrollments")
    expect(page).to_have_url(re.compile(r"status=2"))
    expect(page.locator("tr[data-enrollment-id] .badge").first).to_have_text("Completed")

    page.get_by_role("link", name="Next", exact=True).click()
    expect(page.locator(".results-summary")).to_contain_text("Showing 26–40 of 40 enrollments")
    expect(page).to_have_url(re.compile(r"after="))
    expect(page.locator("tr[data-enrollment-id]")).to_have_count(15)

    row = page.locator("tr[data-enrollment-id]").first
    menu_button = row.get_by_role("button", name=re.compile("^Actions for"))
    menu_button.click()
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    download = row.get_by_role("menuitem", name="Download certificate")
    expect(download).to_be_visible()
    expect(download).to_be_focused()

    page.keyboard.press("Escape")
    expect(download).to_be_hidden()
    expect(menu_button).to_be_focused()


MODAL_CONTENT = (
    '<div class="modal-frame"><h2 id="modal-title">Probe</h2>'
    '<label for="probe-name">Name</label><input id="probe-name">'
    '<button type="button" data-modal-close>Close</button></div>'
)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_modal_shell_takes_focus_closes_on_escape_and_gives_focus_back(live_server, page, forklift_plan):
    """The one pop-up shell every htmx pop-up uses: content swapped into #modal opens it."""
    page.route("**/modal-probe/", lambda route: route.fulfill(body=MODAL_CONTENT, content_type="text/html"))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill("forklift-admin")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Learning plans")).to_be_visible()
    page.wait_for_function("() => window.htmx !== undefined")  # htmx loads deferred, after the heading shows
    page.evaluate(
        """() => {
            const opener = document.createElement("button");
            opener.textContent = "Open probe";
            opener.setAttribute("hx-get", "/modal-probe/");
            opener.setAttribute("hx-target", "#modal");
            document.querySelector("main").appendChild(opener);
            htmx.process(opener);
        }"""
    )
    opener = page.get_by_role("button", name="Open probe")
    opener.click()
    dialog = page.get_by_role("dialog", name="Probe")
    expect(dialog).to_be_visible()
    expect(page.get_by_label("Name")).to_be_focused()

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    # The browser gives focus back as the dialog closes; the "close" event that empties it comes a moment later.
    expect(page.locator("#modal")).to_be_empty()

    opener.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
