"""Reading location-box text without a database: ZIPs, coordinates, cities, street addresses."""

import math

import pytest

from finder.geo.address import (
    Reading,
    clean_query,
    parse_coordinates,
    parse_query,
    parse_zip,
    split_state,
)
from finder.geo.bounds import STATE_BOXES, in_us, states_containing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("78701", "78701"),
        (" 78701 ", "78701"),
        ("78701-1234", "78701"),
        ("787011234", "78701"),
        ("02138", "02138"),
        ("7870", None),
        ("787012", None),
        ("78701-12", None),
        ("Austin", None),
        ("", None),
    ],
)
def test_parse_zip(text, expected):
    assert parse_zip(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30.27, -97.74", (30.27, -97.74)),
        ("30.27,-97.74", (30.27, -97.74)),
        ("30.27 -97.74", (30.27, -97.74)),
        ("(30.27, -97.74)", (30.27, -97.74)),
        ("+30.27, -97.74", (30.27, -97.74)),
        ("30.27 N, 97.74 W", (30.27, -97.74)),
        ("30.27°N 97.74°W", (30.27, -97.74)),
        # "lon, lat" as the FindTreatment guide's text has it: only one order is valid or in the US.
        ("-97.74, 30.27", (30.27, -97.74)),
        ("-80.19, 25.76", (25.76, -80.19)),
        # Outside the US but valid as written: kept as written (the geocoder refuses it).
        ("51.5, -0.12", (51.5, -0.12)),
        ("-33.87, 151.21", (-33.87, 151.21)),
    ],
)
def test_parse_coordinates(text, expected):
    assert parse_coordinates(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    ["30 97", "78701", "Austin, TX", "30.27", "30.27, -97.74, 5", "200.5, 300.5", "abc, def",
     "30.27, -97.74 Austin", "95.0 S, 20.0 W"],
)
def test_not_coordinates(text):
    assert parse_coordinates(text) is None


def test_clean_query_strips_controls_and_collapses_whitespace():
    assert clean_query("  Austin,\tTX\n78701\x00 ") == "Austin, TX 78701"
    assert clean_query("Aus\u200btin\u202e, TX") == "Austin, TX"
    assert clean_query("Saint   Louis") == "Saint Louis"
    assert clean_query(None) == ""
    assert clean_query("\x07\x1b") == ""


def test_split_state_prefers_the_longest_state_name():
    assert split_state("Charleston West Virginia".split()) == (["Charleston"], "WV")
    assert split_state("Virginia Beach VA".split()) == (["Virginia", "Beach"], "VA")
    assert split_state("St. Louis Mo.".split()) == (["St.", "Louis"], "MO")
    assert split_state("Washington D.C.".split()) == (["Washington"], "DC")
    assert split_state("Austin".split()) == (["Austin"], None)


@pytest.mark.parametrize(
    ("text", "state", "city"),
    [
        ("Austin, TX", "TX", "Austin"),
        ("austin tx", "TX", "austin"),
        ("Austin Texas", "TX", "Austin"),
        ("AUSTIN, TEXAS", "TX", "AUSTIN"),
        ("Saint Louis, MO", "MO", "Saint Louis"),
        ("St. Louis, MO", "MO", "St. Louis"),
        ("st louis mo", "MO", "st louis"),
        ("Austin, Texas, USA", "TX", "Austin"),
        ("Austin", None, "Austin"),
        ("Kansas City Kansas", "KS", "Kansas City"),
    ],
)
def test_city_and_state(text, state, city):
    parsed = parse_query(text)
    assert parsed.zip is None and parsed.coordinates is None
    assert parsed.state == state
    assert parsed.readings[0] == Reading(city=city)
    assert not parsed.state_only


def test_a_zip_alone_or_with_plus_four():
    assert parse_query("78701").zip == "78701"
    assert parse_query("78701-1234").readings == ()
    assert parse_query(" 30.27, -97.74 ").coordinates == pytest.approx((30.27, -97.74))


def test_city_state_and_zip():
    parsed = parse_query("Austin, TX 78701-1234")
    assert (parsed.zip, parsed.state, parsed.readings) == ("78701", "TX", (Reading("Austin"),))


def test_street_address_with_commas_and_zip():
    parsed = parse_query("1014 East Market Street, Charlottesville, VA 22902")
    assert parsed.zip == "22902"
    assert parsed.state == "VA"
    assert parsed.readings == (
        Reading(city="Charlottesville", street="1014 East Market Street"),
    )


def test_street_address_with_units_and_no_zip():
    parsed = parse_query("600 Saint Clair Avenue Building 9 Suite 23, Huntsville AL")
    assert parsed.zip is None
    assert parsed.state == "AL"
    assert parsed.readings == (
        Reading(city="Huntsville", street="600 Saint Clair Avenue Building 9 Suite 23"),
    )


def test_street_address_without_commas_offers_every_city_split():
    parsed = parse_query("1014 east market street charlottesville va 22902")
    assert parsed.zip == "22902" and parsed.state == "VA"
    # Longest city first; the gazetteer keeps the first that exists. Lower-case streets are
    # capitalized for the label.
    assert parsed.readings[-1] == Reading("charlottesville", "1014 East Market Street")
    assert [len(r.city.split()) for r in parsed.readings] == [4, 3, 2, 1]
    assert all(not any(c.isdigit() for c in r.city) for r in parsed.readings)


def test_a_city_starting_with_st_is_also_read_whole():
    parsed = parse_query("St Paul MN")
    assert parsed.readings[0] == Reading("St Paul")
    assert parsed.readings[1] == Reading("Paul", "St")


def test_a_state_alone_is_a_city_name_with_a_state_hint():
    parsed = parse_query("Texas")
    assert parsed.state_only and parsed.state == "TX"
    assert parsed.readings == (Reading("Texas"),)
    new_york = parse_query("New York")
    assert new_york.state_only and new_york.readings == (Reading("New York"),)


def test_military_state_is_recognized():
    assert parse_query("Apo, AE 09001").state == "AE"


def test_parse_query_never_raises_on_odd_text():
    for text in ["", ",,,", "   ", "12", "-", "#", "1 2 3 4 5 6", "TX TX TX", "°", "..."]:
        parse_query(text)


def test_state_boxes_cover_the_states_and_nothing_far_away():
    assert len(STATE_BOXES) == 52  # 50 states, DC and Puerto Rico
    assert in_us(30.2713, -97.7426)  # Austin
    assert in_us(21.3069, -157.8583)  # Honolulu
    assert in_us(61.2181, -149.9003)  # Anchorage
    assert in_us(52.83, 173.17)  # Attu, across the 180th meridian
    assert in_us(18.4655, -66.1057)  # San Juan
    assert "DC" in states_containing(38.8951, -77.0364)
    for latitude, longitude in [(0, 0), (51.5, -0.12), (19.43, -99.13), (-33.87, 151.21),
                                (49.28, -123.12), (13.44, 144.79)]:  # ... Guam is not listed
        assert not in_us(latitude, longitude)
    assert not in_us(math.nan, -97.0)
