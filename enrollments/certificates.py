"""Rendering certificate PDFs with WeasyPrint (in the worker, never in a request or an archive batch).

`render_pdf` turns a plain context and a template's HTML into a PDF: the live certificates below and the archive's
pending certificates (rendered from a snapshot's frozen data) both come through it. A certificate fetches
nothing but the project's own static files.
"""

from __future__ import annotations

import datetime
import functools
import logging
import mimetypes
import os
from collections.abc import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.template import Context, Template
from django.utils import timezone

from .models import CertificateTemplate, IssuedCertificate, LearningPlanEnrollment

logger = logging.getLogger(__name__)

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

# Relative references in a template ("/static/logo.png", what `{% static %}` writes) resolve against this base;
# the host is reserved (.invalid) and never contacted: the fetcher below serves it from the static files.
BASE_URL = "https://certificate.invalid/"


def _static_fetcher():
    """A WeasyPrint URL fetcher that serves only the project's static files (and data: URLs); it refuses
    file:, http(s): and everything else, so a template cannot read the server's files or reach the network."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # here: importing WeasyPrint costs ~1 s

    class StaticFilesFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = static_path(url)
            if path is None:
                raise ValueError(f"Certificates may only use the project's static files, not {url[:200]!r}.")
            with open(path, "rb") as handle:
                body = handle.read()
            content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body, {"Content-Type": content_type})

    return StaticFilesFetcher(fail_on_errors=False)


def static_path(url: str) -> str | None:
    """The file a certificate's URL names among the static files (STATICFILES_DIRS, app static dirs, then
    STATIC_ROOT), or None when the URL is not one of ours or names no static file."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}/" != BASE_URL:
        return None
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    path = unquote(parts.path)
    if not path.startswith(prefix):
        return None
    relative = path[len(prefix) :]
    if not relative or ".." in relative.split("/"):
        return None
    found = finders.find(relative)  # the finders refuse names outside their directories
    if found:
        return found
    try:  # collected files (STATIC_ROOT); path() refuses names outside it
        collected = staticfiles_storage.path(relative)
    except SuspiciousFileOperation:
        return None
    return collected if os.path.isfile(collected) else None


def template_html(template_id: int | None) -> str:
    """The HTML of a certificate template, or the built-in one when there is none (or it was deleted)."""
    if template_id is None:
        return DEFAULT_TEMPLATE_HTML
    html = CertificateTemplate.objects.filter(pk=template_id).values_list("html", flat=True).first()
    return DEFAULT_TEMPLATE_HTML if html is None else html


def render_pdf(html: str, context: Mapping) -> bytes:
    """A certificate PDF from a template's HTML (a Django template) and a plain context: learner_name,
    plan_title, completed_on, credits, issued_on."""
    import weasyprint

    document = _compiled(html).render(Context(dict(context)))
    return weasyprint.HTML(string=document, base_url=BASE_URL, url_fetcher=_fetcher()).write_pdf(
        font_config=_font_configuration(html)
    )


# Per process (a worker's job renders a chunk of certificates): the compiled template, the URL fetcher and, above
# all, WeasyPrint's font configuration — building one (fontconfig) is about half of a small certificate's cost.
# One font configuration per template: the @font-face rules a template declares stay with that template.
@functools.lru_cache(maxsize=32)
def _compiled(html: str) -> Template:
    return Template(html)


@functools.lru_cache(maxsize=1)
def _fetcher():
    return _static_fetcher()


def preload() -> None:
    """For the worker before it forks its work horses: WeasyPrint imported and the built-in template's font
    configuration ready, so that a chunk of certificates does not pay for them again."""
    _font_configuration(DEFAULT_TEMPLATE_HTML)
    _compiled(DEFAULT_TEMPLATE_HTML)


@functools.lru_cache(maxsize=8)
def _font_configuration(html: str):
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def certificate_context(certificate: IssuedCertificate, completed_at: datetime.datetime | None = None) -> dict:
    """A live certificate's context: the learner and plan as they are now, the current round's completion
    (`completed_at` when the caller read it already, with the other certificates of its chunk)."""
    if completed_at is None:
        completed_at = (
            LearningPlanEnrollment.objects.filter(
                user_id=certificate.user_id, learning_plan_id=certificate.learning_plan_id
            )
            .values_list("completed_at", flat=True)
            .first()
        )
    completed = completed_at or certificate.issued_at
    return {
        "learner_name": certificate.user.display_name,
        "plan_title": certificate.learning_plan.title,
        "completed_on": completed.date().isoformat(),
        "credits": certificate.learning_plan.credits,
        "issued_on": certificate.issued_at.date().isoformat(),
    }


def render_certificate_pdf(certificate: IssuedCertificate) -> bytes:
    return render_pdf(template_html(certificate.template_id), certificate_context(certificate))


def render_certificates_of(certificates: Sequence[IssuedCertificate]) -> int:
    """Render and store the PDFs of these certificate rows (a chunk), their templates and completions read in two
    queries; returns how many were stored."""
    if not certificates:
        return 0
    templates = dict(
        CertificateTemplate.objects.filter(pk__in={c.template_id for c in certificates}).values_list("pk", "html")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.user_id, e.learning_plan_id, e.completed_at FROM enrollments_learningplanenrollment e"
            " JOIN unnest(%s::bigint[], %s::bigint[]) AS p(user_id, plan_id)"
            " ON e.user_id = p.user_id AND e.learning_plan_id = p.plan_id",
            [[c.user_id for c in certificates], [c.learning_plan_id for c in certificates]],
        )
        completions = {(user_id, plan_id): completed for user_id, plan_id, completed in cursor.fetchall()}
    rendered = 0
    for certificate in certificates:
        html = templates.get(certificate.template_id, DEFAULT_TEMPLATE_HTML)
        completed_at = completions.get((certificate.user_id, certificate.learning_plan_id))
        rendered += render_certificate(
            certificate, pdf=render_pdf(html, certificate_context(certificate, completed_at))
        )
    return rendered


# The file goes onto the row only if the row is still the same issue, unrendered: an archive may have taken the
# certificate out of the live data (the archive keeps its own copy), or a new round re-issued it meanwhile.
ATTACH_SQL = """
UPDATE enrollments_issuedcertificate SET file = %(file)s, rendered_at = %(now)s
WHERE id = %(id)s AND issued_at = %(issued_at)s AND file = '' AND rendered_at IS NULL
"""


def render_certificate(certificate: IssuedCertificate, *, pdf: bytes | None = None) -> bool:
    """Render and store the PDF of one certificate row (or store `pdf`, rendered already); False (and no file left
    behind) when the row is gone, re-issued or already rendered by the time the PDF is ready."""
    if certificate.file or certificate.rendered_at:
        return False
    pdf = pdf if pdf is not None else render_certificate_pdf(certificate)
    filename = f"certificate-{certificate.user_id}-{certificate.pk}.pdf"
    name = default_storage.save(certificate.file.field.generate_filename(certificate, filename), ContentFile(pdf))
    params = {"file": name, "now": timezone.now(), "id": certificate.pk, "issued_at": certificate.issued_at}
    with connection.cursor() as cursor:
        cursor.execute(ATTACH_SQL, params)
        attached = cursor.rowcount == 1
    if not attached:
        default_storage.delete(name)
        logger.info("Certificate %s was archived, re-issued or rendered meanwhile; PDF not kept.", certificate.pk)
    return attached
