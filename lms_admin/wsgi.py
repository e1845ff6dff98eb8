"""WSGI entry point (gunicorn lms_admin.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms_admin.settings")
application = get_wsgi_application()
