"""The public pages, on the seeded national directory (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from finder.directory.filters import FILTER_CATEGORY_CODES
from finder.directory.models import (
    Facility,
    FacilityStatus,
    Service,
    ServiceCategory,
    facility_service,
)
from finder.extensions import db
from finder.geo.distance import haversine_miles
from finder.geo.place import locate

CHARLOTTESVILLE = "Charlottesville, VA 22902"
HELPLINE_TEL = 'href="tel:+18006624357"'
CREDITS = (
    "Facility data: SAMHSA Behavioral Health Treatment Services Locator (findtreatment.gov), as "
    "geocoded by the Opioid Environment Policy Scan (OEPS), doi:10.5281/zenodo.5842465",
    "ZIP code coordinates: GeoNames (CC BY 4.0), via the zipcodes package",
)


class Page(HTMLParser):
    """Start tags with their attributes, the visible text, and the results list items."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.tags: list[tuple[str, dict]] = []
        self.text_parts: list[str] = []
        self.results: list[dict] = []
        self._in_result = 0
        self._skip = 0
        self.feed(html)
        self.text = " ".join(" ".join(self.text_parts).split())

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "li" and "result" in attributes.get("class", "").split():
            self.results.append({"text": "", "href": None})
            self._in_result = 1
        elif self._in_result and tag == "li":
            self._in_result += 1
        if self._in_result and tag == "a" and self.results[-1]["href"] is None:
            self.results[-1]["href"] = attributes.get("href")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if self._in_result and tag == "li":
            self._in_result -= 1

    def handle_data(self, data):
        if self._skip:
            return
        self.text_parts.append(data)
        if self._in_result:
            self.results[-1]["text"] += data

    def find(self, tag: str, **attrs) -> list[dict]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]

    @property
    def distances(self) -> list[float]:
        values = []
        for item in self.results:
            match = re.search(r"(under )?([\d,.]+) mi\b", item["text"])
            values.append(0.0 if match.group(1) else float(match.group(2).replace(",", "")))
        return values

    @property
    def slugs(self) -> list[str]:
        return [urlsplit(item["href"]).path.rsplit("/", 1)[1] for item in self.results]


def get(client, url: str, status: int = 200) -> Page:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response.mimetype == "text/html"
    return Page(response.get_data(as_text=True))


def showing(page: Page) -> tuple[int, int, str]:
    match = re.search(
        r"Showing ([\d,]+) facilit(?:y|ies) within (\d+) miles of (.+?)(?: that match|\.)",
        page.text,
    )
    assert match, page.text[:2000]
    return int(match.group(1).replace(",", "")), int(match.group(2)), match.group(3)


def assert_public_page(page: Page) -> None:
    """What every visitor page carries: helplines, credits, own assets only, no inline code."""
    assert page.find("html", lang="en")
    assert page.find("a", href="tel:988")
    assert HELPLINE_TEL in page.html and "1-800-662-4357" in page.text
    for credit in CREDITS:
        assert credit in page.text
    assert page.find("a", href="#main") and page.find("main", id="main")
    for tag, attrs in page.tags:
        assert "style" not in attrs, (tag, attrs)
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video"):
            assert attrs.get("src", "").startswith("/static/"), (tag, attrs)
        if tag == "link":
            assert attrs["href"].startswith("/static/"), attrs
    assert "<style" not in page.html
    scripts = page.find("script")
    assert scripts and all(s.get("src") for s in scripts)
    assert "//" not in "".join(a.get("src", "") for _, a in page.tags)


def facility_with(session, *, services: bool, phone: bool = True) -> Facility:
    has_services = db.select(facility_service.c.facility_id).where(
        facility_service.c.facility_id == Facility.id
    ).exists()
    query = db.select(Facility).where(has_services if services else ~has_services)
    if phone:
        query = query.where(Facility.phone.is_not(None))
    return session.execute(query.order_by(Facility.id).limit(1)).scalar_one()


