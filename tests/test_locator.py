"""The FindTreatment.gov-compatible /locator/exportsAsJson/v2, checked against the guide and
against a real 2019 response of SAMHSA's locator (seeds/findtreatment_api_sample_2019.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finder.api.errors import ApiError
from finder.api.findtreatment import STATE_IDS, parse_saddr
from finder.api.serializers import locator_phone
from finder.directory.models import Facility, Service
from finder.extensions import db
from finder.geo.distance import METERS_PER_MILE, haversine_miles
from finder.geo.names import US_STATES
from finder.seeding.normalize import facility_key
from finder.seeding.taxonomy import LabelIndex, codes_for_labels, split_labels

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SAMPLE = json.loads((SEEDS / "findtreatment_api_sample_2019.json").read_text(encoding="utf-8"))
SAMPLE_ROWS = SAMPLE["rows"]
ORIGIN = f'{SAMPLE_ROWS[0]["latitude"]},{SAMPLE_ROWS[0]["longitude"]}'
ORIGIN_LAT, ORIGIN_LON = float(SAMPLE_ROWS[0]["latitude"]), float(SAMPLE_ROWS[0]["longitude"])
#: The first row is 0.24 miles from the sample's own origin: one mile more covers every row.
SAMPLE_METERS = (max(row["miles"] for row in SAMPLE_ROWS) + 1) * METERS_PER_MILE
PATH = "/locator/exportsAsJson/v2"


def locate(client, **params):
    response = client.get(PATH, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def near(client, meters=20000, **params):
    return locate(client, sAddr=ORIGIN, limitType=2, limitValue=meters, **params)


def refused(client, **params):
    response = client.get(PATH, query_string=params)
    assert response.status_code == 400, response.get_data(as_text=True)
    return response.get_json()["error"]


def row_key(row: dict) -> tuple:
    return facility_key(row["name1"], row["street1"], row["zip"])


def service_labels() -> dict[str, tuple[str, str]]:
    """Each service code's (category code, label). Needs an app context."""
    return {s.code: (s.category_code, s.label) for s in db.session.scalars(db.select(Service))}


# -- the 2019 sample as a fixture ----------------------------------------------------------------


def _types(rows: list[dict], key: str) -> set[type]:
    return {type(row[key]) for row in rows}


def test_top_level_shape_matches_the_sample(client):
    body = near(client)
    assert list(body) == list(SAMPLE)
    for key in SAMPLE:
        assert type(body[key]) is type(SAMPLE[key])


def test_rows_have_the_samples_keys_order_and_types(client):
    rows = near(client, meters=SAMPLE_METERS, pageSize=2000)["rows"]
    assert rows
    sample_keys = list(SAMPLE_ROWS[0])
    assert all(list(row) == sample_keys for row in SAMPLE_ROWS)  # the fixture is uniform
    # Unknown phones and websites stay null, as in the guide's own sample (never invented).
    nullable = {"phone", "intake1", "website"}
    for row in rows:
        assert list(row) == sample_keys
        for key in sample_keys:
            allowed = _types(SAMPLE_ROWS, key) | ({type(None)} if key in nullable else set())
            assert type(row[key]) in allowed, (key, row[key])
        for service in row["services"]:
            assert list(service) == ["f1", "f2", "f3"]
            assert all(isinstance(value, str) and value for value in service.values())
        assert row["typeFacility"] == "SA"
        assert row["hotline1"] is None
        assert float(row["latitude"]) and float(row["longitude"])
        assert row["miles"] == round(row["miles"], 2)
    phones = [row["phone"] for row in rows if row["phone"]]
    assert phones
    for phone in phones:
        assert phone[:12].count("-") == 2 and phone[:3].isdigit()
    assert [row["_irow"] for row in rows] == list(range(1, len(rows) + 1))


