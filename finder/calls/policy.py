"""The routing policy: which advertiser answers a helpline call, and why. Pure: no I/O, no Flask.

Pool snapshot, usage, the caller's context and a clock go in; a ``Decision`` with every
candidate's verdict and the figures that decided the choice comes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from finder.calls.eligibility import EligibilityRules, Reason, check
from finder.calls.pool import AdvertiserSnapshot, AdvertiserUsage


class Rule(StrEnum):
    REPEAT_CALLER = "repeat_caller"  #: back to the advertiser this caller reached before
    TIER_WEIGHT = "tier_weight"  #: best tier, then the lowest calls-today-to-weight ratio
    NONE_ELIGIBLE = "none_eligible"  #: nobody may take the call: the SAMHSA helpline answers


@dataclass(frozen=True)
class CallerContext:
    state: str | None
    #: Which signal gave the state: area_code, zip, twilio_from_state or none.
    state_signal: str
    #: The advertiser this caller (same hashed number) reached within the repeat window, if any.
    previous_advertiser_id: int | None = None
    #: Advertisers already tried during this call (failover never rings them twice).
    already_tried: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Verdict:
    advertiser_id: int
    name: str
    eligible: bool
    reasons: tuple[Reason, ...]
    figures: dict

    def as_dict(self) -> dict:
        return {
            "advertiser_id": self.advertiser_id,
            "name": self.name,
            "eligible": self.eligible,
            "reasons": [str(reason) for reason in self.reasons],
            "figures": self.figures,
        }


@dataclass(frozen=True)
class Decision:
    chosen: AdvertiserSnapshot | None
    rule: Rule
    verdicts: tuple[Verdict, ...]
    caller: CallerContext
    decided_at: datetime
    explanation: str
    figures: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "chosen_advertiser_id": self.chosen.id if self.chosen else None,
            "chosen_name": self.chosen.name if self.chosen else None,
            "rule": str(self.rule),
            "explanation": self.explanation,
            "caller_state": self.caller.state,
            "state_signal": self.caller.state_signal,
            "decided_at": self.decided_at.isoformat(),
            "figures": self.figures,
            "candidates": [verdict.as_dict() for verdict in self.verdicts],
        }


def decide(
    pool: list[AdvertiserSnapshot],
    usage: dict[int, AdvertiserUsage],
    caller: CallerContext,
    now: datetime,
    rules: EligibilityRules | None = None,
) -> Decision:
    """Choose who answers. ``now`` must be timezone-aware."""
    if now.tzinfo is None:
        raise ValueError("the routing clock must be timezone-aware")
    rules = rules or EligibilityRules()
    verdicts: list[Verdict] = []
    eligible: list[AdvertiserSnapshot] = []
    for advertiser in sorted(pool, key=lambda a: (a.tier, a.id)):
        reasons, figures = check(
            advertiser, usage.get(advertiser.id, AdvertiserUsage()), caller.state, now, rules
        )
        if advertiser.id in caller.already_tried:
            reasons.append(Reason.ALREADY_TRIED)
        verdicts.append(
            Verdict(advertiser.id, advertiser.name, not reasons, tuple(reasons), figures)
        )
        if not reasons:
            eligible.append(advertiser)

    def decision(chosen, rule, explanation, figures=None) -> Decision:
        return Decision(chosen, rule, tuple(verdicts), caller, now, explanation, figures or {})

    if not eligible:
        return decision(
            None, Rule.NONE_ELIGIBLE, "No advertiser may take this call now; the SAMHSA "
            "National Helpline answers instead."
        )
    previous = next((a for a in eligible if a.id == caller.previous_advertiser_id), None)
    if previous is not None:
        return decision(
            previous, Rule.REPEAT_CALLER,
            f"Repeat caller: back to {previous.name}, reached before and still eligible.",
        )
    best_tier = min(a.tier for a in eligible)
    contenders = [a for a in eligible if a.tier == best_tier]

    def ratio(advertiser: AdvertiserSnapshot) -> Fraction:
        served = usage.get(advertiser.id, AdvertiserUsage()).calls_today
        return Fraction(served, max(advertiser.weight, 1))

    # Lowest calls-served-to-weight ratio today; ties go to the larger weight, then the lower id.
    chosen = min(contenders, key=lambda a: (ratio(a), -a.weight, a.id))
    ratios = {str(a.id): f"{usage.get(a.id, AdvertiserUsage()).calls_today}/{a.weight}"
              for a in contenders}
    return decision(
        chosen, Rule.TIER_WEIGHT,
        f"Tier {best_tier}: {chosen.name} had the lowest calls-today-to-weight ratio "
        f"({ratios[str(chosen.id)]}).",
        {"tier": best_tier, "ratios": ratios},
    )
