"""The plan's Retraining tab through the test client: the rule form refuses every bad input beside its field and
saves nothing, saving dates the plan's Completed rounds, the live forecast follows the form, the dry-run CSV lists
exactly who today's run would archive, and power users read without writing."""

from __future__ import annotations

import csv
import io
import re

import pytest
from dateutil.relativedelta import relativedelta
from django.urls import reverse

from archive.compliance import due_rounds, forecast
from archive.retraining_preview import forecast_of_values
from enrollments.models import LearningPlanEnrollment, RetrainingRule
from enrollments.retraining import clean_rule
from lms_admin.audit.models import AuditEvent
from tests.retraining.pages_world import DAY, complete, rworld_fixture  # noqa: F401 - the `rworld` fixture

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
GOOD = {
    "valid_for_months": "12",
    "anchor": "completion",
    "window_days": "30",
    "reset_tracking": "true",
    "notify": "on",
    "user_statuses": ["active"],
    "start_after": "",
}


def page_text(response) -> str:
    return response.content.decode()


def error_beside(response, field: str) -> str:
    """The refusal shown beside `field` (the paragraph the field's aria-describedby points at)."""
    found = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', page_text(response))
    return found.group(1) if found else ""


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def rule_as_dict(rule: RetrainingRule) -> dict:
    return {name: getattr(rule, name) for name in clean_rule({"valid_for_months": 12})}


# --- the page ---------------------------------------------------------------------------------------------------


def test_the_tab_shows_the_rule_the_forecast_chart_the_runs_and_the_exemptions(rworld):
    response = rworld.client(rworld.superadmin).get(reverse("archive:retraining", args=[rworld.plan.pk]))

    body = page_text(response)
    assert response.status_code == 200
    assert 'aria-current="page">Retraining</a>' in body
    assert 'id="enrollment-views"' not in body  # the Active/Archived switch belongs to the Enrollments tab
    assert 'name="valid_for_months"' in body and 'value="12"' in body
    assert "The first run would re-enroll <strong>2</strong> learners today." in body  # ada and bob
    assert body.count('<g class="chart-bar"') == 12
    assert '<title id="forecast-title">' in body and '<desc id="forecast-desc">' in body
    assert '<table class="visually-hidden" id="forecast-data">' in body
    assert ">Run now</button>" in body and "Dry run (CSV)" in body
    assert "Gus Driver" in body and "Long leave" in body


def test_the_enrollments_tab_links_to_the_retraining_tab_and_keeps_its_view_switch(rworld):
    body = page_text(
        rworld.client(rworld.superadmin).get(reverse("enrollments:plan_enrollments", args=[rworld.plan.pk]))
    )

    assert f'href="{reverse("archive:retraining", args=[rworld.plan.pk])}">Retraining</a>' in body
    assert 'aria-current="page">Enrollments</a>' in body
    assert 'id="enrollment-views"' in body


def test_a_power_user_reads_the_tab_without_any_control_that_writes(rworld):
    body = page_text(rworld.client(rworld.power_user).get(reverse("archive:retraining", args=[rworld.plan.pk])))

    assert '<fieldset class="rule-fields" disabled>' in body
    assert "Only superadmins change the rule" in body
    for control in ("Save rule", ">Run now</button>", "Delete rule", "Add exemption", ">Remove<", "hx-get"):
        assert control not in body, control
    assert "The first run would re-enroll <strong>2</strong> learners today." in body


@pytest.mark.parametrize(
    ("url_name", "extra"),
    [
        ("archive:retraining", ()),
        ("archive:retraining_rule_delete", ()),
        ("archive:retraining_run_now", ()),
        ("archive:retraining_exemption_add", ()),
    ],
)
def test_a_forged_post_of_a_power_user_is_refused_and_changes_nothing(rworld, url_name, extra):
    before = rule_as_dict(rworld.rule)
    url = reverse(url_name, args=[rworld.plan.pk, *extra])

    response = rworld.client(rworld.power_user).post(
        url, {**GOOD, "valid_for_months": "24", "user": "ada", "reason": "x"}
    )

    assert response.status_code == 403
    rworld.rule.refresh_from_db()
    assert rule_as_dict(rworld.rule) == before
    assert not rworld.rule.runs.exists()
    assert rworld.rule.exemptions.count() == 1


