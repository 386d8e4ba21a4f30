"""Calls that reach finder while its database is down: written to a local spool, recorded later.

A webhook whose step fails on the database (unreachable, hung, broken), and every request to
``/voice/fallback`` (Twilio's fallback URL: the app did not answer in time), is answered by the
static TwiML connecting the caller to the SAMHSA helpline. Nothing can be written to the database
then, so the request is appended to a spool file instead: one JSON line with what the call's
record needs and nothing more. The caller's number is never written: only its keyed hash and
last four digits, exactly as the ``call`` table keeps them. The number called is finder's own.

Once the database answers again, ``drain`` records every spooled call that is not on record yet
(outcome ``fallback_samhsa``, with an audit row saying why), ends calls whose final status
arrived while it was down, and deletes the spool files it has recorded. Steps call it now and
then (with the expiry of stale legs); ``flask routing drain-spool`` does it on demand.

The spool is a folder per database (``<VOICE_SPOOL_DIR>/<hash of the database URL>``), one file
per process, so two sites or test databases sharing a folder never record each other's calls.
Writers append under a file lock; a drain takes the same lock to claim a file by renaming it,
so no line is written to a file already read and two drains never take the same file. Recording
is idempotent (by CallSid), so a drain that dies half-way is simply done again.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.calls import audit
from finder.calls.caller import caller_state, identify, normalize
from finder.calls.models import Call, CallStatus
from finder.calls.routing import close_call, find_tracking_number

logger = logging.getLogger(__name__)

#: Parent-call statuses meaning the call is over (as ``flow.CALL_OVER``).
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
SUFFIX = ".jsonl"
#: A file being recorded: ``<name>.jsonl.draining-<epoch>-<pid>-<random>``.
CLAIMED = ".draining-"
#: A file that could not be read as spool lines, kept for a person to look at.
BAD = ".bad"
#: A claimed file still there after this long belongs to a drain that died: drained again.
STALE_CLAIM_SECONDS = 300


@dataclass(frozen=True)
class Spool:
    """Where one database's spooled webhooks go."""

    directory: Path

    @classmethod
    def for_database(cls, root: str | os.PathLike, database_url: str) -> Spool:
        digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        return cls(Path(root) / digest)

    def write(self, form: Mapping[str, str], *, step: str, at: datetime, hash_key: bytes) -> bool:
        """Append one webhook to this process's spool file; False (and a log line) if the file
        cannot be written: the caller's answer never waits for the spool."""
        entry = spooled_entry(form, step=step, at=at, hash_key=hash_key)
        if entry is None:
            return False
        line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = _open_locked(self.directory / f"{os.getpid()}{SUFFIX}")
            try:
                os.write(descriptor, line)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)  # closing releases the lock
        except OSError as error:
            logger.error("Could not spool CallSid %s (step %s): %s", entry["call_sid"], step,
                         error)
            return False
        return True

    def pending(self) -> list[Path]:
        """Spool files waiting to be recorded: written ones, and ones a drain claimed and left
        (it died) more than ``STALE_CLAIM_SECONDS`` ago."""
        if not self.directory.is_dir():
            return []
        stale = time.time() - STALE_CLAIM_SECONDS
        return sorted(path for path in self.directory.iterdir()
                      if path.name.endswith(SUFFIX)
                      or (CLAIMED in path.name and not path.name.endswith(BAD)
                          and _claimed_at(path.name) < stale))


def _open_locked(path: Path) -> int:
    """``path`` opened for appending and locked; a file a drain renamed meanwhile is left to it
    and a new one started, so no line is written to a file already read."""
    while True:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(descriptor).st_ino:
                return descriptor
        except FileNotFoundError:
            pass
        os.close(descriptor)


def _claim(spool: Spool, path: Path) -> Path | None:
    """Rename ``path`` for this drain, once no writer is mid-line; None if another drain took
    it first."""
    claimed = path.with_name(f"{_base(path.name)}{CLAIMED}{int(time.time())}-{os.getpid()}-"
                             f"{secrets.token_hex(4)}")
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        if os.stat(path).st_ino != os.fstat(descriptor).st_ino:
            return None
        path.rename(claimed)
    except FileNotFoundError:
        return None
    finally:
        os.close(descriptor)
    return claimed


def _base(name: str) -> str:
    return name.split(SUFFIX)[0]


def _claimed_at(name: str) -> float:
    try:
        return float(name.split(CLAIMED)[1].split("-")[0])
    except (IndexError, ValueError):
        return 0.0


