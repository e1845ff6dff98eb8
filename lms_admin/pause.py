"""Named pause points of the worker's long jobs, so a test lands a fault or a submission exactly between two steps.

Off unless ARCHIVE_TEST_PAUSE_AT names a point (settings; only tests set it). Used by the archive job runner
(`before_batch`; `in_batch`: inside the batch's transaction, the lease checked, nothing written yet;
`after_engine_batch`: committed, outcomes not written; `after_batch`) and the notification sender
(`after_send_batch`, and `after_send_mark`: a message taken, not yet handed to the mail server).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings


def pause_point(name: str, number: int) -> None:
    """Test-only: with ARCHIVE_TEST_PAUSE_AT="name:number", announce the point and wait to be released.

    The worker writes `reached-<name>-<number>` (its pid inside) into ARCHIVE_TEST_PAUSE_DIR, then waits
    for `release-<name>-<number>` there, so a fault test lands its fault exactly at this point.
    """
    target = settings.ARCHIVE_TEST_PAUSE_AT
    if not target or target != f"{name}:{number}" or not settings.ARCHIVE_TEST_PAUSE_DIR:
        return
    directory = Path(settings.ARCHIVE_TEST_PAUSE_DIR)
    (directory / f"reached-{name}-{number}").write_text(str(os.getpid()))
    release = directory / f"release-{name}-{number}"
    deadline = time.monotonic() + 300
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
