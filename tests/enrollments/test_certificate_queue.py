"""Certificate rendering never holds the queue (SPEC §9): with hundreds of PDFs waiting, an archive job submitted
meanwhile and the notifications it writes wait for one chunk of rendering at most, on a real worker."""

from __future__ import annotations

import django_rq
import pytest
from django.db import transaction
from django.utils import timezone

from archive.services import start_archive_job
from enrollments.jobs import RENDER_CHUNK
from enrollments.models import IssuedCertificate
from enrollments.services import enroll_user, issue_certificates
from lms_admin.notifications.models import OutboxMessage
from tests.archive.test_jobs import (  # noqa: F401 - empty_job_queues and notification_rules are autouse fixtures
    empty_job_queues,
    enrolled_plan,
    job_env,
    job_worker,
    notification_rules,
    release,
    wait_for_pause,
    wait_until_finished,
)
from tests.factories import UserFactory, make_plan
from tests.workers import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CHUNKS = 3


def issued_certificates(count: int) -> list[int]:
    """`count` live certificates issued in one commit, unrendered: their renders wait in the queue in chunks."""
    plan = make_plan(courses=1, materials_per_course=1, template=True)
    enrollments = [enroll_user(user=UserFactory(first_name="Cert"), learning_plan=plan).pk for _ in range(count)]
    django_rq.get_queue("certificates").empty()
    with transaction.atomic():
        ids = issue_certificates(enrollments, now=timezone.now())
    assert django_rq.get_queue("certificates").count == CHUNKS
    return ids


def test_an_archive_job_and_its_notifications_wait_for_one_chunk_of_rendering_at_most(superadmin, tmp_path):
    plan, ids = enrolled_plan(4, completed=0)
    certificates = issued_certificates(CHUNKS * RENDER_CHUNK)
    env = job_env(tmp_path, pause_at="before_render_chunk:1")

    with job_worker(tmp_path, extra_env=env):
        wait_for_pause(tmp_path, "before_render_chunk:1")  # the first chunk is being rendered
        job = start_archive_job(learning_plan=plan, actor=superadmin, mode="reenroll", notify=True, enrollment_ids=ids)
        release(tmp_path, "before_render_chunk:1")
        job = wait_until_finished(job)
        wait_for(
            lambda: not IssuedCertificate.objects.filter(pk__in=certificates, file="").exists(),
            timeout=120,
            message="the certificates were not all rendered",
        )
        wait_for(lambda: not OutboxMessage.objects.filter(sent_at__isnull=True).exists(), timeout=60)

    rendered = sorted(IssuedCertificate.objects.filter(pk__in=certificates).values_list("rendered_at", flat=True))
    assert job.status == "completed"
    assert sum(when < job.started_at for when in rendered) == RENDER_CHUNK, "the job waited for more than one chunk"
    last_sent = max(OutboxMessage.objects.values_list("sent_at", flat=True))
    assert OutboxMessage.objects.count() and last_sent < rendered[RENDER_CHUNK], (
        "the job's notifications waited behind the certificates"
    )