# --- the rule form ----------------------------------------------------------------------------------------------

STATUSES = "User statuses must be one or more of: active, deactivated, expired."
CALENDAR = {**GOOD, "anchor": "calendar", "month": "1", "day": "31", "min_active_days": "60"}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({**GOOD, "valid_for_months": ""}, "valid_for_months", "Valid for months is required."),
        ({**GOOD, "valid_for_months": "0"}, "valid_for_months", "Valid for months must be between 1 and 120."),
        ({**GOOD, "valid_for_months": "121"}, "valid_for_months", "Valid for months must be between 1 and 120."),
        ({**GOOD, "valid_for_months": "1.5"}, "valid_for_months", "Valid for months must be a whole number."),
        ({**GOOD, "valid_for_months": "1", "window_days": "28"}, "window_days", "must be shorter than the validity"),
        ({**GOOD, "window_days": "366"}, "window_days", "Window days must be between 0 and 365."),
        ({**GOOD, "window_days": ""}, "window_days", "Window days is required."),
        ({**GOOD, "anchor": "sometimes"}, "anchor", "The anchor must be “completion” or “calendar”."),
        ({**CALENDAR, "month": "2", "day": "30"}, "day", "30 February is not a date."),
        ({**CALENDAR, "month": "13"}, "month", "Month must be between 1 and 12."),
        ({**CALENDAR, "month": ""}, "month", "Month is required."),
        ({**CALENDAR, "min_active_days": ""}, "min_active_days", "Min active days is required."),
        ({**CALENDAR, "valid_for_months": "18"}, "valid_for_months", "a whole number of years (12, 24, …)."),
        ({**CALENDAR, "min_active_days": "10"}, "min_active_days", "inside the window would be re-enrolled at once."),
        ({**GOOD, "reset_tracking": "maybe"}, "reset_tracking", "Reset tracking must be true, false or “changed”."),
        ({**GOOD, "user_statuses": []}, "user_statuses", STATUSES),
        ({**GOOD, "user_statuses": ["retired"]}, "user_statuses", STATUSES),
        ({**GOOD, "start_after": "next week"}, "start_after", "Start after must be a date (YYYY-MM-DD)."),
    ],
)  # fmt: skip
def test_every_refusal_of_the_rule_form_shows_beside_its_field_and_saves_nothing(rworld, data, field, message):
    before = rule_as_dict(rworld.rule)
    dates = list(LearningPlanEnrollment.objects.order_by("pk").values_list("certified_until", flat=True))

    response = rworld.client(rworld.superadmin).post(reverse("archive:retraining", args=[rworld.plan.pk]), data)

    assert response.status_code == 422
    assert message in error_beside(response, field).replace("&quot;", '"').replace("&#x27;", "'")
    assert f'aria-describedby="err-{field}"' in page_text(response)
    assert "The rule was not saved" in page_text(response)
    rworld.rule.refresh_from_db()
    assert rule_as_dict(rworld.rule) == before
    assert list(LearningPlanEnrollment.objects.order_by("pk").values_list("certified_until", flat=True)) == dates


def test_a_refused_new_rule_creates_nothing(rworld):
    response = rworld.client(rworld.superadmin).post(
        reverse("archive:retraining", args=[rworld.other_plan.pk]), {**GOOD, "window_days": "400"}
    )

    assert response.status_code == 422
    assert not RetrainingRule.objects.filter(learning_plan=rworld.other_plan).exists()
    assert rworld.state_of("hal").certified_until is None


def test_a_completion_rule_ignores_the_hidden_calendar_fields(rworld):
    data = {**GOOD, "valid_for_months": "24", "month": "3", "day": "31", "min_active_days": "5"}

    response = rworld.client(rworld.superadmin).post(reverse("archive:retraining", args=[rworld.plan.pk]), data)

    assert response.status_code == 302
    rworld.rule.refresh_from_db()
    assert (rworld.rule.valid_for_months, rworld.rule.month, rworld.rule.day) == (24, None, None)


