"""The Learning plans list and the plan's Active enrollments view: filters, sorting, pages, htmx partials."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from enrollments import selectors
from enrollments.models import IssuedCertificate, LearningPlan, LearningPlanEnrollment
from lms_admin.accounts.models import User
from tests.factories import SuperadminFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 3, 1, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_client(client, db):
    client.force_login(SuperadminFactory(username="boss"))
    return client


@pytest.fixture
def plan(db):
    """60 learners, enrolled one a day from START (learner 0 oldest); every 3rd In progress, every 10th Completed."""
    plan = make_plan(courses=1, materials_per_course=1, title="Forklift licence", code="FORK")
    enrollments = enroll_in_bulk(plan, 60, prefix="driver", start=START, step=datetime.timedelta(days=1))
    ids = [e.pk for e in enrollments]
    LearningPlanEnrollment.objects.filter(pk__in=ids[::3]).update(status=1)
    LearningPlanEnrollment.objects.filter(pk__in=ids[::10]).update(status=2, completed_at=START)
    return plan


def url(plan: LearningPlan, query: str = "") -> str:
    return reverse("enrollments:plan_enrollments", args=[plan.pk]) + (f"?{query}" if query else "")


def row_usernames(response) -> list[str]:
    """The usernames of the table's rows, in page order."""
    body = response.content.decode()
    rows = re.findall(r'<tr data-enrollment-id="\d+">(.*?)</tr>', body, flags=re.S)
    return [re.findall(r"<td>(.*?)</td>", row, flags=re.S)[1] for row in rows]


def names(*numbers: int) -> list[str]:
    return [f"driver{n:05d}" for n in numbers]


def next_link(response, rel: str) -> str:
    match = re.search(rf'<a href="([^"]+)"[^>]* rel="{rel}">', response.content.decode())
    assert match, f"no {rel} link"
    return match.group(1).replace("&amp;", "&")


# ------------------------------------------------------------------------------------------------ plans list


def test_the_plans_list_shows_course_active_and_archived_counts(admin_client, plan):
    LearningPlan.objects.filter(pk=plan.pk).update(archived_count=7)
    make_plan(courses=3, title="Empty plan", code="EMPTY")
    body = admin_client.get(reverse("enrollments:plan_list")).content.decode()
    cells = re.findall(r"<tr[^>]*>\s*<td[^>]*>(.*?)</tr>", body, flags=re.S)
    rows = {re.search(r">([^<]+)</a>", row).group(1): re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in cells}
    assert rows["Forklift licence"] == ["FORK", "1", "60", "7"]
    assert rows["Empty plan"] == ["EMPTY", "3", "0", "0"]
    assert f'href="{plan.get_absolute_url()}"' in body


def test_the_plans_list_search_matches_title_or_code(admin_client, plan):
    make_plan(courses=0, title="Crane safety", code="CRANE")
    by_code = admin_client.get(reverse("enrollments:plan_list") + "?search=fork").content.decode()
    assert "Forklift licence" in by_code and "Crane safety" not in by_code
    by_title = admin_client.get(reverse("enrollments:plan_list") + "?search=crane").content.decode()
    assert "Crane safety" in by_title and "Forklift licence" not in by_title


def test_the_plans_list_answers_htmx_with_the_results_only(admin_client, plan):
    response = admin_client.get(reverse("enrollments:plan_list") + "?search=fork", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="plan-results"')
    assert "<html" not in body and "Forklift licence" in body


# ------------------------------------------------------------------------------------------------ filters


def test_the_default_page_shows_the_newest_25_first(admin_client, plan):
    response = admin_client.get(url(plan))
    assert row_usernames(response) == names(*range(59, 34, -1))
    assert "Showing 1–25 of 60 enrollments" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=driver00042", names(42)),
        ("search=First7", names(7)),
        ("search=Last13", names(13)),
        ("search=driver00005%40example", names(5)),
        ("search=first42+last42", names(42)),
        ("status=2", names(50, 40, 30, 20, 10, 0)),
        ("enrolled_from=2026-04-28&enrolled_to=2026-04-29", names(59, 58)),
        ("enrolled_to=2026-03-02", names(1, 0)),
    ],
)
def test_each_filter_narrows_the_rows(admin_client, plan, query, expected):
    assert row_usernames(admin_client.get(url(plan, query))) == expected


