"""The call log as CSV: the filtered calls, newest first, the caller shown by last four only."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

from finder.operations.period import as_utc
from finder.operations.queries import LogRow

COLUMNS = (
    "started_at_utc", "number", "kind", "caller_last_four", "caller_state", "state_signal",
    "attempts", "final_destination", "outcome", "duration_seconds",
)
ROWS_PER_CHUNK = 500
#: Spreadsheets run a cell starting with these as a formula; such text gets a leading "'".
_FORMULA_STARTS = ("=", "@", "+", "-", "\t", "\r")
_PHONE = re.compile(r"^\+\d{6,15}$")


def _safe(value) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _PHONE.match(text):
        return "'" + text
    return text


def csv_row(row: LogRow) -> list[str]:
    call = row.call
    started = as_utc(call.started_at)
    return [_safe(value) for value in (
        started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        call.to_number,
        call.number_kind or "unknown",
        row.caller,
        call.caller_state,
        call.state_signal,
        row.attempts,
        row.final_destination,
        call.outcome,
        call.duration_seconds,
    )]


def csv_chunks(rows: Iterable[LogRow]) -> Iterator[str]:
    """The CSV text a few hundred rows at a time, for a streamed download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for number, row in enumerate(rows, start=1):
        writer.writerow(csv_row(row))
        if number % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
