"""Django settings for Parvis.

Every value an operator may change comes from an environment variable; the full
table is in docs/configuration.md. Defaults give the embedded set-up: SQLite in
WAL mode, media on local disk, the worker inside the web process.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("PARVIS_DEBUG", default=False)

# Runtime state (SQLite database, media, collected static files) lives under one
# folder so that an embedded install is one directory to back up.
DATA_DIR = Path(env.str("PARVIS_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

# An unset key is only acceptable for local trials; `parvis check --deploy`
# reports it, and the key is regenerated per data directory so sessions survive
# restarts of the same install.
SECRET_KEY = env.str("PARVIS_SECRET_KEY", default="")
if not SECRET_KEY:
    from parvis.core.secrets import local_secret_key

    SECRET_KEY = local_secret_key(DATA_DIR)

ALLOWED_HOSTS = env.list("PARVIS_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("PARVIS_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "dsfr",
    "oauth2_provider",
    "parvis.core",
    "parvis.identity",
    "parvis.publishing",
    "parvis.interactions",
    "parvis.moderation",
    "parvis.federation",
    "parvis.api",
    "parvis.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "parvis.web.middleware.path_language_middleware",
    # After the language: a refusal speaks the caller's.
    "parvis.api.ratelimit.rate_limit_middleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "parvis.urls"

TEMPLATES = [
    {
        # Public pages and the back-office: Jinja2 renders several times faster
        # than the Django template language (docs/decisions/0002).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "environment": "parvis.web.jinja.environment",
            "context_processors": [
                "django.contrib.messages.context_processors.messages",
                "parvis.web.context.page_context",
            ],
            "autoescape": True,
            "auto_reload": DEBUG,
        },
    },
    {
        # The Django admin and django-dsfr need the Django template language.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "parvis.asgi.application"
WSGI_APPLICATION = None

_sqlite_path = DATA_DIR / "parvis.sqlite3"
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{_sqlite_path}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers work while the worker writes; IMMEDIATE avoids
            # "database is locked" upgrades from read to write transactions.
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=5000;"
                "PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
        }
    )
# Each web process keeps its connection between requests (see parvis/asgi.py).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("PARVIS_DB_CONN_MAX_AGE", 60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "identity.Staff"
LOGIN_URL = "backoffice:login"
LOGIN_REDIRECT_URL = "backoffice:dashboard"
LOGOUT_REDIRECT_URL = "web:home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "parvis" / "locale"]
USE_I18N = True
TIME_ZONE = env.str("PARVIS_TIME_ZONE", default="Europe/Paris")
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("PARVIS_MEDIA_ROOT", default=str(DATA_DIR / "media"))).resolve()
# The embedded server serves media itself; behind nginx the proxy does it.
PARVIS_SERVE_MEDIA = env.bool("PARVIS_SERVE_MEDIA", default=True)

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "publishing", "federation"],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("PARVIS_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Upload limits: Django refuses bodies past this before any view runs.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # A refused flood is logged once per window by the rate limiter, not per request.
    "filters": {"not_rate_limited": {"()": "parvis.core.clients.RateLimitedRecords"}},
    "root": {"handlers": ["console"], "level": env.str("PARVIS_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"filters": ["not_rate_limited"]},
        "django.db.backends": {"level": "INFO"},
        "django_tasks_db": {"level": "WARNING"},
    },
}

# --- Parvis behaviour -------------------------------------------------------

# Public name of this server, shown in page titles.
PARVIS_SITE_NAME = env.str("PARVIS_SITE_NAME", default="Parvis")
# The hosted domain used when a request arrives on a host that is not one of the
# hosted domains (a trial on 127.0.0.1, a health check).
PARVIS_DEFAULT_DOMAIN = env.str("PARVIS_DEFAULT_DOMAIN", default="")
# Longest post, counted the way Mastodon counts (a link counts 23 characters).
# Roster import: the domain of the accounts it opens, and the largest share of a
# source's open mandates one run may end (a truncated file must not end them all).
PARVIS_ROSTER_DOMAIN = env.str("PARVIS_ROSTER_DOMAIN", default=PARVIS_DEFAULT_DOMAIN)
PARVIS_ROSTER_MAX_END_SHARE = env.float("PARVIS_ROSTER_MAX_END_SHARE", default=0.1)
PARVIS_MAX_POST_CHARS = env.int("PARVIS_MAX_POST_CHARS", default=1000)
PARVIS_MAX_MEDIA_PER_POST = 4
PARVIS_MAX_IMAGE_BYTES = env.int("PARVIS_MAX_IMAGE_BYTES", default=16 * 1024 * 1024)
# Pixel budget per image: anything larger is refused before decoding, which also
# stops decompression bombs.
PARVIS_MAX_IMAGE_PIXELS = env.int("PARVIS_MAX_IMAGE_PIXELS", default=40_000_000)
# Longest side of a stored image and of its thumbnail.
PARVIS_IMAGE_MAX_SIDE = env.int("PARVIS_IMAGE_MAX_SIDE", default=3840)
PARVIS_THUMBNAIL_SIDE = env.int("PARVIS_THUMBNAIL_SIDE", default=640)
# Seconds a shared cache (nginx proxy_cache) may keep a public page.
PARVIS_PUBLIC_MAX_AGE = env.int("PARVIS_PUBLIC_MAX_AGE", default=60)
PARVIS_PAGE_SIZE = env.int("PARVIS_PAGE_SIZE", default=20)
# Run the task worker inside `parvis serve` (embedded default); turn off when
# separate `parvis worker` processes run.
PARVIS_EMBEDDED_WORKER = env.bool("PARVIS_EMBEDDED_WORKER", default=True)
# A task whose worker died is handed to another worker after this many seconds.
PARVIS_TASK_LEASE_SECONDS = env.int("PARVIS_TASK_LEASE_SECONDS", default=300)
# How canonical URLs are written: https on port 443 in production; a trial may
# use http and port 8000 with domains under .localhost, which browsers resolve
# to the loopback address.
PARVIS_URL_SCHEME = env.str("PARVIS_URL_SCHEME", default="https")
PARVIS_URL_PORT = env.str("PARVIS_URL_PORT", default="")

# Rendered fragments (post cards). In-process memory by default; a shared cache
# (e.g. redis://127.0.0.1:6379/1) when several processes serve pages.
CACHES = {"default": env.cache_url("PARVIS_CACHE_URL", default="locmemcache://parvis")}
CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 20000)
# Non-public networks or host names the guarded HTTP client may reach anyway
# (tests and loopback federation only; empty in production).
PARVIS_HTTP_ALLOW_PRIVATE = env.list("PARVIS_HTTP_ALLOW_PRIVATE", default=[])
# Reverse proxies whose X-Forwarded-For is believed (CIDR list, e.g. 127.0.0.1/32).
PARVIS_TRUSTED_PROXIES = env.list("PARVIS_TRUSTED_PROXIES", default=[])
# Inbox deliveries accepted per client address and minute; past it, 429.
PARVIS_INBOX_RATE_PER_MINUTE = env.int("PARVIS_INBOX_RATE_PER_MINUTE", default=600)
# Client API and OAuth requests per five minutes (Mastodon's limits): per token, per
# address without a token, and per address over all its tokens; past them, 429.
PARVIS_API_RATE_LIMIT = env.int("PARVIS_API_RATE_LIMIT", default=1500)
PARVIS_API_ANONYMOUS_RATE_LIMIT = env.int("PARVIS_API_ANONYMOUS_RATE_LIMIT", default=300)
PARVIS_API_ADDRESS_RATE_LIMIT = env.int("PARVIS_API_ADDRESS_RATE_LIMIT", default=7500)
# Deliveries in flight at once in each worker process (each holds a socket), and
# at once to one remote host. Hosts that never answer hold their slots for the
# whole 20 s deadline: the global cap stays far above what healthy hosts need.
PARVIS_DELIVERY_CONCURRENCY = env.int("PARVIS_DELIVERY_CONCURRENCY", default=2000)
PARVIS_DELIVERY_PER_HOST = env.int("PARVIS_DELIVERY_PER_HOST", default=2)
# Authorized-fetch ("secure") mode: ActivityPub objects and collections are
# served only to servers that sign their GET (actor documents stay public).
PARVIS_AUTHORIZED_FETCH = env.bool("PARVIS_AUTHORIZED_FETCH", default=False)

# --- Mastodon client API and OAuth 2 (django-oauth-toolkit) -------------------

# Where this server's source code is published (AGPL), shown to API clients.
PARVIS_SOURCE_URL = env.str("PARVIS_SOURCE_URL", default="")
OAUTH2_PROVIDER_APPLICATION_MODEL = "api.Application"
# The toolkit's own models (named here: parvis.api.models refers to them by name).
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "parvis.api.oauth.Validator",
    "OAUTH2_BACKEND_CLASS": "parvis.api.oauth.FormOrJSONBackend",
    "SCOPES_BACKEND_CLASS": "parvis.api.scopes.MastodonScopes",
    # Mastodon apps (Mastodon.py, Tusky…) do not all send PKCE: it is honoured, not required.
    "PKCE_REQUIRED": False,
    # Mastodon's tokens last until revoked; Parvis's last a year unless set otherwise.
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("PARVIS_OAUTH_TOKEN_DAYS", default=365) * 86400,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 600,
    # Apps such as Mastodon.py show the code to paste when they have no redirect URI.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http", "urn"],
    "ALLOWED_SCHEMES": ["https", "http"],
}

# --- Streaming API (parvis/api/streaming) --------------------------------------

# Seconds between two reads of the new posts, edits, deletions and notifications by
# each web process's streaming poller: the longest an event waits before it is sent.
PARVIS_STREAMING_POLL_SECONDS = env.float("PARVIS_STREAMING_POLL_SECONDS", default=0.5)
# How far back each read looks, so that a transaction that committed late (its post
# id or edit time older than the previous read) is still streamed. Longer than the
# slowest write transaction (SQLite writers may wait 5 s for the lock).
PARVIS_STREAMING_LOOKBACK_SECONDS = env.float("PARVIS_STREAMING_LOOKBACK_SECONDS", default=30.0)
# Seconds between two ":thump" comments on idle server-sent event streams, so that
# proxies and clients do not take a quiet stream for a dead one.
PARVIS_STREAMING_HEARTBEAT_SECONDS = env.float("PARVIS_STREAMING_HEARTBEAT_SECONDS", default=30.0)