# --- home page -------------------------------------------------------------------------------


def test_home_page_has_one_location_box_radius_and_helplines(client):
    page = get(client, "/")
    assert_public_page(page)
    form = page.find("form", action="/search")
    assert form and form[0]["method"] == "get"
    assert "ZIP code, city or address" in page.text
    assert page.find("label", **{"for": "location"}) and page.find("input", id="location")
    assert len([a for t, a in page.tags if t == "input" and a.get("type") == "text"]) == 1
    options = [a["value"] for t, a in page.tags if t == "option"]
    assert options == ["5", "10", "25", "50", "100"]
    assert page.find("option", value="25", selected="")
    assert page.find("button", type="submit")
    locate = page.find("button", type="button")
    assert locate and "hidden" in locate[0] and "data-locate" in locate[0]
    assert "Use my location" in page.text
    assert page.find("script", src="/static/locate.js", defer="")
    assert "<title>Find addiction treatment near you – finder</title>" in page.html


def test_every_input_has_a_label(client):
    for url in ("/", "/search?location=22902"):
        page = get(client, url)
        label_for = {a.get("for") for t, a in page.tags if t == "label"}
        html = page.html
        for tag, attrs in page.tags:
            if tag in ("input", "select") and attrs.get("type") != "hidden":
                if attrs.get("type") == "checkbox":
                    # Wrapped in its label: <label><input type="checkbox" ...> Label</label>
                    value = attrs["value"]
                    assert f'<label><input type="checkbox" name="service" value="{value}"' in html
                else:
                    assert attrs.get("id") in label_for, attrs


def test_filter_labels_come_from_the_taxonomy(client, national_app):
    page = get(client, "/search?location=22902")
    with national_app.app_context():
        categories = db.session.execute(
            db.select(ServiceCategory)
            .where(ServiceCategory.code.in_(FILTER_CATEGORY_CODES))
            .order_by(ServiceCategory.position)
        ).scalars().all()
        assert {c.code for c in categories} == set(FILTER_CATEGORY_CODES)
        summaries = re.findall(r"<summary>([^<]+)", page.html)
        assert [s.strip() for s in summaries if s.strip() in {c.plain_name for c in categories}] \
            == [c.plain_name for c in categories]
        for category in categories:
            for service in category.services:
                assert page.find("input", type="checkbox", name="service", value=service.code)
                assert f"> {service.plain_label}</label>" in page.html.replace("&#39;", "'")


# --- results ---------------------------------------------------------------------------------


def test_zip_search_lists_nearest_first(client):
    page = get(client, "/search?location=22902")
    assert_public_page(page)
    total, radius, label = showing(page)
    assert (radius, label) == (25, CHARLOTTESVILLE)
    assert total >= 5
    assert len(page.results) == min(total, 10)
    assert page.distances == sorted(page.distances)
    assert all(d <= 25 for d in page.distances)
    assert f"<title>Treatment near {CHARLOTTESVILLE} – finder</title>" in page.html
    assert len(page.html.encode()) < 30_000
    assert any("tel:+1434" in r for r in page.html.split('class="result"')[1:])


def test_distances_on_the_page_are_true(client, national_app):
    page = get(client, "/search?location=22902&radius=10")
    with national_app.app_context():
        place = locate("22902")
        for slug, shown in zip(page.slugs, page.distances, strict=True):
            facility = db.session.execute(
                db.select(Facility).where(Facility.slug == slug)
            ).scalar_one()
            true = haversine_miles(
                place.latitude, place.longitude, facility.latitude, facility.longitude
            )
            assert abs(true - shown) <= 0.051 or (shown == 0 and true < 0.1)


