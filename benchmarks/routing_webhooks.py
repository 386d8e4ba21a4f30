"""The routing benchmark's webhook part: the real app under gunicorn, callers on loopback, checks.

Each caller thread keeps one HTTP/1.1 connection (``http.client``, lighter on the two shared
cores than ``requests``) and plays whole calls as Twilio would drive them, every request signed
with ``RequestValidator.compute_signature`` over the full URL and form. Afterwards the database
is read directly to prove that every call is recorded and closed, no advertiser went over a cap at
any moment (the audit chain replayed in order), and ``audit.verify`` finds the chain intact.
"""

from __future__ import annotations

import http.client
import itertools
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urljoin

import numpy as np
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from benchmarks import call_checks
from benchmarks.routing_pool import HELPLINE, caller_number
from finder.calls.twiml import FALLBACK_TWIML

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-routing-twilio-token"
ACCOUNT = "AC" + "0" * 32
ENDPOINTS = ("incoming", "dial-result", "status")
REQUEST_TIMEOUT = 30


def flask(env: Mapping[str, str], *args: str, timeout: float = 120,
          text: bool = True) -> subprocess.CompletedProcess:
    """``flask <args>`` on this checkout's app, in a subprocess with ``env``, output captured."""
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=dict(env), capture_output=True, text=text, timeout=timeout)


def migrate(url: str) -> None:
    """``flask db upgrade`` on ``url``, exactly as a deployment does."""
    started = time.perf_counter()
    done = flask({**os.environ, "DATABASE_URL": url}, "db", "upgrade")
    if done.returncode:
        raise SystemExit(f"flask db upgrade failed:\n{done.stdout}{done.stderr}")
    print(f"  migrated with flask db upgrade in {time.perf_counter() - started:.1f} s")


# -- the server -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn serving ``wsgi:app`` on a free loopback port; always stopped on leaving.

    ``config``: a gunicorn config file (e.g. ``deploy/gunicorn.conf.py``, production logging);
    the workers, threads and bind given here override it. ``env``: extra environment (secrets,
    ``FINDER_ENV``...). ``log_dir``: keep gunicorn's stdout (``gunicorn.stdout.log``), stderr
    (``gunicorn.stderr.log``) and, without a config, the access log (``access.log``) there;
    otherwise both streams go to one temporary file. ``port``: a fixed port (a restart).
    """

    def __init__(self, url: str, workers: int, threads: int, *, config: Path | None = None,
                 env: dict[str, str] | None = None, log_dir: Path | None = None,
                 port: int | None = None) -> None:
        self.port = port or _free_port()
        self.command = [sys.executable, "-m", "gunicorn"]
        if config is not None:
            self.command += ["--config", str(config)]
        self.command += ["-w", str(workers), "-k", "gthread", "--threads", str(threads),
                         "-b", f"127.0.0.1:{self.port}"]
        if config is None:
            self.command += ["--log-level", "warning"]
        # The voice spool (webhooks answered while the database is down) in a folder of the
        # run's own, removed with it, never the checkout's instance/ folder.
        self.spool_dir = tempfile.mkdtemp(prefix="finder-bench-spool-")
        self.env = {**os.environ, "DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN,
                    "FINDER_ENV": "development", "FLASK_DEBUG": "0",
                    "VOICE_SPOOL_DIR": self.spool_dir, **(env or {})}
        self.token = self.env["TWILIO_AUTH_TOKEN"]
        self.log_dir = log_dir
        if log_dir is None:
            self.log = tempfile.NamedTemporaryFile(prefix="finder-bench-gunicorn-", suffix=".log")
            self.stdout = self.log
            self.log_files = [Path(self.log.name)]
        else:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.stdout = open(log_dir / "gunicorn.stdout.log", "ab")  # noqa: SIM115
            self.log = open(log_dir / "gunicorn.stderr.log", "ab")  # noqa: SIM115
            self.log_files = [log_dir / "gunicorn.stdout.log", log_dir / "gunicorn.stderr.log"]
            if config is None:
                self.command += ["--access-logfile", str(log_dir / "access.log")]
                self.log_files.append(log_dir / "access.log")
        self.command.append("wsgi:app")

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.stdout,
                                        stderr=self.log if self.stdout is not self.log
                                        else subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, timeout: float = 120) -> None:
        # On a shared, loaded machine four workers importing the app can take over 30 s.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log_tail()}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("POST", "/voice/fallback")
                if conn.getresponse().status == 403:  # up, and refusing unsigned requests
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def log_text(self) -> str:
        """Everything gunicorn and the app logged so far (every log file, one after another)."""
        return "\n".join(path.read_text(errors="replace") for path in self.log_files
                         if path.exists())

    def errors(self) -> Counter:
        """The exceptions the server logged (each traceback's last line), counted."""
        text = self.log_text()
        return Counter(line[:160] for line in text.splitlines()
                       if re.match(r"^[\w.]+(Error|Exception)\b.*:", line))

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by gunicorn's workers."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return sum(_cpu_of(int(pid)) for pid in children.read_text().split())
        except OSError:  # not Linux: no figure
            return 0.0

    def stop(self) -> None:
        """TERM the process group gunicorn leads (master and workers), KILL if it lingers."""
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout=5)

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)  # the group is ours: started in a new session
        except ProcessLookupError:
            pass

    def __exit__(self, *exc) -> None:
        self.stop()
        self.log.close()
        if self.stdout is not self.log:
            self.stdout.close()
        shutil.rmtree(self.spool_dir, ignore_errors=True)

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        """``flask <args>`` with the server's environment (its database, secrets and spool)."""
        return flask(self.env, *args)


