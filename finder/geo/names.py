"""Normalizing place names so "St. Louis", "Saint Louis" and "ST LOUIS" compare equal."""

import re

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
    "MP": "Northern Mariana Islands", "FM": "Micronesia", "MH": "Marshall Islands", "PW": "Palau",
    "AA": "Armed Forces Americas", "AE": "Armed Forces Europe", "AP": "Armed Forces Pacific",
}
_STATE_BY_NAME = {re.sub(r"[^a-z]", "", name.lower()): code for code, name in US_STATES.items()}

# Words written several ways in US place names, mapped to one spelling.
_WORD_FORMS = {
    "saint": "st", "st": "st", "ste": "ste", "sainte": "ste",
    "fort": "ft", "ft": "ft", "mount": "mt", "mt": "mt",
    "point": "pt", "pt": "pt", "port": "port",
}


def city_key(name: str) -> str:
    """A comparison key for a city name: lower case, no punctuation, one spelling of "Saint"."""
    words = re.sub(r"[^a-z0-9 ]", " ", name.lower().replace("'", "")).split()
    return " ".join(_WORD_FORMS.get(word, word) for word in words)


def state_code(text: str) -> str | None:
    """``"tx"``, ``"TX"``, ``"Texas"`` → ``"TX"``; None when it is not a US state or territory."""
    cleaned = text.strip().upper().replace(".", "")
    if cleaned in US_STATES:
        return cleaned
    return _STATE_BY_NAME.get(re.sub(r"[^a-z]", "", text.lower()))
