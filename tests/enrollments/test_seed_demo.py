"""`manage.py seed_demo` (SPEC §6): deterministic demo data, the demo logins, and a refusal to mix data."""

import datetime
import hashlib
import io

import django_rq
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from pypdf import PdfReader

from archive.compliance import compliance_counts
from enrollments.models import (
    Course,
    CourseEnrollment,
    IssuedCertificate,
    LearningPlan,
    LearningPlanEnrollment,
    MaterialTracking,
    RetrainingRule,
)
from lms_admin.accounts.models import Level, ManagerLink, User
from lms_admin.accounts.roles import has_admin_role, is_power_user, is_superadmin, manages_anyone
from tests.workers import empty_queues

pytestmark = pytest.mark.django_db

SMALL = ["--users", "120", "--plans", "6", "--courses", "12", "--enrollments-per-plan", "40", "--no-enqueue"]

# Everything a person sees, in a stable order, keyed by natural keys (usernames, uids) rather than database ids.
DIGEST_QUERIES = [
    """SELECT username, first_name, last_name, email, level, language, is_active, is_staff, is_superuser,
              expires_on, date_joined, last_login FROM accounts_user ORDER BY username""",
    """SELECT c.uid, c.title, c.code, c.course_type, m.position, m.title, m.kind
       FROM enrollments_course c LEFT JOIN enrollments_trainingmaterial m ON m.course_id = c.id
       ORDER BY c.uid, m.position""",
    """SELECT p.uid, p.title, p.code, p.created_at, p.published_at, p.validity_days, p.start_date, p.end_date,
              p.credits, t.name, c.uid, lpc.position
       FROM enrollments_learningplan p
       LEFT JOIN enrollments_certificatetemplate t ON t.id = p.certificate_template_id
       JOIN enrollments_learningplancourse lpc ON lpc.learning_plan_id = p.id
       JOIN enrollments_course c ON c.id = lpc.course_id
       ORDER BY p.uid, lpc.position""",
    """SELECT p.uid, u.username FROM enrollments_learningplan_power_users pu
       JOIN enrollments_learningplan p ON p.id = pu.learningplan_id JOIN accounts_user u ON u.id = pu.user_id
       ORDER BY 1, 2""",
    """SELECT u.username, p.uid, e.enrolled_at, b.username, e.validity_start, e.validity_end, e.status,
              e.completed_at, e.round
       FROM enrollments_learningplanenrollment e JOIN accounts_user u ON u.id = e.user_id
       JOIN enrollments_learningplan p ON p.id = e.learning_plan_id LEFT JOIN accounts_user b ON b.id = e.enrolled_by_id
       ORDER BY 1, 2""",
    """SELECT u.username, c.uid, ce.enrolled_at, ce.status, ce.completed_at, ce.manually_completed_at
       FROM enrollments_courseenrollment ce JOIN accounts_user u ON u.id = ce.user_id
       JOIN enrollments_course c ON c.id = ce.course_id ORDER BY 1, 2""",
    """SELECT u.username, c.uid, m.position, t.status, t.completed_at, t.score
       FROM enrollments_materialtracking t JOIN accounts_user u ON u.id = t.user_id
       JOIN enrollments_trainingmaterial m ON m.id = t.material_id JOIN enrollments_course c ON c.id = m.course_id
       ORDER BY 1, 2, 3""",
    """SELECT u.username, p.uid, t.name, ic.issued_at, ic.file <> ''
       FROM enrollments_issuedcertificate ic JOIN accounts_user u ON u.id = ic.user_id
       JOIN enrollments_learningplan p ON p.id = ic.learning_plan_id
       LEFT JOIN enrollments_certificatetemplate t ON t.id = ic.template_id ORDER BY 1, 2""",
    """SELECT m.username, e.username, l.manager_type FROM accounts_managerlink l
       JOIN accounts_user m ON m.id = l.manager_id JOIN accounts_user e ON e.id = l.employee_id ORDER BY 1, 2""",
]


def data_digest() -> str:
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        for query in DIGEST_QUERIES:
            cursor.execute(query)
            for row in cursor.fetchall():
                digest.update(repr(row).encode())
            digest.update(b"|")
    return digest.hexdigest()


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *SMALL, *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_same_seed_builds_the_same_data_and_another_seed_different_data():
    seed("--certificates-max", "0")
    first = data_digest()
    assert LearningPlanEnrollment.objects.count() == 6 * 40
    assert MaterialTracking.objects.exists()

    seed("--flush", "--certificates-max", "0")
    assert data_digest() == first

    seed("--flush", "--certificates-max", "0", "--seed", "7")
    assert data_digest() != first


