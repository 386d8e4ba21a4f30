"""Server-drawn SVG bar charts: valid XML, titled, escaped, bars proportional to the values."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from finder.operations.charts import PLOT_WIDTH, Series, bar_chart, percent, whole

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    return root


def bars(root: ET.Element, series: int | None = None) -> list[ET.Element]:
    found = [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    return found if series is None else [r for r in found if r.get("data-series") == str(series)]


def width(rect: ET.Element) -> float:
    return float(rect.get("width"))


def test_a_chart_is_titled_and_described_for_screen_readers():
    root = parse(bar_chart("c1", "Calls per advertiser", ["A", "B"],
                           [Series("calls", [3, 1])], description="Two advertisers"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    title = root.find(f"{SVG}title")
    assert (title.get("id"), title.text) == ("c1-title", "Calls per advertiser")
    assert root.find(f"{SVG}desc").text.startswith("Two advertisers")
    # Each bar says what it is when pointed at.
    assert [r.find(f"{SVG}title").text for r in bars(root)] == ["A, calls: 3", "B, calls: 1"]


@pytest.mark.parametrize("values", [[6, 4, 1], [0.5, 2.5, 10], [1, 1, 1], [7, 0, 3]])
def test_bar_lengths_are_proportional_to_the_values(values):
    root = parse(bar_chart("c", "t", ["a", "b", "c"], [Series("s", values)]))
    widths = [width(r) for r in bars(root)]
    largest = max(values)
    assert widths == pytest.approx([PLOT_WIDTH * v / largest for v in values], abs=1e-3)
    assert max(widths) == pytest.approx(PLOT_WIDTH)


def test_two_series_share_one_scale():
    root = parse(bar_chart("c", "t", ["x", "y"],
                           [Series("routed", [8, 2]), Series("answered", [4, 2])]))
    routed, answered = [width(r) for r in bars(root, 0)], [width(r) for r in bars(root, 1)]
    assert routed == pytest.approx([PLOT_WIDTH, PLOT_WIDTH / 4], abs=1e-3)
    assert answered == pytest.approx([PLOT_WIDTH / 2, PLOT_WIDTH / 4], abs=1e-3)
    # The legend names both series.
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "routed" in texts and "answered" in texts


def test_a_fixed_maximum_draws_shares_against_100_percent():
    root = parse(bar_chart("c", "t", ["a", "b"], [Series("share", [0.25, 0.5])], maximum=1,
                           fmt=percent))
    assert [width(r) for r in bars(root)] == pytest.approx([PLOT_WIDTH / 4, PLOT_WIDTH / 2],
                                                           abs=1e-3)
    assert {"25%", "50%"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_missing_and_zero_values_draw_no_bar_and_say_so():
    root = parse(bar_chart("c", "t", ["a", "b"], [Series("s", [None, 0])]))
    assert [width(r) for r in bars(root)] == [0, 0]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "n/a" in texts and "0" in texts


def test_an_empty_chart_says_there_is_no_data():
    root = parse(bar_chart("c", "Nothing", [], [Series("s", [])]))
    assert bars(root) == []
    assert "No data for this period." in [t.text for t in root.iter(f"{SVG}text")]


def test_labels_are_escaped_and_long_ones_shortened():
    label = '<script>alert("x")</script> & a very long advertiser name indeed'
    markup = str(bar_chart("c", "Title with <b> & \"quotes\"", [label], [Series("s", [1])]))
    assert "<script>" not in markup and "<b>" not in markup
    root = parse(markup)
    assert root.find(f"{SVG}title").text == 'Title with <b> & "quotes"'
    shown = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert shown[0].endswith("…") and len(shown[0]) <= 32
    # The full label is still in the bar's own title.
    assert bars(root)[0].find(f"{SVG}title").text.startswith(label)


def test_every_series_needs_a_value_per_label():
    with pytest.raises(ValueError):
        bar_chart("c", "t", ["a", "b"], [Series("s", [1])])


def test_value_formats():
    assert whole(1234.0) == "1,234"
    assert percent(2 / 3) == "67%"
