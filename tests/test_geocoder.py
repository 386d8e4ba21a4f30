"""The offline gazetteer geocoder: geopy's interface over ``zip_code`` rows."""


import pytest
from geopy.geocoders.base import Geocoder
from geopy.location import Location
from sqlalchemy.orm import Session

from finder.extensions import db
from finder.geo.geocoder import (
    MILITARY_MESSAGE,
    NOT_FOUND,
    OUTSIDE_US_MESSAGE,
    GazetteerGeocoder,
    GazetteerMiss,
)
from finder.geo.models import ZipCode
from finder.geo.names import city_key

# Real rows of the gazetteer (zipcodes package, GeoNames coordinates).
ROWS = [
    ("78701", "STANDARD", "Austin", "TX", 30.2713, -97.7426),
    ("78702", "STANDARD", "Austin", "TX", 30.2638, -97.7166),
    ("78767", "PO BOX", "Austin", "TX", 30.2672, -97.7431),
    ("73301", "UNIQUE", "Austin", "TX", 30.3264, -97.7713),
    ("55912", "STANDARD", "Austin", "MN", 43.6695, -92.9784),
    ("72007", "STANDARD", "Austin", "AR", 34.9921, -91.9798),
    ("63101", "STANDARD", "Saint Louis", "MO", 38.6346, -90.1913),
    ("63102", "STANDARD", "Saint Louis", "MO", 38.6352, -90.1864),
    ("22901", "STANDARD", "Charlottesville", "VA", 38.0936, -78.5611),
    ("22902", "STANDARD", "Charlottesville", "VA", 38.0266, -78.4805),
    ("22903", "STANDARD", "Charlottesville", "VA", 38.0339, -78.4924),
    ("22945", "PO BOX", "Ivy", "VA", 38.0654, -78.5958),
    ("35801", "STANDARD", "Huntsville", "AL", 34.7269, -86.5673),
    ("35806", "STANDARD", "Huntsville", "AL", 34.7448, -86.6704),
    ("09001", "MILITARY", "Apo", "AE", 0.0, 0.0),
    ("96201", "MILITARY", "Apo", "AP", 0.0, 0.0),
]


def add_rows(rows=ROWS):
    db.session.add_all(
        ZipCode(
            zip=zip5, zip_type=zip_type, city=city, city_key=city_key(city), state=state,
            county=None, latitude=lat, longitude=lon, timezone=None, active=True,
        )
        for zip5, zip_type, city, state, lat, lon in rows
    )
    db.session.commit()


@pytest.fixture
def gazetteer(app):
    with app.app_context():
        add_rows()
        yield GazetteerGeocoder()


def test_it_is_a_geopy_geocoder(gazetteer):
    assert isinstance(gazetteer, Geocoder)


@pytest.mark.parametrize("query", ["78701", "78701-1234", " 78701 ", "Austin, TX 78701"])
def test_zip(gazetteer, query):
    location = gazetteer.geocode(query)
    assert isinstance(location, Location)
    assert (location.latitude, location.longitude) == (30.2713, -97.7426)
    assert location.address == "Austin, TX 78701"
    assert location.raw["precision"] == "zip"
    assert location.raw["approximate"] is False
    assert (location.raw["state"], location.raw["zip"]) == ("TX", "78701")


def test_po_box_and_unique_zips_have_their_post_office_location(gazetteer):
    po_box = gazetteer.geocode("78767")
    assert (po_box.latitude, po_box.longitude) == (30.2672, -97.7431)
    assert po_box.raw["zip_type"] == "PO BOX"
    assert gazetteer.geocode("73301").address == "Austin, TX 73301"


@pytest.mark.parametrize("query", ["00000", "99999", "78799"])
def test_unknown_zip_is_not_found(gazetteer, query):
    assert gazetteer.geocode(query) is None
    with pytest.raises(GazetteerMiss) as miss:
        gazetteer.resolve(query)
    assert miss.value.message == NOT_FOUND


def test_unknown_zip_suggests_nearby_zips_with_the_same_prefix(gazetteer):
    with pytest.raises(GazetteerMiss) as miss:
        gazetteer.resolve("78705")
    # 78701 and 78702 are STANDARD, 78767 a PO box: numerically closest first.
    assert miss.value.suggestions == ["Austin, TX 78702", "Austin, TX 78701", "Austin, TX 78767"]