def test_saving_a_new_rule_dates_the_completed_rounds_and_says_how_many(rworld):
    client = rworld.client(rworld.superadmin)

    response = client.post(reverse("archive:retraining", args=[rworld.other_plan.pk]), GOOD, follow=True)

    assert "The retraining rule was created. Certification dates set for 1 completed round of this plan." in page_text(
        response
    )
    rule = RetrainingRule.objects.get(learning_plan=rworld.other_plan)
    assert (rule.valid_for_months, rule.window_days, rule.saved_by) == (12, 30, rworld.superadmin)
    hal = rworld.state_of("hal")
    assert hal.certified_until == hal.completed_at.date() + relativedelta(months=12)
    assert AuditEvent.objects.filter(action="retraining_rule.created", object_id=rworld.other_plan.pk).exists()


def test_changing_only_the_window_keeps_the_dates_and_says_so(rworld):
    dates = list(LearningPlanEnrollment.objects.order_by("pk").values_list("certified_until", flat=True))

    response = rworld.client(rworld.superadmin).post(
        reverse("archive:retraining", args=[rworld.plan.pk]), {**GOOD, "window_days": "60"}, follow=True
    )

    assert "The retraining rule was saved. The certification dates did not change." in page_text(response)
    assert list(LearningPlanEnrollment.objects.order_by("pk").values_list("certified_until", flat=True)) == dates
    rworld.rule.refresh_from_db()
    assert rworld.rule.window_days == 60


def test_deleting_the_rule_asks_first_then_clears_the_dates(rworld):
    client = rworld.client(rworld.superadmin)
    url = reverse("archive:retraining_rule_delete", args=[rworld.plan.pk])

    confirm = client.get(url, **HTMX)
    assert "the certification dates of 6 learners are cleared" in page_text(confirm)
    assert RetrainingRule.objects.filter(pk=rworld.rule.pk).exists()

    response = client.post(url, follow=True)

    assert "The retraining rule was deleted; the certification dates of 6 learners were cleared." in page_text(response)
    assert not RetrainingRule.objects.filter(pk=rworld.rule.pk).exists()
    assert not LearningPlanEnrollment.objects.filter(learning_plan=rworld.plan, certified_until__isnull=False).exists()
    assert "No rule yet: learners of this plan are never re-enrolled automatically." in page_text(response)


# --- the forecast -----------------------------------------------------------------------------------------------


def forecast_panel(rworld, data: dict) -> str:
    url = reverse("archive:retraining_forecast", args=[rworld.plan.pk])
    return page_text(rworld.client(rworld.superadmin).get(url, data, **HTMX))


def bar_values(panel: str) -> list[int]:
    return [int(v) for v in re.findall(r'<text class="chart-value[^"]*"[^>]*>(\d+)</text>', panel)]


def test_the_forecast_of_the_saved_values_is_the_saved_rules_forecast(rworld):
    saved = forecast(rworld.rule, today=rworld.today)

    panel = forecast_panel(rworld, GOOD)

    assert bar_values(panel) == [m["due"] for m in saved["months"]]
    assert sum(bar_values(panel)) == 2  # dee within the month, cy in ~10 months
    assert f"re-enroll <strong>{saved['due_today']}</strong> learners today" in panel
    assert "From the saved rule." in panel


def test_the_forecast_follows_the_forms_values_before_they_are_saved(rworld):
    panel = forecast_panel(rworld, {**GOOD, "valid_for_months": "6"})

    # Six months: everyone who completed over 5 months ago (ada, bob, dee, fay, gus) would be due now; fay is
    # deactivated and gus exempt, so the first run would take three. cy (60 days ago) falls due in ~3 months.
    assert "re-enroll <strong>3</strong> learners today" in panel
    assert sum(bar_values(panel)) == 1
    assert "From the values in the form — not saved yet." in panel
    rworld.rule.refresh_from_db()
    assert rworld.rule.valid_for_months == 12


