"""``locate`` and ``place_from_point``: validation, labels, and the online-then-gazetteer chain."""

import logging
import math

import pytest
from geopy.adapters import URLLibAdapter
from geopy.exc import GeocoderServiceError, GeocoderTimedOut
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import SERVICE_TO_GEOCODER
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location

from finder.geo.place import (
    GENERIC_HINTS,
    Place,
    PlaceNotFound,
    Precision,
    geocoders,
    locate,
    place_from_point,
)
from tests.conftest import make_app
from tests.test_geocoder import add_rows

CHARLOTTESVILLE = Location(
    "1014, East Market Street, Downtown Mall, Charlottesville, Virginia, 22902, United States",
    (38.0305, -78.4777),
    {"place_id": 1},
)


class FakeGeocoder(Geocoder):
    """A stand-in for an online service: answers from ``answers`` and records every call."""

    answers: dict = {}
    instances: list = []

    def __init__(self, *, user_agent=None, timeout=DEFAULT_SENTINEL, api_key=None):
        super().__init__(user_agent=user_agent, timeout=timeout, adapter_factory=URLLibAdapter)
        self.api_key = api_key
        self.calls = []
        type(self).instances.append(self)

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL, country_codes=None):
        self.calls.append((query, country_codes))
        answer = type(self).answers.get(query)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def online_app(databases, migrated_template, monkeypatch):
    """An app whose GEOCODER is the fake online service, with a few gazetteer rows."""
    monkeypatch.setitem(SERVICE_TO_GEOCODER, "fake", FakeGeocoder)
    monkeypatch.setattr(FakeGeocoder, "answers", {})
    monkeypatch.setattr(FakeGeocoder, "instances", [])
    app = make_app(
        databases.new(template=migrated_template),
        GEOCODER="fake", GEOCODER_MIN_DELAY=0.0, GEOCODER_TIMEOUT=2.5,
        GEOCODER_USER_AGENT="finder-tests", GEOCODER_API_KEY="secret-key",
    )
    with app.app_context():
        add_rows()
        yield app
    with app.app_context():
        from finder.extensions import db

        db.engine.dispose()


@pytest.fixture
def online_log(monkeypatch, caplog):
    """Records ``finder.geo.online``'s log (Alembic's fileConfig disables existing loggers)."""
    monkeypatch.setattr(logging.getLogger("finder.geo.online"), "disabled", False)
    caplog.set_level(logging.INFO, logger="finder.geo.online")
    return caplog


@pytest.fixture
def ctx(app):
    with app.app_context():
        add_rows()
        yield app


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\t\n", None, "\x00\x07"])
def test_empty_query(ctx, query):
    with pytest.raises(PlaceNotFound) as error:
        locate(query)
    assert "ZIP code" in str(error.value) and "city" in str(error.value)
    assert error.value.suggestions == list(GENERIC_HINTS)


def test_too_long_query(ctx):
    with pytest.raises(PlaceNotFound) as error:
        locate("Austin, TX " + "x" * 200)
    assert "too long" in str(error.value)
    assert len(locate("  " + "78701" + " " * 300).label) > 0  # surrounding spaces don't count


def test_control_characters_are_stripped(ctx):
    assert locate("Austin,\x00 TX\n").label == "Austin, TX"
    assert locate("787\u200b01").zip == "78701"


def test_not_found_message_and_generic_hints(ctx):
    with pytest.raises(PlaceNotFound) as error:
        locate("qqqzzz")
    assert str(error.value) == "We couldn't find that place."
    assert error.value.query == "qqqzzz"
    assert error.value.suggestions[-2:] == list(GENERIC_HINTS)
    assert isinstance(error.value, ValueError)


def test_unknown_zip_is_not_found_with_nearby_zips(ctx):
    with pytest.raises(PlaceNotFound) as error:
        locate("22904")
    assert error.value.suggestions[:2] == ["Charlottesville, VA 22903", "Charlottesville, VA 22902"]
    for query in ["00000", "99999"]:
        with pytest.raises(PlaceNotFound):
            locate(query)


