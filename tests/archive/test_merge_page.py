"""The Merge users page and the Django admin action (SPEC §4.9): pick, preview, confirm; archives stay put."""

import re

import pytest
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment
from archive.selectors import archived_enrollments_visible_to
from archive.services import archive_enrollments
from enrollments.models import LearningPlanEnrollment, MaterialTracking, TrackingStatus
from enrollments.services import enroll_user, record_material_progress
from lms_admin.accounts.models import ApiToken, User
from lms_admin.accounts.tokens import hash_token
from lms_admin.audit.models import AuditEvent
from tests.factories import ManagerLinkFactory, PowerUserFactory, UserFactory, make_plan

pytestmark = pytest.mark.django_db

URL = reverse("archive:merge_users")


def materials(plan):
    return [m for pc in plan.plan_courses.select_related("course") for m in pc.course.materials.all()]


def cell(response, name: str) -> int:
    match = re.search(rf'data-merge="{name}">(\d+)<', response.content.decode())
    assert match, f"no {name} in the page"
    return int(match.group(1))


@pytest.fixture
def admin_client(client, superadmin):
    client.force_login(superadmin)
    return client


@pytest.fixture
def duplicates(superadmin):
    """`kept` and `dup` both enrolled in one plan (dup further along), dup alone in a second plan, and dup
    holding an archived record of a third plan; dup's first-level manager is `boss`."""
    kept = UserFactory(username="kept", first_name="Kim", last_name="Kept")
    dup = UserFactory(username="dup", first_name="Kim", last_name="Kept")
    boss = UserFactory(username="boss")
    ManagerLinkFactory(manager=boss, employee=dup)
    shared = make_plan(courses=1, materials_per_course=2, title="Shared")
    only_dup = make_plan(courses=1, materials_per_course=1, title="Only dup")
    archived_plan = make_plan(courses=1, materials_per_course=1, title="Archived")
    enroll_user(user=kept, learning_plan=shared)
    enroll_user(user=dup, learning_plan=shared)
    record_material_progress(user=dup, material=materials(shared)[0], status=TrackingStatus.COMPLETED)
    enroll_user(user=dup, learning_plan=only_dup)
    enrollment = enroll_user(user=dup, learning_plan=archived_plan)
    outcome = archive_enrollments(enrollment_ids=[enrollment.pk], actor=superadmin, mode="unenroll")
    assert outcome.counts.get("archived") == 1
    return {"kept": kept, "dup": dup, "boss": boss, "shared": shared, "only_dup": only_dup, "archived": archived_plan}


def test_the_preview_shows_what_moves_what_conflicts_and_what_stays(admin_client, duplicates):
    response = admin_client.post(URL, {"kept": "kept", "merged": "dup", "step": "preview"})

    assert response.status_code == 200
    assert cell(response, "learning-plan-enrollments-moving") == 1  # "Only dup"
    assert cell(response, "learning-plan-enrollments-conflicts") == 1  # "Shared"
    assert cell(response, "learning-plan-enrollments-merged-wins") == 1  # dup is In progress, kept Enrolled
    assert cell(response, "archived-staying") == 1
    assert cell(response, "manager-links-moving") == 1
    assert "Merge users</button>" in response.content.decode()
    # A preview changes nothing.
    assert User.objects.get(username="dup").is_active
    assert LearningPlanEnrollment.objects.filter(user=duplicates["dup"]).count() == 2


def test_confirming_merges_and_says_so(admin_client, superadmin, duplicates):
    kept, dup = duplicates["kept"], duplicates["dup"]

    response = admin_client.post(URL, {"kept": str(kept.pk), "merged": "dup", "step": "confirm"}, follow=True)

    assert response.status_code == 200
    assert "Merged dup into kept" in response.content.decode()
    dup.refresh_from_db()
    assert (dup.is_active, dup.merged_into) == (False, kept)
    assert set(LearningPlanEnrollment.objects.filter(user=kept).values_list("learning_plan__title", flat=True)) == {
        "Shared",
        "Only dup",
    }
    shared = LearningPlanEnrollment.objects.get(user=kept, learning_plan=duplicates["shared"])
    assert shared.status == 1  # the merged user's In progress beat the kept user's Enrolled
    assert MaterialTracking.objects.filter(user=kept, status=TrackingStatus.COMPLETED).count() == 1
    assert AuditEvent.objects.filter(action="user.merge", actor=superadmin).count() == 1


