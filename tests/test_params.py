"""parse_search_args: the validation shared by the search page and the JSON API."""

import pytest
from werkzeug.datastructures import MultiDict

from finder.directory.params import SearchParams, parse_search_args

PAGE_RADII = (5, 10, 25, 50, 100)


def page_args(**kwargs):
    return parse_search_args(MultiDict(kwargs), radii=PAGE_RADII, per_page=10)


def test_location_with_defaults():
    params = page_args(location="  Charlottesville,   VA ")
    assert params == SearchParams(location="Charlottesville, VA", radius_miles=25.0, per_page=10)
    assert params.has_place and not params.has_point


def test_point():
    params = page_args(lat="38.03", lon="-78.48", radius="10")
    assert (params.latitude, params.longitude, params.radius_miles) == (38.03, -78.48, 10.0)
    assert params.location is None and params.has_point


def test_typed_location_wins_over_point():
    params = page_args(location="22902", lat="30.2", lon="-97.7")
    assert params.location == "22902" and not params.has_point


def test_services_are_upper_cased_deduplicated_and_split_on_commas():
    args = MultiDict([("location", "22902"), ("service", "md"), ("service", "sf,MD"),
                      ("service", "")])
    assert parse_search_args(args).service_codes == ("MD", "SF")


def test_plain_dict_arguments():
    params = parse_search_args({"location": "22902", "service": ["BU", "mu"], "page": "3"})
    assert params.service_codes == ("BU", "MU") and params.page == 3


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "location"),
        ({"location": "   "}, "location"),
        ({"location": "x" * 5000}, "location"),
        ({"lat": "38"}, "lat"),
        ({"lat": "91", "lon": "0"}, "lat"),
        ({"lat": "nan", "lon": "0"}, "lat"),
        ({"location": "22902", "radius": "0"}, "radius"),
        ({"location": "22902", "radius": "7"}, "radius"),
        ({"location": "22902", "radius": "10000"}, "radius"),
        ({"location": "22902", "radius": "inf"}, "radius"),
        ({"location": "22902", "radius": "ten"}, "radius"),
        ({"location": "22902", "page": "-1"}, "page"),
        ({"location": "22902", "page": "0"}, "page"),
        ({"location": "22902", "page": "1.5"}, "page"),
        ({"location": "22902", "page": "99999999999"}, "page"),
        ({"location": "22902", "service": "M D"}, "service"),
        ({"location": "22902", "service": "<script>"}, "service"),
        ({"location": "22902", "service": ",".join(f"C{i}" for i in range(31))}, "service"),
    ],
)
def test_errors_name_the_parameter(args, field):
    errors = page_args(**args)
    assert isinstance(errors, dict)
    assert set(errors) == {field}
    assert errors[field]


def test_several_errors_at_once():
    errors = page_args(location="22902", radius="0", page="x")
    assert set(errors) == {"radius", "page"}


def test_api_style_radius_and_page_size():
    def api(**kwargs):
        return parse_search_args(MultiDict(kwargs), max_radius=500, max_per_page=100)

    params = api(location="22902", radius="7.5", per_page="50")
    assert (params.radius_miles, params.per_page) == (7.5, 50)
    assert api(location="22902", radius="500").radius_miles == 500
    assert set(api(location="22902", radius="501")) == {"radius"}
    assert set(api(location="22902", per_page="101")) == {"per_page"}
    # The page ignores a per_page argument: its page size is fixed.
    assert page_args(location="22902", per_page="50").per_page == 10


def test_place_optional():
    params = parse_search_args(MultiDict(), require_place=False)
    assert not params.has_place
