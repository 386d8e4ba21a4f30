"""Call-back requests: the caller's number is stored only as a Fernet token.

The key comes from ``CALLBACK_ENCRYPTION_KEY``. Several comma-separated keys may be given to
rotate: the first encrypts, every one of them decrypts. The number is decrypted in one place,
``reveal_number``, which is what a staff view calls when someone is about to call back.
"""

from __future__ import annotations

import binascii

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.orm import Session

from finder.calls.caller import normalize
from finder.calls.models import Call, CallbackRequest, NumberKind

KEY_SETTING = "CALLBACK_ENCRYPTION_KEY"
_HOW_TO = (
    "Generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


class CallbackKeyError(RuntimeError):
    """The configured key cannot encrypt or decrypt call-back numbers; the message says why."""


def cipher(key: str | bytes | None) -> MultiFernet:
    """The cipher for ``key`` (one Fernet key, or several separated by commas)."""
    if isinstance(key, bytes):
        key = key.decode("ascii", errors="replace")
    parts = [part.strip() for part in (key or "").split(",") if part.strip()]
    if not parts:
        raise CallbackKeyError(f"{KEY_SETTING} is not set, so call-back numbers cannot be "
                               f"stored. {_HOW_TO}")
    fernets = []
    for position, part in enumerate(parts, start=1):
        try:
            fernets.append(Fernet(part.encode("ascii")))
        except (ValueError, TypeError, binascii.Error, UnicodeEncodeError):
            which = f"key {position} of {len(parts)} in " if len(parts) > 1 else ""
            raise CallbackKeyError(
                f"{which}{KEY_SETTING} is not a valid Fernet key (it must be 32 bytes in "
                f"url-safe base64, 44 characters). {_HOW_TO}"
            ) from None
    return MultiFernet(fernets)


def encrypt_number(number: str, key: str | bytes | None) -> str:
    return cipher(key).encrypt(number.encode()).decode("ascii")


def create_callback_request(session: Session, call: Call, from_number: str | None,
                            key: str | bytes | None) -> CallbackRequest | None:
    """Store a request to call ``from_number`` back; None when there is no number to call.

    A retried webhook gets the request already stored for the call.
    """
    existing = session.execute(
        sa.select(CallbackRequest).where(CallbackRequest.call_id == call.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    number = normalize(from_number)
    if number is None:  # withheld or not a phone number: nobody to call back
        return None
    tracking = call.tracking_number
    facility_id = (
        tracking.facility_id if tracking is not None and tracking.kind == NumberKind.FACILITY
        else None
    )
    request = CallbackRequest(
        call_id=call.id,
        facility_id=facility_id,
        number_encrypted=encrypt_number(number, key),
        last_four=number[-4:],
        status="open",
    )
    session.add(request)
    session.flush()
    return request


def reveal_number(request: CallbackRequest, key: str | bytes | None) -> str:
    """The E.164 number to call back: the only place a stored number is decrypted."""
    try:
        return cipher(key).decrypt(request.number_encrypted.encode("ascii")).decode()
    except InvalidToken:
        raise CallbackKeyError(
            f"Call-back request {request.id} cannot be decrypted with {KEY_SETTING}: it was "
            "encrypted with another key (keep the old key after the new one while rotating)."
        ) from None