def spool_for(config: Mapping) -> Spool | None:
    """The app's voice spool (``VOICE_SPOOL_DIR``, a folder per database), or None."""
    if not config.get("VOICE_SPOOL_DIR"):
        return None
    return _spool(str(config["VOICE_SPOOL_DIR"]), str(config["SQLALCHEMY_DATABASE_URI"]))


@functools.lru_cache(maxsize=16)
def _spool(root: str, database_url: str) -> Spool:
    # Every webhook asks: hash the database URL once per setting, not once per request.
    return Spool.for_database(root, database_url)


def spooled_entry(form: Mapping[str, str], *, step: str, at: datetime,
                  hash_key: bytes) -> dict | None:
    """What a call's record needs from one webhook: never the caller's number itself.

    A leg's own status callback (it names a ``ParentCallSid``) is not the call's: None.
    """
    call_sid = (form.get("CallSid") or "")[:64]
    if not call_sid or form.get("ParentCallSid"):
        return None
    from_number = form.get("From")
    identity = identify(from_number, hash_key)
    state, signal = caller_state(from_number, None, form.get("FromState"))
    to_number = form.get("To") or ""
    duration = form.get("CallDuration") or ""
    return {
        "call_sid": call_sid,
        "step": step[:120],
        "at": at.astimezone(UTC).isoformat(),
        "to": normalize(to_number) or to_number[:20],
        "caller_hash": identity.number_hash,
        "caller_last_four": identity.last_four,
        "caller_state": state,
        "state_signal": signal,
        "call_status": (form.get("CallStatus") or "").lower()[:24],
        "duration": int(duration) if duration.isdigit() else None,
    }


def drain(session: Session, spool: Spool) -> int:
    """Record the spooled calls in the database; the number of calls recorded or ended.

    The waiting files are claimed (renamed), recorded together in one transaction, then
    deleted. If recording fails (the database is still down) they go back to the queue. A file
    that cannot be read as spool lines is kept, renamed ``.bad``, and logged.
    """
    claimed, entries = [], []
    for path in spool.pending():
        taken = _claim(spool, path)
        if taken is None:
            continue
        try:
            entries += [json.loads(line) for line in
                        taken.read_text(encoding="utf-8").splitlines() if line.strip()]
        except ValueError as error:
            logger.error("Unreadable voice spool file %s kept as .bad: %s", taken.name, error)
            taken.rename(taken.with_name(taken.name + BAD))
            continue
        claimed.append(taken)
    if not claimed:
        return 0
    try:
        done = _record(session, entries)
        session.commit()
    except BaseException:
        session.rollback()
        for taken in claimed:  # back in the queue, for the next drain
            taken.rename(taken.with_name(f"{_base(taken.name)}-{secrets.token_hex(4)}{SUFFIX}"))
        raise
    for taken in claimed:
        taken.unlink(missing_ok=True)
    return done


def _record(session: Session, entries: list[dict]) -> int:
    by_call: dict[str, list[dict]] = {}
    for entry in sorted(entries, key=lambda entry: entry["at"]):
        by_call.setdefault(entry["call_sid"], []).append(entry)
    touched = 0
    for call_sid, seen in by_call.items():
        final = next((entry for entry in reversed(seen)
                      if entry["call_status"] in FINAL_STATUSES), None)
        call = session.execute(
            sa.select(Call).where(Call.call_sid == call_sid)
        ).scalar_one_or_none()
        ends = final is not None and (call is None or call.status != CallStatus.COMPLETED)
        if call is None:
            call = _open(session, seen[0])
            audit.append(session, call_id=call.id, attempt_number=None, kind="outcome", payload={
                "event": "recorded_from_spool", "steps": [entry["step"] for entry in seen],
                "explanation": "finder's database was unavailable when this call's webhooks "
                               "arrived: the caller heard the static answer connecting to the "
                               "SAMHSA helpline. Recorded from the webhook spool once the "
                               "database was back."})
        elif not ends:
            continue  # on record, and nothing spooled changes it
        if ends:
            # Its final status came while the database was down: the call and its legs end.
            close_call(session, call, duration=final["duration"],
                       now=datetime.fromisoformat(final["at"]))
        touched += 1
    return touched


def _open(session: Session, first: dict) -> Call:
    tracking = find_tracking_number(session, first["to"])
    call = Call(call_sid=first["call_sid"], tracking_number=tracking, to_number=first["to"],
                number_kind=str(tracking.kind) if tracking else None,
                caller_hash=first["caller_hash"], caller_last_four=first["caller_last_four"],
                caller_state=first["caller_state"], state_signal=first["state_signal"],
                started_at=datetime.fromisoformat(first["at"]), outcome="fallback_samhsa",
                attempts=[])
    session.add(call)
    session.flush()
    return call
