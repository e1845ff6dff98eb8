"""Every archive page × every role (SPEC §2): the status each one gets, written by hand.

Order of answers: not logged in → login redirect; no admin role → 403; object outside visibility → 404;
visible object, action the role may not take → 403.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from archive.models import ArchivedPlanEnrollment, ArchiveJob
from enrollments.models import LearningPlanEnrollment
from tests.archive.pages_world import ArchiveWorld, world_fixture  # noqa: F401 - the `world` fixture
from tests.archive.popup_forms import signed_key

ROLES = ("anonymous", "learner", "power_assigned", "power_not_assigned", "manager", "director", "superadmin")

# (name, method, url builder, {role: status}) — statuses for the roles in ROLES' order after "anonymous" (302).
CASES = [
    ("archive pop-up", "get", lambda w: reverse("archive:archive_enrollment", args=[w.plan.pk, _live(w)]),
     (403, 403, 404, 403, 403, 200)),
    ("archive confirm (bad mode)", "post", lambda w: reverse("archive:archive_enrollment", args=[w.plan.pk, _live(w)]),
     (403, 403, 404, 403, 403, 422)),
    ("bulk pop-up", "get", lambda w: reverse("archive:bulk_archive", args=[w.plan.pk]) + "?select_all=1",
     (403, 403, 404, 403, 403, 200)),
    ("bulk confirm (bad mode)", "post", lambda w: reverse("archive:bulk_archive", args=[w.plan.pk]),
     (403, 403, 404, 403, 403, 422)),
    ("bulk preview CSV", "get", lambda w: reverse("archive:bulk_preview_csv", args=[w.plan.pk]) + "?select_all=1",
     (403, 403, 404, 403, 403, 200)),
    ("archived view", "get", lambda w: reverse("archive:archived_list", args=[w.plan.pk]),
     (403, 200, 404, 403, 403, 200)),
    ("archived CSV", "get", lambda w: reverse("archive:archived_export", args=[w.plan.pk]),
     (403, 200, 404, 403, 403, 200)),
    ("details", "get", lambda w: reverse("archive:archived_detail", args=[w.archived.pk]),
     (403, 200, 404, 200, 404, 200)),
    ("certificate", "get", lambda w: reverse("archive:archived_certificate", args=[w.archived.pk]),
     (403, 200, 404, 200, 404, 200)),
    ("delete confirmation", "get", lambda w: reverse("archive:archived_delete", args=[w.archived.pk]),
     (403, 403, 404, 403, 404, 200)),
    ("delete", "post", lambda w: reverse("archive:archived_delete", args=[w.archived.pk]),
     (403, 403, 404, 403, 404, 302)),
    ("multi-select delete confirmation", "get",
     lambda w: reverse("archive:archived_bulk_delete", args=[w.plan.pk]) + f"?archive_ids={w.archived.pk}",
     (403, 403, 404, 403, 403, 200)),
    ("multi-select delete", "post",
     lambda w: reverse("archive:archived_bulk_delete", args=[w.plan.pk]) + f"?archive_ids={w.archived.pk}",
     (403, 403, 404, 403, 403, 302)),
    ("background jobs", "get", lambda w: reverse("archive:job_list"), (403, 403, 403, 403, 403, 200)),
    ("job page", "get", lambda w: reverse("archive:job_detail", args=[w.job.pk]), (403, 404, 404, 404, 404, 200)),
    ("job progress", "get", lambda w: reverse("archive:job_progress", args=[w.job.pk]),
     (403, 404, 404, 404, 404, 200)),
    ("job items CSV", "get", lambda w: reverse("archive:job_items_csv", args=[w.job.pk]),
     (403, 404, 404, 404, 404, 200)),
    ("job cancel", "post", lambda w: reverse("archive:job_cancel", args=[w.job.pk]), (403, 404, 404, 404, 404, 302)),
    ("my team", "get", lambda w: reverse("archive:team"), (403, 403, 403, 200, 200, 403)),
    ("home", "get", lambda w: reverse("home"), (403, 302, 302, 302, 302, 302)),
]  # fmt: skip


def _live(w: ArchiveWorld) -> int:
    return LearningPlanEnrollment.objects.get(user=w.report, learning_plan=w.plan).pk


def _login(client, w: ArchiveWorld, role: str) -> None:
    people = {
        "learner": w.learner,
        "power_assigned": w.power_user,
        "power_not_assigned": w.other_power_user,
        "manager": w.manager,
        "director": w.director,
        "superadmin": w.superadmin,
    }
    if role != "anonymous":
        client.force_login(people[role])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "url", "statuses"), CASES, ids=[case[0] for case in CASES])
def test_every_archive_page_answers_each_role_as_specified(client, world, role, name, method, url, statuses):
    _login(client, world, role)
    target = url(world)
    data = {"mode": "sideways"} if "bad mode" in name else {}
    if name == "multi-select delete":
        data = {"archive_ids": [world.archived.pk]}
    if method == "post":
        data["request_key"] = signed_key(target)  # what the pop-up's form carries
    response = getattr(client, method)(target, data) if method == "post" else client.get(target)
    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
        return
    expected = dict(zip(ROLES[1:], statuses, strict=True))[role]
    assert response.status_code == expected, f"{name} as {role}"


def test_home_sends_each_role_to_its_start_page(client, world):
    for user, expected in (
        (world.superadmin, reverse("enrollments:plan_list")),
        (world.power_user, reverse("enrollments:plan_list")),
        (world.manager, reverse("archive:team")),
        (world.director, reverse("archive:team")),
    ):
        client.force_login(user)
        assert client.get(reverse("home"))["Location"] == expected
    client.force_login(world.learner)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "no administration role" in response.content.decode()


@pytest.mark.parametrize("who", ["power_user", "manager"])
def test_forged_posts_of_those_who_may_not_archive_or_delete_change_nothing(client, world, who):
    client.force_login(getattr(world, who))
    live = _live(world)
    round_before = LearningPlanEnrollment.objects.get(pk=live).round
    client.post(reverse("archive:archive_enrollment", args=[world.plan.pk, live]), {"mode": "unenroll"})
    client.post(reverse("archive:bulk_archive", args=[world.plan.pk]), {"mode": "reenroll", "select_all": "1"})
    client.post(reverse("archive:archived_delete", args=[world.archived.pk]))
    client.post(reverse("archive:job_cancel", args=[world.job.pk]))
    assert LearningPlanEnrollment.objects.get(pk=live).round == round_before
    assert ArchivedPlanEnrollment.objects.filter(pk=world.archived.pk).exists()
    assert ArchiveJob.objects.count() == 1
    assert ArchiveJob.objects.get().status == ArchiveJob.Status.QUEUED


def test_a_second_level_manager_gets_404_on_an_indirect_reports_record_and_certificate(client, world):
    client.force_login(world.director)
    assert client.get(reverse("archive:archived_detail", args=[world.archived.pk])).status_code == 404
    assert client.get(reverse("archive:archived_certificate", args=[world.archived.pk])).status_code == 404
    page = client.get(reverse("archive:team")).content.decode()
    assert "Rita Report" not in page
    assert world.manager.display_name in page