def test_pagination(client):
    url = "/search?location=22902&radius=100&service=MD&service=SF"
    first = get(client, url)
    total, _, _ = showing(first)
    assert total > 10, "the 2019 API page gives Charlottesville enough facilities with services"
    second = get(client, url + "&page=2")
    assert showing(second)[0] == total
    assert set(first.slugs).isdisjoint(second.slugs)
    assert second.distances[0] >= first.distances[-1]
    ordered = second.find("ol", **{"class": "results"})
    assert ordered[0]["start"] == "11"
    current = second.find("a", **{"aria-current": "page"})
    assert len(current) == 1
    for tag, attrs in second.tags:
        href = attrs.get("href", "")
        if tag == "a" and href.startswith("/search?"):
            query = parse_qs(urlsplit(href).query)
            if "Remove filter" in attrs.get("aria-label", "") or "clear" in attrs.get("class", ""):
                continue
            assert query["location"] == ["22902"] and query["radius"] == ["100"], href
            assert query["service"] == ["MD", "SF"], href
    pages = {parse_qs(urlsplit(a["href"]).query).get("page", ["1"])[0]
             for a in second.find("a") if a.get("href", "").startswith("/search?")}
    assert {"1", "2"} <= pages
    # Facility links carry the search so the facility page can show the distance.
    query = parse_qs(urlsplit(second.results[0]["href"]).query)
    assert query["location"] == ["22902"] and query["page"] == ["2"]


def test_pages_without_filters(client):
    url = "/search?location=22902&radius=50"
    total = showing(get(client, url))[0]
    assert total > 20
    seen: list[str] = []
    last = 0.0
    for number in range(1, (total + 9) // 10 + 1):
        page = get(client, f"{url}&page={number}")
        assert len(page.results) == min(10, total - (number - 1) * 10)
        assert page.distances[0] >= last
        last = page.distances[-1]
        seen += page.slugs
    assert len(seen) == len(set(seen)) == total


def test_page_past_the_end(client):
    page = get(client, "/search?location=22902&radius=5&page=500")
    assert not page.results
    assert "There is no page 500" in page.text


def count(client, query: str) -> int:
    page = get(client, "/search?location=22902&radius=100" + query)
    if "No facilities within" in page.text:
        return 0
    return showing(page)[0]


def test_filters_or_inside_a_category_and_across_categories(client, national_app):
    everything = count(client, "")
    medicaid = count(client, "&service=MD")
    cash = count(client, "&service=SF")
    either = count(client, "&service=MD&service=SF")
    outpatient = count(client, "&service=OP")
    both = count(client, "&service=MD&service=OP")
    assert 0 < medicaid < everything and 0 < cash < everything and 0 < outpatient
    assert max(medicaid, cash) <= either <= medicaid + cash
    assert both <= min(medicaid, outpatient)
    assert count(client, "&service=md,op") == both
    with national_app.app_context():
        page = get(client, "/search?location=22902&radius=100&service=MD&service=OP")
        for slug in page.slugs:
            facility = db.session.execute(
                db.select(Facility).where(Facility.slug == slug)
            ).scalar_one()
            codes = {s.code for s in facility.services}
            assert {"MD", "OP"} <= codes


def test_active_filters_are_shown_and_removable(client, national_app):
    page = get(client, "/search?location=22902&service=MD&service=OP")
    with national_app.app_context():
        labels = {
            s.code: s.plain_label
            for s in db.session.execute(
                db.select(Service).where(Service.code.in_(["MD", "OP"]))
            ).scalars()
        }
    removers = [a for t, a in page.tags if t == "a" and "Remove filter" in a.get("aria-label", "")]
    assert {a["aria-label"] for a in removers} == {f"Remove filter: {v}" for v in labels.values()}
    remaining = sorted(parse_qs(urlsplit(a["href"]).query)["service"][0] for a in removers)
    assert remaining == ["MD", "OP"]
    assert page.find("input", type="checkbox", value="MD", checked="")


def test_nothing_within_radius_shows_the_nearest_beyond(client, national_app):
    # Ely, Nevada (89301) is far from most facilities; check that the premise holds.
    with national_app.app_context():
        place = locate("89301")
        near = db.session.execute(
            db.select(Facility.latitude, Facility.longitude).where(
                Facility.latitude.between(place.latitude - 1, place.latitude + 1),
                Facility.longitude.between(place.longitude - 1.5, place.longitude + 1.5),
            )
        ).all()
        assert all(haversine_miles(place.latitude, place.longitude, *row) > 5 for row in near)
    page = get(client, "/search?location=89301&radius=5")
    assert f"No facilities within 5 miles of {place.label} match. The nearest are:" in page.text
    assert 1 <= len(page.results) <= 5
    assert all(d > 5 for d in page.distances) and page.distances == sorted(page.distances)
    wider = [a for a in page.find("a") if a.get("href", "").startswith("/search?")
             and "radius=10" in a["href"]]
    assert wider and "Search within 10 miles" in page.text


def test_unknown_place(client):
    page = get(client, "/search?location=Charlottesvile%2C+VA&radius=10")
    assert "We couldn't find that place." in page.text
    assert not page.results
    assert "Showing" not in page.text
    assert page.find("input", id="location", value="Charlottesvile, VA")
    suggestions = [a["href"] for a in page.find("a") if "location=" in a.get("href", "")]
    assert any("Charlottesville" in href and "radius=10" in href for href in suggestions)
    nonsense = get(client, "/search?location=qwzx+plorb")
    assert "We couldn't find that place." in nonsense.text and not nonsense.results


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("location=22902&radius=0", "Choose a distance"),
        ("location=22902&radius=10000", "Choose a distance"),
        ("location=22902&radius=abc", "Choose a distance"),
        ("location=22902&page=-1", "page number"),
        ("location=22902&page=abc", "page number"),
        ("location=" + "x" * 5000, "too long"),
        ("location=22902&service=NOPE", "NOPE"),
        ("location=22902&service=%3Cscript%3E", "Service codes"),
        ("location=", "Enter a ZIP code, city or address"),
        ("lat=38&lon=500", "longitude"),
        ("lat=abc&lon=-78", "Latitude and longitude"),
    ],
)
def test_bad_parameters_give_400_with_a_message(client, query, message):
    page = get(client, "/search?" + query, status=400)
    assert message.lower() in page.text.lower()
    assert page.find("form", action="/search") and not page.results
    assert "<script>" not in page.html
    assert len(page.html) < 30_000
    assert_public_page(page)


