"""An app in the production configuration, for tests of what production shows and sends.

Production refuses to start without its secrets (config.ProductionConfig.check), so the helper
puts test values in the environment, as a deployment would, and hands the same values to the app.
"""

from __future__ import annotations

from finder import create_app

#: Test-only values for the secrets production requires (never used outside tests).
SECRETS = {
    "SECRET_KEY": "production-test-secret-key-0123456789abcdef",
    "TWILIO_AUTH_TOKEN": "production-test-twilio-token",
    "CALLER_HASH_KEY": "production-test-caller-hash-key",
    "CALLBACK_ENCRYPTION_KEY": "cHJvZHVjdGlvbi10ZXN0LWNhbGxiYWNrLWtleS0zMmI=",
}
#: Browsers send a Referer on https form posts, and Flask-WTF checks it in production.
HTTPS = "https://localhost"


def production_app(monkeypatch, database_url: str, **overrides):
    """``create_app("production")`` on ``database_url``, with the secrets set in the environment."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return create_app("production", {"SQLALCHEMY_DATABASE_URI": database_url, **SECRETS,
                                     **overrides})
