"""Certificate issuance (SPEC §3): the row in the completing transaction, the PDF from a real worker after commit."""

import io

import pytest
from django.db import transaction
from pypdf import PdfReader

from enrollments.models import EnrollmentStatus, IssuedCertificate, LearningPlanEnrollment, TrackingStatus
from enrollments.services import enroll_user, record_material_progress
from tests.factories import UserFactory, make_plan
from tests.workers import wait_for


def pdf_text(certificate: IssuedCertificate) -> str:
    with certificate.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(page.extract_text() for page in reader.pages)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_completing_the_last_material_issues_a_certificate_rendered_by_the_worker(rq_worker):
    plan = make_plan(courses=1, materials_per_course=2, template=True, title="Forklift Safety")
    learner = UserFactory(first_name="Ada", last_name="Lovelace")
    enroll_user(user=learner, learning_plan=plan)
    first, last = plan.courses.get().materials.all()
    record_material_progress(user=learner, material=first, status=TrackingStatus.COMPLETED)

    with transaction.atomic():
        record_material_progress(user=learner, material=last, status=TrackingStatus.COMPLETED)
        # The row exists inside the completing transaction, before anything is rendered.
        certificate = IssuedCertificate.objects.get(user=learner, learning_plan=plan)
        assert not certificate.file
        assert LearningPlanEnrollment.objects.get(user=learner).status == EnrollmentStatus.COMPLETED

    def rendered() -> IssuedCertificate | None:
        cert = IssuedCertificate.objects.get(pk=certificate.pk)
        return cert if cert.rendered_at else None

    certificate = wait_for(rendered, timeout=60, message="the worker did not render the certificate")
    text = pdf_text(certificate)
    assert "Ada Lovelace" in text
    assert "Forklift Safety" in text
