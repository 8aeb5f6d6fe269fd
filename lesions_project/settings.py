"""Settings for the lesions project, driven by the environment.

Every value has a local-development default; production sets DEBUG=false, SECRET_KEY,
ALLOWED_HOSTS, DATABASE_URL and REDIS_URL (the app refuses to start without the first
three), and `manage.py check --deploy` is then clean. Every variable: .env.example;
deployment: docs/deploy.md.
"""
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from lesions_project.broker import filesystem_options
from lesions_project.env import env_bool, env_int, env_list, env_str, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime data (database, uploads, broker queue) lives here and is not under version control.
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)

# Without DEBUG there is no default: a missing SECRET_KEY stops the start.
SECRET_KEY = env_str("SECRET_KEY", "insecure-dev-only-secret-key-do-not-use-in-production" if DEBUG else None)
# Rotating the key: the old one here (comma-separated) keeps sessions and reset links valid
# until they expire.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    # Django would answer every request with 400 instead; refusing to start says why.
    raise ImproperlyConfigured(
        "Environment variable ALLOWED_HOSTS is required when DEBUG is off "
        "(comma-separated host names, e.g. lesions.example.org,localhost)."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "accounts",
    "studies",
    "radiology",
]

MIDDLEWARE = [
    # First, so that it times and counts every response, redirects and errors included.
    "lesions_project.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lesions_project.urls"
WSGI_APPLICATION = "lesions_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]

# Database
DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), base_dir=BASE_DIR
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and DATABASES["default"]["NAME"] != ":memory:":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database that does not answer fails a request (and /healthz) in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Users
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studies:study_list"
LOGOUT_REDIRECT_URL = "home"

# Internationalisation
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files are public; media files are private (see below).
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Media is PRIVATE: there is no MEDIA_URL route. Every file is served by a view that checks
# access (studies.media.serve_protected). With nginx in front, set
# PROTECTED_MEDIA_ACCEL_PREFIX (e.g. "/protected-media") to hand the transfer to nginx via
# X-Accel-Redirect; the nginx location must be `internal`.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
PROTECTED_MEDIA_ACCEL_PREFIX = env_str("PROTECTED_MEDIA_ACCEL_PREFIX", "")
S3_STORAGE_BACKEND = "storages.backends.s3.S3Storage"
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
STORAGES = {
    "default": {"BACKEND": STORAGE_BACKEND},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Media on S3-compatible object storage (STORAGE_BACKEND=storages.backends.s3.S3Storage;
# AWS S3, MinIO, Ceph...). Objects are private; a permitted download is answered with a
# signed URL valid for AWS_QUERYSTRING_EXPIRE seconds, or handed to nginx
# (PROTECTED_MEDIA_ACCEL_PREFIX; docs/deploy.md). Credentials come from the environment
# (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the machine's role, read by boto3 itself.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "") or None  # None: AWS itself
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "") or None
AWS_S3_ADDRESSING_STYLE = env_str("AWS_S3_ADDRESSING_STYLE", "") or None  # "path" for most MinIO setups
AWS_S3_SIGNATURE_VERSION = "s3v4"
# "private" for buckets that take ACLs; "none" sends no ACL (buckets with ACLs disabled,
# where every object is private to the bucket owner anyway).
_acl = env_str("AWS_DEFAULT_ACL", "private")
AWS_DEFAULT_ACL = None if _acl == "none" else _acl
AWS_QUERYSTRING_AUTH = True  # never an unsigned URL
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 60)
# Stored names are random UUIDs (studies.models), so a name is never reused; not checking
# for an existing object saves a request per file (hundreds for a CT).
AWS_S3_FILE_OVERWRITE = True
if STORAGE_BACKEND == S3_STORAGE_BACKEND and not AWS_STORAGE_BUCKET_NAME:
    raise ImproperlyConfigured("STORAGE_BACKEND is S3Storage: set AWS_STORAGE_BUCKET_NAME.")

# Uploads
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 40_000_000)
# X-rays and CT series (many DICOM files, or a zip of them) may be much larger than a photo.
MAX_RADIOLOGY_UPLOAD_BYTES = env_int("MAX_RADIOLOGY_UPLOAD_BYTES", 1024 ** 3)
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DATA_UPLOAD_MAX_NUMBER_FILES", 2000)
# Request bodies other than files (forms, JSON) stay small; files above this size are
# streamed to a temporary file instead of being held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_PERMISSIONS = 0o640

# Models
ML_WEIGHTS_DIR = Path(env_str("ML_WEIGHTS_DIR", str(BASE_DIR / "ml" / "weights")))

