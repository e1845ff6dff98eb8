"""`make run`: migrate, seed the demo data once, and run the web server and one worker until Ctrl-C.

With DATABASE_URL / REDIS_URL unset it starts its own PostgreSQL and Redis under var/ and stops them on
exit; with them set it uses those and starts no server. HOST and PORT choose where the web server
listens (default 127.0.0.1:8000).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
from servers import BASE_DIR, VAR_DIR, EmbeddedPostgres, EmbeddedRedis, answers, say  # noqa: E402

DATABASE_NAME = "lms_admin"
DEMO_LOGINS = [
    ("admin", "admin", "superadmin"),
    ("power", "power", "power user with two plans"),
    ("manager", "manager", "first-level manager of several learners"),
    ("director", "director", "manager of manager: second-level for those learners"),
]
HAS_USERS = (
    "import sys; from django.contrib.auth import get_user_model; "
    "sys.exit(0 if get_user_model().objects.exists() else 3)"
)


class Stop(Exception):
    """SIGINT or SIGTERM arrived: stop everything we started."""


def on_signal(signum: int, frame: object) -> None:
    # Only the first signal interrupts; a second Ctrl-C must not cut the clean-up short and orphan a server.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    say(f"{signal.Signals(signum).name}: stopping everything started here")
    raise Stop()


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env)


def start_child(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    # A session of its own: Ctrl-C reaches only this launcher, which stops the children in order.
    process = subprocess.Popen([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, start_new_session=True)
    say(f"Started {name} (pid {process.pid})")
    return process


def stop_child(name: str, process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    say(f"Stopping {name}")
    # The RQ worker forks a work horse per job into a process group of its own: remember it now, since
    # it is re-parented once the worker is gone.
    descendants: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        descendants = psutil.Process(process.pid).children(recursive=True)
    # First SIGTERM: finish the current job (RQ's warm shutdown). Second: abandon it (cold shutdown).
    for grace in (10, 5):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            pass
    else:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for leftover in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            leftover.kill()


def seed_command_exists() -> bool:
    return any(BASE_DIR.glob("*/management/commands/seed_demo.py")) or any(
        BASE_DIR.glob("*/*/management/commands/seed_demo.py")
    )


def prepare(env: dict[str, str]) -> None:
    if manage("migrate", "--noinput", env=env).returncode != 0:
        raise SystemExit("migrate failed")
    has_users = manage("shell", "--no-imports", "-v", "0", "-c", HAS_USERS, env=env).returncode
    if has_users not in (0, 3):
        raise SystemExit("could not read the users table")
    if has_users == 0:
        say("Demo data: the database has users already, not seeding")
    elif not seed_command_exists():
        say("Demo data: the seed_demo command is not available, the database stays empty")
    else:
        say("Seeding demo data")
        # Today as the demo's clock, so the compliance states (due, expired, ...) are right on the day it is seeded.
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
        if manage("seed_demo", "--now", now, env=env).returncode != 0:
            raise SystemExit("seed_demo failed")


def serve(env: dict[str, str], host: str, port: str) -> int:
    children: list[tuple[str, subprocess.Popen]] = []
    try:
        children.append(("web server", start_child("web server", ["runserver", f"{host}:{port}", "--noreload"], env)))
        children.append(("worker", start_child("worker", ["run_worker"], env)))
        deadline = time.monotonic() + 60
        while not answers(host, int(port)):
            if any(process.poll() is not None for _, process in children) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        print(
            f"\n  lms_admin is running at http://{host}:{port}/\n\n  Demo logins:\n"
            + "".join(f"    {user:<9} / {password:<9} {role}\n" for user, password, role in DEMO_LOGINS)
            + "\n  Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            for name, process in children:
                if process.poll() is not None:
                    say(f"The {name} exited with code {process.returncode}; stopping")
                    return 1
            time.sleep(0.5)
    finally:
        for name, process in reversed(children):
            stop_child(name, process)


def main() -> int:
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("DEBUG", "1")
    host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if env.get("DATABASE_URL"):
            say("PostgreSQL: DATABASE_URL")
        else:
            postgres = EmbeddedPostgres(VAR_DIR / "pg")
            started.append(postgres)
            postgres.start()
            postgres.ensure_database(DATABASE_NAME)
            env["DATABASE_URL"] = postgres.url(DATABASE_NAME)
        if env.get("REDIS_URL"):
            say("Redis: REDIS_URL")
        else:
            redis_server = EmbeddedRedis(VAR_DIR / "redis.db")
            started.append(redis_server)
            redis_server.start()
            env["REDIS_URL"] = redis_server.url()
        prepare(env)
        return serve(env, host, port)
    except Stop:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for server in reversed(started):
            server.stop()
        say("Stopped")


if __name__ == "__main__":
    sys.exit(main())
