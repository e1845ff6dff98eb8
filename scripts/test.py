"""`make test`: lint, migration check and the whole pytest suite against real PostgreSQL and Redis.

Servers: TEST_DATABASE_URL / REDIS_URL when set, else 127.0.0.1:5432 / :6379 when they answer, else
embedded ones for the run (see servers.py). Browser tests need Chromium at /usr/bin/chromium
(CHROMIUM_PATH overrides). Extra arguments go to pytest: `make test ARGS="tests/archive -x"`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import BASE_DIR, run_in_foreground, say, servers_for_tests  # noqa: E402

BIN = Path(sys.executable).parent
CHROMIUM_INSTALL = "apt-get install -y --no-install-recommends chromium"


def ensure_chromium() -> bool:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if Path(chromium).exists():
        return True
    if chromium == "/usr/bin/chromium" and os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"Chromium is missing: installing it ({CHROMIUM_INSTALL})")
        subprocess.run(["apt-get", "update", "-q"], check=False)
        subprocess.run(CHROMIUM_INSTALL.split(), check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if Path(chromium).exists():
            return True
    print(
        f"\nThe browser tests need Chromium at {chromium}, and it is not there.\n"
        f"Install the Debian package:  sudo {CHROMIUM_INSTALL}\n"
        "or point CHROMIUM_PATH at a Chromium binary.\n",
        file=sys.stderr,
    )
    return False


def step(title: str, command: list[str], env: dict[str, str]) -> bool:
    say(title)
    return run_in_foreground(command, env) == 0


def main(pytest_args: list[str]) -> int:
    if not ensure_chromium():
        return 1
    env = {
        **os.environ,
        # The suite runs against the development settings (plain HTTP): never production's HTTPS redirect.
        "DEBUG": "1",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("TEST_DATABASE_NAME", "test_lms_admin")
    os.chdir(BASE_DIR)
    if not step("ruff check", [str(BIN / "ruff"), "check", "."], env):
        return 1
    if not step("ruff format --check", [str(BIN / "ruff"), "format", "--check", "."], env):
        return 1
    with servers_for_tests() as server_env:
        env.update(server_env)
        manage = [sys.executable, "manage.py"]
        if not step("Migrations match the models", [*manage, "makemigrations", "--check", "--dry-run"], env):
            return 1
        say(f"pytest (test database {env['TEST_DATABASE_NAME']})")
        # Exit code 5 (no tests collected) is a failure like any other non-zero code.
        return run_in_foreground(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(pytest_args or ["tests"])], env
        )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
