"""SPEC §4.10: a certificate issued but not rendered when its enrollment is archived is not lost.

The archive keeps it pending; the certificates queue renders it from the snapshot's frozen data into the archive
store and links it, once. A live render that finishes after the archive never brings the live row back.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import logging
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from archive.jobs import render_archived_certificates
from archive.models import ArchivedPlanEnrollment
from archive.services import archive_enrollments, reconcile
from enrollments.certificates import render_certificate
from enrollments.models import EnrollmentStatus, IssuedCertificate, LearningPlan, LearningPlanEnrollment
from enrollments.services import enroll_user, issue_certificates
from lms_admin.accounts.models import User
from tests.archive.test_engine import complete, plan_materials
from tests.factories import UserFactory, make_plan
from tests.workers import PrivateRedis, empty_queues, wait_for, worker_process

CERTIFICATES = "certificates"


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def live_certificate_files() -> list[Path]:
    """Every file of the live certificates' directory in the test's media root."""
    root = Path(settings.MEDIA_ROOT) / "certificates"
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def completed_learner(**plan_options) -> tuple[User, LearningPlan, LearningPlanEnrollment]:
    """A learner who has just completed a plan with a template: the certificate row is issued, no PDF yet."""
    plan = make_plan(courses=1, materials_per_course=2, template=True, **plan_options)
    learner = UserFactory(first_name="Ada", last_name="Lovelace")
    enrollment = enroll_user(user=learner, learning_plan=plan)
    complete(learner, plan_materials(plan))
    assert not IssuedCertificate.objects.get(user=learner).file
    return learner, plan, enrollment


def archive_with_reset(enrollment: LearningPlanEnrollment, actor: User) -> ArchivedPlanEnrollment:
    """Archive and re-enroll with the tracking reset (so the new round issues no certificate of its own)."""
    outcome = archive_enrollments(
        enrollment_ids=[enrollment.pk], actor=actor, mode="reenroll", reset_tracking=True, notify=False
    )
    assert outcome.counts == {"archived": 1}, outcome.items
    return ArchivedPlanEnrollment.objects.get(pk=outcome.items[0].archive_id)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_archived_right_after_completion_the_worker_renders_the_certificate_from_the_frozen_data(superadmin, tmp_path):
    empty_queues(settings.REDIS_URL)
    learner, plan, enrollment = completed_learner(title="Forklift Safety", credits="2.50")
    issued = IssuedCertificate.objects.get(user=learner)
    completed_on = LearningPlanEnrollment.objects.get().completed_at.date().isoformat()

    snapshot = archive_with_reset(enrollment, superadmin)
    assert snapshot.certificate_pending and snapshot.certificate is None
    # Renamed after the archive: the archived certificate keeps the names as they were.
    User.objects.filter(pk=learner.pk).update(first_name="Augusta", last_name="King")
    LearningPlan.objects.filter(pk=plan.pk).update(title="Forklift Safety (2027)")

    # The worker starts only now: the live certificate's render job (queued at completion) and the archive's
    # pending render wait in the queue, in that order.
    with worker_process(log_path=tmp_path / "worker.log"):

        def linked() -> ArchivedPlanEnrollment | None:
            record = ArchivedPlanEnrollment.objects.select_related("certificate").get(pk=snapshot.pk)
            return None if record.certificate_pending else record

        snapshot = wait_for(linked, timeout=120, message="the worker did not render the pending certificate")

    with snapshot.certificate.file.open("rb") as handle:
        content = handle.read()
    assert snapshot.certificate_sha256 == snapshot.certificate.sha256 == hashlib.sha256(content).hexdigest()
    text = pdf_text(content)
    assert "Ada Lovelace" in text and "Forklift Safety" in text and "(2027)" not in text
    assert completed_on in text and "2.50" in text
    assert not IssuedCertificate.objects.filter(pk=issued.pk).exists(), "the live row does not come back"
    assert not IssuedCertificate.objects.exists() and live_certificate_files() == []


@pytest.mark.django_db
def test_a_live_render_that_finishes_after_the_archive_leaves_neither_row_nor_file(superadmin):
    learner, plan, enrollment = completed_learner()
    rendering = IssuedCertificate.objects.select_related("user", "learning_plan").get()  # what the worker loaded

    archive_with_reset(enrollment, superadmin)

    assert render_certificate(rendering) is False
    assert not IssuedCertificate.objects.exists()
    assert live_certificate_files() == []


@pytest.mark.django_db
def test_a_live_render_finishing_after_a_re_issue_does_not_attach_the_older_pdf(learner):
    learner, plan, enrollment = completed_learner()
    rendering = IssuedCertificate.objects.select_related("user", "learning_plan").get()
    issue_certificates([enrollment.pk], now=timezone.now() + datetime.timedelta(minutes=5))  # the same row, re-issued

    assert render_certificate(rendering) is False
    assert not IssuedCertificate.objects.get().file and live_certificate_files() == []
    assert render_certificate(IssuedCertificate.objects.select_related("user", "learning_plan").get()) is True
    assert IssuedCertificate.objects.get().file and len(live_certificate_files()) == 1


@pytest.mark.django_db
def test_a_pending_certificate_is_linked_once(superadmin):
    learner, plan, enrollment = completed_learner()
    snapshot = archive_with_reset(enrollment, superadmin)

    assert render_archived_certificates([snapshot.pk]) == 1
    first = ArchivedPlanEnrollment.objects.get().certificate_id
    assert render_archived_certificates([snapshot.pk]) == 0  # a second job (a retry, the reconciler) changes nothing
    assert ArchivedPlanEnrollment.objects.get().certificate_id == first


@pytest.mark.django_db
def test_the_reconciler_asks_again_for_certificates_pending_more_than_a_minute(superadmin):
    queue = django_rq.get_queue(CERTIFICATES)
    queue.empty()
    stuck = archive_with_reset(completed_learner()[2], superadmin)
    fresh = archive_with_reset(completed_learner()[2], superadmin)
    ArchivedPlanEnrollment.objects.filter(pk=stuck.pk).update(
        archived_at=timezone.now() - datetime.timedelta(minutes=2)
    )
    try:
        assert reconcile().pending_certificates_enqueued == 1
        assert [job.args for job in queue.jobs] == [([stuck.pk],)]
        assert reconcile().pending_certificates_enqueued == 0  # one waits in the queue already: not asked twice
    finally:
        queue.empty()
    assert ArchivedPlanEnrollment.objects.get(pk=fresh.pk).certificate_pending


@pytest.mark.django_db
def test_the_details_page_and_the_api_say_the_certificate_is_being_prepared(client, superadmin):
    learner, plan, enrollment = completed_learner()
    snapshot = archive_with_reset(enrollment, superadmin)
    client.force_login(superadmin)
    page, api = reverse("archive:archived_detail", args=[snapshot.pk]), f"/api/v1/archived-enrollments/{snapshot.pk}"

    assert "Being prepared" in client.get(page).content.decode()
    certificate = client.get(api).json()["data"]["certificate"]
    assert certificate["url"] is None and certificate["assigned_at"] is not None
    assert client.get(reverse("archive:archived_certificate", args=[snapshot.pk])).status_code == 404

    render_archived_certificates([snapshot.pk])

    assert "Being prepared" not in client.get(page).content.decode()
    assert (
        client.get(api)
        .json()["data"]["certificate"]["url"]
        .endswith(f"/archived-enrollments/{snapshot.pk}/certificate")
    )
    download = client.get(reverse("archive:archived_certificate", args=[snapshot.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")


@pytest.mark.fault
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_redis_down_when_a_certificate_is_issued_keeps_the_progress_and_the_reconciler_renders_it_later(
    tmp_path, settings, caplog
):
    redis = PrivateRedis()  # not started yet: nothing listens on its port
    settings.RQ_QUEUES = redis.queues_config()

    with caplog.at_level(logging.ERROR, logger="enrollments.jobs"):
        learner, _plan, enrollment = completed_learner(title="Ladder Safety")

    assert LearningPlanEnrollment.objects.get(pk=enrollment.pk).status == EnrollmentStatus.COMPLETED
    assert "Could not enqueue certificates" in caplog.text
    certificate = IssuedCertificate.objects.get(user=learner)
    redis.start()
    try:
        env = {"ARCHIVE_RECONCILE_INTERVAL_SECONDS": 1, "CERTIFICATES_RENDER_GRACE_SECONDS": 1}
        with worker_process(log_path=tmp_path / "worker.log", redis_url=redis.url, extra_env=env):
            rendered = wait_for(
                lambda: IssuedCertificate.objects.filter(pk=certificate.pk).exclude(file="").first(),
                timeout=60,
                message="the reconciler never asked for the certificate issued while Redis was down",
            )
    finally:
        redis.stop()

    with rendered.file.open("rb") as handle:
        assert "Ada Lovelace" in pdf_text(handle.read())
