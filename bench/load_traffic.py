"""The load suite's traffic: simulated admins who log in with the form and browse with think time, and browsers
polling a job's progress panel; every request's latency and status kept for the report.

Plain `http.client` in threads against gunicorn on 127.0.0.1. Each request carries `X-Forwarded-Proto: https`,
as the HTTPS proxy of the README's Production section sets it, so the production settings (Secure cookies, the
HTTPS redirect, CSRF's origin check) run unchanged; the cookies are kept by hand because they are Secure.
"""

from __future__ import annotations

import http.client
import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

HOST = "localhost"
TIMEOUT = 30
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Sample:
    started: float
    ended: float
    kind: str
    ms: float
    ok: bool


@dataclass
class Recorder:
    """Every request of a run, appended from many threads."""

    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)

    def add(self, sample: Sample, error: str = "") -> None:
        with self.lock:
            self.samples.append(sample)
            if error and len(self.errors) < 20:
                self.errors.append(error)

    def between(self, start: float, end: float, kind: str) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if s.kind == kind and start <= s.started and s.ended <= end]


def summary(samples: list[Sample], seconds: float) -> dict:
    """Pages per second, p50/p95/p99 (ms) and errors of `samples`, taken over `seconds`."""
    times = sorted(s.ms for s in samples)
    if len(times) < 2:
        return {"count": len(times), "per_second": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "errors": 0}
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {
        "count": len(times),
        "per_second": len(times) / seconds,
        "p50": cuts[49],
        "p95": cuts[94],
        "p99": cuts[98],
        "errors": sum(not s.ok for s in samples),
    }


class Admin:
    """One browser: a keep-alive connection to gunicorn and the session's cookies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def _request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        all_headers = {"Host": HOST, "X-Forwarded-Proto": "https", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):  # gunicorn may close an idle keep-alive connection: reconnect once
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                content = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        for header in response.msg.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, content

    def login(self, username: str, password: str) -> None:
        """The login form, as a person submits it (CSRF token, then the POST); raises when it does not succeed."""
        status, page = self._request("GET", "/accounts/login/")
        token = CSRF_FIELD.search(page.decode())
        if status != 200 or token is None:
            raise RuntimeError(f"the login page answered {status}")
        body = urlencode({"csrfmiddlewaretoken": token.group(1), "username": username, "password": password})
        status, _ = self._request(
            "POST",
            "/accounts/login/",
            body,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"https://{HOST}",
                "Referer": f"https://{HOST}/accounts/login/",
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login of {username} answered {status}")

    def get(self, path: str, kind: str, recorder: Recorder, *, htmx: bool = False) -> None:
        headers = {"HX-Request": "true"} if htmx else {}
        started = time.monotonic()
        try:
            status, _ = self._request("GET", path, headers=headers)
            error = "" if status == 200 else f"{path} answered {status}"
        except (http.client.HTTPException, OSError) as exc:
            error = f"{path}: {type(exc).__name__}: {exc}"
        ended = time.monotonic()
        recorder.add(Sample(started, ended, kind, (ended - started) * 1000, not error), error)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def log_in_all(port: int, users: list[tuple[str, str]], parallel: int = 4) -> list[Admin]:
    """One logged-in Admin per (username, password), `parallel` logins at a time (each hashes a password)."""
    admins = [Admin(port) for _ in users]
    pending = list(zip(admins, users, strict=True))
    lock, failures = threading.Lock(), []

    def work() -> None:
        while True:
            with lock:
                if not pending:
                    return
                admin, (username, password) = pending.pop()
            try:
                admin.login(username, password)
            except Exception as exc:  # noqa: BLE001 - reported below, after every thread ended
                failures.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} logins failed, e.g. {failures[0]}")
    return admins


class Traffic:
    """Browsers and pollers running in threads until `stop()`: each browser requests a random page of `pages`,
    then thinks 1–3 s; each poller requests `poll_path` as htmx does, every second."""

    def __init__(self, recorder: Recorder, seed: int = 16) -> None:
        self.recorder = recorder
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.random = random.Random(seed)

    def browse(self, admins: list[Admin], pages: list[str], think: tuple[float, float] = (1.0, 3.0)) -> None:
        for admin in admins:
            rng = random.Random(self.random.random())
            self._start(self._browser, admin, pages, think, rng)

    def poll(self, admins: list[Admin], poll_path: str) -> None:
        for admin in admins:
            self._start(self._poller, admin, poll_path, self.random.random())

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _browser(self, admin: Admin, pages: list[str], think: tuple[float, float], rng: random.Random) -> None:
        # Start spread over one think time, so 50 browsers do not arrive in one burst.
        if self.stopping.wait(rng.uniform(0, think[1])):
            return
        while not self.stopping.is_set():
            admin.get(rng.choice(pages), "page", self.recorder)
            self.stopping.wait(rng.uniform(*think))

    def _poller(self, admin: Admin, path: str, phase: float) -> None:
        if self.stopping.wait(phase):
            return
        next_at = time.monotonic()
        while not self.stopping.is_set():
            admin.get(path, "poll", self.recorder, htmx=True)
            next_at += 1.0
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT + 5)
