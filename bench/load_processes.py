"""The load suite's processes and meters: gunicorn as the README's Production section runs it, and the CPU
seconds a changing set of processes (gunicorn's, PostgreSQL's backends) spends over a window.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from bench.common import REPO_ROOT
from scripts.processes import current_database_url, free_port, stop_process_tree, wait_for

GUNICORN_WORKERS = 4


class CpuMeter:
    """CPU seconds (user + system) spent by a changing set of processes over a window: the set is listed every
    0.5 s and each process counts from the first time it was seen (from 0 when it started inside the window)."""

    def __init__(self, list_pids) -> None:
        self.list_pids = list_pids
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self, initial: bool = False) -> None:
        import psutil

        for pid in self.list_pids():
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            self.last[pid] = times.user + times.system
            self.first.setdefault(pid, self.last[pid] if initial else 0.0)

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> CpuMeter:
        self._sample(initial=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = sum(self.last[pid] - self.first[pid] for pid in self.last)


class Gunicorn:
    """gunicorn as the README's Production section runs it, on a free port of 127.0.0.1."""

    def __enter__(self) -> Gunicorn:
        from django.conf import settings

        self.port = free_port()
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "bench-load-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "ALLOWED_HOSTS": "localhost",
            "DATABASE_URL": current_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        }
        self.log = open(os.environ.get("BENCH_GUNICORN_LOG", os.devnull), "ab")  # noqa: SIM115
        command = ["gunicorn", "lms_admin.wsgi", "--workers", str(GUNICORN_WORKERS), "--bind", f"127.0.0.1:{self.port}"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *command], cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_for(self._serving, timeout=60, interval=0.2, message="gunicorn did not start")
        return self

    def _serving(self) -> bool:
        import http.client

        if self.proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/accounts/login/", headers={"Host": "localhost", "X-Forwarded-Proto": "https"})
            ok = conn.getresponse().status == 200
            conn.close()
        except OSError:
            return False
        return ok and len(self.pids()) == GUNICORN_WORKERS + 1

    def pids(self) -> list[int]:
        import psutil

        try:
            return [self.proc.pid, *(p.pid for p in psutil.Process(self.proc.pid).children())]
        except psutil.NoSuchProcess:
            return []

    def __exit__(self, *exc) -> None:
        stop_process_tree(self.proc)
        self.log.close()


def postgres_backends() -> list[int]:
    """The PostgreSQL backends connected to this database, except this thread's own connection."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]