@pytest.fixture(scope="module")
def sample_in_directory(national_app):
    """The sample's rows the seeded directory holds, with the (category, label) of the service
    codes their labels map to."""
    with national_app.app_context():
        index = LabelIndex.from_session(db.session, SEEDS)
        zips = {row["zip"] for row in SAMPLE_ROWS}
        facilities = db.session.scalars(db.select(Facility).where(Facility.zip.in_(zips)))
        keys = {facility_key(f.name1, f.street1, f.zip) for f in facilities}
        labels = service_labels()
    found: dict[tuple, tuple[dict, list]] = {}
    for row in SAMPLE_ROWS:
        if row_key(row) not in keys:
            continue
        _, services = found.setdefault(row_key(row), (row, []))
        # Only substance-use rows describe the facility finder lists (mental-health rows
        # describe another program at the same address).
        if row["typeFacility"] == "SA":
            services += [
                labels[code]
                for group in row["services"]
                for code in codes_for_labels(index, group["f2"], split_labels(group["f3"])).codes
            ]
    return found


def test_sample_facilities_come_back_at_the_samples_centre(client, sample_in_directory):
    sa_rows = [row for row in SAMPLE_ROWS if row["typeFacility"] == "SA"]
    found_sa = [row for row in sa_rows if row_key(row) in sample_in_directory]
    # finder lists substance-use facilities: the sample's SA rows are all in the directory.
    assert len(found_sa) == len(sa_rows)
    body = near(client, meters=SAMPLE_METERS, pageSize=2000)
    assert body["recordCount"] == len(body["rows"]) >= len(sample_in_directory)
    ours = {row_key(row): row for row in body["rows"]}
    for key, (sample, _) in sample_in_directory.items():
        row = ours[key]
        assert (row["city"], row["state"]) == (sample["city"], sample["state"])
        assert row["miles"] == pytest.approx(
            haversine_miles(ORIGIN_LAT, ORIGIN_LON, float(row["latitude"]),
                            float(row["longitude"])), abs=0.006)


def test_sample_services_round_trip_as_labels(client, sample_in_directory):
    body = near(client, meters=SAMPLE_METERS, pageSize=2000)
    ours = {row_key(row): row for row in body["rows"]}
    compared = 0
    for key, (_, services) in sample_in_directory.items():
        offered = {
            (group["f2"], label)
            for group in ours[key]["services"]
            for label in split_labels(group["f3"])
        }
        assert set(services) <= offered
        compared += len(services)
    assert compared > 50


def test_services_are_grouped_in_category_order(client, national_app):
    from finder.directory.models import ServiceCategory

    with national_app.app_context():
        categories = db.session.scalars(db.select(ServiceCategory)).all()
        position = {c.code: c.position for c in categories}
        names = {c.code: c.name for c in categories}
    rows = near(client, meters=SAMPLE_METERS, pageSize=2000)["rows"]
    grouped = [row for row in rows if row["services"]]
    assert grouped
    for row in grouped:
        codes = [group["f2"] for group in row["services"]]
        assert len(codes) == len(set(codes))
        assert [position[c] for c in codes] == sorted(position[c] for c in codes)
        assert all(group["f1"] == names[group["f2"]] for group in row["services"])


# -- parameters as the guide defines them ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "38.0282239,-78.4725231",
        '"38.0282239,-78.4725231"',
        "'38.0282239,-78.4725231'",
        "38.0282239, -78.4725231",
        "-78.4725231,38.0282239",
        '"-78.4725231,38.0282239"',
        " '-78.4725231, 38.0282239' ",
    ],
)
def test_saddr_forms(text):
    assert parse_saddr(text) == (38.0282239, -78.4725231)


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("13.4443,144.7937", (13.4443, 144.7937)),  # Guam: only lat,lng fits
        ("144.7937,13.4443", (13.4443, 144.7937)),
        ("-14.2756,-170.702", (-14.2756, -170.702)),  # American Samoa
        ("-170.702,-14.2756", (-14.2756, -170.702)),
        ("40,50", (40.0, 50.0)),  # ambiguous: the guide's examples are lat,lng
    ],
)
def test_saddr_order_by_range(text, point):
    assert parse_saddr(text) == point


