"""Configuration classes: every setting is read from the environment (see .env.example)."""

import logging
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography.fernet import Fernet, MultiFernet

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


#: Seconds to wait for PostgreSQL to accept a new connection. libpq's default is to wait forever,
#: so a server that takes the TCP connection but never answers (frozen, overloaded, half up)
#: would hold a webhook past Twilio's 15 s; with this it fails fast and answers the fallback.
DATABASE_CONNECT_TIMEOUT = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", 3))


def normalize_database_url(url: str) -> str:
    """Accept the plain ``postgres://`` and ``postgresql://`` forms and use psycopg 3; give a
    PostgreSQL URL ``connect_timeout`` (``DATABASE_CONNECT_TIMEOUT``) unless it sets its own."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgresql") and "connect_timeout" not in parse_qs(urlsplit(url).query):
        url += f"{'&' if '?' in url else '?'}connect_timeout={DATABASE_CONNECT_TIMEOUT}"
    return url


class Config:
    #: Signs sessions and CSRF tokens. Development gets a throwaway value; production must set it.
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'finder.sqlite3'}")
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    WTF_CSRF_ENABLED = True
    #: Requests larger than this are refused with 413 (no form or API call needs more).
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 1024 * 1024))
    #: The staff import upload alone accepts files up to this size (the national CSV is 1.6 MB).
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", 20 * 1024 * 1024))
    JSON_SORT_KEYS = False

    #: Offline gazetteer geocoding is always available. Set GEOCODER=nominatim (or another geopy
    #: geocoder name) to try an online geocoder first; the gazetteer answers when it fails.
    GEOCODER = os.environ.get("GEOCODER", "offline")
    GEOCODER_USER_AGENT = os.environ.get("GEOCODER_USER_AGENT", "finder-directory")
    GEOCODER_TIMEOUT = _float("GEOCODER_TIMEOUT", 3.0)
    #: Minimum seconds between two online geocoder requests from one process.
    GEOCODER_MIN_DELAY = _float("GEOCODER_MIN_DELAY", 1.0)
    GEOCODER_API_KEY = os.environ.get("GEOCODER_API_KEY")

    SEARCH_DEFAULT_RADIUS_MILES = 25
    SEARCH_RADII_MILES = (5, 10, 25, 50, 100)
    SEARCH_PER_PAGE = 10
    API_MAX_PER_PAGE = 100

    #: Twilio signs every webhook with this token; requests that fail the check get 403.
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "dev-only-twilio-token")
    #: Key of the HMAC-SHA256 that stands in for caller numbers (never stored in the clear).
    CALLER_HASH_KEY = os.environ.get("CALLER_HASH_KEY", "dev-only-caller-hash-key")
    #: Fernet key (urlsafe base64, 32 bytes) encrypting call-back numbers.
    CALLBACK_ENCRYPTION_KEY = os.environ.get(
        "CALLBACK_ENCRYPTION_KEY", "ZGV2LW9ubHktY2FsbGJhY2sta2V5LW5vdC1zZWNyZXQ="
    )
    #: The advertiser pool that takes facility calls forwarded after no answer (default: first).
    FORWARD_POOL = os.environ.get("FORWARD_POOL") or None
    #: Seconds a destination rings before it counts as not answering.
    CALL_RING_SECONDS = int(os.environ.get("CALL_RING_SECONDS", 20))
    #: Seconds after a voice webhook reached the proxy (its X-Request-Start header, else the
    #: app) by which its answer must be ready. Twilio waits 15 s, then plays the fallback URL's
    #: answer; a step that would answer later is rolled back and recorded as that fallback.
    VOICE_DEADLINE_SECONDS = _float("VOICE_DEADLINE_SECONDS", 12.0)
    #: Webhooks answered while the database was down are spooled here (one folder per database,
    #: no caller number in the clear) and recorded once it is back (finder/calls/spool.py).
    #: Empty: no spool.
    VOICE_SPOOL_DIR = os.environ.get("VOICE_SPOOL_DIR", str(INSTANCE_DIR / "voice-spool")) or None
    #: A live leg without any callback for this long is treated as over.
    CALL_LEG_MAX_SECONDS = int(os.environ.get("CALL_LEG_MAX_SECONDS", 4 * 3600))
    #: Retention (flask retention purge): call-back requests and call details older than these.
    RETENTION_CALLBACK_DAYS = int(os.environ.get("RETENTION_CALLBACK_DAYS", 30))
    RETENTION_CALL_DAYS = int(os.environ.get("RETENTION_CALL_DAYS", 365))
    #: Number of proxies in front of the app whose X-Forwarded-* headers are trusted (ProxyFix),
    #: so Twilio signatures validate against the public https URL.
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", 0))
    #: Operators' reports: an answered call lasting at least this many seconds is billable.
    BILLABLE_SECONDS = int(os.environ.get("BILLABLE_SECONDS", 60))

    #: Login attempts allowed per address and, separately, per account.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per 15 minutes")
    #: Where rate-limit counters live: memory:// (one process) or redis://127.0.0.1:6379/0.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True

    #: Problem reports a visitor's address may send (the public "report a problem" form).
    REPORT_RATE_LIMIT = os.environ.get("REPORT_RATE_LIMIT", "5 per hour")
    #: A report sent sooner than this after the form was shown is treated as a bot's (and
    #: quietly dropped): people take a few seconds to describe a problem.
    REPORT_MIN_FILL_SECONDS = _float("REPORT_MIN_FILL_SECONDS", 3.0)
    #: Comments on substance guides a visitor's address may send.
    COMMENT_RATE_LIMIT = os.environ.get("COMMENT_RATE_LIMIT", "5 per hour")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    #: `flask seed` adds the fictional demo pool and tracking numbers (`--demo/--no-demo`).
    SEED_DEMO = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    #: Strict-Transport-Security max-age (finder/security_headers.py); 0 sends none.
    HSTS_SECONDS = 0


class DevelopmentConfig(Config):
    DEBUG = _bool("FLASK_DEBUG", False)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"
    #: The test suite points each app at its own database (tests/conftest.py).
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    #: No spool unless a test gives one (tests/test_voice_spool.py).
    VOICE_SPOOL_DIR = None


class ProductionConfig(Config):
    #: Never debug mode, whatever FLASK_DEBUG says (check() also turns it off for `flask run`).
    DEBUG = False
    TESTING = False
    #: An unhandled error becomes the site's own 500 page or JSON error, never a traceback.
    PROPAGATE_EXCEPTIONS = False
    SESSION_COOKIE_SECURE = True
    #: Fictional 555 tracking numbers would replace five real facilities' phones on their pages.
    SEED_DEMO = False
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"
    #: Browsers keep to https for a year, subdomains included.
    HSTS_SECONDS = 365 * 24 * 3600

    #: Secrets production must be given; the development defaults are public.
    REQUIRED_SECRETS = {
        "SECRET_KEY": "it signs sessions and CSRF tokens, and a known key lets anyone forge them",
        "TWILIO_AUTH_TOKEN": "it proves webhooks come from Twilio",
        "CALLER_HASH_KEY": "it keys the hash that stands in for caller numbers",
        "CALLBACK_ENCRYPTION_KEY": "it encrypts the numbers of callers who ask for a call back",
    }

    @classmethod
    def check(cls) -> None:
        """Refuse to start with settings that would be unsafe in production, and say why."""
        if _bool("FLASK_DEBUG"):
            # Flask's CLI reads FLASK_DEBUG again after loading the app, and `flask run` would
            # then serve Werkzeug's debugger, which runs any code it is sent.
            os.environ["FLASK_DEBUG"] = "0"
            logging.getLogger(__name__).warning("FLASK_DEBUG is ignored in production.")
        if not os.environ.get("DATABASE_URL"):
            # Without it production would quietly write to an SQLite file in instance/.
            raise RuntimeError(
                "Production refuses to start: DATABASE_URL is not set. PostgreSQL is finder's "
                "production database: DATABASE_URL=postgresql+psycopg://user@host:5432/finder "
                "(see docs/deployment.md). To run on SQLite anyway, name the file: "
                "DATABASE_URL=sqlite:////srv/finder/finder.sqlite3."
            )
        missing = [name for name in cls.REQUIRED_SECRETS if not os.environ.get(name)]
        if missing:
            reasons = "; ".join(f"{name}: {cls.REQUIRED_SECRETS[name]}" for name in missing)
            raise RuntimeError(
                f"Production refuses to start: {', '.join(missing)} not set ({reasons}). "
                "Set each to a long random value, for example: "
                "python -c 'import secrets; print(secrets.token_hex(32))' (see .env.example)."
            )
        # A mistyped key would otherwise surface only when a caller asks for a call back.
        keys = os.environ["CALLBACK_ENCRYPTION_KEY"].split(",")
        try:
            MultiFernet([Fernet(key.strip()) for key in keys if key.strip()])
        except ValueError:
            raise RuntimeError(
                "Production refuses to start: CALLBACK_ENCRYPTION_KEY must be a Fernet key (32 "
                "bytes in url-safe base64, 44 characters), or several separated by commas while "
                "rotating. Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'."
            ) from None


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