def test_a_different_clock_moves_every_date():
    seed("--certificates-max", "0")
    first = data_digest()

    seed("--flush", "--certificates-max", "0", "--now", "2026-03-01T12:00:00Z")

    assert data_digest() != first
    assert not LearningPlanEnrollment.objects.filter(enrolled_at__gt="2026-03-01T12:00:00Z").exists()


def test_seeding_refuses_a_database_that_holds_data_unless_flushed():
    seed("--certificates-max", "0")
    users = User.objects.count()

    with pytest.raises(CommandError, match="--flush"):
        seed()

    assert User.objects.count() == users


def test_the_demo_has_the_variety_an_administrator_needs_to_try_every_feature():
    output = seed("--certificates-max", "2")
    assert "Demo data seeded" in output

    statuses = set(LearningPlanEnrollment.objects.values_list("status", flat=True))
    assert statuses == {0, 1, 2}
    assert {0, 1, 2} <= set(CourseEnrollment.objects.values_list("status", flat=True))
    tracking_statuses = set(MaterialTracking.objects.values_list("status", flat=True))
    assert tracking_statuses == {"not_attempted", "in_progress", "completed"}
    assert Course.objects.filter(materials__isnull=True).count() == 1
    assert LearningPlan.objects.filter(certificate_template__isnull=False).count() >= 2
    assert LearningPlan.objects.filter(validity_days__isnull=False).exists()
    assert LearningPlan.objects.filter(start_date__isnull=False, end_date__isnull=False).exists()
    assert any(course.learning_plans.count() > 1 for course in Course.objects.all())
    learners = User.objects.filter(level=Level.USER)
    assert {"active", "deactivated", "expired"} <= {user.status for user in learners}

    # Every completed enrollment on a plan with a template has its certificate; the first ones are rendered.
    completed_with_template = LearningPlanEnrollment.objects.filter(
        status=2, learning_plan__certificate_template__isnull=False
    )
    assert IssuedCertificate.objects.count() == completed_with_template.count() > 2
    rendered = IssuedCertificate.objects.exclude(file="").select_related("user", "learning_plan")
    assert rendered.count() == 2
    for certificate in rendered:
        with certificate.file.open("rb") as handle:
            text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages)
        assert certificate.user.display_name in text
        assert certificate.learning_plan.title in text


def test_the_demo_logins_work_and_have_their_roles(client):
    seed("--certificates-max", "0")

    for username in ("admin", "power", "manager", "director"):
        assert client.login(username=username, password=username), username
        client.logout()
    assert not client.login(username="admin", password="wrong")

    admin = User.objects.get(username="admin")
    assert is_superadmin(admin) and admin.is_staff and admin.is_superuser
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200

    power = User.objects.get(username="power")
    assert is_power_user(power)
    assert power.assigned_plans.count() == 2

    manager = User.objects.get(username="manager")
    director = User.objects.get(username="director")
    team = User.objects.filter(manager_links__manager=manager)
    assert team.count() == 10
    assert all(LearningPlanEnrollment.objects.filter(user=member).exists() for member in team)
    assert manager.level == Level.USER and has_admin_role(manager)
    assert ManagerLink.objects.filter(manager=director, employee=manager).exists()
    assert manages_anyone(director)
    # Other managers report to the director too: a real two-level hierarchy.
    assert ManagerLink.objects.filter(manager=director).count() > 1


def test_the_demo_has_retraining_rules_and_every_compliance_state_on_its_day():
    seed("--now", "2026-12-04T09:00:00+00:00")
    assert RetrainingRule.objects.count() == 2
    counts = compliance_counts(LearningPlanEnrollment.objects.all(), today=datetime.date(2026, 12, 4))
    states = {state for plan in counts.values() for state, n in plan.items() if n}
    assert states == {"certified", "due", "expired", "retraining", "never_completed", "exempt"}


@pytest.mark.django_db(transaction=True)
def test_no_enqueue_leaves_every_queue_empty_even_for_the_historys_archives(settings):
    empty_queues(settings.REDIS_URL)

    seed("--certificates-max", "0")

    assert IssuedCertificate.objects.filter(file="").exists(), "the demo has certificates waiting for their PDFs"
    assert {name: django_rq.get_queue(name).count for name in settings.RQ_QUEUE_NAMES} == dict.fromkeys(
        settings.RQ_QUEUE_NAMES, 0
    )
