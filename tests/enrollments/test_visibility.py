"""Who gets what on every page of the plans section (SPEC §2): the expected answers are written by hand."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from enrollments.models import IssuedCertificate
from enrollments.services import enroll_user
from tests.factories import ManagerLinkFactory, PowerUserFactory, SuperadminFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "learner", "power_user_assigned", "power_user_other", "manager", "superadmin", "support_staff")

# Expected status per page, in the order of ROLES. 302 = redirect to a login page; "hx" = the htmx form of it
# (200 with HX-Redirect to the login page, so the whole page goes there).
EXPECTED = {
    #                          anon learner pu_assigned pu_other manager superadmin staff
    "login": (200, 302, 302, 302, 302, 302, 302),
    "logout": (302, 302, 302, 302, 302, 302, 302),
    "plan_list": (302, 403, 200, 200, 403, 200, 403),
    "plan_enrollments": (302, 403, 200, 404, 403, 200, 403),
    "plan_enrollments_partial": ("hx", 403, 200, 404, 403, 200, 403),
    "certificate_download": (302, 403, 200, 404, 404, 200, 403),
    "admin_index": (302, 302, 302, 302, 302, 302, 200),
}
CASES = [(page, role, statuses[i]) for page, statuses in EXPECTED.items() for i, role in enumerate(ROLES)]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db):
    plan = make_plan(courses=1, materials_per_course=1, title="Safety basics")
    learner = UserFactory(username="learner")
    enrollment = enroll_user(user=learner, learning_plan=plan)
    certificate = IssuedCertificate.objects.create(user=learner, learning_plan=plan, rendered_at=timezone.now())
    certificate.file.save("certificate.pdf", ContentFile(b"%PDF-1.4 certificate of learner"))
    assigned = PowerUserFactory(username="pu_assigned")
    plan.power_users.add(assigned)
    manager = UserFactory(username="manager")
    ManagerLinkFactory(manager=manager, employee=learner)
    users = {
        "anonymous": None,
        "learner": learner,
        "power_user_assigned": assigned,
        "power_user_other": PowerUserFactory(username="pu_other"),
        "manager": manager,
        "superadmin": SuperadminFactory(username="boss"),
        "support_staff": UserFactory(username="support", is_staff=True),
    }
    return {"plan": plan, "enrollment": enrollment, "certificate": certificate, "users": users}


def request_page(client, page: str, world):
    plan, certificate = world["plan"], world["certificate"]
    if page == "login":
        return client.get(reverse("accounts:login"))
    if page == "logout":
        return client.post(reverse("accounts:logout"))
    if page == "plan_list":
        return client.get(reverse("enrollments:plan_list"))
    if page == "plan_enrollments":
        return client.get(reverse("enrollments:plan_enrollments", args=[plan.pk]))
    if page == "plan_enrollments_partial":
        return client.get(reverse("enrollments:plan_enrollments", args=[plan.pk]) + "?status=0", HTTP_HX_REQUEST="true")
    if page == "certificate_download":
        return client.get(reverse("enrollments:certificate_download", args=[certificate.pk]))
    if page == "admin_index":
        return client.get(reverse("admin:index"))
    raise AssertionError(page)


@pytest.mark.parametrize(("page", "role", "expected"), CASES, ids=[f"{p}-{r}" for p, r, _ in CASES])
def test_each_role_gets_the_expected_answer(client, world, page, role, expected):
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    response = request_page(client, page, world)
    if expected == "hx":
        assert response.status_code == 200
        assert response["HX-Redirect"].startswith(reverse("accounts:login"))
        return
    assert response.status_code == expected
    if expected == 302 and page not in {"login", "logout"}:
        login = reverse("admin:login") if page == "admin_index" else reverse("accounts:login")
        assert response["Location"].startswith(login)


def test_a_power_user_lists_only_the_plans_assigned_to_them(client, world):
    other_plan = make_plan(courses=0, title="Fire drill")
    client.force_login(world["users"]["power_user_assigned"])
    body = client.get(reverse("enrollments:plan_list")).content.decode()
    assert "Safety basics" in body
    assert other_plan.title not in body


def test_a_power_user_of_another_plan_lists_nothing_of_this_one(client, world):
    client.force_login(world["users"]["power_user_other"])
    body = client.get(reverse("enrollments:plan_list")).content.decode()
    assert "Safety basics" not in body
    assert "No learning plans match." in body


def test_the_certificate_download_is_the_pdf_and_is_audited(client, world):
    from lms_admin.audit.models import AuditEvent

    client.force_login(world["users"]["power_user_assigned"])
    response = client.get(reverse("enrollments:certificate_download", args=[world["certificate"].pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == b"%PDF-1.4 certificate of learner"
    assert "attachment" in response["Content-Disposition"]
    event = AuditEvent.objects.get(action="certificate.download")
    assert (event.actor_username, event.object_id) == ("pu_assigned", world["certificate"].pk)


def test_a_certificate_whose_file_is_gone_is_not_found(client, world):
    world["certificate"].file.delete(save=False)
    client.force_login(world["users"]["superadmin"])
    assert client.get(reverse("enrollments:certificate_download", args=[world["certificate"].pk])).status_code == 404


def test_a_certificate_not_rendered_yet_is_not_found(client, world):
    pending = IssuedCertificate.objects.create(
        user=UserFactory(username="second"), learning_plan=world["plan"], rendered_at=None
    )
    client.force_login(world["users"]["superadmin"])
    assert client.get(reverse("enrollments:certificate_download", args=[pending.pk])).status_code == 404


def test_the_navigation_shows_learning_plans_only_to_those_who_have_them(client, world):
    client.force_login(world["users"]["superadmin"])
    assert 'href="/plans/"' in client.get(reverse("enrollments:plan_list")).content.decode()
    client.force_login(world["users"]["manager"])
    forbidden = client.get(reverse("enrollments:plan_list"))
    assert forbidden.status_code == 403
    assert "Learning plans</a>" not in forbidden.content.decode()


def test_logging_in_with_the_form_lands_a_superadmin_on_the_plans_list(client, world):
    admin = world["users"]["superadmin"]
    admin.set_password("s3cret-pass")
    admin.save()
    response = client.post(reverse("accounts:login"), {"username": "boss", "password": "s3cret-pass"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("enrollments:plan_list")
    assert "Safety basics" in response.content.decode()


def test_a_wrong_password_shows_an_error_on_the_login_page(client, world):
    response = client.post(reverse("accounts:login"), {"username": "boss", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


# ------------------------------------------------------------------------------------------------ Django admin


def archived_record(plan, learner, **fields):
    from archive.models import ArchivedPlanEnrollment

    now = timezone.now()
    values = dict(
        archived_by_username="boss",
        mode="reenroll",
        reset_tracking=False,
        notify=True,
        enrollment_id=990,
        round=1,
        user=learner,
        user_number=learner.pk,
        user_display_name=learner.display_name,
        user_language="en",
        user_username=learner.username,
        user_first_name=learner.first_name,
        user_last_name=learner.last_name,
        user_active=True,
        user_suspended=False,
        user_level="user",
        user_status="active",
        learning_plan=plan,
        plan_number=plan.pk,
        plan_title=plan.title,
        plan_code=plan.code,
        plan_uid=plan.uid,
        plan_status=2,
        plan_language="en",
        plan_created_at=now,
        plan_updated_at=now,
        plan_credits="2.50",
        enrolled_at=now,
        enrollment_updated_at=now,
        enrollment_status="active",
    )
    values.update(fields)
    return ArchivedPlanEnrollment.objects.create(**values)


@pytest.fixture
def staff_world(world):
    plan, learner = world["plan"], world["users"]["learner"]
    plan.archived_count = 1
    plan.save(update_fields=["archived_count"])
    world["archive"] = archived_record(plan, learner)
    world["superadmin_staff"] = SuperadminFactory(username="staff_boss", is_staff=True)
    return world


def project_models():
    from django.contrib import admin

    return [
        model
        for model in admin.site._registry
        if model._meta.app_label in {"accounts", "enrollments", "archive", "notifications", "audit"}
    ]


def test_support_staff_can_open_every_project_model_in_the_admin_without_permission_rows(client, staff_world):
    staff = staff_world["users"]["support_staff"]
    assert not staff.user_permissions.exists() and not staff.groups.exists()
    client.force_login(staff)
    index = client.get(reverse("admin:index")).content.decode()
    for label in ("Archived plan enrollments", "Audit events", "Archive jobs", "Learning plans", "Users", "Outbox"):
        assert label in index
    models = project_models()
    assert len(models) >= 17
    for model in models:
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist


def test_archived_records_are_read_only_in_the_admin_even_for_superusers(client, staff_world):
    from archive.models import ArchivedPlanEnrollment

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    archive = staff_world["archive"]
    change_url = reverse("admin:archive_archivedplanenrollment_change", args=[archive.pk])
    page = client.get(change_url).content.decode()
    assert archive.plan_title in page and 'name="_save"' not in page
    assert client.post(change_url, {"plan_title": "Renamed"}).status_code == 403
    assert client.get(reverse("admin:archive_archivedplanenrollment_add")).status_code == 403
    assert ArchivedPlanEnrollment.objects.get(pk=archive.pk).plan_title == "Safety basics"


def test_only_a_superadmin_deletes_an_archived_record_in_the_admin(client, staff_world):
    from archive.models import ArchivedPlanEnrollment
    from lms_admin.audit.models import AuditEvent

    archive = staff_world["archive"]
    delete_url = reverse("admin:archive_archivedplanenrollment_delete", args=[archive.pk])
    client.force_login(staff_world["users"]["support_staff"])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert ArchivedPlanEnrollment.objects.filter(pk=archive.pk).exists()

    client.force_login(staff_world["superadmin_staff"])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not ArchivedPlanEnrollment.objects.filter(pk=archive.pk).exists()
    staff_world["plan"].refresh_from_db()
    assert staff_world["plan"].archived_count == 0
    assert AuditEvent.objects.filter(object_type="archived_plan_enrollment", object_id=archive.pk).exists()


def test_audit_events_cannot_be_changed_or_deleted_in_the_admin(client, staff_world):
    from lms_admin.audit.models import AuditEvent
    from lms_admin.audit.services import record

    event = record(actor=None, action="something", object_type="thing", object_id=1)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {"action": "x"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "something"


def test_a_superuser_opens_the_edit_forms_of_the_editable_models(client, staff_world):
    from lms_admin.notifications.models import NotificationRule

    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    plan, learner = staff_world["plan"], staff_world["users"]["learner"]
    # The data migration's rule, unless a transactional test of the suite flushed it away.
    rule, _ = NotificationRule.objects.get_or_create(
        event="lp_enrollment_archived", defaults={"subject_template": "Archived", "body_template": "Archived."}
    )
    pages = [
        reverse("admin:accounts_user_add"),
        reverse("admin:accounts_user_change", args=[learner.pk]),
        reverse("admin:accounts_managerlink_add"),
        reverse("admin:enrollments_learningplan_add"),
        reverse("admin:enrollments_learningplan_change", args=[plan.pk]),
        reverse("admin:enrollments_course_add"),
        reverse("admin:notifications_notificationrule_change", args=[rule.pk]),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert 'name="_save"' in response.content.decode(), page
    user_form = client.get(reverse("admin:accounts_user_change", args=[learner.pk])).content.decode()
    for field in ("level", "language", "expires_on"):
        assert f'name="{field}"' in user_form
