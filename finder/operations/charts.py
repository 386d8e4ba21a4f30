"""Horizontal bar charts drawn on the server as inline SVG: no script, no external file.

Every chart carries a <title> and a <desc> (named by ``aria-labelledby``) and sits beside a
table holding the same figures, so nothing is only in the picture. Colours are presentation
attributes, not inline styles, so a strict Content-Security-Policy has nothing to allow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
#: Distinguishable for colour-blind readers, and dark enough against white.
COLOURS = ("#0b57a4", "#b35c00", "#4d7c0f", "#6b21a8")
LABEL_WIDTH = 210
PLOT_WIDTH = 320
VALUE_WIDTH = 80
BAR_HEIGHT = 14
BAR_GAP = 2
GROUP_GAP = 10
LEGEND_HEIGHT = 24
MAX_LABEL = 32


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | int | None]
    colour: str | None = None


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _attrs(**values) -> str:
    return " ".join(f"{name.rstrip('_').replace('_', '-')}={quoteattr(str(value))}"
                    for name, value in values.items())


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
              maximum: float | None = None, fmt: Callable[[float], str] = str,
              description: str | None = None) -> Markup:
    """Grouped horizontal bars, one group per label, bar lengths proportional to the values.

    ``maximum`` fixes the full-width value (1 for shares); otherwise the largest value fills it.
    """
    if any(len(s.values) != len(labels) for s in series):
        raise ValueError("every series needs one value per label")
    present = [v for s in series for v in s.values if v is not None]
    top = maximum if maximum is not None else max(present, default=0)
    group = len(series) * BAR_HEIGHT + max(len(series) - 1, 0) * BAR_GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    height = LEGEND_HEIGHT + max(len(labels), 1) * (group + GROUP_GAP) + 4
    parts = [
        f"<svg {_attrs(xmlns=SVG_NS, role='img', class_='chart', width=width, height=height)}"
        f" viewBox=\"0 0 {width} {height}\""
        f" aria-labelledby=\"{chart_id}-title {chart_id}-desc\""
        " font-family=\"sans-serif\" font-size=\"12\">",
        f"<title id=\"{chart_id}-title\">{escape(title)}</title>",
        f"<desc id=\"{chart_id}-desc\">{escape(description or title)}. The table beside the "
        "chart gives the same figures.</desc>",
    ]
    x = 0
    for index, s in enumerate(series):
        colour = s.colour or COLOURS[index % len(COLOURS)]
        parts.append(f"<rect {_attrs(x=x, y=6, width=10, height=10, fill=colour)}/>")
        parts.append(f"<text {_attrs(x=x + 14, y=15)}>{escape(s.name)}</text>")
        x += 24 + 7 * len(s.name)
    if not labels:
        parts.append(f"<text {_attrs(x=0, y=LEGEND_HEIGHT + 14)}>No data for this period."
                     "</text>")
    for row, label in enumerate(labels):
        top_y = LEGEND_HEIGHT + row * (group + GROUP_GAP)
        parts.append(f"<text {_attrs(x=LABEL_WIDTH - 6, y=top_y + group / 2 + 4)}"
                     f" text-anchor=\"end\">{escape(_label(label))}</text>")
        for index, s in enumerate(series):
            value = s.values[row]
            y = top_y + index * (BAR_HEIGHT + BAR_GAP)
            length = 0.0
            if value is not None and top > 0:
                length = PLOT_WIDTH * min(max(value, 0) / top, 1)
            shown = "n/a" if value is None else fmt(value)
            colour = s.colour or COLOURS[index % len(COLOURS)]
            parts.append(
                f"<rect {_attrs(class_='bar', x=LABEL_WIDTH, y=y, width=f'{length:.3f}')}"
                f" {_attrs(height=BAR_HEIGHT, fill=colour)}"
                f" data-series=\"{index}\" data-row=\"{row}\">"
                f"<title>{escape(f'{label}, {s.name}: {shown}')}</title></rect>")
            parts.append(f"<text {_attrs(x=f'{LABEL_WIDTH + length + 4:.3f}', y=y + 11)}>"
                         f"{escape(shown)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def percent(value: float) -> str:
    return f"{value:.0%}"


def whole(value: float) -> str:
    return f"{value:,.0f}"