def test_search_without_arguments_shows_the_form(client):
    page = get(client, "/search")
    assert page.find("input", id="location") and "Please check" not in page.text


def test_lat_lon_search(client):
    page = get(client, "/search?lat=38.0293&lon=-78.4767")
    total, radius, label = showing(page)
    assert total >= 5 and radius == 25 and label.startswith("your location")
    assert page.distances == sorted(page.distances)
    # The point stays in the form so changing filters keeps searching there.
    assert page.find("input", type="hidden", name="lat", value="38.02930")
    link = parse_qs(urlsplit(page.results[0]["href"]).query)
    assert link["lat"] == ["38.02930"] and link["lon"] == ["-78.47670"]


# --- facility pages --------------------------------------------------------------------------


def test_facility_with_phone_and_services(client, national_app):
    with national_app.app_context():
        facility = facility_with(db.session, services=True)
        slug, phone = facility.slug, facility.phone
        order = {}
        for service in facility.services:
            if service.category_code not in ("PAY", "PYAS"):
                order[service.category.plain_name] = service.category.position
        expected = sorted(order, key=order.get)
    page = get(client, f"/facilities/{slug}")
    assert_public_page(page)
    assert page.find("a", href=f"tel:{phone}")
    assert "Services not yet verified" not in page.text
    services = page.html.split('id="services-title"')[1].split("</section>")[0]
    headings = re.findall(r"<h3>([^<]+)</h3>", services)
    assert [h.replace("&#39;", "'").replace("&amp;", "&") for h in headings] == expected
    assert "Confirm your coverage with the facility" in page.text
    assert "Call before you go" in page.text
    assert page.find("a", href="https://www.google.com/maps/dir/?api=1&destination="
                     + re.search(r"destination=([-\d.,]+)", page.html).group(1))
    assert "Not yet verified by finder" in page.text
    websites = [a for a in page.find("a") if a.get("rel") == "noopener nofollow"]
    assert websites and all(a["target"] == "_blank" for a in websites)