def test_misspelled_city_suggests_the_state_cities(ctx):
    with pytest.raises(PlaceNotFound) as error:
        locate("Huntsvile, AL")
    assert error.value.suggestions[0] == "Huntsville, AL"


def test_military_zip_is_refused(ctx):
    with pytest.raises(PlaceNotFound) as error:
        locate("09001")
    assert "APO/FPO" in str(error.value)


# -- places ------------------------------------------------------------------------------------


def test_zip_place(ctx):
    place = locate("78701")
    assert place == Place(
        label="Austin, TX 78701", latitude=30.2713, longitude=-97.7426,
        precision=Precision.ZIP, approximate=False, state="TX", zip="78701",
    )
    assert place.note is None


def test_city_place(ctx):
    place = locate("st louis mo")
    assert (place.label, place.precision, place.state, place.zip) == (
        "Saint Louis, MO", Precision.CITY, "MO", None
    )
    assert not place.approximate


def test_ambiguous_city_lists_alternatives(ctx):
    place = locate("Austin")
    assert place.state == "TX"
    assert place.alternatives == ("Austin, AR", "Austin, MN")


def test_address_place_is_approximate(ctx):
    place = locate("1014 East Market Street, Charlottesville, VA 22902")
    assert place.label == "1014 East Market Street, Charlottesville, VA 22902"
    assert (place.latitude, place.longitude) == (38.0266, -78.4805)
    assert place.precision is Precision.ZIP and place.approximate
    assert place.note == "Approximate: distances are measured from the centre of ZIP 22902."
    city_level = locate("600 Saint Clair Avenue Building 9 Suite 23, Huntsville AL")
    assert city_level.precision is Precision.CITY and city_level.approximate
    assert city_level.note == "Approximate: distances are measured from the centre of the city."


def test_typed_coordinates(ctx):
    place = locate("30.27, -97.74")
    assert place.precision is Precision.COORDINATES and not place.approximate
    assert (place.latitude, place.longitude) == (30.27, -97.74)
    assert place.label == "30.27, -97.74 (near Austin, TX)"
    with pytest.raises(PlaceNotFound) as error:
        locate("51.5, -0.12")
    assert "outside the United States" in str(error.value)


def test_place_from_point(ctx):
    place = place_from_point(30.27, -97.74)
    assert place.label == "your location (near Austin, TX)"
    assert place.precision is Precision.COORDINATES and not place.approximate
    assert place.state == "TX" and place.zip is None
    far = place_from_point(44.0, -110.0)  # nothing in the test rows within 25 miles
    assert far.label == "your location" and far.state is None


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(91, 0), (-90.5, 0), (0, 180.1), (0, -181), (math.nan, 0), (0, math.inf), ("x", 0),
     (None, 0), (True, 0)],
)
def test_place_from_point_validates(ctx, latitude, longitude):
    with pytest.raises(ValueError):
        place_from_point(latitude, longitude)


def test_place_from_point_accepts_the_edges(ctx):
    assert place_from_point(90, 180).label == "your location"
    assert place_from_point(-90, -180).latitude == -90


def test_offline_config_builds_no_online_geocoder(ctx):
    locate("78701")
    chain = geocoders()
    assert chain.online is None
    assert geocoders() is chain  # built once per app


# -- the online chain --------------------------------------------------------------------------


def test_online_geocoder_is_built_once_with_the_config(online_app):
    FakeGeocoder.answers["Austin, TX"] = None
    locate("Austin, TX")
    locate("Austin, TX")
    assert len(FakeGeocoder.instances) == 1
    fake = FakeGeocoder.instances[0]
    assert fake.timeout == 2.5
    assert fake.headers["User-Agent"] == "finder-tests"
    assert fake.api_key == "secret-key"
    assert fake.calls == [("Austin, TX", "us"), ("Austin, TX", "us")]
    call = geocoders().online.call
    assert isinstance(call, RateLimiter)
    assert (call.max_retries, call.swallow_exceptions) == (0, False)


