"""Rendering certificate PDFs with WeasyPrint (in the worker, never in a request or an archive batch)."""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.template import Context, Template
from django.utils import timezone

from .models import IssuedCertificate

# WeasyPrint logs every rendering step at INFO; keep worker and command output readable.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

DEFAULT_TEMPLATE_HTML = """
<html><head><style>
  @page { size: A4 landscape; margin: 2cm; }
  body { font-family: "DejaVu Sans", sans-serif; text-align: center; color: #1f2937; }
  h1 { font-size: 36pt; margin-top: 2cm; } .name { font-size: 28pt; font-weight: bold; }
</style></head><body>
  <h1>Certificate of completion</h1>
  <p>This certifies that</p>
  <p class="name">{{ learner_name }}</p>
  <p>has completed the learning plan</p>
  <p class="name">{{ plan_title }}</p>
  <p>on {{ completed_on }} &middot; {{ credits }} credits (CEUs)</p>
</body></html>
"""


def certificate_context(certificate: IssuedCertificate) -> dict:
    from .models import LearningPlanEnrollment

    enrollment = LearningPlanEnrollment.objects.filter(
        user_id=certificate.user_id, learning_plan_id=certificate.learning_plan_id
    ).first()
    completed = enrollment.completed_at if enrollment and enrollment.completed_at else certificate.issued_at
    return {
        "learner_name": certificate.user.display_name,
        "plan_title": certificate.learning_plan.title,
        "completed_on": completed.date().isoformat(),
        "credits": certificate.learning_plan.credits,
        "issued_on": certificate.issued_at.date().isoformat(),
    }


def render_certificate_pdf(certificate: IssuedCertificate) -> bytes:
    import weasyprint

    html = certificate.template.html if certificate.template else DEFAULT_TEMPLATE_HTML
    document = Template(html).render(Context(certificate_context(certificate)))
    return weasyprint.HTML(string=document).write_pdf()


def render_certificate(certificate: IssuedCertificate) -> None:
    """Render and store the PDF of one certificate row."""
    pdf = render_certificate_pdf(certificate)
    name = f"certificate-{certificate.user_id}-{certificate.pk}.pdf"
    if certificate.file:
        certificate.file.delete(save=False)
    certificate.file.save(name, ContentFile(pdf), save=False)
    certificate.rendered_at = timezone.now()
    IssuedCertificate.objects.filter(pk=certificate.pk).update(
        file=certificate.file.name, rendered_at=certificate.rendered_at
    )
