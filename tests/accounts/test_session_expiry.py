"""A session that ends while a page is open: the next htmx request takes the whole page to the login form."""

import re
from urllib.parse import quote

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories import SuperadminFactory, enroll_in_bulk, make_plan


@pytest.fixture
def plan(db):
    plan = make_plan(courses=1, materials_per_course=1, title="Night shift safety")
    enroll_in_bulk(plan, 3, prefix="nurse")
    return plan


@pytest.mark.django_db
def test_an_htmx_request_without_a_session_redirects_the_page_back_to_where_it_was(client, plan):
    list_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    shown = f"http://testserver{list_url}?status=1"

    response = client.get(f"{list_url}?status=2", headers={"HX-Request": "true", "HX-Current-URL": shown})

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next={quote(f'{list_url}?status=1')}"
    assert b"<form" not in response.content


@pytest.mark.django_db
def test_a_current_url_that_is_not_a_page_of_this_site_is_not_used_as_next(client, plan):
    list_url = reverse("enrollments:plan_enrollments", args=[plan.pk])

    for current in ("https://elsewhere.example/x", "javascript:alert(1)", "relative/path"):
        response = client.get(list_url, headers={"HX-Request": "true", "HX-Current-URL": current})

        assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next={quote(list_url)}"


@pytest.mark.django_db
def test_a_history_restore_gets_the_ordinary_redirect_htmx_swaps_the_login_page_in_whole(client, plan):
    list_url = reverse("enrollments:plan_enrollments", args=[plan.pk])
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Current-URL": list_url}

    response = client.get(list_url, headers=headers)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={quote(list_url)}"
    assert not response.has_header("HX-Redirect")


@pytest.mark.django_db
def test_a_plain_request_without_a_session_still_gets_the_ordinary_redirect(client, plan):
    list_url = reverse("enrollments:plan_enrollments", args=[plan.pk])

    response = client.get(list_url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={quote(list_url)}"
    assert not response.has_header("HX-Redirect")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_after_the_session_ends_a_filter_change_shows_the_login_page_not_a_form_in_the_table(
    live_server, page, settings, plan
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    SuperadminFactory(username="matron", password="night-shift")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("matron")
    page.get_by_label("Password").fill("night-shift")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Night shift safety").click()
    expect(page.locator(".results-summary")).to_contain_text("of 3 enrollments")
    page.wait_for_function("() => window.htmx !== undefined")

    page.context.clear_cookies()
    page.get_by_label("Enrollment status").select_option("2")

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(page.get_by_role("heading", name="Log in", exact=True)).to_have_count(1)
    expect(page.get_by_text("Night shift safety")).to_have_count(0)  # the whole page went, not just the table
    page.get_by_label("Username").fill("matron")
    page.get_by_label("Password").fill("night-shift")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/plans/{plan.pk}/enrollments/"))
    expect(page.locator(".results-summary")).to_contain_text("of 3 enrollments")
