"""Latency tables for the load scripts: count, p50, p95, p99 and max per kind of request, in ms."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np


def percentiles(values: Iterable[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(list(values), [50, 95, 99])
    return float(p50), float(p95), float(p99)


def table(timings: Mapping[str, list[float]], *, overall: bool = True) -> list[str]:
    """One line per kind (those with values), then ``overall`` over all of them."""
    rows = [(kind, values) for kind, values in timings.items() if values]
    if overall and len(rows) > 1:
        rows.append(("overall", [value for _, values in rows for value in values]))
    width = max((len(kind) for kind, _ in rows), default=8)
    lines = []
    for kind, values in rows:
        p50, p95, p99 = percentiles(values)
        lines.append(f"{kind:{width}s} {len(values):6d} requests  p50 {p50:8.1f}  "
                     f"p95 {p95:8.1f}  p99 {p99:8.1f}  max {max(values):8.1f} ms")
    return lines


def load_average() -> str:
    """The 1, 5 and 15-minute load averages (the machine is shared: say how busy it was)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg()) + f"  ({os.cpu_count()} CPUs)"
