"""Saving a notification rule in the Django admin (issue 17): a template that cannot compile, or cannot render a
sample message, is refused with a form error and nothing is saved — never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lms_admin.notifications.models import NotificationRule
from tests.factories import SuperadminFactory

pytestmark = pytest.mark.django_db

GOOD_BODY = "Hello {{ learner_name }}, round {{ round }} of {{ plan_title }} was archived on {{ archived_at }}."


@pytest.fixture
def admin_client(client, rules):
    client.raise_request_exception = False  # a crash must show as the 500 a person would get
    client.force_login(SuperadminFactory(is_staff=True, is_superuser=True))
    return client


def save_rule(client, rule: NotificationRule, *, subject: str = "Archived", body: str = GOOD_BODY):
    return client.post(
        reverse("admin:notifications_notificationrule_change", args=[rule.pk]),
        {"enabled": "on", "subject_template": subject, "body_template": body, "to_learner": "on"},
    )


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("{% include '../../x' %}", "does not compile"),
        ("{% include 'does/not/exist.html' %}", "does not render a sample message: TemplateDoesNotExist"),
        ("Round {{ round|divisibleby:0 }}", "does not render a sample message: ZeroDivisionError"),
        ("{% if %}", "does not compile"),
    ],
)
@pytest.mark.parametrize("field", ["subject", "body"])
def test_a_template_that_fails_is_refused_with_a_form_error(admin_client, template, says, field):
    rule = NotificationRule.objects.get(event="lp_enrollment_archived")
    before = (rule.subject_template, rule.body_template)

    response = save_rule(admin_client, rule, **{field: template})

    assert response.status_code == 200  # the form again, not a redirect and not a 500
    assert says in response.content.decode()
    rule.refresh_from_db()
    assert (rule.subject_template, rule.body_template) == before


def test_a_good_template_is_saved(admin_client):
    rule = NotificationRule.objects.get(event="lp_enrollment_archived")

    response = save_rule(admin_client, rule, subject="{{ plan_title }} archived ({{ mode }})")

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.subject_template, rule.body_template) == ("{{ plan_title }} archived ({{ mode }})", GOOD_BODY)
