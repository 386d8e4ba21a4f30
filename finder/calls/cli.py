"""Operator commands: ``flask audit verify``, ``flask routing simulate``, ``flask routing
drain-spool``, ``flask numbers list`` and ``flask retention purge``."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from finder.calls import retention
from finder.calls.integrity import check_audit
from finder.calls.numbers import describe_numbers
from finder.calls.simulate import Simulation, SimulationError, simulate
from finder.calls.spool import drain, spool_for
from finder.db import now_utc
from finder.extensions import db

audit_group = AppGroup("audit", help="The hash-chained routing audit trail.")
routing_group = AppGroup("routing", help="How calls are routed.")
numbers_group = AppGroup("numbers", help="Tracking numbers.")
retention_group = AppGroup("retention", help="Deleting call data past its retention age.")
GROUPS = (audit_group, routing_group, numbers_group, retention_group)


@audit_group.command("verify")
def audit_verify() -> None:
    """Recompute the whole chain and check every call attempt has its decision row.

    Exits 1 and names the first broken row when anything was altered or removed.
    """
    report = check_audit(db.session)
    db.session.rollback()
    if not report.intact:
        click.echo(f"Audit chain BROKEN at row {report.first_broken_id}: {report.problem}")
        raise SystemExit(1)
    click.echo(f"Audit chain intact: {report.rows_checked} rows checked.")


class AwareDateTime(click.ParamType):
    """An ISO 8601 date and time with its UTC offset, like 2026-11-21T22:00-06:00."""

    name = "datetime"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            self.fail(f"{value!r} is not a date and time like 2026-11-21T22:00-06:00", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no UTC offset; write it like 2026-11-21T22:00-06:00",
                      param, ctx)
        return parsed


@routing_group.command("drain-spool")
def drain_spool() -> None:
    """Record the calls spooled while the database was down (steps also do it every 15 s)."""
    spool = spool_for(current_app.config)
    if spool is None:
        click.echo("No voice spool is configured (VOICE_SPOOL_DIR).")
        return
    waiting = len(spool.pending())
    recorded = drain(db.session, spool)
    click.echo(f"Voice spool {spool.directory}: {waiting} file(s), {recorded} call(s) recorded "
               f"or ended.")


def _cap(used, cap) -> str:
    return f"{used}/{cap}" if cap is not None else f"{used} (no cap)"


def _figures(figures: dict) -> str:
    rate = figures.get("answer_rate")
    return " · ".join([
        f"local {figures.get('local_time')}",
        f"today {_cap(figures.get('calls_today'), figures.get('daily_cap'))}",
        f"month {_cap(figures.get('calls_this_month'), figures.get('monthly_cap'))}",
        f"live {_cap(figures.get('live_legs'), figures.get('concurrent_cap'))}",
        f"answer rate {'n/a' if rate is None else f'{rate:.0%}'}",
    ])


def simulation_lines(simulation: Simulation) -> list[str]:
    """The decision table of a simulated call, for people."""
    data = simulation.as_dict()
    caller = data["caller"]
    where = (f"caller state {caller['state'] or 'unknown'} (signal: {caller['state_signal']})"
             + (f", caller …{caller['last_four']}" if caller["last_four"] else ""))
    lines = [f"Simulated call to {data['number']} ({data['kind']} number) at {data['at']}; "
             f"{where}."]
    destination = data["destination"]
    if data["kind"] == "facility":
        facility = data["facility"]
        if destination["kind"] == "facility":
            lines.append(f"It rings {facility['name']} at {facility['phone']} and no one else.")
        else:
            lines.append(f"{facility['name']} has no known phone: the caller is offered the "
                         f"SAMHSA National Helpline, {destination['number']}.")
        lines.append("Nothing was recorded.")
        return lines
    pool, decision = data["pool"], data["decision"]
    lines.append(f"Pool {pool['name']!r} (#{pool['id']}), configuration {pool['config_hash']}.")
    previous = caller["previous_advertiser_id"]
    lines.append(f"Repeat caller: {'advertiser #' + str(previous) if previous else 'no'}.")
    lines.append("")
    lines.append(f"{'id':>4}  {'advertiser':<46} {'tier':>4} {'weight':>6}  "
                 f"{'verdict':<42} figures")
    for candidate in decision["candidates"]:
        figures = candidate["figures"]
        verdict = "eligible" if candidate["eligible"] else ", ".join(candidate["reasons"])
        lines.append(f"{candidate['advertiser_id']:>4}  {candidate['name'][:46]:<46} "
                     f"{figures['tier']:>4} {figures['weight']:>6}  {verdict:<42} "
                     f"{_figures(figures)}")
    if not decision["candidates"]:
        lines.append("      (the pool has no advertisers)")
    lines.append("")
    lines.append(f"Rule: {decision['rule']}. {decision['explanation']}")
    if decision["figures"]:
        lines.append(f"Figures: {json.dumps(decision['figures'], sort_keys=True)}")
    lines.append(f"Chosen: {destination['name']} ({destination['number']}).")
    lines.append("Nothing was recorded: no call, no counter, no audit row.")
    return lines


@routing_group.command("simulate")
@click.option("--number", required=True, help="The tracking number called.")
@click.option("--at", "at", type=AwareDateTime(), default=None,
              help="When, with its UTC offset (default: now), e.g. 2026-11-21T22:00-06:00.")
@click.option("--state", default=None, help="The caller's state, e.g. TX.")
@click.option("--zip", "zip_code", default=None, help="A 5-digit ZIP the caller keyed in.")
@click.option("--caller", default=None,
              help="The caller's number (hashed, never shown): its area code gives a state "
                   "when --state is not given, and it finds a repeat caller's advertiser.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def routing_simulate(number: str, at: datetime | None, state: str | None, zip_code: str | None,
                     caller: str | None, as_json: bool) -> None:
    """Print who would answer a call, and why, without recording anything."""
    try:
        result = simulate(
            db.session, number=number, at=at or now_utc(), state=state, zip_code=zip_code,
            caller=caller, hash_key=current_app.config["CALLER_HASH_KEY"].encode(),
        )
        lines = ([json.dumps(result.as_dict(), indent=2, default=str)] if as_json
                 else simulation_lines(result))
    except SimulationError as error:
        raise click.BadParameter(str(error), param_hint=f"--{error.param}") from None
    finally:
        db.session.rollback()
    for line in lines:
        click.echo(line)


def number_lines(entry: dict) -> list[str]:
    flags = "".join([" [demo]" if entry["is_demo"] else "",
                     f" [RETIRED {entry['retired_at'][:10]}]" if entry["retired"] else ""])
    if entry["kind"] == "facility":
        facility = entry["facility"]
        rings = facility["rings"] or "no known phone (callers are offered the SAMHSA helpline)"
        return [f"{entry['number']}  facility  {facility['name']} ({facility['city']}, "
                f"{facility['state']}) rings {rings}{flags}"]
    pool = entry["pool"]
    lines = [f"{entry['number']}  helpline  pool {pool['name']!r}: "
             f"{len(pool['advertisers'])} advertisers{flags}"]
    for advertiser in pool["advertisers"]:
        status = "active" if advertiser["active"] else "inactive"
        eligible = ("eligible now" if advertiser["eligible_now"]
                    else "not eligible now: " + ", ".join(advertiser["reasons"]))
        lines.append(f"    {advertiser['name']}  {advertiser['phone']}  tier {advertiser['tier']}"
                     f", weight {advertiser['weight']}; {status}, {eligible}")
    return lines


@numbers_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def numbers_list(as_json: bool) -> None:
    """Every tracking number, its kind and what it rings."""
    described = describe_numbers(db.session, now_utc())
    db.session.rollback()
    if as_json:
        click.echo(json.dumps(described, indent=2, default=str))
        return
    if not described:
        click.echo("No tracking numbers.")
    for entry in described:
        for line in number_lines(entry):
            click.echo(line)


@retention_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.option("--callback-days", type=click.IntRange(min=0), default=None,
              help="Override RETENTION_CALLBACK_DAYS.")
@click.option("--call-days", type=click.IntRange(min=0), default=None,
              help="Override RETENTION_CALL_DAYS.")
def retention_purge(dry_run: bool, callback_days: int | None, call_days: int | None) -> None:
    """Delete call-back requests and strip caller details from calls past their ages."""
    config = current_app.config
    try:
        report = retention.purge(
            db.session, now=now_utc(), dry_run=dry_run,
            callback_days=(config["RETENTION_CALLBACK_DAYS"] if callback_days is None
                           else callback_days),
            call_days=config["RETENTION_CALL_DAYS"] if call_days is None else call_days,
        )
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except ValueError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    except Exception:
        db.session.rollback()
        raise
    for line in report.lines():
        click.echo(line)
