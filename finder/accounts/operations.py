"""Creating and authenticating staff accounts (every change is written to the change log)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from finder.accounts.models import Role, User
from finder.accounts.passwords import (
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from finder.changes.record import record, snapshot
from finder.db import now_utc


class AccountError(ValueError):
    pass


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(session: Session, email: str) -> User | None:
    return session.execute(
        select(User).where(func.lower(User.email) == normalize_email(email))
    ).scalar_one_or_none()


def create_user(session: Session, *, email: str, password: str, role: Role, actor) -> User:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("Enter a valid email address.")
    if find_user(session, email):
        raise AccountError(f"An account for {email} already exists.")
    problem = password_problem(password, email)
    if problem:
        raise AccountError(problem)
    user = User(email=email, password_hash=hash_password(password), role=Role(role))
    session.add(user)
    session.flush()
    record(session, actor=actor, entity="user", entity_id=user.id, action="create",
           summary=f"Created {role} account {email}", after=snapshot(user))
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same work either way)."""
    user = find_user(session, email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now_utc()
    return user
