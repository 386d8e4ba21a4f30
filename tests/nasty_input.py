"""Hypothesis strategies for what people and scripts type into pages, and checks of the answers.

Values are sent as bytes, percent-encoded by the tests themselves, so they can carry what a
browser would never send: NUL, lone surrogates (encoded as UTF-8 would, "surrogatepass") and
bytes that are not UTF-8 at all.
"""

from __future__ import annotations

import os
import re
from html import unescape
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from finder.extensions import db

#: Inputs that broke or could break a parser, a database driver or a template somewhere.
NASTY = [
    "", " ", "\x00", "a\x00b", "22902\x00", "\x00" * 3, "\ud800", "\udfff", "x\udcff",
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f", "\x85\xa0\u2028\u2029\u3000", "\ufeff22902",
    "\u202egnp.exe", "²", "١٢٣", "１２３", "٢٢٩٠٢", "²²⁹⁰²", "½", "Ⅻ", "𝟐𝟐𝟗𝟎𝟐",
    "0", "-0", "-1", "00000001", "1e309", "-1e309", "1e-400", "NaN", "nan", "inf", "-Infinity",
    "0x10", "1_000", "99999999999999999999999999999999", "9" * 5000, "1" * 4301,
    "'; DROP TABLE facility; --", "' OR '1'='1", "1; SELECT pg_sleep(5)", "%", "%%", "%00",
    "_", "\\", "\\'", '"', "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "{{ 7*7 }}", "{% raw %}", "${jndi:ldap://x}", "../../../etc/passwd", "/", "//evil.example",
    "javascript:alert(1)", "https://evil.example/", "😀" * 60, "a" * 201, "a" * 10_000,
    "Austin, TX", "22902", "Charlottesville, VA", "BU", "BU,NU", "MD,SF,,", "TX", "Texas",
]
#: Bytes no UTF-8 decoder accepts: werkzeug replaces them, the app must cope with the result.
RAW_BYTES = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80abc", b"22902\xe2\x82"]

text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=12).map(lambda t: t + "\x00"),
    st.text(st.characters(categories=["Cs", "Nd", "No", "Zs", "Cc", "Cf"]), max_size=12),
    st.integers().map(str),
    st.floats().map(repr),
)
#: A form or query value as sent on the wire.
wire_value = st.one_of(text.map(lambda t: t.encode("utf-8", "surrogatepass")),
                       st.sampled_from(RAW_BYTES))



def spliced(good: str):
    """``good`` with a nasty piece put somewhere in it (the usual way bad input arrives)."""
    return st.tuples(st.integers(0, len(good)), text).map(
        lambda cut: (good[:cut[0]] + cut[1] + good[cut[0]:]).encode("utf-8", "surrogatepass"))


def field_value(good: str):
    """What a field may get: left blank, arbitrary, or the good value with something inside."""
    return st.one_of(spliced(good), wire_value, st.just(b""))


def with_mutations(good: dict[str, str]):
    """The good values with up to two fields replaced: deep enough to reach the database."""
    names = sorted(good)
    return st.lists(st.sampled_from(names), max_size=2, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({
        name: field_value(good[name]) if name in chosen else st.just(good[name].encode())
        for name in names
    }))


#: FUZZ_SCALE=10 runs ten times the examples (a deeper search; still the same on every run).
SCALE = float(os.environ.get("FUZZ_SCALE", 1))


def fuzz_settings(examples: int):
    """Derandomized (the same inputs every run), no deadline; fixtures are shared on purpose."""
    return settings(max_examples=max(1, round(examples * SCALE)), derandomize=True,
                    deadline=None, database=None, suppress_health_check=list(HealthCheck))


def wire(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def as_received(value: bytes) -> str:
    """The text the app reads from these bytes: werkzeug percent-quotes what is not UTF-8."""
    import werkzeug.urls  # noqa: F401 (registers the "werkzeug.url_quote" error handler)

    return value.decode("utf-8", "werkzeug.url_quote")


def query_string(pairs) -> str:
    """``name=value&...`` for (name, str-or-bytes) pairs, repeated names kept."""
    return urlencode([(name, wire(value)) for name, value in pairs])


def path_segment(value: str | bytes) -> str:
    return quote(wire(value), safe="")


def post_form(client, path: str, pairs):
    """POST an urlencoded body built from (name, str-or-bytes) pairs."""
    return client.post(path, data=query_string(pairs),
                       content_type="application/x-www-form-urlencoded")


def page_text(response) -> str:
    html = response.get_data(as_text=True)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def shows_a_field_error(response) -> bool:
    """The page names what is wrong: a field's error, or a form's error summary."""
    html = response.get_data(as_text=True)
    return 'class="field-error"' in html or 'class="error-summary"' in html


#: What the error page says when a view gives no reason of its own (finder.errors.MESSAGES).
GENERIC_400 = "The request could not be understood."


def clearly_refused(response) -> bool:
    """A 4xx that says why: a field error, or an error page naming the problem (a missing
    CSRF token, an unknown status...) rather than the generic message."""
    return 400 <= response.status_code < 500 and (
        shows_a_field_error(response) or GENERIC_400 not in page_text(response))


def table_rows(app, names: tuple[str, ...]) -> dict[str, list[tuple]]:
    """Every row of the named (small) tables, in a stable order: a change to any value shows."""
    with app.app_context(), db.engine.connect() as conn:
        return {
            name: sorted(
                (tuple(map(repr, row)) for row in conn.execute(sa.select(sa.table(name, *[
                    sa.column(c["name"]) for c in sa.inspect(conn).get_columns(name)
                ])))),
            )
            for name in names
        }


def row_counts(app) -> dict[str, int]:
    """Row counts of every table, in one query (these tests count before and after each try)."""
    with app.app_context(), db.engine.connect() as conn:
        names = sorted(sa.inspect(conn).get_table_names())
        counts = sa.union_all(*(
            sa.select(sa.literal(name).label("name"), sa.func.count().label("rows"))
            .select_from(sa.table(name)) for name in names))
        return dict(conn.execute(counts).all())


def added_rows(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}
