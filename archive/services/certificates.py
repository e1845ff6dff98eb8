"""Archived certificates (SPEC §4.3, §4.10): the live PDFs an archive keeps, and the pending ones it renders.

A live certificate issued but not rendered yet when its enrollment is archived has no bytes to keep: the snapshot
is written with `certificate_pending` and the template the live one referenced. After commit the certificates
queue renders the PDF from the snapshot's frozen data into the content-addressed store and links it — the one
write to a snapshot after archiving, made once. The reconciler enqueues what waited more than a minute.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence

from django.db import connection, transaction
from django.http import FileResponse
from django.utils import timezone

from enrollments.certificates import render_pdf, template_html
from enrollments.jobs import render_grace
from lms_admin.accounts.models import User
from lms_admin.audit import services as audit
from lms_admin.queues import enqueues_are_held
from lms_admin.web.downloads import file_download

from ..models import ArchivedPlanEnrollment
from . import storage

logger = logging.getLogger(__name__)

CERTIFICATES_QUEUE = "certificates"
RENDER_ARCHIVED_CERTIFICATES_JOB = "archive.jobs.render_archived_certificates"
RENDER_CHUNK = 10  # PDFs per RQ job, as for live certificates (enrollments.jobs)

# Get-or-create the content-addressed row; DO UPDATE (not NOTHING) so that a row committed meanwhile is returned.
STORE_SQL = """
INSERT INTO archive_archivedcertificate (sha256, file, size, created_at)
VALUES (%(sha256)s, %(path)s, %(size)s, %(now)s)
ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256
RETURNING id
"""

LINK_SQL = """
UPDATE archive_archivedplanenrollment
SET certificate_id = %(certificate_id)s, certificate_sha256 = %(sha256)s, certificate_pending = false
WHERE id = %(id)s AND certificate_pending
"""


def store_live_certificates(files: Mapping[int, str]) -> tuple[dict[int, str], dict[str, tuple[str, int]]]:
    """Copy the live certificates' PDFs ({enrollment id: live file name}) into content-addressed storage.

    Returns ({enrollment id: sha256}, {sha256: (path, size)}). A certificate without bytes (not rendered yet) is
    left out: the archive writes its snapshot with the certificate pending.
    """
    contents = {pk: content for pk, name in files.items() if (content := storage.read_live_file(name)) is not None}
    if not contents:
        return {}, {}
    stored = storage.store_contents(contents.values())
    return {pk: hashlib.sha256(content).hexdigest() for pk, content in contents.items()}, stored


def frozen_context(record: ArchivedPlanEnrollment) -> dict:
    """A certificate's context from the snapshot, as the live one would have been rendered at archive time."""
    completed = record.completed_at or record.certificate_assigned_at or record.archived_at
    issued = record.certificate_assigned_at or completed
    return {
        "learner_name": record.user_display_name,
        "plan_title": record.plan_title,
        "completed_on": completed.date().isoformat(),
        "credits": record.plan_credits,
        "issued_on": issued.date().isoformat(),
    }


def render_pending_certificates(archive_ids: Sequence[int]) -> int:
    """Render and link the pending certificates of these archived records; returns how many were linked.

    Each in its own transaction, holding the snapshot's row lock: a second renderer skips it, and a record
    deleted meanwhile is simply not found.
    """
    linked = 0
    for archive_id in archive_ids:
        with transaction.atomic():
            record = (
                ArchivedPlanEnrollment.objects.select_for_update(skip_locked=True)
                .filter(pk=archive_id, certificate_pending=True)
                .first()
            )
            if record is None:
                continue
            pdf = render_pdf(template_html(record.certificate_pending_template_number), frozen_context(record))
            sha256, path = storage.write_content(pdf)
            with connection.cursor() as cursor:
                cursor.execute(STORE_SQL, {"sha256": sha256, "path": path, "size": len(pdf), "now": timezone.now()})
                certificate_id = cursor.fetchone()[0]
                cursor.execute(LINK_SQL, {"certificate_id": certificate_id, "sha256": sha256, "id": archive_id})
                linked += cursor.rowcount
    return linked


def enqueue_pending_certificates(archive_ids: Sequence[int]) -> bool:
    """Ask the certificates queue to render these pending certificates, RENDER_CHUNK per job (call on commit).

    False (logged) when Redis refused: the reconciler enqueues them later.
    """
    import django_rq

    ids = list(archive_ids)
    if enqueues_are_held():
        return False
    try:
        queue = django_rq.get_queue(CERTIFICATES_QUEUE, commit_mode="auto")
        for start in range(0, len(ids), RENDER_CHUNK):
            queue.enqueue(RENDER_ARCHIVED_CERTIFICATES_JOB, ids[start : start + RENDER_CHUNK])
    except Exception:
        logger.exception("Could not enqueue pending certificates %s; the reconciler will enqueue them.", ids[:20])
        return False
    return True


def enqueue_stuck_pending_certificates(*, limit: int = 1000) -> int:
    """For the reconciler: enqueue the pending certificates of records archived longer ago than the render grace
    (CERTIFICATES_RENDER_GRACE_SECONDS), when the certificates queue has nothing waiting (the running renders
    would otherwise be asked twice). Returns how many."""
    import django_rq

    if django_rq.get_queue(CERTIFICATES_QUEUE).count:
        return 0
    ids = list(
        ArchivedPlanEnrollment.objects.filter(certificate_pending=True, archived_at__lt=timezone.now() - render_grace())
        .order_by("archived_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    if ids and not enqueue_pending_certificates(ids):
        return 0
    return len(ids)


def archived_certificate_response(archived: ArchivedPlanEnrollment, *, actor: User) -> FileResponse | None:
    """The archived certificate PDF as a download, audited; None when the record has no certificate.

    A file missing from archive storage raises FileNotFoundError, before anything is audited."""
    if archived.certificate is None or not archived.certificate.file:
        return None
    pdf = archived.certificate.file.open("rb")
    audit.record(
        actor=actor,
        action="archived_certificate.download",
        object_type="archived_plan_enrollment",
        object_id=archived.pk,
    )
    filename = f"certificate-{archived.user_username}-{archived.plan_code or archived.plan_number}-{archived.round}.pdf"
    return file_download(pdf, filename=filename, content_type="application/pdf")
