#!/usr/bin/env python
"""Django's command-line entry point for lms_admin."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
    if sys.argv[1:2] == ["makemigrations"]:
        # Reads models only: no secret is needed, so the migration check also runs in a bare shell.
        os.environ.setdefault("SECRET_KEY", "makemigrations-reads-models-only")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
