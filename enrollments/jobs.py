"""RQ entry points of the enrollments app (thin: the work is in services and certificates)."""

from __future__ import annotations

import django_rq

from .models import IssuedCertificate

CERTIFICATES_QUEUE = "certificates"


def enqueue_certificate_rendering(certificate_ids: list[int]) -> None:
    django_rq.get_queue(CERTIFICATES_QUEUE).enqueue(render_certificates, list(certificate_ids))


def render_certificates(certificate_ids: list[int]) -> int:
    """Render the PDFs of these certificate rows (rows deleted meanwhile are skipped)."""
    from .certificates import render_certificate

    rendered = 0
    for certificate in IssuedCertificate.objects.filter(pk__in=certificate_ids).select_related(
        "user", "learning_plan", "template"
    ):
        render_certificate(certificate)
        rendered += 1
    return rendered