@pytest.mark.parametrize("text", ["", "hello", "38.02", "1,2,3", "200,300", "nan,nan",
                                  "inf,-78", "38.0;-78.4", '"",""'])
def test_saddr_garbage(text):
    with pytest.raises(ApiError) as caught:
        parse_saddr(text)
    assert caught.value.parameter == "sAddr"


def test_both_saddr_orders_give_the_same_answer(client):
    lat_lng = near(client)
    lng_lat = locate(client, sAddr=f'"{ORIGIN_LON}, {ORIGIN_LAT}"', limitType=2,
                     limitValue=20000)
    assert lat_lng == lng_lat


def test_state_id_table_is_the_guides_appendix_b():
    assert len(STATE_IDS) == 51
    states = set(US_STATES) - {"PR", "GU", "VI", "AS", "MP", "FM", "MH", "PW", "AA", "AE", "AP"}
    assert set(STATE_IDS.values()) == states
    assert (STATE_IDS[18], STATE_IDS[50], STATE_IDS[1], STATE_IDS[27]) == ("MD", "VA", "ME", "DC")
    assert 17 not in STATE_IDS


def test_state_search(client, national_app):
    body = locate(client, sAddr=ORIGIN, limitType=0, limitValue=50, pageSize=100)
    with national_app.app_context():
        count = db.session.scalar(
            db.select(db.func.count()).select_from(Facility)
            .where(Facility.state == "VA", Facility.status == "active")
        )
    assert body["recordCount"] == count > 100
    assert body["totalPages"] == math.ceil(count / 100)
    assert {row["state"] for row in body["rows"]} == {"VA"}
    miles = [row["miles"] for row in body["rows"]]
    assert miles == sorted(miles)


def test_distance_search(client):
    body = near(client, meters=20000, pageSize=2000)
    assert body["recordCount"] == len(body["rows"]) > 0
    assert all(row["miles"] <= round(20000 / METERS_PER_MILE, 2) for row in body["rows"])
    assert [row["miles"] for row in body["rows"]] == sorted(row["miles"] for row in body["rows"])
    # Without limitType the whole directory is listed, nearest first (as in the 2019 sample).
    everything = locate(client, sAddr=ORIGIN)
    assert everything["recordCount"] > 10000
    assert len(everything["rows"]) == 30
    assert everything["rows"][:5] == body["rows"][:5]


def test_state_code_combines_with_distance(client):
    # Bristol, VA: the Tennessee line runs through town.
    bristol = {"sAddr": "36.5951,-82.1887", "limitType": 2, "limitValue": 40000, "pageSize": 500}
    both = locate(client, **bristol)
    assert {row["state"] for row in both["rows"]} >= {"VA", "TN"}
    tennessee = locate(client, **bristol, stateCode="TN")
    assert {row["state"] for row in tennessee["rows"]} == {"TN"}
    assert tennessee["recordCount"] == sum(row["state"] == "TN" for row in both["rows"])


@pytest.mark.parametrize(("sort", "key", "reverse"),
                         [(0, "miles", False), (1, "miles", True)])
def test_sort_by_distance(client, sort, key, reverse):
    rows = near(client, meters=40000, sort=sort, pageSize=2000)["rows"]
    values = [row[key] for row in rows]
    assert values == sorted(values, reverse=reverse) and len(set(values)) > 1


@pytest.mark.parametrize(("sort", "key"), [(2, "name1"), (3, "name2")])
def test_sort_by_name(client, sort, key):
    rows = near(client, meters=40000, sort=sort, pageSize=2000)["rows"]
    names = [row[key].casefold() for row in rows]
    filled = [name for name in names if name]
    assert filled == sorted(filled) and len(set(filled)) > 1


