"""`manage.py seed_demo` as a whole (SPEC §6): the live data, then its archived history, then the first PDFs.

It sits above the apps: `enrollments.demo` writes the live data, `archive.demo` archives part of it through
the archiving engine, and the certificates still live afterwards get their PDFs, the manager's team first.
"""

from __future__ import annotations

import time

from archive.demo import add_archive_history, add_retraining
from enrollments.demo import DemoOptions, DemoSummary, render_certificates_now, seed_live_data
from enrollments.models import IssuedCertificate


def seed_demo(options: DemoOptions, *, flush: bool = False) -> DemoSummary:
    """Write the demo data, then render up to `certificates_max` PDFs (the worker renders the rest)."""
    summary, certificate_ids = seed_live_data(options, flush=flush)
    started = time.perf_counter()
    history = add_archive_history(options)
    summary.counts.update(history.counts)
    summary.timings["archived history"] = time.perf_counter() - started
    started = time.perf_counter()
    summary.counts.update(add_retraining(options))
    summary.timings["retraining rules"] = time.perf_counter() - started
    started = time.perf_counter()
    # Archiving moved some certificates into the archive and issued new ones: render the live ones, team first.
    live = set(IssuedCertificate.objects.filter(pk__in=certificate_ids).values_list("pk", flat=True))
    certificate_ids = [pk for pk in certificate_ids if pk in live] + history.new_certificate_ids
    to_render = certificate_ids[: max(options.certificates_max, 0)]
    summary.certificates_rendered = render_certificates_now(to_render)
    summary.certificates_pending = certificate_ids[len(to_render) :]
    summary.timings["certificate PDFs"] = time.perf_counter() - started
    return summary