def test_facility_without_services(client, national_app):
    with national_app.app_context():
        facility = facility_with(db.session, services=False, phone=False)
        slug = facility.slug
    page = get(client, f"/facilities/{slug}")
    assert "Services not yet verified — call to confirm" in page.text
    assert page.find("a", href="tel:+18006624357") and page.find("a", href="sms:988")
    assert "findtreatment.gov" in page.text


def test_facility_page_shows_distance_from_the_searched_place(client):
    results = get(client, "/search?location=22902")
    href = results.results[0]["href"]
    page = get(client, href)
    assert re.search(rf"[\d.]+ mi from {re.escape(CHARLOTTESVILLE)}", page.text)
    back = [a for a in page.find("a") if a.get("href", "").startswith("/search?")]
    assert back and "location=22902" in back[0]["href"]
    # An unusable place only drops the distance.
    plain = get(client, href.split("?")[0] + "?location=qwzx+plorb")
    assert " mi from " not in plain.text


def test_unknown_slug_is_a_404_page(client):
    page = get(client, "/facilities/no-such-place", status=404)
    assert "couldn't find that facility" in page.text
    assert_public_page(page)


def test_error_pages(client):
    page = get(client, "/no/such/page", status=404)
    assert "Page not found" in page.text
    response = client.post("/")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.mimetype == "text/html"
    for path in ("/api/v1/no-such-thing", "/locator/no-such-thing"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["status"] == 404
        assert response.get_json()["error"]["message"]


def test_server_errors_and_too_large_requests(app):
    """A fresh app that does not re-raise, as in production."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.config["MAX_CONTENT_LENGTH"] = 100

    def boom():
        raise RuntimeError("secret detail")

    def upload():
        from flask import request

        return str(len(request.form))

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/api/v1/boom", "api_boom", view_func=boom)
    app.add_url_rule("/upload", view_func=upload, methods=["POST"])
    client = app.test_client()

    response = client.get("/boom")
    assert response.status_code == 500 and response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    assert "Something went wrong" in page.text and "secret detail" not in page.text
    assert_public_page(page)

    response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"status": 500, "message": "Something went wrong on our side."}
    }

    response = client.post("/upload", data={"x": "y" * 500})
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)


def test_closed_facility_keeps_its_page_with_a_banner(seeded_app):
    with seeded_app.app_context():
        facility = facility_with(db.session, services=True)
        facility.status = FacilityStatus.CLOSED
        db.session.commit()
        slug, zip_code = facility.slug, facility.zip
    client = seeded_app.test_client()
    page = get(client, f"/facilities/{slug}")
    assert page.find("div", **{"class": "banner banner-closed", "role": "note"})
    assert "Closed." in page.text
    # Search leaves closed facilities out.
    results = get(client, f"/search?location={zip_code}&radius=100")
    assert slug not in results.slugs


def test_approximate_place_and_alternatives(client):
    page = get(client, "/search?location=1014+East+Market+Street%2C+Charlottesville%2C+VA")
    assert "Approximate" in page.text
    assert showing(page)[0] > 0
    austin = get(client, "/search?location=Austin")
    assert showing(austin)[2] == "Austin, TX"
    others = [a["href"] for a in austin.find("a") if "location=Austin,+" in a.get("href", "")]
    assert others, "other places named Austin are offered"