def test_service_codes_are_all_required(client, national_app):
    rows = near(client, meters=SAMPLE_METERS, pageSize=2000)["rows"]
    with national_app.app_context():
        labels = service_labels()

    def offers(row, code):
        category, label = labels[code]
        return any(group["f2"] == category and label in split_labels(group["f3"])
                   for group in row["services"])

    codes = [code for code in labels if any(offers(row, code) for row in rows)]
    a, b = next((a, b) for a in codes for b in codes
                if a < b and labels[a][0] == labels[b][0]
                and {r["frid"] for r in rows if offers(r, a)}
                != {r["frid"] for r in rows if offers(r, b)})
    for wanted in ([a], [a, b]):
        body = near(client, meters=SAMPLE_METERS, pageSize=2000, sCodes=",".join(wanted))
        expected = {row["frid"] for row in rows if all(offers(row, c) for c in wanted)}
        assert {row["frid"] for row in body["rows"]} == expected
    # Lower case and spaces are forgiven; even codes of one category are AND-ed.
    spaced = near(client, meters=SAMPLE_METERS, pageSize=2000, sCodes=f" {a.lower()} , {b} ,")
    assert {row["frid"] for row in spaced["rows"]} == {
        row["frid"] for row in rows if offers(row, a) and offers(row, b)
    }


@pytest.mark.parametrize("s_type", ["sa", "SA", '"sa"', "'Sa'", "both", '"BOTH"', ""])
def test_substance_use_types_list_everything(client, s_type):
    assert near(client, sType=s_type) == near(client)


@pytest.mark.parametrize("s_type", ["mh", "'MH'", '"mh"'])
def test_mental_health_type_is_an_empty_result(client, s_type):
    assert near(client, sType=s_type, page=2) == {
        "page": 2, "totalPages": 0, "recordCount": 0, "rows": []
    }


def test_text_filters(client):
    rows = near(client, meters=SAMPLE_METERS, pageSize=2000)["rows"]
    region_ten = near(client, meters=SAMPLE_METERS, pageSize=2000, filterFName="region ten")
    assert region_ten["rows"] and {r["frid"] for r in region_ten["rows"]} == {
        r["frid"] for r in rows if "region ten" in r["name1"].lower()
    }
    street = near(client, meters=SAMPLE_METERS, pageSize=2000, filterFAddress="Preston")
    assert street["rows"] and all("preston" in r["street1"].lower() for r in street["rows"])
    phoned = [r for r in rows if r["phone"]]
    digits = phoned[0]["phone"][4:11]  # "979-887" from "434-979-8871"
    by_phone = near(client, meters=SAMPLE_METERS, pageSize=2000, filterFPhone=digits)
    assert by_phone["rows"] and phoned[0]["frid"] in {r["frid"] for r in by_phone["rows"]}
    assert all(digits.replace("-", "") in r["phone"].replace("-", "") for r in by_phone["rows"])
    assert near(client, filterFPhone="no digits")["recordCount"] == 0


def test_paging(client):
    first = near(client, meters=SAMPLE_METERS, pageSize=7)
    second = near(client, meters=SAMPLE_METERS, pageSize=7, page=2)
    assert first["totalPages"] == math.ceil(first["recordCount"] / 7) >= 2
    assert [row["_irow"] for row in second["rows"]] == list(range(1, 8))
    assert not {r["frid"] for r in first["rows"]} & {r["frid"] for r in second["rows"]}
    default = near(client, meters=SAMPLE_METERS)
    assert default["page"] == 1 and len(default["rows"]) == min(30, default["recordCount"])


def test_frid_is_stable_and_opaque(client):
    one = near(client)["rows"]
    again = near(client)["rows"]
    assert [r["frid"] for r in one] == [r["frid"] for r in again]
    assert len({r["frid"] for r in one}) == len(one)
    assert all(len(r["frid"]) == 64 and int(r["frid"], 16) >= 0 for r in one)


def test_cut_is_accepted(client):
    assert near(client, cut="NIAAA") == near(client)


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("+14349798871", "434-979-8871"), ("+14349718454;ext=1", "434-971-8454 x1"),
     (None, None), ("+442079460000", "+442079460000")],
)
def test_locator_phone_format(stored, shown):
    assert locator_phone(stored) == shown


