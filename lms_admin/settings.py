"""Settings for lms_admin, read from the environment (one module for every environment)."""

import datetime
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LMS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def database_from_url(url: str) -> dict:
    """postgres://user:pass@host:port/name?host=/socket/dir → a Django DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be a PostgreSQL URL, not {parsed.scheme!r}")
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or unquote(parsed.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
        # Client-side binding: psycopg never prepares statements, so PostgreSQL never switches
        # the archive batch's INSERT ... SELECT to a generic plan.
        # JIT off: the compliance state's per-row exemption check makes PostgreSQL's estimates look expensive
        # enough to compile short reads (one plan's counts: 66 ms without JIT, 550-770 ms with it, bench retraining).
        "OPTIONS": {"server_side_binding": False, "options": "-c jit=off", **query},
        "TEST": {"NAME": os.environ.get("TEST_DATABASE_NAME") or None},
    }


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode-0123456789abcdefghijklmnop"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "django_rq",
    "django_htmx",
    "ninja",  # serves the API docs page's assets itself (no CDN)
    "lms_admin.accounts",
    "lms_admin.audit",
    "lms_admin.notifications",
    "enrollments",
    "archive",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "lms_admin.accounts.middleware.HtmxLoginRedirectMiddleware",
]

ROOT_URLCONF = "lms_admin.urls"
WSGI_APPLICATION = "lms_admin.wsgi.application"
ASGI_APPLICATION = "lms_admin.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lms_admin.accounts.context_processors.nav",
            ],
            "libraries": {"rows": "lms_admin.web.row_tags"},
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lms_admin")
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# Redis: the queue trigger. PostgreSQL holds the truth of every job.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# The one worker takes the first queue that has a job, in this order: an archive job, then the notification sender
# (in slices), then a chunk of certificate PDFs — so a job and its notifications wait for one chunk at most.
RQ_QUEUE_NAMES = ["archive", "notifications", "certificates", "default"]
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600} for name in RQ_QUEUE_NAMES}
RQ = {"COMMIT_MODE": "on_db_commit"}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds before a silent mail server counts as failed (else one hung connection holds the only worker).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# Where django.core.mail.backends.filebased.EmailBackend writes the messages, one file per connection.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "lms-admin@localhost")
# The notification sender (SPEC §4.6) reads the outbox in batches and sends message by message (seconds per
# batch over a real server); after a slice of this many seconds it puts the rest back in its queue, so the
# one worker starts a submitted archive job in between.
NOTIFICATIONS_SEND_BATCH_SIZE = env_int("NOTIFICATIONS_SEND_BATCH_SIZE", 100)
NOTIFICATIONS_SEND_SLICE_SECONDS = env_int("NOTIFICATIONS_SEND_SLICE_SECONDS", 5)
# A message the server refuses for now (4xx: greylisting, a full mailbox) is tried again after 1, 2, 4 … 60
# minutes, and given up after this many attempts (about 2 hours with 8).
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 8)

# Archiving (SPEC §4.5)
ARCHIVE_BATCH_SIZE = env_int("ARCHIVE_BATCH_SIZE", 500)
ARCHIVE_MAX_MANUAL_SELECTION = env_int("ARCHIVE_MAX_MANUAL_SELECTION", 200)
ARCHIVE_MAX_SELECT_ALL = env_int("ARCHIVE_MAX_SELECT_ALL", 10_000)
# Archive from a file (SPEC §12): the upload's limits, and how long a validated import can still be submitted.
ARCHIVE_IMPORT_MAX_BYTES = env_int("ARCHIVE_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
ARCHIVE_IMPORT_MAX_ROWS = env_int("ARCHIVE_IMPORT_MAX_ROWS", 50_000)
ARCHIVE_IMPORT_EXPIRE_HOURS = env_int("ARCHIVE_IMPORT_EXPIRE_HOURS", 24)
ARCHIVE_JOB_LEASE_SECONDS = env_int("ARCHIVE_JOB_LEASE_SECONDS", 60)
ARCHIVE_JOB_RETENTION_DAYS = env_int("ARCHIVE_JOB_RETENTION_DAYS", 13)
ARCHIVE_NOTIFY_WARNING_THRESHOLD = 50
# Each archive records the plan's content (SPEC §13). Switched off only by the benchmark, to measure its cost.
ARCHIVE_RECORD_CONTENT = env_bool("ARCHIVE_RECORD_CONTENT", True)

DJANGO_TABLES2_TEMPLATE = "tables/table.html"
DJANGO_TABLES2_PAGE_RANGE = 5

# Database sessions, loaded with one plain statement per request (lms_admin/accounts/sessions.py).
SESSION_ENGINE = "lms_admin.accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
# Session and CSRF cookies sent over HTTPS only: on by default with DEBUG off. A staging box served over plain
# HTTP sets SECURE_COOKIES=0 (and SECURE_SSL_REDIRECT=0), or the browser drops the cookies and nobody can log in.
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Archive jobs (SPEC §4.5): the RQ timeout only bounds a runaway job — the lease decides liveness.
ARCHIVE_JOB_RQ_TIMEOUT = env_int("ARCHIVE_JOB_RQ_TIMEOUT", 2 * 3600)
ARCHIVE_JOB_MAX_ATTEMPTS = env_int("ARCHIVE_JOB_MAX_ATTEMPTS", 5)
ARCHIVE_RECONCILE_INTERVAL_SECONDS = env_int("ARCHIVE_RECONCILE_INTERVAL_SECONDS", 60)
ARCHIVE_RECONCILE_GRACE_SECONDS = env_int("ARCHIVE_RECONCILE_GRACE_SECONDS", 10)
# A certificate (live, or pending on an archived record) unrendered this long is enqueued again by the reconciler.
CERTIFICATES_RENDER_GRACE_SECONDS = env_int("CERTIFICATES_RENDER_GRACE_SECONDS", 60)

# Retraining rules (SPEC §11): the hour (UTC) of the workers' daily run, the size above which a run waits for a
# superadmin to confirm it, and how many days before expiry learners are reminded.
RETRAINING_RUN_HOUR_UTC = env_int("RETRAINING_RUN_HOUR_UTC", 2)
RETRAINING_CONFIRM_OVER = env_int("RETRAINING_CONFIRM_OVER", 1000)
RETRAINING_REMINDER_DAYS = env_int("RETRAINING_REMINDER_DAYS", 30)
# Test-only: pause the worker at a named point ("after_batch:2") until a file appears in this directory
# (lms_admin/pause.py).
ARCHIVE_TEST_PAUSE_AT = os.environ.get("ARCHIVE_TEST_PAUSE_AT", "")
ARCHIVE_TEST_PAUSE_DIR = os.environ.get("ARCHIVE_TEST_PAUSE_DIR", "")

# --- Security pass (docs/security.md) -------------------------------------------------------------------
INSTALLED_APPS += ["csp", "axes"]
# CSP on every response; axes after it, so it turns a refused sign-in into the lockout page. Ours innermost, so
# the pages they answer with pass through the others (CSP, frame options) like any page: no-store on every
# answer to a signed-in user, and hostile input refused before any view reads it (docs/security.md).
MIDDLEWARE += [
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    "lms_admin.web.middleware.PrivateCacheMiddleware",
    "lms_admin.web.middleware.RequestLimitsMiddleware",
]

# Content-Security-Policy (django-csp 4): our own scripts and styles only — no inline code, no eval.
# htmx is configured to match in templates/base.html (no indicator styles, no eval, no hx-on).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Login throttling (django-axes, kept in PostgreSQL): 5 failures for one username from one address
# lock that pair out for 15 minutes, on our login page and the Django admin login alike.
AUTHENTICATION_BACKENDS = [
    "lms_admin.accounts.throttle.LoginThrottleBackend",
    "lms_admin.accounts.backends.AccountBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lockout ends 15 minutes after the 5th failure
AXES_LOCKOUT_CALLABLE = "lms_admin.accounts.throttle.lockout_response"
# Password spraying: failed sign-ins from one address whatever the usernames, counted in Redis (shared by every
# process) in a fixed window; past the limit the address is refused (429 with Retry-After) until the window ends.
AXES_HANDLER = "lms_admin.accounts.throttle.LoginThrottleHandler"
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 20)
# The same for unknown or revoked API bearer tokens from one address (429 `too_many_requests`).
API_TOKEN_FAILURE_LIMIT = env_int("API_TOKEN_FAILURE_LIMIT", 20)
ADDRESS_FAILURE_WINDOW_SECONDS = env_int("ADDRESS_FAILURE_WINDOW_SECONDS", 15 * 60)
# The client address: the socket peer unless the deployment names the header its own proxy sets.
AXES_IPWARE_META_PRECEDENCE_ORDER = [
    h.strip() for h in os.environ.get("LOGIN_THROTTLE_IP_HEADERS", "REMOTE_ADDR").split(",") if h.strip()
]
AXES_VERBOSE = False
# Sign-in failures and lockouts are logged (WARNING); every successful sign-in only with LOGIN_LOG_LEVEL=INFO.
LOGGING["loggers"]["axes"] = {"level": os.environ.get("LOGIN_LOG_LEVEL", "WARNING")}

# Request bodies (lms_admin/web/middleware.py), checked on Content-Length before anything reads them: 413
# `payload_too_large` (API, JSON) or a 413 page. Pages allow more, for uploaded files; their form fields alone stay
# within Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB).
API_MAX_BODY_SIZE = env_int("API_MAX_BODY_SIZE", 1024 * 1024)
PAGE_MAX_BODY_SIZE = env_int("PAGE_MAX_BODY_SIZE", 10 * 1024 * 1024)
# Paths that take an uploaded file: their own body limit (the file's limit plus room for the form's other fields),
# answered beyond it with 413 `file_too_large`.
UPLOAD_BODY_LIMITS = {"/api/v1/archive-imports": ARCHIVE_IMPORT_MAX_BYTES + 64 * 1024}
# One running CSV export per user (archived export): its slot in Redis expires this long after the stream last
# sent a line, should the process serving it die.
EXPORT_SLOT_SECONDS = env_int("EXPORT_SLOT_SECONDS", 60)
