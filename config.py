"""Configuration classes: every setting is read from the environment (see .env.example)."""

import os
from pathlib import Path

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


def normalize_database_url(url: str) -> str:
    """Accept the plain ``postgres://`` and ``postgresql://`` forms and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
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

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"


class DevelopmentConfig(Config):
    DEBUG = _bool("FLASK_DEBUG", False)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("TEST_DATABASE_URL", "sqlite://")
    )


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls) -> None:
        """Refuse to start with settings that would be unsafe in production."""
        if not os.environ.get("SECRET_KEY"):
            raise RuntimeError(
                "SECRET_KEY is not set. Production signs sessions and CSRF tokens with it, and a "
                "default key would let anyone forge them. Set SECRET_KEY to a long random value, "
                "for example: python -c 'import secrets; print(secrets.token_hex(32))'"
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
