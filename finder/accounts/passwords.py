"""Password hashing with argon2id (memory-hard), and the rules a new password must meet."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
MIN_LENGTH = 12
#: Verifying against this keeps the time of a login for an unknown account like a known one.
_DUMMY_HASH = _hasher.hash("finder-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why a password is too weak to accept, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if email and password.lower() == email.lower():
        return "Do not use your email address as your password."
    if len(set(password)) < 5:
        return "Use a less repetitive password."
    return None