@pytest.mark.parametrize("query", ["09001", "96201", "Apo, AE", "Apo AE 09001"])
def test_military_zips_are_refused(gazetteer, query):
    assert gazetteer.geocode(query) is None
    with pytest.raises(GazetteerMiss) as miss:
        gazetteer.resolve(query)
    assert miss.value.message == MILITARY_MESSAGE


def test_city_centroid_is_the_mean_of_standard_zips(gazetteer):
    location = gazetteer.geocode("Austin, TX")
    # 78701 and 78702 only: the PO box and the unique ZIP do not pull the centre.
    assert location.latitude == pytest.approx((30.2713 + 30.2638) / 2)
    assert location.longitude == pytest.approx((-97.7426 + -97.7166) / 2)
    assert location.address == "Austin, TX"
    assert location.raw["precision"] == "city"
    assert location.raw["approximate"] is False
    assert location.raw["zip"] is None


def test_a_city_with_only_po_boxes_uses_them(gazetteer):
    location = gazetteer.geocode("Ivy, VA")
    assert (location.latitude, location.longitude) == (38.0654, -78.5958)


@pytest.mark.parametrize(
    "query",
    ["Austin, TX", "austin tx", "Austin Texas", "AUSTIN, TEXAS", "Austin, Tx.", "Austin, TX, USA"],
)
def test_city_and_state_spellings(gazetteer, query):
    assert gazetteer.geocode(query).address == "Austin, TX"


@pytest.mark.parametrize("query", ["Saint Louis, MO", "St. Louis, MO", "st louis mo", "ST LOUIS"])
def test_saint_louis_spellings_use_the_gazetteer_spelling(gazetteer, query):
    location = gazetteer.geocode(query)
    assert location.address == "Saint Louis, MO"
    assert location.latitude == pytest.approx((38.6346 + 38.6352) / 2)


def test_city_without_state_picks_the_state_with_most_zips(gazetteer):
    location = gazetteer.geocode("Austin")
    assert location.raw["state"] == "TX"
    # AR and MN have one ZIP each: alphabetical among equals.
    assert location.raw["alternatives"] == ["Austin, AR", "Austin, MN"]
    every = gazetteer.geocode("Austin", exactly_one=False)
    assert [loc.address for loc in every] == ["Austin, TX", "Austin, AR", "Austin, MN"]
    assert every[2].latitude == 43.6695


def test_city_without_state_in_one_state(gazetteer):
    location = gazetteer.geocode("charlottesville")
    assert location.address == "Charlottesville, VA"
    assert location.raw["alternatives"] == []


def test_address_with_zip_resolves_to_the_zip_centre(gazetteer):
    location = gazetteer.geocode("1014 East Market Street, Charlottesville, VA 22902")
    assert (location.latitude, location.longitude) == (38.0266, -78.4805)
    assert location.address == "1014 East Market Street, Charlottesville, VA 22902"
    assert location.raw["precision"] == "zip"
    assert location.raw["approximate"] is True
    assert location.raw["street"] == "1014 East Market Street"


def test_address_without_commas(gazetteer):
    location = gazetteer.geocode("1014 east market street charlottesville va 22902-1234")
    assert location.address == "1014 East Market Street, Charlottesville, VA 22902"


def test_address_without_zip_resolves_to_the_city_centre(gazetteer):
    location = gazetteer.geocode("600 Saint Clair Avenue Building 9 Suite 23, Huntsville AL")
    assert location.latitude == pytest.approx((34.7269 + 34.7448) / 2)
    assert location.address == "600 Saint Clair Avenue Building 9 Suite 23, Huntsville, AL"
    assert location.raw["precision"] == "city"
    assert location.raw["approximate"] is True
    no_commas = gazetteer.geocode("600 Saint Clair Ave Huntsville AL")
    assert no_commas.address == "600 Saint Clair Ave, Huntsville, AL"


def test_address_with_an_unknown_zip_falls_back_to_its_city(gazetteer):
    location = gazetteer.geocode("1014 East Market Street, Charlottesville, VA 22999")
    assert location.raw["precision"] == "city"
    assert location.address == "1014 East Market Street, Charlottesville, VA"