BAD = [
    ({"limitType": 2, "limitValue": 20000}, "sAddr"),
    ({"sAddr": "somewhere nice"}, "sAddr"),
    ({"sAddr": "91,181"}, "sAddr"),
    ({"sAddr": "x" * 5000}, "sAddr"),
    ({"sAddr": ORIGIN, "limitType": 7, "limitValue": 1}, "limitType"),
    ({"sAddr": ORIGIN, "limitType": -1, "limitValue": 1}, "limitType"),
    ({"sAddr": ORIGIN, "limitType": "state", "limitValue": 1}, "limitType"),
    ({"sAddr": ORIGIN, "limitType": 0}, "limitValue"),
    ({"sAddr": ORIGIN, "limitType": 0, "limitValue": 17}, "limitValue"),
    ({"sAddr": ORIGIN, "limitType": 0, "limitValue": 18.5}, "limitValue"),
    ({"sAddr": ORIGIN, "limitType": 2}, "limitValue"),
    ({"sAddr": ORIGIN, "limitType": 2, "limitValue": 0}, "limitValue"),
    ({"sAddr": ORIGIN, "limitType": 2, "limitValue": -5}, "limitValue"),
    ({"sAddr": ORIGIN, "limitType": 2, "limitValue": "far"}, "limitValue"),
    ({"sAddr": ORIGIN, "pageSize": 5000}, "pageSize"),
    ({"sAddr": ORIGIN, "pageSize": 0}, "pageSize"),
    ({"sAddr": ORIGIN, "page": 0}, "page"),
    ({"sAddr": ORIGIN, "page": "abc"}, "page"),
    ({"sAddr": ORIGIN, "sort": 4}, "sort"),
    ({"sAddr": ORIGIN, "sType": "xx"}, "sType"),
    ({"sAddr": ORIGIN, "stateCode": "ZZ"}, "stateCode"),
    ({"sAddr": ORIGIN, "sCodes": "BU,NOPE"}, "sCodes"),
    ({"sAddr": ORIGIN, "filterFName": "x" * 5000}, "filterFName"),
]


@pytest.mark.parametrize(("params", "parameter"), BAD)
def test_bad_input_is_a_400_naming_the_parameter(client, params, parameter):
    error = refused(client, **params)
    assert error["status"] == 400 and error["message"]
    assert error["parameter"] == parameter


def test_county_search_is_explained(client):
    error = refused(client, sAddr=ORIGIN, limitType=1, limitValue=1119)
    assert error["parameter"] == "limitType" and "county" in error["message"].lower()


def test_unknown_code_is_named(client):
    assert "NOPE" in refused(client, sAddr=ORIGIN, sCodes="BU,NOPE")["message"]


def test_cors_and_cache_headers(client):
    ok = client.get(PATH, query_string={"sAddr": ORIGIN, "limitType": 2, "limitValue": 1000})
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    assert ok.headers["Cache-Control"] == "public, max-age=300"
    bad = client.get(PATH, query_string={"sAddr": "nowhere"})
    assert bad.status_code == 400 and bad.headers["Access-Control-Allow-Origin"] == "*"
    assert "public" not in bad.headers.get("Cache-Control", "")


_TYPED = st.text(max_size=40) | st.sampled_from(["", "0", "-1", "1e400", "nan", "1,2", "'", '"'])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["sAddr", "limitType", "limitValue", "sCodes", "sType", "stateCode",
                          "sort", "filterFName", "filterFAddress", "filterFPhone", "page",
                          "pageSize", "cut"]),
    value=_TYPED,
    limit_type=st.sampled_from(["0", "2", ""]),
)
def test_nothing_typed_is_a_500(national_app, name, value, limit_type):
    client = national_app.test_client()
    query = {"sAddr": ORIGIN, "limitType": limit_type, "limitValue": "18", name: value}
    response = client.get(PATH, query_string=query)
    assert response.status_code in (200, 400), query
    assert response.mimetype == "application/json"
