"""`python -m bench [--only SUITE ...] [--quick]`: run the benchmarks of SPEC §9, §11, §12 and §13 (SUITES below),
print the table and write it into docs/PERFORMANCE.md with the machine it ran on and the command.

Every benchmark module exposes `run() -> list[dict]`, one dict per figure with the keys figure, floor,
target, measured, ratio and data (the data sizes).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import inspect
import os
import platform
import sys
import time
import traceback
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "docs" / "PERFORMANCE.md"
COLUMNS = ("figure", "floor", "target", "measured", "ratio", "data")
# name: (module, title of its section in docs/PERFORMANCE.md), in the order of the report
SUITES = {
    "engine": ("bench.engine", "Archiving engine"),
    "list": ("bench.list_views", "List views"),
    "archived": ("bench.archived_views", "Archived view"),
    "jobs": ("bench.jobs", "Background jobs"),
    "reads": ("bench.bounded_reads", "Bounded reads (300,000 archived records per plan)"),
    "retraining": ("bench.retraining", "Retraining (1,000,000 plan enrollments under 200 rules)"),
    "mail": ("bench.mail", "Mail delivery to a real SMTP server, certificate PDFs"),
    "content": ("bench.content", "What changed since the archived round"),
    "import": ("bench.imports", "Archive from a file (50,000 rows across 10 plans)"),
    "load": ("bench.load", "Load: 50 admins on gunicorn, alone and during a 10,000 job"),
}


def machine() -> dict[str, str]:
    """What the figures depend on: processor, cores, memory, PostgreSQL, and how busy the machine was."""
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    load = os.getloadavg()
    return {
        "processor": cpu_model(),
        "cores (nproc)": str(os.cpu_count()),
        "memory": f"{psutil.virtual_memory().total / 1024**3:.1f} GiB",
        "PostgreSQL": postgres,
        "Python": platform.python_version(),
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in load),
    }


def cpu_model() -> str:
    """The processor's model name as the kernel reports it (platform.processor() is often empty on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_suite(name: str, quick: bool) -> list[dict]:
    print(f"-- {name}: running", flush=True)
    started = time.monotonic()
    try:
        module = importlib.import_module(SUITES[name][0])
        kwargs = {"quick": quick} if "quick" in inspect.signature(module.run).parameters else {}
        rows = module.run(**kwargs)
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others' figures
        traceback.print_exc()
        return [{"figure": f"{name}: the benchmark failed", "measured": f"{type(exc).__name__}: {exc}"}]
    print(f"-- {name}: {len(rows)} figures in {time.monotonic() - started:.0f} s", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    """A Markdown table; also readable as plain text in a terminal."""
    cells = [[str(row.get(column, "")) for column in COLUMNS] for row in rows]
    widths = [max([len(column)] + [len(c[i]) for c in cells]) for i, column in enumerate(COLUMNS)]
    lines = [
        "| " + " | ".join(column.ljust(widths[i]) for i, column in enumerate(COLUMNS)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c[i].ljust(widths[i]) for i in range(len(COLUMNS))) + " |" for c in cells]
    return "\n".join(lines)


def sections_on_file() -> dict[str, str]:
    """The sections of the current docs/PERFORMANCE.md, so that `--only x` replaces x's and keeps the others."""
    if not OUTPUT.exists():
        return {}
    text = OUTPUT.read_text()
    found = {}
    for name in SUITES:
        start, end = f"<!-- suite:{name} -->", f"<!-- /suite:{name} -->"
        if start in text and end in text:
            found[name] = text[text.index(start) : text.index(end) + len(end)]
    return found


def write_report(results: dict[str, list[dict]], info: dict[str, str], command: str, seconds: float) -> None:
    when = f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
    machine_lines = [f"- {key}: {value}" for key, value in info.items()]
    sections = sections_on_file()
    for name, rows in results.items():
        sections[name] = "\n".join(
            [
                f"<!-- suite:{name} -->",
                f"## {SUITES[name][1]}",
                "",
                table(rows) if rows else "Not available in this checkout.",
                "",
                f"Measured {when} with `{command}` ({seconds:.0f} s for the whole run) on:",
                "",
                *machine_lines,
                f"<!-- /suite:{name} -->",
            ]
        )
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (bench/__main__.py); do not edit by hand. SPEC §9 sets the targets. The floor is",
        "the same writes done by our own hand-written set-based SQL; the ratio is measured / floor, or measured /",
        "target where there is no floor. The machine has 2 cores shared with other work: the load average",
        "below says how busy it was. The same code measures very differently on another processor (the floor",
        "too), so a figure is only compared with the floor and the machine printed beside it.",
        "",
        *[sections[name] + "\n" for name in SUITES if name in sections],
    ]
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(SUITES), action="append", help="run only this benchmark")
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run (not the SPEC figures)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the list benchmarks seed into this database
    info = machine()
    started = time.monotonic()
    results = {name: run_suite(name, args.quick) for name in args.only or list(SUITES)}
    rows = [row for suite_rows in results.values() for row in suite_rows]
    print()
    print(table(rows))
    command = "make bench" + (f" ARGS='{' '.join(argv if argv is not None else sys.argv[1:])}'" if sys.argv[1:] else "")
    if args.quick:
        print("\n--quick: docs/PERFORMANCE.md left as it was (the figures are not the SPEC's).")
    else:
        write_report(results, info, command, time.monotonic() - started)
        print(f"\nWritten to {OUTPUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
