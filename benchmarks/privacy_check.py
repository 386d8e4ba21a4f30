"""Privacy check after a load run: no caller's raw number in the database, the logs or exports.

The client knows every number it sent as ``From``. ``Scanner`` looks for each of them in every
form a number is written: E.164 (``+15125550123``), national digits (``5125550123``), with the
country code (``15125550123``, ``%2B15125550123``), formatted (``(512) 555-0123``,
``512-555-0123``, ``512.555.0123``, ``512 555 0123``, ``+1 512-555-0123``) and spoken digit by
digit (``5 1 2 5 5 5 0 1 2 3``); also in URL-decoded text. The last four digits alone are allowed
(the design stores them). Seven-digit local forms (``555-0123``) are not looked for: callers of
different area codes share them, and so do the fictional numbers finder stores in the clear.

Sources: the whole database (``pg_dump --data-only``, or every row of SQLite), the server's log
files, what the PostgreSQL server logged meanwhile, and every export: the operators' call log
CSV and pages over HTTP as a logged-in operator, the directory exports over HTTP (CSV, HSDS JSON
and zip), the public API and locator export, the public notice, and the ``flask export csv``,
``flask export hsds``, ``flask numbers list --json`` and ``flask audit verify`` commands.

The scanner is first shown to find every number it looks for in a text holding each form (a
check that cannot find anything proves nothing), and the numbers finder stores in the clear
(advertisers', facilities') are looked for in the same sources as a control: they must be
found, so each source is known to have been read.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import sqlite3
import subprocess
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import unquote_plus, urlencode

import sqlalchemy as sa

from benchmarks.routing_webhooks import flask

_DIGIT_RUN = re.compile(r"\d{10,}")
#: A US number written with separators: optional +1 / 1, (AAA) or AAA, then BBB and CCCC.
_FORMATTED = re.compile(
    r"(?<![\d])(?:\+?1[ .\-]?)?\(?(\d{3})\)?[ .\-]{0,2}(\d{3})[ .\-](\d{4})(?![\d])")
#: Digits spoken one by one (text-to-speech): single digits separated by single spaces.
_SPOKEN = re.compile(r"(?<!\d)\d(?: \d){9,}(?!\d)")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="csrf_token"')


def written_forms(e164: str) -> list[str]:
    """The ways a +1 number may be written (the scanner's self-test uses these)."""
    digits = e164[2:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    return [e164, digits, "1" + digits, f"({area}) {exchange}-{line}",
            f"{area}-{exchange}-{line}", f"{area}.{exchange}.{line}", f"{area} {exchange} {line}",
            f"+1 {area}-{exchange}-{line}", f"+1 ({area}) {exchange}-{line}",
            "%2B1" + digits, " ".join(digits)]


@dataclass(frozen=True)
class Finding:
    source: str
    number: str  #: national digits of the number found
    excerpt: str  #: the surrounding text, the number masked but for its last four


class Scanner:
    """Finds any of ``numbers`` (E.164, +1) in text, in any of the written forms."""

    def __init__(self, numbers: Iterable[str]) -> None:
        self.national = {number[2:] for number in numbers if number and number.startswith("+1")}

    def scan(self, source: str, text: str) -> list[Finding]:
        found: dict[str, Finding] = {}
        texts = [text]
        if "%" in text or "+" in text:
            texts.append(unquote_plus(text))
        for body in texts:
            for pattern in (_DIGIT_RUN, _SPOKEN):
                for match in pattern.finditer(body):
                    run = match.group().replace(" ", "")
                    for start in range(len(run) - 9):
                        self._hit(found, source, body, match, run[start:start + 10])
            for match in _FORMATTED.finditer(body):
                self._hit(found, source, body, match, "".join(match.groups()))
        return list(found.values())

    def _hit(self, found: dict, source: str, body: str, match: re.Match, digits: str) -> None:
        if digits in self.national and digits not in found:
            left, right = max(match.start() - 40, 0), min(match.end() + 40, len(body))
            excerpt = (body[left:match.start()] + _mask(match.group())
                       + body[match.end():right]).replace("\n", " ")
            found[digits] = Finding(source, digits, excerpt)

    def self_test(self) -> list[str]:
        """Problems if any number, written in any form inside other text, is not found."""
        problems = []
        for digits in sorted(self.national):
            for form in written_forms("+1" + digits):
                text = f"before {form} after"
                if not any(f.number == digits for f in self.scan("self-test", text)):
                    problems.append(f"the scanner misses {_mask(form)}")
        return problems


def _mask(text: str) -> str:
    digits = [i for i, char in enumerate(text) if char.isdigit()]
    hidden = set(digits[:-4])
    return "".join("•" if i in hidden else char for i, char in enumerate(text))


# -- sources --------------------------------------------------------------------------------

@dataclass
class Sources:
    """Named texts to scan, and what could not be read (a failure of the check)."""

    texts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, data: bytes | str) -> None:
        if isinstance(data, bytes):
            if data[:2] == b"PK":
                self.add_zip(name, data)
                return
            data = data.decode("utf-8", errors="replace")
        self.texts[name] = data

    def add_zip(self, name: str, data: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                self.add(f"{name} :: {member}", archive.read(member))


def database_text(url: str) -> str:
    """Every row of every table, as text: ``pg_dump --data-only`` or SQLite's ``iterdump``."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with sqlite3.connect(parsed.database) as conn:
            return "\n".join(line for line in conn.iterdump() if line.startswith("INSERT"))
    command = ["pg_dump", "--data-only", "--no-owner", "--no-privileges",
               "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
               "-U", parsed.username or "postgres", parsed.database]
    env = {**os.environ, **({"PGPASSWORD": parsed.password} if parsed.password else {})}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode:
        raise RuntimeError(f"pg_dump failed: {done.stderr.strip()}")
    return done.stdout


#: Where Debian's PostgreSQL writes its server log (errors, with the failing statement).
POSTGRES_LOGS = Path("/var/log/postgresql")


def postgres_log_marks() -> dict[Path, int]:
    """The size of each readable PostgreSQL server log now, to read what is written after."""
    marks = {}
    for path in sorted(POSTGRES_LOGS.glob("*.log")) if POSTGRES_LOGS.is_dir() else []:
        try:
            with open(path, "rb"):
                marks[path] = path.stat().st_size
        except OSError:
            continue
    return marks


def postgres_log_since(marks: dict[Path, int], sources: Sources) -> None:
    """Add what the PostgreSQL server logged since ``marks`` (the server is shared: other
    databases' lines are in it too)."""
    for path, size in marks.items():
        try:
            with open(path, "rb") as stream:
                stream.seek(size if path.stat().st_size >= size else 0)  # rotated: from 0
                sources.add(f"PostgreSQL server log {path.name} (written during the run)",
                            stream.read())
        except OSError as exc:
            sources.problems.append(f"cannot read {path}: {exc}")


class StaffClient:
    """Logs in through /login (CSRF token from the form, session cookie kept by hand, Secure
    or not) and GETs pages as that account."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            data = response.read()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            return response.status, data, dict(response.getheaders())
        finally:
            conn.close()

    def login(self, email: str, password: str) -> None:
        status, page, _ = self.request("GET", "/login")
        match = _CSRF.search(page.decode())
        if status != 200 or not match:
            raise RuntimeError(f"GET /login: HTTP {status}, no CSRF token")
        token = unescape(match.group(1) or match.group(2))
        status, _, headers = self.request("POST", "/login", urlencode(
            {"csrf_token": token, "email": email, "password": password}))
        if status != 302:
            raise RuntimeError(f"logging in as {email}: HTTP {status}")

    def get(self, path: str) -> bytes:
        status, data, _ = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}")
        return data


def http_exports(port: int, email: str, password: str, call_ids: Iterable[int],
                 sources: Sources) -> None:
    """The operators' call log (CSV export and pages) and the directory's exports, over HTTP."""
    client = StaffClient(port)
    try:
        client.login(email, password)
    except RuntimeError as exc:
        sources.problems.append(f"operator login: {exc}")
        return
    paths = ["/staff/calls/export.csv", "/staff/calls/", "/staff/calls/reports",
             "/staff/calls/integrity", "/staff/transfer/export.csv",
             "/staff/transfer/export-hsds.json", "/staff/transfer/export-hsds.zip",
             "/api/v1/facilities?lat=38.03&lon=-78.48&radius=500&per_page=100",
             "/locator/exportsAsJson/v2?sType=SA&sAddr=38.03,-78.48&limitType=2&limitValue=500000",
             "/where-do-calls-go"]
    paths += [f"/staff/calls/{call_id}" for call_id in call_ids]
    for path in paths:
        try:
            sources.add(f"GET {path} (operator)", client.get(path))
        except (RuntimeError, OSError) as exc:
            sources.problems.append(str(exc))


def cli_exports(url: str, env: dict[str, str], sources: Sources) -> None:
    """``flask export csv``, ``flask export hsds``, ``flask numbers list --json`` and
    ``flask audit verify``, run as an operator would, their files and output scanned."""
    with tempfile.TemporaryDirectory(prefix="finder-privacy-") as directory:
        out = Path(directory)
        commands = {
            "flask export csv": ["export", "csv", str(out / "directory.csv")],
            "flask export hsds": ["export", "hsds", str(out / "hsds")],
            "flask numbers list --json": ["numbers", "list", "--json"],
            "flask audit verify": ["audit", "verify"],
        }
        for name, args in commands.items():
            done = flask({**os.environ, **env, "DATABASE_URL": url}, *args, timeout=300,
                         text=False)
            if done.returncode:
                sources.problems.append(f"{name} exited {done.returncode}: "
                                        f"{done.stderr.decode(errors='replace')[-300:]}")
            sources.add(f"{name} (output)", done.stdout + done.stderr)
        for path in sorted(out.rglob("*")):
            if path.is_file():
                sources.add(f"{path.relative_to(out)} (written by flask export)",
                            path.read_bytes())


def check(scanner: Scanner, control: Scanner, sources: Sources,
          control_sources: Iterable[str]) -> list[str]:
    """Scan every source; print what was checked; return the problems (leaks first)."""
    problems = [f"scanner self-test: {p}" for p in scanner.self_test()]
    leaks: list[Finding] = []
    total = 0
    forms = len(written_forms("+15125550100"))
    print(f"  privacy: {len(scanner.national)} caller numbers, each looked for in {forms} "
          f"written forms (and URL-decoded), in {len(sources.texts)} sources")
    for name, text in sources.texts.items():
        total += len(text)
        found = scanner.scan(name, text)
        leaks += found
        seen = len({f.number for f in control.scan(name, text)})
        print(f"    {'LEAK' if found else 'ok  '} {name}: {len(text):,} characters"
              + (f", {len(found)} caller numbers" if found else "")
              + (f" (control: {seen} stored numbers found)" if seen else ""))
    for name in control_sources:
        text = sources.texts.get(name, "")
        if not control.scan(name, text):
            problems.append(f"control: no stored number found in {name!r}, so it was not read")
    for finding in leaks[:20]:
        problems.insert(0, f"LEAK in {finding.source}: …{finding.excerpt}…")
    if len(leaks) > 20:
        problems.insert(0, f"{len(leaks)} leaks in all (first 20 listed)")
    problems += sources.problems
    print(f"  privacy: {total:,} characters scanned, "
          + (f"{len(leaks)} LEAKS" if leaks else "no caller number found")
          + (f"; {len(problems) - len(leaks)} other problems" if len(problems) > len(leaks)
             else ""))
    return problems
