"""Crawls the public pages: a helpline number never appears without who answers it.

Every occurrence of an active helpline number, in any format (E.164, (800) 555-0199,
1-800-555-0199, 800.555.0199, a tel: link...), must sit inside the wrapper the ``helpline``
macro renders (class ``helpline-number``), which must also hold the disclosure and the "Who
answers?" link to the notice. Every public page must also show 988 and the SAMHSA National
Helpline.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from finder.calls.demo import HELPLINE_NUMBER
from finder.calls.models import NumberKind, TrackingNumber
from finder.extensions import db
from finder.guides.models import Guide, GuideStatus

DISCLOSURE = "Answered by licensed treatment facilities that pay to advertise on finder."
NOTICE_PATH = "/where-do-calls-go"
WRAPPER_CLASS = "helpline-number"
SAMHSA_TEXT = "1-800-662-4357"
SAMHSA_TEL = "tel:+18006624357"
MAX_PAGES = 90
#: Not public pages, or not HTML: never followed.
SKIPPED_PREFIXES = ("/staff", "/static", "/api", "/locator", "/voice", "/logout")
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


# -- a small HTML tree ------------------------------------------------------------------------

@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list = field(default_factory=list)  # Node or str

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def descendants(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.descendants()

    def ancestors(self):
        node = self
        while node is not None:
            yield node
            node = node.parent

    def describe(self) -> str:
        return f"<{self.tag} {self.attrs}> {' '.join(self.text().split())[:160]!r}"


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs},
                                            self.stack[-1]))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# -- finding helpline numbers -----------------------------------------------------------------

def number_pattern(e164: str) -> re.Pattern:
    """Any usual way of writing a NANP number: +18005550199, (800) 555-0199, 1-800-555-0199,
    800.555.0199, 800 555 0199, 8005550199..."""
    digits = re.sub(r"\D", "", e164)[-10:]
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    sep = r"[\s.\-\u00a0\u2011\u2013]*"
    return re.compile(rf"(?<!\d)(?:\+?1{sep})?\(?{area}\)?{sep}{exchange}{sep}{line}(?!\d)")


def _in_tel(value: str, e164: str) -> bool:
    if not value.lower().startswith(("tel:", "sms:", "callto:")):
        return False
    digits = re.sub(r"\D", "", value.split(",")[0].split(";")[0])
    return digits[-10:] == re.sub(r"\D", "", e164)[-10:] and len(digits) in (10, 11)


def _covered(node: Node) -> bool:
    """True when ``node`` is inside a macro wrapper that holds the disclosure and the link."""
    for ancestor in node.ancestors():
        if WRAPPER_CLASS in ancestor.classes:
            text = " ".join(ancestor.text().split())
            links = [d for d in ancestor.descendants() if d.tag == "a"
                     and urlsplit(d.attrs.get("href", "")).path == NOTICE_PATH
                     and " ".join(d.text().split()) == "Who answers?"]
            return DISCLOSURE in text and bool(links)
    return False


def _lowest_common_ancestor(first: Node, second: Node) -> Node:
    seen = set(map(id, first.ancestors()))
    return next(node for node in second.ancestors() if id(node) in seen)


def uncovered_helplines(html: str, numbers: list[str]) -> list[str]:
    """Every place in ``html`` a helpline number shows without its disclosure and link."""
    root = parse(html)
    body = next((n for n in root.descendants() if n.tag == "body"), root)
    problems = []
    patterns = {number: number_pattern(number) for number in numbers}
    # Text: join the text of the whole body (a number may be split over several elements) and
    # remember which element holds each character.
    pieces, owners = [], []
    stack = [(body, iter(body.children))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
        elif isinstance(child, str):
            if node.tag not in ("script", "style"):
                pieces.append(child)
                owners.extend([node] * len(child))
        else:
            stack.append((child, iter(child.children)))
    text = "".join(pieces)
    for number, pattern in patterns.items():
        for match in pattern.finditer(text):
            holder = _lowest_common_ancestor(owners[match.start()], owners[match.end() - 1])
            if not _covered(holder):
                problems.append(f"text {match.group()!r} ({number}) in {holder.describe()}")
    # Attributes: tel: links and any attribute value showing the number.
    for node in root.descendants():
        for name, value in node.attrs.items():
            for number, pattern in patterns.items():
                if (_in_tel(value, number) or pattern.search(value)) and not _covered(node):
                    problems.append(f"attribute {name}={value!r} ({number}) in "
                                    f"{node.describe()}")
    return problems


# -- the checker itself must be able to fail ----------------------------------------------------

MACRO_OUTPUT = (
    '<span class="helpline-number">Call <a class="phone" href="tel:+18005550199">(800) '
    f'555-0199</a>. <span class="helpline-disclosure">{DISCLOSURE}</span> '
    '<a class="who-answers" href="/where-do-calls-go#who-answers">Who answers?</a></span>'
)


@pytest.mark.parametrize("snippet", [
    '<p>Call <a href="tel:+18005550199">now</a></p>',
    "<p>Call +18005550199 today</p>",
    "<p>Call (800) 555-0199</p>",
    "<p>Call 1-800-555-0199</p>",
    "<p>Call 800.555.0199</p>",
    "<p>Call <strong>(800)</strong> 555-<em>0199</em></p>",
    '<p><span title="1 800 555 0199">Helpline</span></p>',
    # The wrapper without the disclosure, or without the link, is not enough.
    '<span class="helpline-number"><a href="tel:+18005550199">(800) 555-0199</a> '
    '<a href="/where-do-calls-go">Who answers?</a></span>',
    f'<span class="helpline-number"><a href="tel:+18005550199">(800) 555-0199</a> '
    f"{DISCLOSURE}</span>",
    # One covered number does not cover another occurrence on the page.
    f"<p>{MACRO_OUTPUT}</p><p>or dial 800-555-0199</p>",
])
def test_the_checker_finds_a_bare_helpline_number(snippet):
    html = f"<html><body><main>{snippet}</main></body></html>"
    assert uncovered_helplines(html, [HELPLINE_NUMBER])


def test_the_checker_accepts_the_macro_and_other_numbers():
    html = (f"<html><body><p>{MACRO_OUTPUT}</p><p>SAMHSA: <a href='{SAMHSA_TEL}'>"
            f"{SAMHSA_TEXT}</a>, facility (434) 555-0101, 18005550198, 28005550199</p>"
            "</body></html>")
    assert uncovered_helplines(html, [HELPLINE_NUMBER]) == []


# -- the crawl ----------------------------------------------------------------------------------

def _links(html: str, base: str) -> list[str]:
    found = []
    for node in parse(html).descendants():
        if node.tag != "a" or "href" not in node.attrs:
            continue
        url = urlsplit(urljoin(base, node.attrs["href"]))
        if url.scheme not in ("", "http") or url.netloc not in ("", "localhost"):
            continue
        if url.path.startswith(SKIPPED_PREFIXES):
            continue
        found.append(url.path + (f"?{url.query}" if url.query else ""))
    return found


@dataclass
class Crawl:
    pages: dict[str, str]  # path → HTML of every public HTML page fetched with 200
    statuses: dict[str, int]


def crawl(client, start: list[str], limit: int = MAX_PAGES) -> Crawl:
    """Breadth first from ``start`` (always fetched), following same-site links up to ``limit``."""
    queue = deque(dict.fromkeys(start))
    seen = set(queue)
    pages, statuses = {}, {}
    while queue:
        path = queue.popleft()
        response = client.get(path)
        statuses[path] = response.status_code
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        pages[path] = html
        for link in _links(html, f"http://localhost{path}"):
            if link not in seen and len(seen) < max(limit, len(start)):
                seen.add(link)
                queue.append(link)
    return Crawl(pages, statuses)


@pytest.fixture(scope="module")
def public_site(national_app):
    """The starting points: every kind of public page, with the demo pool seeded."""
    with national_app.app_context():
        helplines = db.session.execute(
            db.select(TrackingNumber.number).where(TrackingNumber.kind == NumberKind.HELPLINE,
                                                   TrackingNumber.retired_at.is_(None))
        ).scalars().all()
        tracked = db.session.execute(
            db.select(TrackingNumber).where(TrackingNumber.kind == NumberKind.FACILITY,
                                            TrackingNumber.retired_at.is_(None))
        ).scalars().all()
        facility_paths = [f"/facilities/{number.facility.slug}" for number in tracked]
        guide_paths = [f"/guides/{slug}" for slug in db.session.execute(
            db.select(Guide.slug).where(Guide.status == GuideStatus.PUBLISHED)
        ).scalars()]
    assert HELPLINE_NUMBER in helplines, "the demo pool's helpline should be seeded"
    assert len(facility_paths) >= 3 and len(guide_paths) >= 2
    start = ["/", "/search?location=22902", "/search?location=Austin%2C+TX",
             *facility_paths, "/guides", *guide_paths, NOTICE_PATH, "/login"]
    return helplines, start, facility_paths, guide_paths


@pytest.fixture(scope="module")
def crawled(national_app, public_site) -> Crawl:
    return crawl(national_app.test_client(), public_site[1])


def test_no_public_page_shows_a_helpline_number_without_its_disclosure(public_site, crawled):
    helplines, start, facility_paths, guide_paths = public_site
    result = crawled
    assert all(result.statuses[path] == 200 for path in start), result.statuses
    assert len(result.pages) > len(start), "links from the start pages should be followed"
    facility_pages = [p for p in result.pages if p.startswith("/facilities/")]
    assert len(facility_pages) >= len(facility_paths)
    problems = {}
    for path, html in result.pages.items():
        found = uncovered_helplines(html, helplines)
        if found:
            problems[path] = found
    assert problems == {}
    # The crawl really saw the helpline, where it is meant to be shown.
    for path in ("/", NOTICE_PATH, "/guides", *guide_paths, *facility_paths):
        assert f'class="{WRAPPER_CLASS}"' in result.pages[path], path
        assert number_pattern(HELPLINE_NUMBER).search(result.pages[path]), path


def test_988_and_the_samhsa_helpline_are_on_every_public_page(client, crawled):
    missing = []
    not_found = client.get("/no-such-page")
    assert not_found.status_code == 404
    for path, html in {**crawled.pages, "404": not_found.get_data(as_text=True)}.items():
        text = " ".join(parse(html).text().split())
        for needle in ("988", SAMHSA_TEXT):
            if needle not in text:
                missing.append(f"{path}: {needle}")
        for href in ('href="tel:988"', f'href="{SAMHSA_TEL}"'):
            if href not in html:
                missing.append(f"{path}: {href}")
    assert missing == []