# Celery. With REDIS_URL, Redis is the broker and the result store; without it, a
# filesystem queue in BROKER_DIR that needs no server (local runs, tests).
# Two queues (see task_routes): `ml` holds the heavy tasks (a study's pre-read, a nodule's
# score), run one at a time per GPU by `celery -A lesions_project worker -Q ml
# --concurrency 1 --prefetch-multiplier 1`; `light` holds the quick ones (the outbox sweep),
# run by `celery -A lesions_project worker -Q light -B`, whose embedded beat (-B: exactly
# one per deployment) schedules the sweep. A worker started without -Q consumes both.
REDIS_URL = env_str("REDIS_URL", "")
# Prefixed to every key the broker and the result store write, so that deployments (or test
# runs) can share one Redis.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "")
BROKER_DIR = Path(env_str("BROKER_DIR", str(VAR_DIR / "broker")))
# A study's pre-read (a large CT included) must finish within these many seconds: at the
# soft limit the task stops and the study fails with a plain reason; at the hard limit the
# worker kills the process. Limits are enforced by the prefork pool (not by --pool solo).
ANALYSIS_SOFT_TIME_LIMIT = env_int("ANALYSIS_SOFT_TIME_LIMIT", 600)
ANALYSIS_TIME_LIMIT = env_int("ANALYSIS_TIME_LIMIT", 720)
NODULE_SOFT_TIME_LIMIT = env_int("NODULE_SOFT_TIME_LIMIT", 120)
NODULE_TIME_LIMIT = env_int("NODULE_TIME_LIMIT", 180)
# Runs started for one study (broker redeliveries after a worker died, database retries)
# before it is marked failed: a study that kills its worker (out of memory) stops there.
ANALYSIS_MAX_ATTEMPTS = env_int("ANALYSIS_MAX_ATTEMPTS", 4)
# The outbox sweep (studies.analysis.outbox.sweep_outbox) runs every OUTBOX_SWEEP_SECONDS and
# publishes the studies the broker never got (queued_at empty, older than
# OUTBOX_GRACE_SECONDS), those queued more than OUTBOX_REPUBLISH_SECONDS ago and still
# waiting (a broker that lost its messages), and those processing for longer than the hard
# time limit plus STUCK_MARGIN_SECONDS (their worker died and the broker did not redeliver).
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 30)
OUTBOX_GRACE_SECONDS = env_int("OUTBOX_GRACE_SECONDS", 10)
OUTBOX_REPUBLISH_SECONDS = env_int("OUTBOX_REPUBLISH_SECONDS", 3600)
STUCK_MARGIN_SECONDS = env_int("STUCK_MARGIN_SECONDS", 120)

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # An unacknowledged task (its worker died) goes back to the queue after this many
        # seconds: it must exceed the hard time limit, or a slow study would run twice.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", ANALYSIS_TIME_LIMIT + 180),
        # How often a worker looks for such tasks (seconds); kombu's default is 100 s.
        "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
        "unacked_restore_throttle": 1,
        # An upload must not hang on a broker that is gone: the outbox takes over.
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
    }
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"socket_connect_timeout": 5, "socket_timeout": 30}
    if REDIS_KEY_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
        CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_options(BROKER_DIR)
    CELERY_RESULT_BACKEND = None
# Tasks return nothing: their outcome lives on the Study or Nodule row.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name} for name in ("ml", "light")}
CELERY_TASK_DEFAULT_QUEUE = "light"
CELERY_TASK_ROUTES = {
    "studies.analyse_study": {"queue": "ml"},
    "radiology.score_nodule": {"queue": "ml"},
    "studies.sweep_outbox": {"queue": "light"},
}
# A task is acknowledged when it ends, and put back when its worker process dies, so a
# killed worker's study is run again (tasks are idempotent: studies.analysis.run).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing gives up after about 2 s (the upload then succeeds and the sweep publishes).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "studies.sweep_outbox",
        "schedule": float(OUTBOX_SWEEP_SECONDS),
        "options": {"expires": float(OUTBOX_SWEEP_SECONDS)},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Email
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "noreply@localhost")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# For EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend (password resets).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)

# API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "lesions_project.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lesions API",
    "DESCRIPTION": "Skin photos, chest X-rays and CT: AI findings are decision support, not a diagnosis.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Security. With DEBUG off every HTTPS protection is on by default (`manage.py check
# --deploy` is clean); each can be switched off from the environment, as a plain-HTTP stack
# on the loopback must (scripts/stack.sh). With DEBUG on they are off, so local HTTP works.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and scrapers talk plain HTTP inside the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
# TLS ends at the proxy in front (nginx or a load balancer), which says so in
# X-Forwarded-Proto; it must set or strip that header on every request. Set
# SECURE_PROXY_SSL_HEADER=false where Django is reached without such a proxy.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", True) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Prometheus metrics at /metrics (lesions_project.metrics). Every process of one machine
# (gunicorn's workers, Celery's) writes its samples to files in PROMETHEUS_MULTIPROC_DIR
# and a scrape adds them up. Scrapes are answered to requests made directly (not through
# the proxy) from loopback or private addresses, or, when METRICS_TOKEN is set, only to
# `Authorization: Bearer <METRICS_TOKEN>`. A worker on a machine without the web serves its
# own metrics on WORKER_METRICS_PORT when that is set (docs/deploy.md).
PROMETHEUS_MULTIPROC_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics")))
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)

# Logging to stdout
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {"django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False}},
}
