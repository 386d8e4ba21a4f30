"""Load: a couple of hundred simultaneous signed calls against gunicorn and PostgreSQL, then
checks from the database and a privacy check of the database, the logs and every export.

The server is the real app under ``gunicorn -w 4 -k gthread --threads 8`` with the production
settings (``deploy/gunicorn.conf.py``: its logging, ``FINDER_ENV=production``, secrets made up
for the run), on a throwaway PostgreSQL database migrated by ``flask db upgrade``. The pool is
fictional with tight caps (``load_pool.py``). One client thread per call, all released together
by a barrier (``load_callers.py``): helpline calls (a share of advertiser legs do not answer, so
calls fail over), facility-number calls (most not answered: the menu, where keypress 2 stores a
call-back request with the number encrypted, 1 forwards to the pool, silence goes to SAMHSA) and
calls to a number finder does not route. Every leg gets its dial-result and status callbacks.

Afterwards (``call_checks.py``): every call recorded once and closed, with the legs dialled and
the outcome lived; nothing routed or counted twice; counters equal to the legs; no cap exceeded
at any moment (the audit chain replayed); call-back numbers stored only encrypted; the audit
chain intact. Then ``privacy_check.py``: no caller number in the database, the logs or the
exports. Prints calls per second and webhook latency; exits 1 when a check fails. Loopback only;
the server is always stopped; the database is dropped unless ``--keep``.

    python benchmarks/load_calls.py                       # 200 helpline + 40 facility calls
    python benchmarks/load_calls.py --calls 400 --time-limit 300 --keep
"""

from __future__ import annotations

import argparse
import random
import secrets
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import call_checks, latency, load_pool, load_server, privacy_check  # noqa: E402
from benchmarks import routing_webhooks as webhooks  # noqa: E402
from benchmarks.load_callers import (  # noqa: E402
    ENDPOINTS,
    Behaviour,
    Plan,
    Played,
    number_kinds,
    play_all,
)
from finder import create_app  # noqa: E402
from finder.calls.models import Call, CallbackRequest  # noqa: E402

DATABASE = "finder_load_calls"
#: Twilio waits this long for a webhook's answer, then fetches the fallback URL instead.
TWILIO_TIMEOUT_MS = 15_000
#: Seconds the whole run may take beyond the timed part (database, server, checks).
WHOLE_RUN_MARGIN = 600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="simultaneous helpline calls")
    parser.add_argument("--facility-calls", type=int, default=40,
                        help="facility-number calls released with them (the call-back path)")
    parser.add_argument("--unknown-calls", type=int, default=4,
                        help="calls to a number finder does not route, released with them")
    parser.add_argument("--warm-up", type=int, default=8,
                        help="calls to an unknown number first (no pool), not timed")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-answer", type=float, default=0.25,
                        help="share of advertiser legs that do not answer")
    parser.add_argument("--talk-ms", type=float, default=1000,
                        help="mean time an answered leg stays live before it ends")
    parser.add_argument("--retry", type=float, default=0.03,
                        help="share of requests sent twice (Twilio retrying)")
    parser.add_argument("--race", type=float, default=0.5,
                        help="share of legs whose dial-result and final leg status callback "
                             "are sent at the same moment")
    parser.add_argument("--time-limit", type=float, default=180,
                        help="seconds the calls may take at most (then they stop, and fail)")
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--postgres-server", default=load_server.POSTGRES_SERVER,
                        help=f"a database URL of the server where {DATABASE} is created")
    parser.add_argument("--development", action="store_true",
                        help="FINDER_ENV=development and gunicorn's default logging instead of "
                             "production settings and deploy/gunicorn.conf.py")
    parser.add_argument("--log-level", default="info", help="LOG_LEVEL for the server")
    parser.add_argument("--no-privacy", action="store_true", help="skip the privacy check")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database and the server's logs (their paths are printed)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: the server is stopped
    # The whole run is bounded too (setting up, seeding, checks): past it, unwind and fail.
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("the whole run took too long"))
    signal.alarm(int(WHOLE_RUN_MARGIN + args.time_limit))
    sys.stdout.reconfigure(line_buffering=True)

    print(f"load average at start: {latency.load_average()}")
    started = time.monotonic()
    with (load_server.throwaway_database(args.engine, args.postgres_server, DATABASE,
                                         args.keep) as url,
          load_server.log_directory(args.keep, "finder-load-calls-logs-") as log_dir):
        failures = run(url, log_dir, args)
    print(f"\nload average at end: {latency.load_average()}  "
          f"(whole run {time.monotonic() - started:.0f} s)")
    if failures:
        print(f"\nCHECKS FAILED ({len(failures)}):\n  " + "\n  ".join(failures[:40]))
        raise SystemExit(1)
    print("\nall checks passed")


