"""Real worker processes for tests: `python manage.py run_worker` against the current test database.

Use the `rq_worker` fixture (registered as a plugin in tests/conftest.py) in a test marked
`@pytest.mark.worker` and `@pytest.mark.django_db(transaction=True)` — the worker is another process,
so it only sees committed data. `worker_process()` is the context manager behind it, for tests that
start, kill or restart workers themselves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 80


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30, interval: float = 0.05, message: str = "") -> Any:
    """Poll `predicate` until it returns something truthy and return it; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(message or f"condition not met within {timeout} s: {predicate!r}")
        time.sleep(interval)


def wait_for_pause(pause_dir: Path, point: str, *, timeout: float = 30) -> int:
    """Wait until the worker reached pause point `point` ("after_batch:1", lms_admin/pause.py); returns the pid
    of the process that paused."""
    reached = pause_dir / f"reached-{point.replace(':', '-')}"
    wait_for(reached.exists, timeout=timeout, message=f"the worker never reached {point}")
    return int(reached.read_text())


def release(pause_dir: Path, point: str) -> None:
    """Let a worker paused at `point` go on (and pass that point at once from now on)."""
    (pause_dir / f"release-{point.replace(':', '-')}").touch()


def current_database_url() -> str:
    """A DATABASE_URL for the database Django is connected to now (the test database inside a test)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or ""
    port = str(db.get("PORT") or "")
    name = quote(db["NAME"], safe="")
    if host.startswith("/"):  # a Unix socket directory travels in the query string
        netloc = f"{credentials}:{port}" if port else credentials
        return f"postgres://{netloc}/{name}?host={quote(host, safe='')}"
    netloc = f"{credentials}{host}" + (f":{port}" if port else "")
    return f"postgres://{netloc}/{name}"


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
        }
    )
    env.update({key: str(value) for key, value in (extra or {}).items()})
    return env


def registered_worker_names(redis_url: str) -> set[str]:
    """Names of the RQ workers registered in this Redis database."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    try:
        return {worker.name for worker in Worker.all(connection=connection)}
    finally:
        connection.close()


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


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop_process_tree(proc: subprocess.Popen, *, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the worker (RQ's warm shutdown), SIGKILL it after `timeout`, then kill every descendant left.

    RQ's work horse runs in a process group of its own, so it is found by walking the tree, not by killpg.
    """
    family = {p.pid: p for p in _descendants(proc.pid)}
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            family.update({p.pid: p for p in _descendants(proc.pid)})
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=timeout)
    for child in family.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(list(family.values()), timeout=timeout)


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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own on a free port (never the shared one): start, stop, restart, flush."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        wait_for(self.ping, timeout=10, message=f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=STOP_TIMEOUT)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self):
        from redis import Redis

        return Redis.from_url(self.url, socket_connect_timeout=1)

    def ping(self) -> bool:
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            with self.client() as client:
                return bool(client.ping())
        except RedisConnectionError:
            return False

    def queues_config(self) -> dict:
        """An RQ_QUEUES setting pointing every project queue at this server."""
        from django.conf import settings

        return {name: {"URL": self.url, "DEFAULT_TIMEOUT": 3600} for name in settings.RQ_QUEUE_NAMES}


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A started redis-server of this test's own, stopped at the end."""
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
