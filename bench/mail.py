"""Benchmark of mail delivery (SPEC §4.6, §9): the outbox of one 10,000-learner re-enroll with notifications (12
messages per learner, 120,000 in all) delivered to a real SMTP server — aiosmtpd on 127.0.0.1, a process of its own
started here (bench/smtp_sink.py) — by the outbox sender, beside a bare loop sending the same Django messages, built
beforehand, over one connection to the same server, in the same run.

    python -m bench --only mail [--quick]      # or: python -m bench.mail [--quick]
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import REPO_ROOT, database_url, drop_database, recreate_database, run_child, worker_process
from bench.engine import child, measure_args
from bench.list_views import print_rows

WORK_DB = "lms_bench_mail"
LEARNERS = 10_000
QUICK_LEARNERS = 1_000
RATIO_TARGET = 1.3
CERTIFICATES = 300
PDF_BEFORE_PER_SECOND = 11.0  # one worker before chunks shared a font configuration and WeasyPrint was preloaded
PDF_TARGET_PER_SECOND = 1.5 * PDF_BEFORE_PER_SECOND


def run(quick: bool = False) -> list[dict]:
    """Seed the §9 bench data, archive it with notifications on (in-process), then deliver its outbox twice to the
    same SMTP server: a bare loop over prebuilt messages, then the sender; one row per figure."""
    from django.conf import settings

    learners = QUICK_LEARNERS if quick else LEARNERS
    base_url = settings.DATABASE_URL
    database = database_url(base_url, WORK_DB)
    media = Path(tempfile.mkdtemp(prefix="lms-bench-mail-"))
    sink = None
    try:
        recreate_database(base_url, WORK_DB)
        child(["seed", "--learners", str(learners)], database, media)
        archived = child(measure_args("engine", "reenroll", reset=False, notify=True), database, media)
        port = free_port()
        sink = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(port)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
        )
        if sink.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP server did not start")
        smtp = {
            # As a production worker runs: DEBUG off (Django's template debugging slows every render).
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
        }
        result = run_child("bench.mail", ["measure"], database=database, media=media, env=smtp)
        sink.terminate()
        received = json.loads(sink.communicate(timeout=60)[0].strip().splitlines()[-1])["received"]
        sink = None
    finally:
        if sink is not None:
            sink.kill()
        drop_database(base_url, WORK_DB)
        shutil.rmtree(media, ignore_errors=True)

    messages = result["messages"]
    once = received == 2 * messages and result["sent"] == messages and result["unsent"] == 0
    data = (
        f"outbox of a {learners:,}-learner re-enroll with notifications ({archived['outbox']:,} rows); "
        f"{messages:,} messages each way, the server received {received:,} "
        f"({'each once per run' if once else 'NOT each once'}); batches of {result['batch_size']}; DEBUG off"
    )
    ratio = result["sender_seconds"] / result["bare_seconds"]
    return [
        {
            "figure": "Outbox sender → SMTP server (aiosmtpd on 127.0.0.1): time",
            "floor": f"{result['bare_seconds']:.1f} s",
            "target": f"≤ {RATIO_TARGET}× floor",
            "measured": f"{result['sender_seconds']:.1f} s",
            "ratio": f"{ratio:.2f}",
            "data": data,
        },
        {
            "figure": "Certificate PDFs per second through `run_worker` (chunks of queued renders)",
            "floor": f"{result['certificates'] / result['pdf_one_at_a_time_seconds']:.1f}/s (in-process, one "
            "document at a time)",
            "target": f"≥ {PDF_TARGET_PER_SECOND:g}/s (1.5× the {PDF_BEFORE_PER_SECOND:g}/s before)",
            "measured": f"{result['certificates'] / result['pdf_worker_seconds']:.1f}/s",
            "ratio": round(result["certificates"] / result["pdf_worker_seconds"] / PDF_BEFORE_PER_SECOND, 2),
            "data": f"{result['certificates']} live certificates issued by the re-enroll (learners Completed again "
            f"at once), chunks of {result['chunk']}, one worker",
        },
        {
            "figure": "Outbox sender → SMTP server: messages per second",
            "floor": f"{messages / result['bare_seconds']:.0f}/s",
            "target": "—",
            "measured": f"{messages / result['sender_seconds']:.0f}/s",
            "ratio": f"{ratio:.2f}",
            "data": f"the sender's peak RSS {result['rss_mb']:.0f} MB (prebuilt messages included)",
        },
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------
# The child: both deliveries, on the archived outbox.


def measure() -> dict:
    """The bare loop first (the messages written by the sender's own code beforehand, sent over one connection),
    then the sender draining the same rows in one run without a time slice."""
    from django.conf import settings
    from django.core.mail import EmailMessage, get_connection

    from lms_admin.notifications.models import OutboxMessage
    from lms_admin.notifications.services import Run, send_outbox

    rows = OutboxMessage.objects.order_by("id").values_list("event", "recipient_email", "context")
    writer = Run()
    written = [writer.message(event, email, context)[0] for event, email, context in rows.iterator()]
    if any(message is None for message in written):
        raise RuntimeError("an outbox row cannot be written as a message")
    # Plain Django messages with the same subject, body and addresses: the backend builds each when it sends it.
    prebuilt = [EmailMessage(m.subject, m.body, m.from_email, m.to) for m in written]
    del written

    started = time.monotonic()
    connection = get_connection()
    connection.open()
    for message in prebuilt:
        connection.send_messages([message])
    connection.close()
    bare_seconds = time.monotonic() - started
    del prebuilt

    started = time.monotonic()
    sent = send_outbox(slice_seconds=10**9)
    sender_seconds = time.monotonic() - started
    mail = {
        "messages": rows.count(),
        "sent": sent,
        "unsent": OutboxMessage.objects.filter(sent_at__isnull=True).count(),
        "bare_seconds": bare_seconds,
        "sender_seconds": sender_seconds,
        "batch_size": settings.NOTIFICATIONS_SEND_BATCH_SIZE,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    return {**mail, **measure_certificates()}  # after the mail: the worker must find no outbox row to send


def measure_certificates(count: int = CERTIFICATES) -> dict:
    """PDFs per second of the live certificates the archive's re-enroll issued (learners Completed again at once):
    queued in chunks and rendered by a real `run_worker` (each chunk in a fresh work horse), beside the same
    certificates rendered here one document at a time with nothing shared."""
    import django_rq
    import weasyprint
    from django.conf import settings
    from django.template import Context, Template

    from enrollments import certificates as live
    from enrollments.jobs import RENDER_CHUNK, enqueue_certificate_rendering
    from enrollments.models import IssuedCertificate
    from scripts.processes import wait_for

    ids = list(IssuedCertificate.objects.filter(file="").order_by("pk").values_list("pk", flat=True)[:count])
    if not ids:
        raise RuntimeError("the archive issued no certificate to render")
    pending = IssuedCertificate.objects.filter(pk__in=ids).select_related("user", "learning_plan").order_by("pk")

    started = time.monotonic()
    for certificate in pending:
        html = live.template_html(certificate.template_id)
        document = Template(html).render(Context(live.certificate_context(certificate)))
        weasyprint.HTML(string=document, base_url=live.BASE_URL).write_pdf()
    one_at_a_time = time.monotonic() - started

    for name in settings.RQ_QUEUE_NAMES:
        django_rq.get_queue(name).empty()
    with worker_process("mail"):
        started = time.monotonic()
        enqueue_certificate_rendering(ids)
        rendered = IssuedCertificate.objects.filter(pk__in=ids).exclude(file="")
        wait_for(lambda: rendered.count() == len(ids), timeout=900, interval=0.1, message="PDFs not rendered")
        in_worker = time.monotonic() - started
    return {
        "certificates": len(ids),
        "pdf_one_at_a_time_seconds": one_at_a_time,
        "pdf_worker_seconds": in_worker,
        "chunk": RENDER_CHUNK,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    import django

    sys.path.insert(0, str(REPO_ROOT))
    django.setup()
    if sys.argv[1:] == ["measure"]:
        print(json.dumps(measure()))
    else:
        print_rows(run(quick="--quick" in sys.argv[1:]))