def run(url: str, log_dir: Path, args) -> list[str]:
    rng = random.Random(args.seed)
    print(f"\n== database {sa.make_url(url).render_as_string()}")
    webhooks.migrate(url)
    load_pool.build(url)
    password = secrets.token_urlsafe(18)
    operator = load_pool.add_operator(
        create_app("development", {"SQLALCHEMY_DATABASE_URI": url}), password)
    env = load_server.environment(args.development, args.log_level)

    everyone = load_pool.callers(
        args.warm_up + args.calls + args.facility_calls + args.unknown_calls, rng)
    warm_up = plans(rng, 0, 0, args.warm_up, everyone.numbers[:args.warm_up])
    timed = plans(rng, args.calls, args.facility_calls, args.unknown_calls,
                  everyone.numbers[args.warm_up:])
    kinds = number_kinds([entry[1] for entry in load_pool.ADVERTISERS],
                         [phone for _, _, phone in load_pool.FACILITIES])
    behaviour = Behaviour(no_answer=args.no_answer, talk_ms=args.talk_ms, retry=args.retry,
                          race=args.race)
    failures: list[str] = []
    config = load_server.gunicorn_config(args.development)
    postgres_logs = privacy_check.postgres_log_marks() if url.startswith("postgresql") else {}
    with webhooks.Server(url, args.workers, args.threads, config=config, env=env,
                         log_dir=log_dir) as server:
        print(f"  gunicorn -w {args.workers} -k gthread --threads {args.threads} on port "
              f"{server.port}" + (f" with --config {config.relative_to(ROOT)}" if config else "")
              + f", FINDER_ENV={env['FINDER_ENV']}, LOG_LEVEL={args.log_level}")
        warmed, _ = play_all(server.port, server.token, warm_up, behaviour, kinds,
                             args.time_limit)
        failures += [f"warm-up {r.call_sid}: {p}" for r in warmed for p in r.problems]
        cpu = server.cpu_seconds(), _database_cpu(url)
        print(f"  -- {len(timed)} calls released at once: {args.calls} helpline, "
              f"{args.facility_calls} facility, {args.unknown_calls} unknown number; "
              f"{len(everyone.distinct)} distinct caller numbers")
        played, seconds = play_all(server.port, server.token, timed, behaviour, kinds,
                                   args.time_limit)
        requests = report(played, seconds)
        app_cpu = (server.cpu_seconds() - cpu[0]) * 1000 / max(requests, 1)
        database_cpu = (_database_cpu(url) - cpu[1]) * 1000 / max(requests, 1)
        print(f"  CPU per webhook request: {app_cpu:.1f} ms in gunicorn's workers"
              + (f", {database_cpu:.1f} ms in PostgreSQL's backends"
                 if url.startswith("postgresql") else ""))
        failures += [f"{r.call_sid} ({r.kind}): {p}" for r in played for p in r.problems]
        sources = privacy_check.Sources()
        if not args.no_privacy:
            privacy_check.http_exports(server.port, operator, password, _pages(url), sources)
        server_errors = server.errors()
    for line, count in server_errors.most_common(5):
        print(f"  gunicorn logged {count} x {line}")

    print("\n== checks from the database")
    records = {r.call_sid: r for r in played}
    records.update({r.call_sid: r for r in warmed})
    callbacks = {r.call_sid: r.caller for r in played if r.callback}
    failures += call_checks.verify(url, records, callbacks=callbacks,
                                   callback_key=env["CALLBACK_ENCRYPTION_KEY"])
    if not args.no_privacy:
        print("\n== privacy")
        privacy_check.postgres_log_since(postgres_logs, sources)
        failures += privacy(url, env, server.log_files, sources, everyone, played)
    return failures


def plans(rng: random.Random, helpline: int, facility: int, unknown: int,
          callers: list[str | None]) -> list[Plan]:
    """The calls to play, shuffled; ``callers`` gives each its number in turn."""
    numbers = iter(callers)
    fixed = {"helpline": load_pool.HELPLINE, "unknown": load_pool.UNKNOWN_NUMBER}
    facility_numbers = [tracking for tracking, _, _ in load_pool.FACILITIES]
    facility_weights = [3 if phone else 1 for _, _, phone in load_pool.FACILITIES]
    kinds = (["helpline"] * helpline + ["facility"] * facility + ["unknown"] * unknown)
    rng.shuffle(kinds)
    result = []
    for kind in kinds:
        to = fixed.get(kind) or rng.choices(facility_numbers, facility_weights)[0]
        result.append(Plan(f"CA{rng.getrandbits(128):032x}", kind, to, next(numbers),
                           rng.getrandbits(32)))
    return result