def _cpu_of(pid: int) -> float:
    """utime + stime of a process from /proc, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu(url: str) -> float:
    """CPU time used so far by the PostgreSQL backends serving ``url``'s database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            pids = conn.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")).scalars()
            return sum(_cpu_of(pid) for pid in pids)
    finally:
        engine.dispose()


# -- the callers ------------------------------------------------------------------------------

def sign(url: str, params: Mapping[str, str], token: str = TOKEN) -> dict[str, str]:
    """The headers of a form POST to ``url`` signed as Twilio signs it.

    ``url`` is the full URL Twilio requested (``http://127.0.0.1:PORT/voice/...?query``); the
    signature is ``RequestValidator(token).compute_signature(url, params)``.
    """
    return {"Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": RequestValidator(token).compute_signature(url, dict(params))}


class Caller:
    """One simulated Twilio connection: signs, posts, times and parses."""

    def __init__(self, port: int, think_ms: float, seed: int, token: str = TOKEN) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.port = port
        self.think = think_ms / 1000
        self.rng = random.Random(seed)
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        self.timings: list[tuple[str, float]] = []
        self.retries = 0

    def post(self, endpoint: str, url: str, params: dict) -> tuple[int, str]:
        if self.think:  # independent callers: exponential pauses, so they never march in step
            time.sleep(self.rng.expovariate(1 / self.think))
        full = urljoin(self.base, url)
        path = full[len(self.base):]
        headers = sign(full, params, self.token)
        body = urlencode(params)
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request("POST", path, body, headers)
                response = self.conn.getresponse()
                text = response.read().decode()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed meanwhile: Twilio retries too.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=REQUEST_TIMEOUT)
                if attempt:
                    raise
                self.retries += 1
                continue
            self.timings.append((endpoint, (time.perf_counter() - started) * 1000))
            return response.status, text
        raise AssertionError("unreachable")

    def play(self, call_sid: str, caller: str, no_answer: bool) -> CallRecord:
        """A whole helpline call: incoming, each leg's dial action, the call's status callback."""
        record = CallRecord(call_sid)
        base = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": caller, "To": HELPLINE,
                "Direction": "inbound", "ApiVersion": "2010-04-01"}
        status, text = self.post("incoming", "/voice/incoming", {**base, "CallStatus": "ringing"})
        for leg in itertools.count(1):
            dial = record.check(status, text)
            if dial is None or leg > 6:
                break
            answered = not (no_answer and leg == 1)
            record.destinations.append(dial.findtext("Number", "").strip())
            status, text = self.post("dial-result", dial.get("action"), {
                **base, "CallStatus": "in-progress", "DialCallSid": f"{call_sid[:-4]}L{leg:03d}",
                "DialCallStatus": "completed" if answered else "no-answer",
                "DialCallDuration": "47" if answered else "0"})
        status, text = self.post("status", "/voice/status",
                                 {**base, "CallStatus": "completed", "CallDuration": "95"})
        if status != 204:
            record.problems.append("the status callback got the static fallback (a server-side "
                                   "error)" if text == FALLBACK_TWIML
                                   else f"the status callback got HTTP {status}")
        return record