def test_the_preview_counts_deactivated_learners_when_the_form_chooses_their_status(rworld):
    with_deactivated = {**GOOD, "user_statuses": ["active", "deactivated"]}

    assert "re-enroll <strong>3</strong> learners today" in forecast_panel(rworld, with_deactivated)
    assert "re-enroll <strong>0</strong> learners today" in forecast_panel(rworld, {**GOOD, "paused": "on"})


def test_the_preview_of_the_saved_values_agrees_with_the_forecast_of_the_api(rworld):
    fields = clean_rule({"valid_for_months": 12, "window_days": 30})

    assert forecast_of_values(rworld.plan, fields, saved=rworld.rule, today=rworld.today) == forecast(
        rworld.rule, today=rworld.today
    )


def test_an_invalid_value_replaces_the_chart_with_the_reason(rworld):
    panel = forecast_panel(rworld, {**GOOD, "window_days": "400"})

    assert "The forecast needs a valid rule: Window days must be between 0 and 365." in panel
    assert "chart-bar" not in panel


def test_choosing_keep_tracking_shows_the_warning_in_the_form(rworld):
    shown = forecast_panel(rworld, {**GOOD, "reset_tracking": "false"})
    hidden = forecast_panel(rworld, GOOD)

    warning = re.compile(r'<p id="keep-tracking-warning" class="notice"( hidden)? hx-swap-oob="true">')
    assert warning.search(shown).group(1) is None
    assert warning.search(hidden).group(1) == " hidden"
    assert "they are Completed\n  again at once" in shown


def test_the_forecast_of_a_plan_without_a_rule_shows_what_the_proposed_rule_would_do(rworld):
    body = page_text(rworld.client(rworld.superadmin).get(reverse("archive:retraining", args=[rworld.other_plan.pk])))

    assert "No rule yet" in body
    assert "re-enroll <strong>1</strong> learner today" in body  # hal completed 400 days ago
    assert "From the values in the form — not saved yet." in body


# --- the dry run ------------------------------------------------------------------------------------------------


def test_the_dry_run_lists_exactly_who_todays_run_would_archive(rworld):
    response = rworld.client(rworld.power_user).get(reverse("archive:retraining_dry_run", args=[rworld.plan.pk]))

    rows = csv_rows(response)
    assert response["Content-Type"] == "text/csv"
    assert [r["username"] for r in rows] == ["ada", "bob"]
    chosen = {r.enrollment_id for r in due_rounds(today=rworld.today, rule_ids=[rworld.rule.pk]) if not r.skip_reason}
    assert {int(r["enrollment_id"]) for r in rows} == chosen
    ada = rworld.state_of("ada")
    assert rows[0] == {
        "enrollment_id": str(ada.pk),
        "username": "ada",
        "name": "Ada Driver",
        "round": "1",
        "completed_at": ada.completed_at.isoformat(),
        "certified_until": ada.certified_until.isoformat(),
        "due_from": (ada.certified_until - 30 * DAY).isoformat(),
    }


def test_the_dry_run_of_a_paused_rule_is_empty(rworld):
    RetrainingRule.objects.filter(pk=rworld.rule.pk).update(paused=True)

    response = rworld.client(rworld.superadmin).get(reverse("archive:retraining_dry_run", args=[rworld.plan.pk]))

    assert csv_rows(response) == []


def test_a_rule_saved_for_a_later_completion_moves_the_learner_out_of_the_dry_run(rworld):
    complete(rworld.enrollments["ada"], rworld.today - DAY)
    rworld.client(rworld.superadmin).post(
        reverse("archive:retraining", args=[rworld.plan.pk]), {**GOOD, "valid_for_months": "13"}
    )

    response = rworld.client(rworld.superadmin).get(reverse("archive:retraining_dry_run", args=[rworld.plan.pk]))

    assert [r["username"] for r in csv_rows(response)] == ["bob"]
