"""``seed_all``: every seed source, in order, into one session (the caller commits)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from finder.calls.demo import DemoResult, seed_demo
from finder.directory.models import Service
from finder.guides.seed import GuideSeedResult, seed_guides
from finder.seeding import api_page, contacts, facilities, gazetteer, otp, readers, sync, taxonomy

SUBSTANCE_USE_FILE = "SubstanceUseTreatment_Geocoded.csv"
OTP_FILE = "OpioidTreatmentProgram_Geocoded.csv"
MENTAL_HEALTH_FILE = "MentalHealthProviders_Geocoded.csv"
API_FILE = "findtreatment_api_sample_2019.json"

STEPS = (
    "taxonomy",
    "ZIP gazetteer",
    "substance-use facilities",
    "opioid treatment programs",
    "phones and websites",
    "FindTreatment API sample",
    "writing facilities",
    "demo call routing",
    "substance guides",
)

Progress = Callable[[str], None]


class SeedError(RuntimeError):
    pass


@dataclass(frozen=True)
class SeedReport:
    categories: int
    services: int
    zips: gazetteer.GazetteerResult
    substance_use: facilities.SubstanceUseResult
    otp: otp.OtpResult
    contacts: contacts.ContactsResult
    api: api_page.ApiResult
    facilities: sync.FacilitySyncResult
    facility_total: int
    demo: DemoResult | None  #: None when the demo was not asked for (production)
    guides: GuideSeedResult

    def lines(self) -> list[str]:
        f, o, c, a, z = self.facilities, self.otp, self.contacts, self.api, self.zips
        lines = [
            f"Taxonomy: {self.categories} categories, {self.services} services.",
            f"ZIP codes: {z.total} in the gazetteer ({z.created} loaded, {z.updated} updated).",
            f"Substance-use file: {self.substance_use.rows} rows, "
            f"{self.substance_use.collapsed} repeated listings collapsed.",
            f"Opioid treatment programs: {o.rows} rows, {o.merged} merged with a facility, "
            f"{o.added} added, {o.repeated} repeating an added program.",
            f"Phones joined from the mental-health file: {c.phones} phones "
            f"({c.intake_phones} intake lines) and {c.websites} websites for "
            f"{c.matched} matching facilities.",
            f"FindTreatment API sample: {a.rows} rows, {a.merged} merged, {a.added} added, "
            f"{a.skipped_mental_health} mental-health-only skipped; {a.labels_mapped} service "
            f"labels mapped, {a.labels_unmapped} unmapped "
            f"({len(a.unmapped)} distinct).",
            f"Facilities: {f.created} created, {f.updated} updated, {f.unchanged} unchanged"
            + (f", {f.kept_verified} verified by an admin left alone" if f.kept_verified else "")
            + f" ({self.facility_total} from the seeds).",
            f"Service links: {f.links_added} added, {f.links_total} in all.",
        ]
        if a.unmapped:
            shown = ", ".join(
                f"{category} {label!r} ({n})" for (category, label), n in a.unmapped.most_common(20)
            )
            lines.append(f"Unmapped API labels (no code, not linked): {shown}.")
        if self.demo is None:
            lines.append("Demo call routing: not added (the default in production; "
                         "flask seed --demo adds the fictional pool and numbers).")
        else:
            lines.extend(self.demo.lines())
        lines.extend(self.guides.lines())
        return lines


def seed_all(session: Session, seeds_dir: Path, progress: Progress | None = None, *,
             demo: bool = True) -> SeedReport:
    """Load the taxonomy, ZIPs and facilities from ``seeds_dir``; idempotent.

    ``demo`` adds the fictional pool and tracking numbers: a production site leaves it out,
    or five real facilities' pages would show fictional 555 numbers that ring no one.
    """
    done = progress or (lambda _step: None)

    categories, services = taxonomy.sync_taxonomy(session, seeds_dir)
    otp_service = session.get(Service, otp.OTP_CODE)
    if otp_service is None or otp_service.category_code != "OT":
        raise SeedError(f"The taxonomy has no {otp.OTP_CODE} service in category OT.")
    label_index = taxonomy.LabelIndex.from_session(session, seeds_dir)
    done(STEPS[0])

    zips = gazetteer.sync_zip_codes(session)
    done(STEPS[1])

    directory = facilities.Directory()
    substance_use = facilities.load_substance_use(
        directory, readers.read_substance_use(seeds_dir / SUBSTANCE_USE_FILE)
    )
    done(STEPS[2])

    programs = otp.merge_opioid_programs(
        directory, readers.read_opioid_programs(seeds_dir / OTP_FILE)
    )
    done(STEPS[3])

    joined = contacts.join_mental_health_contacts(
        directory, readers.read_mental_health(seeds_dir / MENTAL_HEALTH_FILE)
    )
    done(STEPS[4])

    api = api_page.merge_api_page(
        directory, readers.read_api_page(seeds_dir / API_FILE), label_index
    )
    done(STEPS[5])

    written = sync.sync_facilities(session, directory)
    session.flush()
    done(STEPS[6])

    # After the facilities: the demo facility numbers ring real facilities' own phones.
    demo_result = seed_demo(session) if demo else None
    done(STEPS[7])

    guides = seed_guides(session)
    done(STEPS[8])

    return SeedReport(
        categories=categories,
        services=services,
        zips=zips,
        substance_use=substance_use,
        otp=programs,
        contacts=joined,
        api=api,
        facilities=written,
        facility_total=len(directory),
        demo=demo_result,
        guides=guides,
    )