def test_the_kept_user_does_not_gain_the_archived_records(admin_client, duplicates):
    kept, dup, boss = duplicates["kept"], duplicates["dup"], duplicates["boss"]
    record = ArchivedPlanEnrollment.objects.get()

    admin_client.post(URL, {"kept": "kept", "merged": "dup", "step": "confirm"})

    record.refresh_from_db()
    assert record.user_id == dup.pk
    assert not ArchivedPlanEnrollment.objects.filter(user=kept).exists()
    # Still listed for the plan, and still visible to the merged user's former first-level manager.
    assert list(ArchivedPlanEnrollment.objects.filter(learning_plan=duplicates["archived"])) == [record]
    assert list(archived_enrollments_visible_to(boss)) == [record]


def test_the_merged_users_api_tokens_are_revoked(admin_client, duplicates):
    token = ApiToken.objects.create(user=duplicates["dup"], key_prefix="abcd1234", key_hash=hash_token("secret-dup"))

    admin_client.post(URL, {"kept": "kept", "merged": "dup", "step": "confirm"})

    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kept": "nobody", "merged": "dup"}, "No user with the username or id “nobody”."),
        ({"kept": "kept", "merged": "dup ghost 999999"}, "No user with the username or id: ghost, 999999."),
        ({"kept": "kept", "merged": "dup kept"}, "The kept user cannot also be merged into themselves."),
        ({"kept": "kept", "merged": ""}, "This field is required."),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(admin_client, duplicates, data, message):
    response = admin_client.post(URL, {**data, "step": "confirm"})

    assert response.status_code == 422
    assert message in response.content.decode()
    assert User.objects.get(username="dup").is_active
    assert LearningPlanEnrollment.objects.filter(user=duplicates["dup"]).count() == 2
    assert not AuditEvent.objects.filter(action="user.merge").exists()


def test_an_already_merged_user_cannot_be_merged_again(admin_client, duplicates):
    admin_client.post(URL, {"kept": "kept", "merged": "dup", "step": "confirm"})
    other = UserFactory(username="other")

    response = admin_client.post(URL, {"kept": "other", "merged": "dup", "step": "confirm"})

    assert response.status_code == 422
    assert "Already merged: dup." in response.content.decode()
    assert User.objects.get(username="dup").merged_into.username == "kept"
    assert not LearningPlanEnrollment.objects.filter(user=other).exists()


def test_the_search_finds_users_by_username(admin_client, duplicates):
    response = admin_client.get(URL, {"q": "du"})

    body = response.content.decode()
    assert "<td>dup</td>" in body
    assert "<td>kept</td>" not in body


def test_power_users_get_403_and_cannot_merge(client, duplicates):
    client.force_login(PowerUserFactory(username="pu"))

    assert client.get(URL).status_code == 403
    assert client.post(URL, {"kept": "kept", "merged": "dup", "step": "confirm"}).status_code == 403
    assert User.objects.get(username="dup").is_active


def test_only_superadmins_see_the_nav_link(client, admin_client, duplicates):
    assert "Merge users</a>" in admin_client.get(reverse("enrollments:plan_list")).content.decode()
    client.force_login(PowerUserFactory(username="pu"))
    assert "Merge users</a>" not in client.get(reverse("enrollments:plan_list")).content.decode()


# --- The Django admin action -----------------------------------------------------------------------------------

CHANGELIST = reverse("admin:accounts_user_changelist")


def test_the_admin_action_previews_then_merges_into_the_chosen_user(admin_client, superadmin, duplicates):
    kept, dup = duplicates["kept"], duplicates["dup"]
    User.objects.filter(pk=superadmin.pk).update(is_staff=True)
    selection = {"action": "merge_users", "_selected_action": [kept.pk, dup.pk]}

    chooser = admin_client.post(CHANGELIST, selection)
    assert chooser.status_code == 200
    assert "Which selected user is kept?" in chooser.content.decode()

    preview = admin_client.post(CHANGELIST, {**selection, "kept": kept.pk, "step": "preview"})
    assert cell(preview, "archived-staying") == 1
    assert User.objects.get(pk=dup.pk).is_active

    done = admin_client.post(CHANGELIST, {**selection, "kept": kept.pk, "step": "confirm"}, follow=True)
    assert "Merged dup into kept" in done.content.decode()
    dup.refresh_from_db()
    assert (dup.is_active, dup.merged_into) == (False, kept)
    assert ArchivedPlanEnrollment.objects.get().user_id == dup.pk


def test_support_staff_do_not_get_the_admin_action(client, duplicates):
    staff = UserFactory(username="support", is_staff=True)
    client.force_login(staff)

    response = client.post(
        CHANGELIST,
        {"action": "merge_users", "_selected_action": [duplicates["kept"].pk, duplicates["dup"].pk], "step": "confirm"},
    )

    assert "merge_users" not in client.get(CHANGELIST).content.decode()
    assert response.status_code in (200, 302)
    assert User.objects.get(username="dup").is_active
