"""What the benchmarks share: scratch databases beside DATABASE_URL's, child processes that report one JSON line,
and the superadmin who runs the measured requests and archives.

Importable before Django is set up (a child imports it first): Django is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO_ROOT = Path(__file__).resolve().parent.parent


def database_url(base_url: str, name: str) -> str:
    """`base_url` pointed at the database `name` on the same server."""
    return urlunparse(urlparse(base_url)._replace(path=f"/{name}"))


def _server(base_url: str):
    import psycopg

    return psycopg.connect(
        database_url(base_url, "postgres").replace("postgres://", "postgresql://", 1), autocommit=True
    )


def drop_database(base_url: str, name: str) -> None:
    with _server(base_url) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recreate_database(base_url: str, name: str, *, template: str | None = None) -> None:
    """Drop `name` if it exists and create it empty, or as a copy of `template` (`CREATE DATABASE … TEMPLATE`)."""
    with _server(base_url) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


class SeededCopies:
    """A template database (and its MEDIA_ROOT) seeded once, and fresh copies of both for each measured run: the
    databases live beside `base_url`'s, the media in a scratch folder; `close()` drops and deletes them all.

        with SeededCopies("engine", base_url, template="lms_bench_engine_tpl", work="lms_bench_engine") as copies:
            sizes = copies.seed("bench.engine", ["seed", "--learners", "10000"])
            copies.fresh_copy()
            result = run_child("bench.engine", [...], database=copies.work_url, media=copies.media)
    """

    def __init__(self, name: str, base_url: str, *, template: str, work: str, scratch: Path | None = None) -> None:
        """`scratch`: the folder of copies made by another process (a child that refreshes its own work copy
        between runs); a new scratch folder otherwise."""
        import tempfile

        self.base_url, self.template, self.work = base_url, template, work
        self.scratch = scratch or Path(tempfile.mkdtemp(prefix=f"lms-bench-{name}-"))
        self.template_media, self.media = self.scratch / "template-media", self.scratch / "media"
        self.template_url, self.work_url = database_url(base_url, template), database_url(base_url, work)

    def seed(self, module: str, args: list[str]) -> dict:
        """The template created empty and seeded by `python -m module *args`; the seeding child's JSON result."""
        recreate_database(self.base_url, self.template)
        return run_child(module, args, database=self.template_url, media=self.template_media)

    def fresh_copy(self) -> None:
        """The work database and media again exactly as seeded."""
        import shutil

        recreate_database(self.base_url, self.work, template=self.template)
        shutil.rmtree(self.media, ignore_errors=True)
        shutil.copytree(self.template_media, self.media)

    def close(self) -> None:
        import shutil

        for name in (self.work, self.template):
            drop_database(self.base_url, name)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> SeededCopies:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def run_child(module: str, args: list[str], *, database: str, media: Path, env: dict | None = None) -> dict:
    """`python -m module *args` on this database and MEDIA_ROOT (a process of its own, so its peak RSS is the
    run's); returns the JSON object its last line of output holds."""
    child_env = {
        **os.environ,
        "DATABASE_URL": database,
        "MEDIA_ROOT": str(media),
        "DJANGO_SETTINGS_MODULE": "lms_admin.settings",
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=child_env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def private_redis():
    """A redis-server of the benchmark's own, started (a `scripts.processes.PrivateRedis`), or None when none is
    installed."""
    import shutil

    from scripts.processes import PrivateRedis

    if not shutil.which("redis-server"):
        return None
    server = PrivateRedis()
    server.start()
    return server


def bench_admin(username: str = "bench_admin"):
    """The superadmin the benchmarks act as (created on first use)."""
    from lms_admin.accounts.models import Level, User

    user, _ = User.objects.get_or_create(username=username, defaults={"level": Level.SUPERADMIN, "password": "!"})
    return user


@contextlib.contextmanager
def worker_process(kind: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """One `manage.py run_worker` on this process's database and Redis (plus `env`), registered before the block
    runs, stopped (with its work horse) after it; its output is thrown away."""
    from django.conf import settings

    from scripts.processes import current_database_url, registered_worker_names, stop_process_tree, wait_for

    name = f"bench-{kind}-worker-{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "DJANGO_SETTINGS_MODULE": "lms_admin.settings",
        **(env or {}),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--name", name],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: name in registered_worker_names(settings.REDIS_URL), timeout=60)
        yield worker
    finally:
        stop_process_tree(worker)
