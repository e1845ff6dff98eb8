"""Helpers for processes we start and wait on: polling, worker registration, stopping a process tree, a private
redis-server. Shared by the test suite (tests/workers.py) and the benchmarks (bench/jobs.py).

Django is imported only inside the helpers that read the settings, so the module imports anywhere.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import psutil

STOP_TIMEOUT = 10.0


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


def registered_worker_names(redis_url: str) -> set[str]:
    """Names of the RQ workers registered in this Redis database."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    try:
        return {worker.name for worker in Worker.all(connection=connection)}
    finally:
        connection.close()


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own on a free port (never the shared one): start, stop, restart."""

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