def report(played: list[Played], seconds: float) -> int:
    """Print throughput and latency per endpoint; returns the number of requests timed."""
    seconds = max(seconds, 1e-6)
    timings: dict[str, list[float]] = {endpoint: [] for endpoint in ENDPOINTS}
    retries: list[float] = []
    for record in played:
        for endpoint, ms in record.timings:
            (retries if endpoint == "retry" else timings[endpoint]).append(ms)
    requests = sum(len(values) for values in timings.values())
    ended = sum(1 for r in played if not r.problems)
    legs = sum(len(r.destinations) for r in played)
    print(f"  {len(played)} calls ({ended} without a problem), {legs} legs, {requests} webhook "
          f"requests (+{len(retries)} retries) in {seconds:.1f} s: "
          f"{len(played) / seconds:.1f} calls/s, {requests / seconds:.1f} requests/s")
    for line in latency.table(timings):
        print(f"  {line}")
    if retries:
        print(f"  {latency.table({'retries (answered from the receipt)': retries})[0]}")
    by_kind: dict[str, list[float]] = {}
    for record in played:
        by_kind.setdefault(f"incoming, {record.kind} number", []).extend(
            ms for endpoint, ms in record.timings if endpoint == "incoming")
    for line in latency.table(by_kind, overall=False):
        print(f"  {line}")
    slow = sum(1 for values in timings.values() for ms in values if ms > TWILIO_TIMEOUT_MS)
    print(f"  {slow} requests took longer than Twilio's {TWILIO_TIMEOUT_MS // 1000} s webhook "
          f"timeout (Twilio would have fetched the fallback URL for those)")
    ends = {}
    for record in played:
        final = record.destinations[-1] if record.destinations else None
        kind = record.outcome or ("no leg" if final is None else "other")
        ends[kind] = ends.get(kind, 0) + 1
    print("  calls ended: " + ", ".join(f"{kind} {n}" for kind, n in sorted(ends.items())))
    legs = Counter(len(record.destinations) for record in played)
    print("  calls by legs dialled: "
          + ", ".join(f"{count} with {n}" for n, count in sorted(legs.items()))
          + f"; {sum(r.callback for r in played)} call-back requests")
    return requests


def _pages(url: str) -> list[int]:
    """Call ids whose detail pages the privacy check reads: every call-back request's call and
    a few others."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ids = list(conn.execute(sa.select(CallbackRequest.call_id)).scalars())
            ids += list(conn.execute(sa.select(Call.id).order_by(Call.id).limit(5)).scalars())
    finally:
        engine.dispose()
    return sorted(set(ids))


def privacy(url: str, env: dict[str, str], log_files: list[Path],
            sources: privacy_check.Sources, everyone: load_pool.Callers,
            played: list[Played]) -> list[str]:
    sources.add("database (every row)", privacy_check.database_text(url))
    for path in log_files:
        sources.add(f"log {path.name}", path.read_bytes() if path.exists() else b"")
    privacy_check.cli_exports(url, env, sources)
    scanner = privacy_check.Scanner(everyone.distinct)  # the warm-up's callers too
    stored = load_pool.configured_numbers() - {None}
    control = privacy_check.Scanner(stored)
    must_show_stored = ["database (every row)", "GET /staff/calls/export.csv (operator)",
                        "GET /staff/transfer/export.csv (operator)",
                        "directory.csv (written by flask export)",
                        "flask numbers list --json (output)"]
    problems = privacy_check.check(scanner, control, sources, must_show_stored)
    # The server's logs were read: the unknown number finder does not route is logged (it is
    # finder's own number, not a caller's), and every webhook is in the access log.
    logs = "\n".join(text for name, text in sources.texts.items() if name.startswith("log "))
    if load_pool.UNKNOWN_NUMBER not in logs:
        problems.append("control: the logs do not show the warning about the unknown number")
    if logs.count("/voice/incoming") < len(played):
        problems.append(f"control: the access log shows {logs.count('/voice/incoming')} "
                        f"/voice/incoming requests, {len(played)} were sent")
    callbacks = sum(1 for r in played if r.callback)
    print(f"  {callbacks} call-back numbers were stored (Fernet) in the database scanned")
    return problems


def _database_cpu(url: str) -> float:
    return webhooks._postgres_cpu(url) if url.startswith("postgresql") else 0.0


if __name__ == "__main__":
    main()
