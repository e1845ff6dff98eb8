"""RQ entry points of the enrollments app (thin: the work is in services and certificates)."""

from __future__ import annotations

import django_rq

from .models import IssuedCertificate

CERTIFICATES_QUEUE = "certificates"
# PDFs per RQ job (~0.3 s each): the one worker takes the `archive` queue first between jobs, so an archive job
# submitted while a big re-enroll's certificates render waits for one chunk (~3 s), not for all of them.
RENDER_CHUNK = 10


def enqueue_certificate_rendering(certificate_ids: list[int]) -> None:
    """Render these certificates' PDFs in the background, RENDER_CHUNK per job."""
    queue = django_rq.get_queue(CERTIFICATES_QUEUE)
    ids = list(certificate_ids)
    for start in range(0, len(ids), RENDER_CHUNK):
        queue.enqueue(render_certificates, ids[start : start + RENDER_CHUNK])


def render_certificates(certificate_ids: list[int]) -> int:
    """Render the PDFs of these certificate rows; returns how many were stored (rows deleted, re-issued or
    rendered meanwhile are skipped)."""
    from .certificates import render_certificate

    rendered = 0
    for certificate in IssuedCertificate.objects.filter(pk__in=certificate_ids, file="").select_related(
        "user", "learning_plan"
    ):
        rendered += render_certificate(certificate)
    return rendered
