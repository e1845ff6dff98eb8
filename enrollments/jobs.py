"""RQ entry points of the enrollments app (thin: the work is in services and certificates)."""

from __future__ import annotations

import datetime
import logging

import django_rq
from django.conf import settings
from django.utils import timezone

from lms_admin.pause import pause_point
from lms_admin.queues import enqueues_are_held

from .models import IssuedCertificate

logger = logging.getLogger(__name__)

CERTIFICATES_QUEUE = "certificates"
# PDFs per RQ job (~0.3 s each): the one worker takes the `archive` queue first between jobs, so an archive job
# submitted while a big re-enroll's certificates render waits for one chunk (~3 s), not for all of them.
RENDER_CHUNK = 10


def enqueue_certificate_rendering(certificate_ids: list[int]) -> bool:
    """Render these certificates' PDFs in the background, RENDER_CHUNK per job. False (logged) when Redis refused
    them: called after the commit that issued them, so the rows stay, unrendered, and the reconciler enqueues them
    (enqueue_stuck_certificates)."""
    ids = list(certificate_ids)
    if enqueues_are_held():
        return False
    try:
        queue = django_rq.get_queue(CERTIFICATES_QUEUE)
        for start in range(0, len(ids), RENDER_CHUNK):
            queue.enqueue(render_certificates, ids[start : start + RENDER_CHUNK])
    except Exception:
        logger.exception("Could not enqueue certificates %s; the reconciler will enqueue them.", ids[:20])
        return False
    return True


def render_grace() -> datetime.timedelta:
    """How long an issued certificate may wait unrendered before the reconciler asks for it again."""
    return datetime.timedelta(seconds=settings.CERTIFICATES_RENDER_GRACE_SECONDS)


def enqueue_stuck_certificates(*, limit: int = 1000) -> int:
    """For the reconciler: enqueue live certificates still unrendered after the grace period (a lost queue entry,
    Redis down at commit, a worker killed mid-render), when the certificates queue has nothing waiting (the
    renders running would otherwise be asked twice). Returns how many."""
    if django_rq.get_queue(CERTIFICATES_QUEUE).count:
        return 0
    ids = list(
        IssuedCertificate.objects.filter(file="", issued_at__lt=timezone.now() - render_grace())
        .order_by("issued_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    if ids and not enqueue_certificate_rendering(ids):
        return 0
    return len(ids)


def render_certificates(certificate_ids: list[int]) -> int:
    """Render the PDFs of these certificate rows; returns how many were stored (rows deleted, re-issued or
    rendered meanwhile are skipped)."""
    from .certificates import render_certificates_of

    pause_point("before_render_chunk", 1)
    return render_certificates_of(
        list(
            IssuedCertificate.objects.filter(pk__in=certificate_ids, file="")
            .select_related("user", "learning_plan")
            .order_by("pk")
        )
    )