def test_the_user_status_filter_tells_active_deactivated_and_expired_apart(admin_client, plan):
    User.objects.filter(username="driver00003").update(is_active=False)
    User.objects.filter(username="driver00004").update(expires_on=timezone.localdate() - datetime.timedelta(days=1))
    assert row_usernames(admin_client.get(url(plan, "user_status=deactivated"))) == names(3)
    assert row_usernames(admin_client.get(url(plan, "user_status=expired"))) == names(4)
    active = admin_client.get(url(plan, "user_status=active&per_page=100"))
    assert len(row_usernames(active)) == 58
    assert "driver00003" not in row_usernames(active)


def test_the_in_progress_filter_counts_every_match(admin_client, plan):
    body = admin_client.get(url(plan, "status=1")).content.decode()
    # every 3rd learner is In progress, except those that are also every 10th (Completed): 20 - 2
    assert "Showing 1–18 of 18 enrollments" in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=7", "Enrollment status (status)"),
        ("user_status=sleepy", "User status (user_status)"),
        ("enrolled_from=yesterday", "Enrolled from (enrolled_from)"),
        ("enrolled_from=2026-05-01&enrolled_to=2026-04-01", "Enrolled to (enrolled_to)"),
    ],
)
def test_a_bad_filter_value_is_explained_and_shows_no_rows(admin_client, plan, query, message):
    response = admin_client.get(url(plan, query))
    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert row_usernames(response) == []


def test_the_filter_selector_takes_plain_values_and_refuses_bad_ones(plan):
    matched = selectors.filter_plan_enrollments(plan, {"status": 2, "enrolled_from": datetime.date(2026, 4, 1)})
    assert [e.user.username for e in matched] == names(50, 40)
    with pytest.raises(ValidationError) as caught:
        selectors.filter_plan_enrollments(plan, {"enrolled_to": "31/12/2026"})
    assert caught.value.code == "invalid_request"
    assert "enrolled_to" in caught.value.message


# ------------------------------------------------------------------------------------------------ sorting


def test_sorting_by_username_both_ways(admin_client, plan):
    assert row_usernames(admin_client.get(url(plan, "sort=username&per_page=25"))) == names(*range(25))
    assert row_usernames(admin_client.get(url(plan, "sort=-username")))[:3] == names(59, 58, 57)


def test_sorting_by_completion_date_puts_unfinished_rows_last(admin_client, plan):
    LearningPlanEnrollment.objects.filter(user__username="driver00030").update(
        completed_at=START + datetime.timedelta(1)
    )
    rows = row_usernames(admin_client.get(url(plan, "sort=-completed_at&per_page=100")))
    assert rows[:6] == names(30, 50, 40, 20, 10, 0)  # ties: newest id first
    assert set(rows[6:]) == set(names(*range(60))) - set(names(0, 10, 20, 30, 40, 50))


def test_the_sorted_column_header_says_so_and_links_to_the_other_direction(admin_client, plan):
    body = admin_client.get(url(plan, "sort=username&status=0")).content.decode()
    assert 'aria-sort="ascending"' in body
    assert "?sort=-username&amp;status=0" in body or "?status=0&amp;sort=-username" in body


def test_an_unknown_sort_falls_back_to_the_newest_first_with_a_notice(admin_client, plan):
    response = admin_client.get(url(plan, "sort=password"))
    assert row_usernames(response)[0] == "driver00059"
    assert "That column cannot be sorted" in response.content.decode()


