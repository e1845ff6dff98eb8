"""Real worker processes for tests: `python manage.py run_worker` against the current test database.

Use the `rq_worker` fixture (registered as a plugin in tests/conftest.py) in a test marked
`@pytest.mark.worker` and `@pytest.mark.django_db(transaction=True)` — the worker is another process,
so it only sees committed data. `worker_process()` is the context manager behind it, for tests that
start, kill or restart workers themselves. The process helpers under them (polling, stopping a process tree,
a private redis-server) live in scripts/processes.py, shared with the benchmarks.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from scripts.processes import (
    STOP_TIMEOUT,
    PrivateRedis,
    current_database_url,
    registered_worker_names,
    stop_process_tree,
    wait_for,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
LOG_TAIL_LINES = 80


def wait_for_pause(pause_dir: Path, point: str, *, timeout: float = 30) -> int:
    """Wait until the worker reached pause point `point` ("after_batch:1", lms_admin/pause.py); returns the pid
    of the process that paused."""
    reached = pause_dir / f"reached-{point.replace(':', '-')}"
    wait_for(reached.exists, timeout=timeout, message=f"the worker never reached {point}")
    return int(reached.read_text())


def release(pause_dir: Path, point: str) -> None:
    """Let a worker paused at `point` go on (and pass that point at once from now on)."""
    (pause_dir / f"release-{point.replace(':', '-')}").touch()


def lock_waiters(query_like: str = "%") -> list[int]:
    """Pids of the current database's backends waiting for a lock, running a query that matches `query_like`
    (SQL ILIKE): a worker blocked by a row lock, seen from PostgreSQL itself."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query ILIKE %s AND pid <> pg_backend_pid()",
            [query_like],
        )
        return [row[0] for row in cursor.fetchall()]


def worker_env(*, redis_url: str | None = None, extra: dict | None = None) -> dict:
    """The environment of a worker process: ours, pointed at the current test database, Redis and MEDIA_ROOT."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": redis_url or settings.REDIS_URL,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "lms_admin.settings",
            "PYTHONUNBUFFERED": "1",
            # No daily retraining run unless a test asks for one: a worker would otherwise start today's run of
            # every rule a test saves, before the test's own "Run now".
            "RETRAINING_RUN_HOUR_UTC": "24",
        }
    )
    env.update({key: str(value) for key, value in (extra or {}).items()})
    return env


def empty_queues(redis_url: str) -> None:
    """Drop jobs left in the project's queues of this (the test's own) Redis database by earlier tests."""
    from django.conf import settings
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    try:
        for name in settings.RQ_QUEUE_NAMES:
            Queue(name, connection=connection).empty()
    finally:
        connection.close()


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def print_log_tail(proc: subprocess.Popen) -> None:
    print(
        f"\n----- worker {proc.worker_name} (pid {proc.pid}) log tail, {proc.log_path} -----\n"
        f"{log_tail(proc.log_path)}\n----- end of worker log -----",
        file=sys.stderr,
    )


@contextlib.contextmanager
def worker_process(
    *,
    redis_url: str | None = None,
    extra_env: dict | None = None,
    burst: bool = False,
    name: str | None = None,
    log_path: Path | None = None,
    clear_queues: bool = False,
    start_timeout: float = START_TIMEOUT,
) -> Iterator[subprocess.Popen]:
    """Run `python manage.py run_worker` until the block ends; yields once the worker is registered in Redis.

    The yielded Popen carries `worker_name`, `log_path` and `redis_url`. The worker's output goes to
    `log_path` (a temporary file by default); its tail is printed when the block raises.
    """
    from django.conf import settings

    redis_url = redis_url or settings.REDIS_URL
    name = name or f"test-worker-{uuid.uuid4().hex[:12]}"
    if log_path is None:
        fd, raw_path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        os.close(fd)
        log_path = Path(raw_path)
    if clear_queues:
        empty_queues(redis_url)

    command = [sys.executable, "manage.py", "run_worker", "--name", name]
    if burst:
        command.append("--burst")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=worker_env(redis_url=redis_url, extra=extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    proc.worker_name = name
    proc.log_path = log_path
    proc.redis_url = redis_url
    try:

        def started() -> bool:
            if name in registered_worker_names(redis_url):
                return True
            if proc.poll() is not None:
                if burst and proc.returncode == 0:
                    return True  # a burst worker may finish before we see it registered
                raise AssertionError(f"worker {name} exited with code {proc.returncode} before registering")
            return False

        wait_for(started, timeout=start_timeout, interval=0.05, message=f"worker {name} did not register in time")
        yield proc
    except BaseException:
        stop_process_tree(proc)
        print_log_tail(proc)
        raise
    else:
        stop_process_tree(proc)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def rq_worker(transactional_db, request, tmp_path) -> Iterator[subprocess.Popen]:
    """A running worker serving every queue, against this test's committed data (forces a transactional db).

    Jobs left in the project's queues of this test's Redis database by earlier tests are dropped first.
    """
    with worker_process(log_path=tmp_path / "worker.log", clear_queues=True) as proc:
        yield proc
    reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
    if any(report is not None and report.failed for report in reports):
        print_log_tail(proc)


def kill_worker_tree(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a worker and every process under it (its work horse included), as a crashed host would.

    Returns the pids killed; waits until they are gone.
    """
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(family, timeout=STOP_TIMEOUT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT)
    return [member.pid for member in family]


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A started redis-server of this test's own, stopped at the end."""
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
