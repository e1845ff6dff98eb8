"""Validating an uploaded file (SPEC §12): what each row resolves to, every row error, and nothing live written."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from enrollments.models import LearningPlanEnrollment
from tests.factories import UserFactory, add_course, make_plan

from .conftest import row_errors, upload

pytestmark = pytest.mark.django_db


def test_a_valid_file_resolves_every_row_to_its_enrollment_and_round_and_writes_nothing_live(world, superadmin):
    ann, bob, _ = world.users
    imp, created = upload(superadmin, "username,plan_code\nann,SAFETY\nbob,FIRE\n")
    assert created and imp.status == "validated"
    assert (imp.total_rows, imp.valid_rows, imp.error_rows) == (2, 2, 0)
    rows = list(imp.rows.values_list("line", "user__username", "learning_plan__code", "enrollment_id", "round"))
    assert rows == [
        (2, "ann", "SAFETY", world.enrollment(ann, world.plans[0]).pk, 1),
        (3, "bob", "FIRE", world.enrollment(bob, world.plans[1]).pk, 1),
    ]
    assert not ArchivedPlanEnrollment.objects.exists() and not ArchiveJob.objects.exists()
    assert LearningPlanEnrollment.objects.filter(round=1).count() == 6


def test_every_row_error_comes_with_its_line_and_a_message(world, superadmin):
    ann, bob, cec = world.users
    shared = make_plan(code="SHARED", title="Shared plan")
    add_course(make_plan(code="OTHER", title="Other plan"), shared.plan_courses.first().course)
    LearningPlanEnrollment.objects.create(user=ann, learning_plan=shared)
    make_plan(code="TWICE", title="One")
    make_plan(code="TWICE", title="Two")
    UserFactory(username="twin1", email="same@example.com")
    UserFactory(username="twin2", email="SAME@example.com")
    kept = UserFactory(username="kept", email="kept@example.com")
    UserFactory(username="gone", email="gone@example.com", merged_into=kept, is_active=False)
    UserFactory(username="loner", email="loner@example.com")
    text = (
        "email,plan_code,mode,reset_tracking,notify\n"
        "nobody@example.com,SAFETY,,,\n"  # 2 unknown_user
        "same@example.com,SAFETY,,,\n"  # 3 ambiguous_user
        "gone@example.com,SAFETY,,,\n"  # 4 user_merged
        "ann@example.com,NOPE,,,\n"  # 5 unknown_plan
        "ann@example.com,TWICE,,,\n"  # 6 ambiguous_plan
        "loner@example.com,SAFETY,,,\n"  # 7 not_enrolled
        "ANN@example.com , SAFETY,,,\n"  # 8 valid
        "ann@example.com,SAFETY,,,\n"  # 9 duplicate_row
        "ann@example.com,SHARED,unenroll,,\n"  # 10 shared_course
        "bob@example.com,SAFETY,archive,,\n"  # 11 invalid_mode
        "bob@example.com,FIRE,,maybe,\n"  # 12 invalid_boolean
        "cec@example.com,FIRE,,,nope\n"  # 13 invalid_boolean
        "cec@example.com,SHARED,reenroll,,\n"  # 14 not_enrolled (cec is not in it)
    )
    imp, _ = upload(superadmin, text)
    assert row_errors(imp) == {
        2: "unknown_user",
        3: "ambiguous_user",
        4: "user_merged",
        5: "unknown_plan",
        6: "ambiguous_plan",
        7: "not_enrolled",
        9: "duplicate_row",
        10: "shared_course",
        11: "invalid_mode",
        12: "invalid_boolean",
        13: "invalid_boolean",
        14: "not_enrolled",
    }
    messages = dict(imp.rows.values_list("line", "message"))
    assert messages[3] == "2 users have the e-mail “same@example.com”: use their username or user id instead."
    assert "merged into “kept”" in messages[4]
    assert messages[9] == "The same user and learning plan as line 8, which is the one archived."
    assert 'course "' in messages[10] and '"Other plan"' in messages[10]
    assert (imp.total_rows, imp.valid_rows, imp.error_rows) == (13, 1, 12)


def test_a_merged_user_is_ignored_when_another_user_matches(world, superadmin):
    ann = world.users[0]
    UserFactory(username="old_ann", email="ann@example.com", merged_into=ann, is_active=False)
    imp, _ = upload(superadmin, "email,plan_code\nann@example.com,SAFETY\n")
    assert imp.valid_rows == 1 and imp.rows.get().user == ann


def test_the_rows_own_mode_decides_the_shared_course_refusal(world, superadmin):
    ann = world.users[0]
    shared = make_plan(code="SHARED")
    add_course(make_plan(code="OTHER"), shared.plan_courses.first().course)
    LearningPlanEnrollment.objects.create(user=ann, learning_plan=shared)
    imp, _ = upload(superadmin, "username,plan_code,mode\nann,SHARED,reenroll\n", mode="unenroll")
    assert imp.valid_rows == 1
    imp, _ = upload(superadmin, "username,plan_code,mode\nann,SHARED,\n", mode="unenroll")
    assert row_errors(imp) == {2: "shared_course"}


def test_ids_with_leading_zeros_and_uids_without_hyphens_match(world, superadmin):
    ann, bob, _ = world.users
    safety, fire = world.plans
    text = f"user_id;plan_uid\n{ann.pk:08d};{safety.uid.hex.upper()}\n 00{bob.pk} ;{fire.uid}\n"
    imp, _ = upload(superadmin, text)
    assert imp.valid_rows == 2 and imp.delimiter == ";"
    text = f"user_id,plan_id\n{ann.pk:06d},{safety.pk:05d}\nabc,{fire.pk}\n"
    imp, _ = upload(superadmin, text)
    assert row_errors(imp) == {3: "unknown_user"} and imp.valid_rows == 1


def test_the_rows_options_override_the_defaults_and_an_empty_cell_takes_them(world, superadmin):
    text = "username,plan_code,mode,reset_tracking,notify\nann,SAFETY,UNENROLL,Yes,0\nbob,SAFETY,,,\n"
    imp, _ = upload(superadmin, text, mode="reenroll", reset_tracking="false", notify="true")
    rows = list(imp.rows.values_list("mode", "reset_tracking", "notify"))
    assert rows == [("unenroll", "true", False), ("reenroll", "false", True)]


def test_reset_only_what_changed_is_taken_from_a_cell_and_a_bad_word_is_refused(world, superadmin):
    imp, _ = upload(superadmin, "username,plan_code,reset_tracking\nann,SAFETY,Changed\nbob,SAFETY,sometimes\n")
    changed, bad = imp.rows.order_by("line")
    assert (changed.error, changed.reset_tracking) == ("", "changed")
    assert bad.error == "invalid_boolean" and "reset_tracking" in bad.message


def test_validation_takes_the_same_few_queries_for_10_rows_and_for_3000(world, superadmin):
    counts = []
    for n in (10, 3000):
        text = "username,plan_code\n" + "".join(f"user{i},SAFETY\n" for i in range(n))
        with CaptureQueriesContext(connection) as queries:
            imp, _ = upload(superadmin, text)
        assert imp.total_rows == n and imp.error_rows == n
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 20
