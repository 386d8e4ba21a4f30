"""The short substance guides ``flask seed`` adds, written for finder.

A guide is added only when no guide has its slug yet: once seeded, a guide belongs to the admins
who edit it, and running the seed again leaves their changes alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from finder.changes.record import record, snapshot
from finder.guides.models import Guide, GuideStatus

#: The day these texts were last checked; shown on the pages as "Last reviewed".
SEED_REVIEWED_ON = date(2026, 11, 21)
SEED_ACTOR = "flask seed"

_GET_HELP = """
## Getting help

- In a crisis, or if you are thinking about suicide, call or text **988** (Suicide & Crisis
  Lifeline), any time.
- In an emergency, such as someone who cannot be woken or is breathing slowly, call **911**.
- For free, confidential treatment referrals in English and Spanish, call the SAMHSA National
  Helpline at [1-800-662-4357](tel:+18006624357), 24 hours a day.
- You can also search finder for treatment near you, below.

This guide is general information, not medical advice. A doctor, nurse or pharmacist who knows
your situation can tell you what is safe for you.
"""

BENZODIAZEPINES = """
## What they are

Benzodiazepines are prescription medicines that slow down the brain and nervous system. Doctors
prescribe them for anxiety, panic attacks, seizures, muscle spasms and trouble sleeping, and to
treat alcohol withdrawal. Common ones include **clonazepam** (Klonopin), alprazolam (Xanax),
lorazepam (Ativan) and diazepam (Valium).

Used as prescribed for a short time, they help many people. Taken every day for more than a few
weeks, the body gets used to them, even at the prescribed dose. This is called physical
dependence, and it is not the same as addiction, but it means stopping takes care.

## Signs that use is becoming a problem

- Taking more, or more often, than prescribed, or running out early
- Getting pills from more than one prescriber, or without a prescription
- Taking them to feel high, or together with alcohol or opioids
- Drowsiness, confusion, memory gaps, slurred speech or unsteady walking
- Wanting to cut down and finding you can't

## Risks

- **Mixing is dangerous.** Benzodiazepines with opioids, alcohol or other sedating drugs can
  slow or stop breathing.
- Pills bought outside a pharmacy may be fake and can contain fentanyl.
- Naloxone does not reverse a benzodiazepine, but it can reverse the opioid part of a mixed
  overdose: if opioids may be involved, give it and call 911.

## Withdrawal: never stop suddenly without medical help

After regular use, stopping all at once can cause withdrawal: anxiety, poor sleep, shaking,
sweating and a racing heart. It can also cause **seizures**, confusion and hallucinations, which
can be life-threatening. A doctor can plan a slow, safe taper, usually over weeks or months,
and adjust it if symptoms get hard to bear.

## Treatment options

- A supervised taper with your own doctor or a treatment program
- Medically managed withdrawal (detox), in a clinic or hospital, for high doses or when other
  substances are involved
- Counseling, such as cognitive behavioral therapy, including help with the anxiety or sleep
  problems that led to the prescription
- Peer support groups, during and after treatment
"""

OPIOIDS = """
## What they are

Opioids include prescription pain relievers such as oxycodone, hydrocodone and morphine, as well
as heroin and fentanyl. Illegally made fentanyl is very strong and is now found in much of the
street drug supply, including fake pills made to look like prescription medicines.

## Signs of opioid use disorder

- Strong cravings, and using more or for longer than intended
- Needing more to get the same effect
- Withdrawal when not using: aches, chills, sweating, diarrhea, vomiting, anxiety
- Going on using despite harm to health, work or relationships

## Overdose: what to do

Signs include very small pupils, slow or stopped breathing, blue or gray lips, and not waking
up. **Call 911 and give naloxone** (Narcan) if you have it. Naloxone nasal spray is sold without
a prescription. Stay with the person; if they are breathing, turn them on their side.

## Medications for opioid use disorder

Medications are the most effective treatment for opioid use disorder. They lower the risk of
overdose and death and help people stay in treatment. Taking them is treatment, not trading
one addiction for another.