def test_online_answer_is_used(online_app):
    query = "1014 East Market Street, Charlottesville, VA 22902"
    FakeGeocoder.answers[query] = CHARLOTTESVILLE
    place = locate(query)
    assert place.precision is Precision.ADDRESS and not place.approximate
    assert (place.latitude, place.longitude) == (38.0305, -78.4777)
    assert place.label == (
        "1014, East Market Street, Downtown Mall, Charlottesville, Virginia, 22902"
    )
    assert (place.state, place.zip) == ("VA", "22902")
    assert place.note is None


def test_online_answer_without_state_gets_the_nearest_zips_state(online_app):
    FakeGeocoder.answers["Downtown Austin"] = Location("Downtown", (30.268, -97.742), {})
    place = locate("Downtown Austin")
    assert (place.state, place.zip) == ("TX", None)


@pytest.mark.parametrize(
    "failure",
    [GeocoderTimedOut("timed out"), GeocoderServiceError("503"), ConnectionResetError(), None],
)
def test_online_failure_falls_back_to_the_gazetteer(online_app, failure, online_log):
    query = "1014 East Market Street, Charlottesville, VA 22902"
    FakeGeocoder.answers[query] = failure
    place = locate(query)
    assert FakeGeocoder.instances[0].calls == [(query, "us")]
    assert place.precision is Precision.ZIP and place.approximate
    assert (place.latitude, place.longitude) == (38.0266, -78.4805)
    if failure is not None:
        assert "using the gazetteer" in online_log.text


def test_online_answer_outside_the_us_is_ignored(online_app):
    FakeGeocoder.answers["Charlottesville, VA"] = Location(
        "Charlottesville, Jamaica", (18.0, -76.8), {}
    )
    place = locate("Charlottesville, VA")
    assert place.label == "Charlottesville, VA" and place.precision is Precision.CITY


def test_zips_and_coordinates_skip_the_online_geocoder(online_app):
    assert locate("78701").precision is Precision.ZIP
    assert locate("30.27, -97.74").precision is Precision.COORDINATES
    assert FakeGeocoder.instances[0].calls == []


def test_online_miss_and_gazetteer_miss_is_not_found(online_app):
    with pytest.raises(PlaceNotFound) as error:
        locate("Nowhere Special")
    assert str(error.value) == "We couldn't find that place."
    assert FakeGeocoder.instances[0].calls == [("Nowhere Special", "us")]


def test_unknown_geocoder_name_leaves_the_gazetteer(app, online_log):
    app.config["GEOCODER"] = "no-such-service"
    with app.app_context():
        add_rows()
        assert locate("78701").zip == "78701"
        assert geocoders().online is None
    assert "no-such-service" in online_log.text


# -- the real gazetteer ------------------------------------------------------------------------


def test_national_locate(national_app):
    with national_app.app_context():
        assert locate("78701").label == "Austin, TX 78701"
        assert locate("Austin Texas").label == "Austin, TX"
        assert locate("St. Louis, MO").label == "Saint Louis, MO"
        austin = locate("Austin")
        assert austin.state == "TX" and "Austin, MN" in austin.alternatives
        assert place_from_point(38.03, -78.48).label == "your location (near Charlottesville, VA)"
        with pytest.raises(PlaceNotFound) as error:
            locate("Charlotesville, VA")
        assert "Charlottesville, VA" in error.value.suggestions
        with pytest.raises(PlaceNotFound) as error:
            locate("78706")  # not a ZIP; 78705, then 78704 and 78708 (ties: lower first)
        assert error.value.suggestions[:3] == [
            "Austin, TX 78705", "Austin, TX 78704", "Austin, TX 78708"
        ]