def test_coordinates(gazetteer):
    location = gazetteer.geocode("30.27, -97.74")
    assert (location.latitude, location.longitude) == (30.27, -97.74)
    assert location.address == "30.27, -97.74 (near Austin, TX)"
    assert location.raw["precision"] == "coordinates"
    assert location.raw["approximate"] is False


def test_coordinates_outside_the_us_are_refused(gazetteer):
    with pytest.raises(GazetteerMiss) as miss:
        gazetteer.resolve("51.5, -0.12")
    assert miss.value.message == OUTSIDE_US_MESSAGE


def test_misspelled_city_suggests_similar_cities_in_the_state(gazetteer):
    assert gazetteer.geocode("Charlotesville, VA") is None
    with pytest.raises(GazetteerMiss) as miss:
        gazetteer.resolve("Charlotesville, VA")
    assert miss.value.message == NOT_FOUND
    assert miss.value.suggestions == ["Charlottesville, VA"]


def test_misspelled_city_without_state_suggests_across_states(gazetteer):
    with pytest.raises(GazetteerMiss) as miss:
        gazetteer.resolve("Austn")
    assert miss.value.suggestions == ["Austin, AR", "Austin, MN", "Austin, TX"]


def test_a_state_alone_suggests_its_cities(gazetteer):
    add_rows([("75201", "STANDARD", "Dallas", "TX", 32.7904, -96.8044)])
    with pytest.raises(GazetteerMiss) as miss:
        gazetteer.resolve("Texas")
    assert miss.value.message.startswith("Which part of Texas?")
    assert miss.value.suggestions == ["Austin, TX", "Dallas, TX"]


def test_a_state_with_one_city_is_that_city(gazetteer):
    add_rows([("20001", "STANDARD", "Washington", "DC", 38.9109, -77.0163)])
    assert gazetteer.geocode("DC").address == "Washington, DC"
    assert gazetteer.geocode("District of Columbia").raw["precision"] == "city"


def test_nonsense_is_not_found(gazetteer):
    for query in ["", "qqqqzzzz", "Austin, ZZ 1"]:
        assert gazetteer.geocode(query) is None


def test_reverse_finds_the_nearest_zip(gazetteer):
    location = gazetteer.reverse("30.27, -97.74")
    assert location.raw["zip"] == "78701"
    assert location.raw["distance_miles"] < 1
    assert gazetteer.reverse((51.5, -0.12)) is None
    nearest = gazetteer.nearest(30.33, -97.77)
    assert nearest[0].zip == "73301" and nearest[1] < 0.5


@pytest.mark.parametrize("kind", ["session", "scoped", "callable"])
def test_session_argument_forms(app, kind):
    with app.app_context():
        add_rows()
        source = {
            "session": db.session(),
            "scoped": db.session,
            "callable": lambda: db.session(),
        }[kind]
        geocoder = GazetteerGeocoder(source)
        assert isinstance(geocoder.session, Session)
        assert geocoder.geocode("78701").raw["zip"] == "78701"


# -- the real gazetteer, seeded by `flask seed` ------------------------------------------------


def test_national_zip_city_and_address(national_app):
    with national_app.app_context():
        geocoder = GazetteerGeocoder()
        assert geocoder.geocode("78701").address == "Austin, TX 78701"
        assert geocoder.geocode("St. Louis, MO").address == "Saint Louis, MO"
        address = geocoder.geocode("1014 East Market Street, Charlottesville, VA 22902")
        assert address.raw["approximate"] is True and address.raw["zip"] == "22902"
        huntsville = geocoder.geocode("600 Saint Clair Avenue Building 9 Suite 23, Huntsville AL")
        assert huntsville.raw["state"] == "AL" and huntsville.raw["precision"] == "city"
        assert 34.6 < huntsville.latitude < 34.9


def test_national_ambiguous_and_missing(national_app):
    with national_app.app_context():
        geocoder = GazetteerGeocoder()
        austin = geocoder.geocode("Austin")
        assert austin.raw["state"] == "TX"
        assert "Austin, MN" in austin.raw["alternatives"]
        for query in ["00000", "99999", "09001"]:
            assert geocoder.geocode(query) is None
