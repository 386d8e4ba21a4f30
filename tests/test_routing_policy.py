"""The pure routing policy: eligibility, the choice, shares, midnight and DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finder.calls.eligibility import EligibilityRules, Reason, is_open, local_day_bounds
from finder.calls.policy import CallerContext, Rule, decide
from finder.calls.pool import (
    AdvertiserSnapshot,
    AdvertiserUsage,
    Contract,
    Credential,
    OpeningHours,
    Weekday,
)

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)  # a Saturday, noon in Chicago
TX = CallerContext(state="TX", state_signal="area_code")


def advertiser(id_: int, **changes) -> AdvertiserSnapshot:
    base = AdvertiserSnapshot(
        id=id_,
        name=f"Example Recovery Center {id_} (fictional)",
        phone=f"+1512555010{id_ % 10}",
        city="Austin",
        state="TX",
        tier=1,
        weight=1,
        timezone="America/Chicago",
        hours=OpeningHours.always(),
        states_served=frozenset({"TX", "OK"}),
        license=Credential("TX-LIC-1", date(2027, 6, 30), "TX"),
        accreditation=Credential("JC-1", date(2027, 6, 30), "The Joint Commission"),
        certification=Credential("LEGIT-1", date(2027, 6, 30), "LegitScript"),
        contract=Contract(date(2026, 1, 1), date(2027, 12, 31), "per call"),
        consent_to_be_named=True,
        active=True,
    )
    return replace(base, **changes)


def reasons_for(adv, usage=None, caller=TX, now=NOW, rules=None):
    decision = decide([adv], {adv.id: usage or AdvertiserUsage()}, caller, now, rules)
    return set(decision.verdicts[0].reasons), decision


def test_an_eligible_advertiser_is_chosen_by_tier_and_weight():
    reasons, decision = reasons_for(advertiser(1))
    assert reasons == set()
    assert decision.chosen.id == 1
    assert decision.rule == Rule.TIER_WEIGHT


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"active": False}, Reason.INACTIVE),
        ({"license": Credential(None, None)}, Reason.LICENSE_MISSING),
        ({"license": Credential("X", date(2026, 11, 20), "TX")}, Reason.LICENSE_EXPIRED),
        ({"accreditation": Credential(None, date(2027, 1, 1))}, Reason.ACCREDITATION_MISSING),
        ({"accreditation": Credential("A", date(2025, 1, 1))}, Reason.ACCREDITATION_EXPIRED),
        ({"certification": Credential("C", None)}, Reason.CERTIFICATION_MISSING),
        ({"certification": Credential("C", date(2026, 11, 1))}, Reason.CERTIFICATION_EXPIRED),
        ({"contract": Contract(date(2026, 12, 1), None)}, Reason.CONTRACT_NOT_CURRENT),
        ({"contract": Contract(date(2025, 1, 1), date(2026, 11, 20))}, Reason.CONTRACT_NOT_CURRENT),
        ({"consent_to_be_named": False}, Reason.NO_CONSENT_TO_BE_NAMED),
        ({"states_served": frozenset({"CA"})}, Reason.STATE_NOT_SERVED),
        ({"hours": OpeningHours({Weekday.MON: ((time(9), time(17)),)})},
         Reason.OUTSIDE_BUSINESS_HOURS),
    ],
)
def test_each_failure_has_its_reason_and_is_never_chosen(changes, reason):
    reasons, decision = reasons_for(advertiser(1, **changes))
    assert reason in reasons
    assert decision.chosen is None
    assert decision.rule == Rule.NONE_ELIGIBLE


@pytest.mark.parametrize(
    ("caps", "usage", "reason"),
    [
        ({"daily_cap": 3}, AdvertiserUsage(calls_today=3), Reason.DAILY_CAP_REACHED),
        ({"monthly_cap": 10}, AdvertiserUsage(calls_this_month=10), Reason.MONTHLY_CAP_REACHED),
        ({"concurrent_cap": 1}, AdvertiserUsage(live_legs=1), Reason.CONCURRENT_CAP_REACHED),
    ],
)
def test_caps(caps, usage, reason):
    reasons, _ = reasons_for(advertiser(1, **caps), usage)
    assert reasons == {reason}
    below = replace(usage, calls_today=max(usage.calls_today - 1, 0),
                    calls_this_month=max(usage.calls_this_month - 1, 0),
                    live_legs=max(usage.live_legs - 1, 0))
    assert reasons_for(advertiser(1, **caps), below)[0] == set()


def test_answer_rate_over_the_last_twenty_calls():
    rules = EligibilityRules(min_answer_rate=0.5, answer_rate_window=20, answer_rate_min_calls=5)
    poor = AdvertiserUsage(recent_answers=(False,) * 11 + (True,) * 9 + (True,) * 30)
    assert Reason.ANSWER_RATE_TOO_LOW in reasons_for(advertiser(1), poor, rules=rules)[0]
    good = AdvertiserUsage(recent_answers=(True,) * 10 + (False,) * 10)
    assert reasons_for(advertiser(1), good, rules=rules)[0] == set()
    too_few = AdvertiserUsage(recent_answers=(False,) * 4)
    assert reasons_for(advertiser(1), too_few, rules=rules)[0] == set()


def test_unknown_caller_state_is_a_reason():
    reasons, _ = reasons_for(advertiser(1), caller=CallerContext(None, "none"))
    assert reasons == {Reason.CALLER_STATE_UNKNOWN}


def test_highest_tier_wins_then_weight_ratio():
    pool = [advertiser(1, tier=2, weight=10), advertiser(2, tier=1, weight=1),
            advertiser(3, tier=1, weight=3)]
    usage = {2: AdvertiserUsage(calls_today=1), 3: AdvertiserUsage(calls_today=2)}
    decision = decide(pool, usage, TX, NOW)
    assert decision.chosen.id == 3  # 2/3 < 1/1; tier 2 is never considered while tier 1 can answer
    assert decision.figures["ratios"] == {"2": "1/1", "3": "2/3"}


def test_repeat_caller_goes_back_if_still_eligible():
    pool = [advertiser(1, weight=5), advertiser(2)]
    repeat = CallerContext("TX", "area_code", previous_advertiser_id=2)
    assert decide(pool, {}, repeat, NOW).chosen.id == 2
    assert decide(pool, {}, repeat, NOW).rule == Rule.REPEAT_CALLER
    expired = [advertiser(1), advertiser(2, license=Credential("X", date(2020, 1, 1)))]
    assert decide(expired, {}, repeat, NOW).chosen.id == 1


def test_failover_never_rings_the_same_advertiser_twice():
    pool = [advertiser(1), advertiser(2)]
    caller = CallerContext("TX", "area_code", already_tried=frozenset({1}))
    decision = decide(pool, {}, caller, NOW)
    assert decision.chosen.id == 2
    assert Reason.ALREADY_TRIED in decision.verdicts[0].reasons


def test_naive_clock_is_refused():
    with pytest.raises(ValueError):
        decide([advertiser(1)], {}, TX, datetime(2026, 11, 21, 12))


def test_overnight_hours_cross_midnight():
    hours = OpeningHours({Weekday.FRI: ((time(22), time(2)),)})
    chicago = ZoneInfo("America/Chicago")
    assert is_open(hours, datetime(2026, 11, 20, 23, 30, tzinfo=chicago))  # Friday 23:30
    assert is_open(hours, datetime(2026, 11, 21, 1, 59, tzinfo=chicago))  # Saturday 01:59
    assert not is_open(hours, datetime(2026, 11, 21, 2, 0, tzinfo=chicago))
    assert not is_open(hours, datetime(2026, 11, 20, 21, 59, tzinfo=chicago))


def test_hours_are_read_in_the_advertisers_zone_across_dst():
    nine_to_five = OpeningHours({day: ((time(9), time(17)),) for day in Weekday})
    adv = advertiser(1, hours=nine_to_five, timezone="America/New_York")
    # 2026-11-01 is the end of DST in New York: 13:30 UTC is 08:30 EST (closed), 14:30 is 09:30.
    assert Reason.OUTSIDE_BUSINESS_HOURS in reasons_for(
        adv, now=datetime(2026, 11, 1, 13, 30, tzinfo=UTC))[0]
    assert reasons_for(adv, now=datetime(2026, 11, 1, 14, 30, tzinfo=UTC))[0] == set()
    # The day before (still EDT) 13:30 UTC is 09:30 local: open.
    assert reasons_for(adv, now=datetime(2026, 10, 31, 13, 30, tzinfo=UTC))[0] == set()


def test_local_day_is_25_hours_when_dst_ends():
    start, end = local_day_bounds("America/New_York", datetime(2026, 11, 1, 12, tzinfo=UTC))
    assert end - start == timedelta(hours=25)
    start, end = local_day_bounds("America/New_York", datetime(2026, 3, 8, 12, tzinfo=UTC))
    assert end - start == timedelta(hours=23)
    # 03:00 UTC on Nov 22 is still Nov 21 in Los Angeles.
    start, _ = local_day_bounds("America/Los_Angeles", datetime(2026, 11, 22, 3, tzinfo=UTC))
    assert start == datetime(2026, 11, 21, 8, tzinfo=UTC)


def test_credentials_expire_at_the_end_of_their_local_day():
    adv = advertiser(1, timezone="America/Los_Angeles",
                     license=Credential("CA-1", date(2026, 11, 21), "CA"),
                     states_served=frozenset({"TX"}))
    # 07:59 UTC Nov 22 is 23:59 Nov 21 in Los Angeles: still valid; an hour later it is not.
    assert reasons_for(adv, now=datetime(2026, 11, 22, 7, 59, tzinfo=UTC))[0] == set()
    assert Reason.LICENSE_EXPIRED in reasons_for(
        adv, now=datetime(2026, 11, 22, 8, 59, tzinfo=UTC))[0]


def simulate(pool, calls, caller=TX, now=NOW):
    usage = {a.id: AdvertiserUsage() for a in pool}
    served = dict.fromkeys(usage, 0)
    for _ in range(calls):
        decision = decide(pool, usage, caller, now)
        if decision.chosen is None:
            break
        chosen = decision.chosen.id
        served[chosen] += 1
        u = usage[chosen]
        usage[chosen] = replace(u, calls_today=u.calls_today + 1,
                                calls_this_month=u.calls_this_month + 1)
    return served


def test_shares_over_1000_calls_match_weights_within_two_points():
    pool = [advertiser(1, weight=5), advertiser(2, weight=3), advertiser(3, weight=2)]
    served = simulate(pool, 1000)
    for adv in pool:
        assert abs(served[adv.id] / 1000 - adv.weight / 10) <= 0.02


advertisers = st.builds(
    lambda id_, weight, tier, cap, expired, consent, active: advertiser(
        id_, weight=weight, tier=tier, daily_cap=cap, consent_to_be_named=consent, active=active,
        license=Credential("L", date(2026, 11, 20) if expired else date(2027, 1, 1)),
    ),
    st.integers(1, 10_000), st.integers(1, 20), st.integers(1, 3),
    st.one_of(st.none(), st.integers(0, 50)), st.booleans(), st.booleans(), st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(advertisers, min_size=1, max_size=6, unique_by=lambda a: a.id),
       st.integers(1, 300))
def test_property_never_ineligible_never_over_cap_shares_follow_weights(pool, calls):
    served = simulate(pool, calls)
    by_id = {a.id: a for a in pool}
    lawful = {a.id for a in pool if a.active and a.consent_to_be_named
              and a.license.expires_on >= NOW.date()}
    for adv_id, count in served.items():
        if adv_id not in lawful:
            assert count == 0
        cap = by_id[adv_id].daily_cap
        if cap is not None:
            assert count <= cap
    # Among the best tier's uncapped advertisers, shares track weights within one call's worth.
    if lawful:
        tier = min(by_id[i].tier for i in lawful)
        group = [by_id[i] for i in lawful if by_id[i].tier == tier and by_id[i].daily_cap is None]
        if group and len(group) == len([i for i in lawful if by_id[i].tier == tier]):
            total = sum(served[a.id] for a in group)
            weights = sum(a.weight for a in group)
            for adv in group:
                assert abs(served[adv.id] - total * adv.weight / weights) <= 1 + 1e-9