- **Methadone**: taken daily, given only at certified opioid treatment programs.
- **Buprenorphine**: a film or tablet under the tongue, or a weekly or monthly injection;
  many doctors, nurse practitioners and clinics can prescribe it, as well as opioid treatment
  programs.
- **Naltrexone**: a monthly injection; it can be started only after 7 to 10 days without
  opioids.

Counseling and peer support help too. Many people stay on medication for a long time, and that
is fine.

## Withdrawal and tolerance

Withdrawal is very unpleasant but rarely dangerous in itself; losing fluids from vomiting and
diarrhea can be. After days or weeks without opioids, tolerance drops: going back to a former
dose can cause an overdose. Medication makes withdrawal easier and protects against this.
"""

ALCOHOL = """
## What it is

Alcohol slows down the brain and body. Many adults drink without problems, but for some,
drinking becomes hard to control. Alcohol use disorder is a medical condition, and it can be
treated.

## Signs of alcohol use disorder

- Drinking more, or for longer, than you meant to
- Wanting to cut down or stop, and not managing to
- Cravings, or spending a lot of time drinking or recovering
- Going on drinking despite problems with health, family or work
- Needing more to feel the same, or feeling unwell when the alcohol wears off

## Withdrawal risks

For someone who drinks heavily every day, **stopping suddenly can be dangerous**. Withdrawal can
bring shaking, sweating, anxiety, nausea and trouble sleeping. In severe cases it causes
**seizures**, hallucinations or delirium tremens (the "DTs"), a medical emergency. Talk to a
doctor before you stop: medically managed withdrawal keeps it safe.

## Treatment options

- **Medications**: naltrexone, acamprosate and disulfiram are approved to treat alcohol use
  disorder; they reduce cravings or help people stay sober.
- Counseling, such as cognitive behavioral therapy and motivational interviewing
- Outpatient, intensive outpatient or residential programs
- Mutual support groups, during and after treatment
"""


@dataclass(frozen=True)
class SeedGuide:
    slug: str
    title: str
    summary: str
    body: str
    related_services: tuple[str, ...]


GUIDES = (
    SeedGuide(
        "benzodiazepines", "Benzodiazepines (such as clonazepam)",
        "What benzodiazepines are, signs that use is becoming a problem, why stopping suddenly "
        "is dangerous, and how treatment helps.",
        BENZODIAZEPINES + _GET_HELP, ("BDTX",),
    ),
    SeedGuide(
        "opioids-and-medications", "Opioids and medications for opioid use disorder",
        "Signs of opioid use disorder, what to do in an overdose, and how methadone, "
        "buprenorphine and naltrexone work.",
        OPIOIDS + _GET_HELP, ("OTP", "MOA"),
    ),
    SeedGuide(
        "alcohol", "Alcohol",
        "Signs of alcohol use disorder, the risks of stopping suddenly after heavy drinking, "
        "and the treatments that work.",
        ALCOHOL + _GET_HELP, ("ADTX",),
    ),
)


@dataclass
class GuideSeedResult:
    created: int = 0
    kept: int = 0

    def lines(self) -> list[str]:
        return [f"Substance guides: {self.created} created, {self.kept} already there "
                "(left as they are)."]


def seed_guides(session: Session) -> GuideSeedResult:
    """Add the guides whose slug is free, published; idempotent."""
    result = GuideSeedResult()
    existing = set(session.execute(
        sa.select(Guide.slug).where(Guide.slug.in_([g.slug for g in GUIDES]))
    ).scalars())
    for seed in GUIDES:
        if seed.slug in existing:
            result.kept += 1
            continue
        guide = Guide(slug=seed.slug, title=seed.title, summary=seed.summary,
                      body=seed.body.strip() + "\n", status=GuideStatus.PUBLISHED,
                      last_reviewed_on=SEED_REVIEWED_ON,
                      related_services=list(seed.related_services))
        session.add(guide)
        session.flush()
        record(session, actor=SEED_ACTOR, entity="guide", entity_id=guide.id, action="create",
               summary=f"Seeded guide {guide.title!r} ({guide.slug})", after=snapshot(guide))
        result.created += 1
    return result
