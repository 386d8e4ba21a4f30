"""Text clean-up and comparison keys shared by the seed readers and matchers."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACES = re.compile(r"\s+")
_ZIP = re.compile(r"^(\d{1,5})(?:\.0+)?(?:-(\d{1,4}))?$")


def clean(value: str | None) -> str | None:
    """Trimmed text with runs of spaces collapsed; None for empty values and R's ``NA``."""
    if value is None:
        return None
    text = _SPACES.sub(" ", value).strip()
    return text if text and text != "NA" else None


def match_text(value: str | None) -> str:
    """Case- and spacing-insensitive form used to compare names and streets across files."""
    return _SPACES.sub(" ", value or "").strip().casefold()


def zip5(value: str | None) -> str | None:
    """A 5-digit ZIP from ``"6708"``, ``"736"``, ``"06708"``, ``"6708.0"`` or ``"20602-1234"``.

    The source files stored ZIPs as numbers, which dropped the leading zeros of New England,
    New Jersey and Puerto Rico ZIPs.
    """
    match = _ZIP.match((clean(value) or "").strip())
    return match.group(1).zfill(5) if match else None


def zip4_of(value: str | None) -> str | None:
    """The 4-digit add-on of a ``"20602-1234"`` ZIP, if any."""
    match = _ZIP.match((clean(value) or "").strip())
    return match.group(2).zfill(4) if match and match.group(2) else None


def pad_zip4(value: str | None) -> str | None:
    """A 4-digit ZIP+4 add-on; ``"465"`` (leading zero lost) becomes ``"0465"``."""
    text = clean(value)
    if text is None:
        return None
    text = text.removesuffix(".0")
    return text.zfill(4) if text.isdigit() and len(text) <= 4 else None


def facility_key(name1: str | None, street1: str | None, zip_code: str | None) -> tuple:
    """The natural identity of a locator listing: normalized name, street and 5-digit ZIP."""
    return (match_text(name1), match_text(street1), zip_code or "")


def source_key(key: tuple, prefix: str = "") -> str:
    """A stable 40-character key for ``facility.source_key`` (sha1 of the natural key)."""
    return hashlib.sha1((prefix + "|".join(key)).encode("utf-8")).hexdigest()


# Street words written several ways, mapped to one spelling (only for matching, never stored).
# "St" is both "Street" and "Saint": both map to "st", which keeps "St. Francis St" equal to
# "Saint Francis Street".
_STREET_WORDS = {
    "street": "st", "str": "st", "saint": "st", "avenue": "ave", "av": "ave",
    "boulevard": "blvd", "blv": "blvd", "road": "rd", "drive": "dr", "lane": "ln", "court": "ct",
    "place": "pl", "parkway": "pkwy", "highway": "hwy", "circle": "cir", "terrace": "ter",
    "square": "sq", "pike": "pk", "turnpike": "tpke", "expressway": "expy", "freeway": "fwy",
    "trail": "trl", "plaza": "plz", "center": "ctr", "mount": "mt", "fort": "ft", "route": "rte",
    "rt": "rte", "north": "n", "south": "s", "east": "e", "west": "w", "northeast": "ne",
    "northwest": "nw", "southeast": "se", "southwest": "sw",
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5",
    "sixth": "6", "seventh": "7", "eighth": "8", "ninth": "9", "tenth": "10",
}
_UNIT = re.compile(r"\b(suite|ste|unit|bldg|building|room|rm|floor|fl|apt)\b.*$|#.*$")
_PO_BOX = re.compile(r"^p\s*o\s*box\b")


def street_key(street: str | None) -> str:
    """A loose street form for matching: "1124 International Blvd., Ste 2" and "1124
    International Boulevard" → "1124 international blvd". Drops the unit, a PO box before the
    street, a letter after the house number and ordinal suffixes."""
    parts = [p.strip() for p in re.sub(r"\.", " ", (street or "").lower()).split(",")]
    if len(parts) > 1 and _PO_BOX.match(parts[0]):
        parts = parts[1:]
    # "592-A Main", "592A Main", "592 A Main" (but not "592 N Main") → "592 Main"
    text = re.sub(r"^(\d+)(?:-?[a-z]|\s+[a-df-mo-rt-vx-z])(?=\s)", r"\1", parts[0])
    text = re.sub(r"[^a-z0-9# ]", " ", text.replace("'", ""))
    text = _UNIT.sub("", text)
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", r"\1", text)
    return " ".join(_STREET_WORDS.get(word, word) for word in text.split())


def house_number(street: str | None) -> str | None:
    match = re.match(r"\d+", street_key(street))
    return match.group() if match else None


# Words too common in treatment-program names to show that two names mean the same place.
_GENERIC_NAME_WORDS = frozenset(
    """a and at co corp for in inc llc llp lp ltd of pa pc pllc the to
    abuse addiction addictions alcohol associates behavioral care center centers clinic clinics
    community comprehensive counseling county department dept detox detoxification drug group
    health healthcare hospital inpatient maintenance management medical methadone opiate opioid
    otp outpatient program programs recovery rehabilitation residential services service
    substance system systems treatment wellness""".split()
)


def _name_words(name: str | None) -> list[str]:
    # "E.J.A.L." is one word, "Alc/Drug" two.
    return re.sub(r"[^a-z0-9 ]", " ", re.sub(r"[.']", "", (name or "").lower())).split()


def name_tokens(*names: str | None) -> frozenset[str]:
    """Distinctive words of facility names, for deciding whether two listings are one program."""
    words = [w for name in names for w in _name_words(name)]
    return frozenset(w for w in words if len(w) > 1 and w not in _GENERIC_NAME_WORDS)


_LEGAL_WORDS = frozenset("co corp inc llc llp lp ltd pa pc pllc the".split())


def compact_name(name: str | None) -> str:
    """A name with spacing, punctuation and legal suffixes removed: "Community Health Care,
    Inc" and "Community Healthcare Inc" both become "communityhealthcare"."""
    return "".join(w for w in _name_words(name) if w not in _LEGAL_WORDS)


def name_similarity(name: str | None, *others: str | None) -> int:
    """How strongly ``name`` looks like ``others`` (a facility's name1 and name2): the number of
    distinctive words they share, or 1 when one compact name begins the other ("Community
    Medical Services" and "Community Medical Services- Casa Grande"); 0 when unrelated."""
    shared = len(name_tokens(name) & name_tokens(*others))
    if shared:
        return shared
    mine = compact_name(name)
    for other in others:
        theirs = compact_name(other)
        if mine and theirs and (mine.startswith(theirs) or theirs.startswith(mine)):
            return 1
    return 0


def slugify(text: str, max_length: int = 180) -> str:
    """ASCII, lower-case, hyphenated; cut at a word boundary to ``max_length``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0]
    return slug or "facility"
