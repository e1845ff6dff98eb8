"""Certificate issuance (SPEC §3): the row in the completing transaction, the PDF from a real worker after commit."""

import base64
import http.server
import io
import threading

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


# --- what a certificate template may fetch ------------------------------------------------------------------------


def png() -> bytes:
    """A small valid PNG (drawn here, so its bytes are real)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (30, 58, 138)).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_of(html: str) -> PdfReader:
    from enrollments.certificates import render_pdf

    return PdfReader(io.BytesIO(render_pdf(html, {"learner_name": "Ada Lovelace", "plan_title": "Forklift Safety"})))


def text_and_images(reader: PdfReader) -> tuple[str, int]:
    return " ".join(page.extract_text() for page in reader.pages), sum(len(page.images) for page in reader.pages)


@pytest.fixture
def outside_files(tmp_path):
    """A stylesheet and an image outside the static files, each of which would show in the PDF if read."""
    (tmp_path / "outside.css").write_text('body::after { content: "READ-FROM-FILE"; }')
    (tmp_path / "outside.png").write_bytes(png())
    return tmp_path


def test_a_template_cannot_read_files_of_the_server(outside_files):
    reader = pdf_of(
        f'<html><head><link rel="stylesheet" href="file://{outside_files}/outside.css"></head><body>'
        f'<p>{{{{ learner_name }}}}</p><img src="file:///etc/passwd"><img src="file://{outside_files}/outside.png">'
        "</body></html>"
    )
    text, images = text_and_images(reader)
    assert "Ada Lovelace" in text
    assert "READ-FROM-FILE" not in text and images == 0


def test_a_template_cannot_reach_the_network():
    requests: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server hook name
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b'body::after { content: "READ-FROM-NETWORK"; }')

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        text, _ = text_and_images(
            pdf_of(
                f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{server.server_port}/x.css"></head>'
                "<body><p>{{ plan_title }}</p></body></html>"
            )  # fmt: skip
        )
    finally:
        server.shutdown()
        server.server_close()
    assert "Forklift Safety" in text and "READ-FROM-NETWORK" not in text
    assert requests == []


def test_a_template_may_use_the_projects_static_files_and_data_urls(settings, tmp_path):
    static_dir = tmp_path / "static"
    static_dir.mkdir()
    (static_dir / "certificate.css").write_text('body::after { content: "FROM-STATIC"; }')
    (static_dir / "seal.png").write_bytes(png())
    settings.STATICFILES_DIRS = [static_dir]

    text, images = text_and_images(
        pdf_of(
            '{% load static %}<html><head><link rel="stylesheet" href="{% static "certificate.css" %}"></head><body>'
            '<img src="{% static "seal.png" %}"><img src="data:image/png;base64,'
            + base64.b64encode(png()).decode()
            + '"></body></html>'
        )
    )
    assert "FROM-STATIC" in text and images == 2