@dataclass
class CallRecord:
    call_sid: str
    destinations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def check(self, status: int, text: str) -> ET.Element | None:
        """The TwiML's <Dial>, if it has one with an action; notes anything unexpected."""
        if status != 200:
            self.problems.append(f"HTTP {status}")
            return None
        if text == FALLBACK_TWIML:
            self.problems.append("the static fallback answered (a server-side error)")
            return None
        root = ET.fromstring(text)
        dial = root.find("Dial")
        if dial is None:
            if root.find("Hangup") is None:
                self.problems.append(f"neither Dial nor Hangup: {text[:200]}")
            return None
        if not dial.get("action"):
            self.problems.append("a Dial without an action")
            return None
        return dial


# -- the run ----------------------------------------------------------------------------------

@dataclass
class Result:
    engine: str
    think_ms: float
    calls: int
    seconds: float
    timings: dict[str, list[float]]
    problems: list[str]
    lock: str | None = None
    #: CPU ms per request: gunicorn's workers, and PostgreSQL's backends (None on SQLite).
    cpu_ms: tuple[float, float | None] = (0.0, None)

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.timings.values())

    def overall(self) -> list[float]:
        return [value for values in self.timings.values() for value in values]

    def summary_line(self, target: float) -> str:
        p50, p95, p99 = np.percentile(self.overall(), [50, 95, 99])
        met = "met" if p95 <= target else "NOT MET"
        return (f"webhooks {self.engine:10s} think {self.think_ms:5g} ms  {self.calls:4d} calls"
                f"  p50 {p50:7.2f}  p95 {p95:7.2f}  p99 {p99:7.2f} ms"
                f"  {self.requests / self.seconds:6.1f} req/s   p95 <= {target} ms: {met}")


def run(url: str, engine: str, args) -> tuple[list[Result], list[str]]:
    """Serve, warm up, then per think time play timed calls with ``args.concurrency`` callers;
    finally check the database. Returns each scenario's result and the checks' problems."""
    rng = random.Random(args.seed + 1)
    sids = (f"CA{engine[:2]}bench{n:025d}" for n in itertools.count())

    def plan(calls: int) -> list:
        return [(next(sids), caller_number(rng), rng.random() < args.no_answer)
                for _ in range(calls)]

    played: dict[str, CallRecord | None] = {}
    results: list[Result] = []
    with Server(url, args.workers, args.threads) as server:
        print(f"  gunicorn -w {args.workers} -k gthread --threads {args.threads} on port "
              f"{server.port}; {args.concurrency} callers")
        warm_up = plan(2 * args.concurrency)
        _play(server.port, warm_up, args.concurrency, 0, time.monotonic() + args.time_limit)
        played.update({sid: None for sid, _, _ in warm_up})
        for think in args.think_ms:
            calls = args.calls if think == 0 else args.paced_calls
            scenario = plan(calls)
            sampler = (LockSampler(url, args.lock_sample_ms / 1000)
                       if engine == "postgresql" and args.lock_sample_ms > 0 else None)
            postgres = engine == "postgresql"
            cpu = server.cpu_seconds(), _postgres_cpu(url) if postgres else 0.0
            started = time.monotonic()
            with sampler or _nothing():
                records, callers = _play(server.port, scenario, args.concurrency, think,
                                         started + args.time_limit)
            result = _result(engine, think, records, callers, time.monotonic() - started)
            result.cpu_ms = ((server.cpu_seconds() - cpu[0]) * 1000 / result.requests,
                             ((_postgres_cpu(url) - cpu[1]) * 1000 / result.requests)
                             if postgres else None)
            if len(records) < calls:
                result.problems.append(f"only {len(records)} of {calls} calls played within "
                                       f"{args.time_limit:g} s")
            if sampler:
                result.lock = sampler.describe(result.requests / result.seconds)
            report(result, sum(c.retries for c in callers))
            played.update({r.call_sid: r for r in records})
            results.append(result)
        server_errors = server.errors()
    problems = verify(url, played)
    for line, count in server_errors.most_common(5):
        print(f"  gunicorn logged {count} x {line}")
    return results, problems


def _result(engine: str, think: float, records: list[CallRecord], callers: list[Caller],
            seconds: float) -> Result:
    timings: dict[str, list[float]] = {endpoint: [] for endpoint in ENDPOINTS}
    for caller in callers:
        for endpoint, ms in caller.timings:
            timings[endpoint].append(ms)
    problems = [f"{r.call_sid}: {p}" for r in records for p in r.problems]
    return Result(engine, think, len(records), seconds, timings, problems[:20])


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