# ------------------------------------------------------------------------------------------------ pages


@pytest.mark.parametrize(("size", "rows"), [(25, 25), (50, 50), (100, 60), (200, 60)])
def test_page_sizes(admin_client, plan, size, rows):
    assert len(row_usernames(admin_client.get(url(plan, f"per_page={size}")))) == rows


def test_a_page_size_not_offered_falls_back_to_25_with_a_notice(admin_client, plan):
    response = admin_client.get(url(plan, "per_page=1000"))
    assert len(row_usernames(response)) == 25
    assert "Rows per page must be one of 25, 50, 100 or 200" in response.content.decode()


def test_numbered_pages_and_the_last_page(admin_client, plan):
    assert row_usernames(admin_client.get(url(plan, "page=2"))) == names(*range(34, 9, -1))
    last = admin_client.get(url(plan, "last=1"))
    assert row_usernames(last) == names(*range(9, -1, -1))
    assert "Showing 51–60 of 60 enrollments" in last.content.decode()
    assert "Page 3 of 3" in last.content.decode()


def test_next_and_previous_links_walk_the_list_by_keyset_in_step_with_page_numbers(admin_client, plan):
    first = admin_client.get(url(plan))
    second = admin_client.get(next_link(first, "next"))
    assert "after=" in next_link(first, "next")
    assert row_usernames(second) == names(*range(34, 9, -1))
    assert "Showing 26–50 of 60 enrollments" in second.content.decode()
    third = admin_client.get(next_link(second, "next"))
    assert row_usernames(third) == names(*range(9, -1, -1))
    back = admin_client.get(next_link(third, "prev"))
    assert "before=" in next_link(third, "prev")
    assert row_usernames(back) == row_usernames(second)
    assert "Page 2 of 3" in back.content.decode()


def test_rows_enrolled_at_the_same_moment_are_neither_skipped_nor_repeated(admin_client, db):
    tied = make_plan(courses=0)
    enroll_in_bulk(tied, 30, prefix="same", start=START, step=datetime.timedelta(0))
    first = admin_client.get(url(tied))
    second = admin_client.get(next_link(first, "next"))
    seen = row_usernames(first) + row_usernames(second)
    assert sorted(seen) == [f"same{n:05d}" for n in range(30)]


def test_deep_pages_are_reached_by_keyset_when_numbered_pages_stop(admin_client, plan, monkeypatch):
    monkeypatch.setattr(selectors, "MAX_NUMBERED_ROWS", 25)  # numbered pages stop at page 1
    capped = admin_client.get(url(plan, "page=2"))
    assert "Numbered pages stop at page 1" in capped.content.decode()
    last = admin_client.get(next_link(capped, "last"))
    assert row_usernames(last) == names(*range(9, -1, -1))
    middle = admin_client.get(next_link(last, "prev"))
    assert row_usernames(middle) == names(*range(34, 9, -1))


def test_a_page_past_the_end_or_not_a_number_shows_the_first_page_with_a_notice(admin_client, plan):
    past = admin_client.get(url(plan, "page=99"))
    assert "Page 99 does not exist; there are 3 pages" in past.content.decode()
    assert row_usernames(past)[0] == "driver00059"
    garbage = admin_client.get(url(plan, "page=abc"))
    assert "“abc” is not a page number" in garbage.content.decode()
    bad_cursor = admin_client.get(url(plan, "after=not-a-cursor"))
    assert "That page link is not valid any more" in bad_cursor.content.decode()
    assert row_usernames(bad_cursor)[0] == "driver00059"


def test_filters_on_the_learner_count_up_to_a_cap(admin_client, plan, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 10)
    response = admin_client.get(url(plan, "search=driver"))
    assert "Showing 1–25 of more than 10 enrollments" in response.content.decode()
    last = admin_client.get(next_link(response, "last"))
    assert row_usernames(last) == names(*range(24, -1, -1))


