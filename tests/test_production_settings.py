"""ProductionConfig.check: a call-back encryption key that cannot work stops production at start."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from config import ProductionConfig

NEW, OLD = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def secrets_set(monkeypatch):
    for name in ("SECRET_KEY", "TWILIO_AUTH_TOKEN", "CALLER_HASH_KEY"):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://finder@db.example.org/finder")
    return monkeypatch


def test_production_without_a_database_url_is_refused(secrets_set):
    secrets_set.setenv("CALLBACK_ENCRYPTION_KEY", NEW)
    secrets_set.delenv("DATABASE_URL")
    with pytest.raises(RuntimeError, match="DATABASE_URL is not set"):
        ProductionConfig.check()


@pytest.mark.parametrize("keys", [
    "not-a-fernet-key",
    NEW[:-1],  # one character lost when copying
    f"{NEW},{OLD[:20]}",  # the old key of a rotation mistyped
    " , ",
])
def test_a_key_that_cannot_encrypt_is_refused(secrets_set, keys):
    secrets_set.setenv("CALLBACK_ENCRYPTION_KEY", keys)
    with pytest.raises(RuntimeError, match="CALLBACK_ENCRYPTION_KEY must be a Fernet key"):
        ProductionConfig.check()


@pytest.mark.parametrize("keys", [NEW, f"{NEW},{OLD}", f" {NEW} , {OLD} ,"])
def test_one_key_or_a_rotation_list_is_accepted(secrets_set, keys):
    secrets_set.setenv("CALLBACK_ENCRYPTION_KEY", keys)
    ProductionConfig.check()