def _play(port: int, plan: list, concurrency: int, think_ms: float,
          deadline: float) -> tuple[list[CallRecord], list[Caller]]:
    """``concurrency`` threads take calls from ``plan`` until it is done or time is up."""
    pending = iter(plan)
    guard = threading.Lock()
    records: list[CallRecord] = []
    errors: list[str] = []
    callers = [Caller(port, think_ms, seed) for seed in range(concurrency)]

    def work(caller: Caller) -> None:
        while time.monotonic() < deadline:
            with guard:
                item = next(pending, None)
            if item is None:
                return
            try:
                record = caller.play(*item)
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                errors.append(f"{item[0]}: {exc!r}")
                record = CallRecord(item[0], problems=[repr(exc)])
            with guard:
                records.append(record)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(deadline - time.monotonic(), 0) + REQUEST_TIMEOUT + 5)
    for caller in callers:
        caller.conn.close()
    return records, callers


def report(result: Result, retries: int) -> None:
    pause = ("back to back" if not result.think_ms
             else f"paced: each caller pauses {result.think_ms:g} ms on average (exponential) "
                  f"before every request")
    print(f"  -- {pause}")
    print(f"  {result.calls} calls, {result.requests} requests in {result.seconds:.1f} s: "
          f"{result.calls / result.seconds:.1f} calls/s, "
          f"{result.requests / result.seconds:.1f} requests/s"
          + (f", {retries} reconnects" if retries else ""))
    rows = [(endpoint, values) for endpoint, values in result.timings.items()]
    rows.append(("overall", result.overall()))
    for endpoint, values in rows:
        if not values:
            continue
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        print(f"  {endpoint:12s} {len(values):5d} requests  p50 {p50:7.2f}  p95 {p95:7.2f}  "
              f"p99 {p99:7.2f}  max {max(values):7.2f} ms")
    app_cpu, database_cpu = result.cpu_ms
    print(f"  CPU per request: {app_cpu:.1f} ms in gunicorn's workers"
          + (f", {database_cpu:.1f} ms in PostgreSQL's backends" if database_cpu is not None
             else " (SQLite's work included)"))
    if result.lock:
        print(f"  {result.lock}")


# -- PostgreSQL's routing locks ---------------------------------------------------------------

class LockSampler:
    """Samples ``pg_locks`` every ``interval`` seconds: how often each routing lock
    (``finder.calls.locks``: the pool's turn, the audit chain's turn, the calls' turns) is held
    and how many steps wait. Each sample is a query on the same cores as the server; every
    50 ms (the default) is enough samples for the shares it prints."""

    KINDS = ("pool", "chain", "call")
    QUERY = sa.text(
        "SELECT CASE WHEN objsubid = 1 THEN 'chain' WHEN classid = :pool THEN 'pool' "
        "ELSE 'call' END AS kind, count(*) FILTER (WHERE granted), "
        "count(*) FILTER (WHERE NOT granted) "
        "FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY 1"
    )

    def __init__(self, url: str, interval: float = 0.05) -> None:
        self.engine = sa.create_engine(url)
        self.interval = interval
        self.samples: list[dict[str, tuple[int, int]]] = []
        self.stopping = threading.Event()

    def __enter__(self) -> LockSampler:
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        from finder.calls.locks import POOL_NAMESPACE

        with self.engine.connect() as conn:
            while not self.stopping.is_set():
                rows = conn.execute(self.QUERY, {"pool": POOL_NAMESPACE}).all()
                self.samples.append({kind: (held, waiting) for kind, held, waiting in rows})
                conn.rollback()
                time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.engine.dispose()

    def describe(self, steps_per_second: float) -> str:
        if not self.samples:
            return "routing locks: no samples"
        parts = []
        for kind in self.KINDS:
            held = sum(1 for sample in self.samples if sample.get(kind, (0, 0))[0])
            waiting = sum(sample.get(kind, (0, 0))[1] for sample in self.samples)
            held, waiting = held / len(self.samples), waiting / len(self.samples)
            # Little's law: mean time waiting = mean number waiting / arrival rate.
            parts.append(f"{kind} held {held:.0%} of the time, {waiting:.2f} waiting "
                         f"(~{waiting / steps_per_second * 1000:.1f} ms per request)")
        return f"routing locks ({len(self.samples)} samples): " + "; ".join(parts)


# -- checks -----------------------------------------------------------------------------------
# The checks live in ``call_checks.py``; these names stay for scripts that import them from here.

_counters_match = call_checks.counters_match
_replay = call_checks.replay_caps
_binding = call_checks.binding


def verify(url: str, played: dict[str, CallRecord | None]) -> list[str]:
    """Read the database: every call recorded and closed with the legs dialled, nothing routed
    or counted twice, caps never exceeded (the chain replayed), the chain intact."""
    return call_checks.verify(url, played)
