"""The Jinja filters that format phones, distances, dates and websites for visitors."""

from datetime import date, datetime

import pytest
from flask import Flask, render_template_string

from finder import formatting


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+14349798871", "(434) 979-8871"),
        ("+14349798871;ext=301", "(434) 979-8871 ext. 301"),
        ("+17875551234", "(787) 555-1234"),
        ("+442079460000", "+44 20 7946 0000"),
        ("not a phone", "not a phone"),
        (None, ""),
        ("", ""),
    ],
)
def test_phone(value, expected):
    assert formatting.phone(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+14349798871", "tel:+14349798871"),
        ("+14349798871;ext=301", "tel:+14349798871,301"),
        ("not a phone", None),
        (None, None),
    ],
)
def test_tel_href(value, expected):
    assert formatting.tel_href(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2.43, "2.4 mi"),
        (2.46, "2.5 mi"),
        (0.04, "under 0.1 mi"),
        (0.1, "0.1 mi"),
        (9.94, "9.9 mi"),
        (12.6, "13 mi"),
        (1234.2, "1,234 mi"),
        (None, ""),
    ],
)
def test_miles(value, expected):
    assert formatting.miles(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(25.0, "25"), (25, "25"), (2.5, "2.5"), (1234, "1,234"), (None, "")],
)
def test_number(value, expected):
    assert formatting.number(value) == expected


def test_long_date():
    assert formatting.long_date(date(2024, 3, 5)) == "March 5, 2024"
    assert formatting.long_date(datetime(2021, 12, 31, 23, 59)) == "December 31, 2021"
    assert formatting.long_date(None) == ""


def test_pluralize():
    assert formatting.pluralize(1, "facility", "facilities") == "1 facility"
    assert formatting.pluralize(0, "facility", "facilities") == "0 facilities"
    assert formatting.pluralize(1234, "facility", "facilities") == "1,234 facilities"
    assert formatting.pluralize(2, "mile") == "2 miles"


@pytest.mark.parametrize(
    ("value", "href", "label"),
    [
        ("http://www.regionten.org", "http://www.regionten.org", "regionten.org"),
        ("http://Www.fairwindsgrouphome.com", "http://Www.fairwindsgrouphome.com",
         "fairwindsgrouphome.com"),
        ("https://uvahealth.com/services/psychiatry/", "https://uvahealth.com/services/psychiatry/",
         "uvahealth.com/services/psychiatry"),
        ("www.example.org", "http://www.example.org", "example.org"),
        ("javascript:alert(1)", None, "javascript:alert(1)"),
        ("ftp://example.org", None, "ftp://example.org"),
        ("http://exa mple.org", None, "http://exa mple.org"),
        ("NA", None, "NA"),
        (None, None, ""),
    ],
)
def test_website(value, href, label):
    assert formatting.website_href(value) == href
    assert formatting.website_label(value) == label


def test_filters_are_registered_and_escape():
    app = Flask(__name__)
    formatting.register(app)
    with app.app_context():
        html = render_template_string(
            '<a href="{{ p | tel_href }}">{{ p | phone }}</a> '
            "{{ d | miles }} {{ w | website_label }}",
            p="+14349798871;ext=301",
            d=2.43,
            w="http://example.org/<b>",
        )
    assert html == (
        '<a href="tel:+14349798871,301">(434) 979-8871 ext. 301</a> 2.4 mi example.org/&lt;b&gt;'
    )