# ------------------------------------------------------------------------------------------------ htmx


def test_htmx_gets_the_results_partial_and_a_browser_the_whole_page(admin_client, plan):
    partial = admin_client.get(url(plan, "status=2"), HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="enrollment-results"')
    assert "<html" not in body and 'id="enrollment-filters"' not in body
    assert 'id="filter-sort"' in body and 'hx-swap-oob="true"' in body
    assert "HX-Request" in partial["Vary"]
    full = admin_client.get(url(plan, "status=2"))
    assert "<html" in full.content.decode() and 'id="enrollment-filters"' in full.content.decode()
    assert row_usernames(full) == row_usernames(partial)


def test_a_history_restore_gets_the_whole_page(admin_client, plan):
    response = admin_client.get(url(plan), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_pager_and_sort_links_update_only_the_results_and_push_the_url(admin_client, plan):
    body = admin_client.get(url(plan)).content.decode()
    assert re.search(
        r'hx-get="[^"]*after=[^"]*" hx-target="#enrollment-results" hx-swap="outerHTML" hx-push-url="true"', body
    )
    assert re.search(r'hx-get="[^"]*sort=username"[^>]*hx-target="#enrollment-results"', body)


# ------------------------------------------------------------------------------------------------ row menu


def test_the_row_menu_offers_the_certificate_only_when_one_is_rendered(admin_client, plan):
    learner = User.objects.get(username="driver00059")
    certificate = IssuedCertificate.objects.create(user=learner, learning_plan=plan, rendered_at=timezone.now())
    certificate.file.save("c.pdf", ContentFile(b"%PDF-1.4"))
    IssuedCertificate.objects.create(user=User.objects.get(username="driver00058"), learning_plan=plan)
    body = admin_client.get(url(plan)).content.decode()
    rows = re.findall(r'<tr data-enrollment-id="\d+">(.*?)</tr>', body, flags=re.S)
    download = reverse("enrollments:certificate_download", args=[certificate.pk])
    assert download in rows[0] and "Download certificate" in rows[0]
    assert "Download certificate" not in rows[1] and "Archive enrollment" in rows[1]
    assert 'aria-haspopup="menu"' in rows[1] and 'aria-label="Actions for First58 Last58"' in rows[1]


def test_the_view_dropdown_names_the_active_view(admin_client, plan):
    body = admin_client.get(url(plan)).content.decode()
    assert re.search(r'aria-haspopup="menu"[^>]*aria-controls="enrollment-views">\s*Active enrollments', body)
    assert 'aria-current="page">Active enrollments</a>' in body


def test_every_filter_control_has_a_label(admin_client, plan):
    body = admin_client.get(url(plan)).content.decode()
    form = body[body.index('id="enrollment-filters"') : body.index("</form>")]
    for control_id in re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', form):
        assert f'<label for="{control_id}">' in form


def test_an_empty_plan_says_nobody_is_enrolled_and_an_empty_filter_says_nothing_matches(admin_client, plan):
    empty = make_plan(courses=0)
    assert "Nobody is enrolled in this learning plan yet." in admin_client.get(url(empty)).content.decode()
    assert "No enrollments match these filters." in admin_client.get(url(plan, "search=nobody")).content.decode()


def test_a_learner_named_like_markup_is_shown_as_text_in_every_cell_and_label(admin_client, plan):
    learner = User.objects.get(username="driver00059")
    User.objects.filter(pk=learner.pk).update(first_name='<script>alert("x")</script>', last_name="O'Hara & Co")
    body = admin_client.get(url(plan)).content.decode()
    row = re.findall(r'<tr data-enrollment-id="\d+">(.*?)</tr>', body, flags=re.S)[0]
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; O&#x27;Hara &amp; Co"
    assert "<script>alert" not in body
    assert f"<td>{escaped}</td>" in row
    assert f'aria-label="Select {escaped}"' in row and f'aria-label="Actions for {escaped}"' in row
