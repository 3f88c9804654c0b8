"""What every benchmark module shares: repeated timing (median, min and max of several runs), floors, result rows.

A result row (one figure) is a dict written to bench/results/<stamp>-<scale>.json:

    key       stable identifier of the figure (the regression view matches runs on it)
    metric    what was measured, in words
    value     the median of the runs; `min`, `max`, `runs` beside it
    unit      ms, s, rows/s, ...; `better` says whether lower or higher is better
    floors    [{key, what, value, min, max, ratio}]: lower bounds measured in the same run on the same rows
    target    the issue's target, if any

`ratio` is always a cost ratio: how many times the floor's cost the figure costs (time / floor time; for rates,
floor rate / rate), so 1.0 is at the floor and lower is better whatever the unit. The first floor is also written
as `baseline`, `baseline_value` and `ratio` for readers of older result files.
"""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# How many measured runs a figure gets (after one unmeasured warm-up run) at each scale. "heavy" figures take
# seconds per run (imports, sweeps, rollup refreshes) and get fewer.
RUNS = {"tiny": 1, "small": 5, "district": 5}
HEAVY_RUNS = {"tiny": 1, "small": 3, "district": 3}


def runs_for(scale: str, heavy: bool = False) -> int:
    table = HEAVY_RUNS if heavy else RUNS
    return table.get(scale, table["small"])


@dataclass(frozen=True)
class Sample:
    """The measured values of one figure over several runs."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Iterable[float]) -> Sample:
        out = tuple(values)
        if not out:
            raise ValueError("a sample needs at least one value")
        return cls(out)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def scaled(self, factor: float) -> Sample:
        return Sample(tuple(v * factor for v in self.values))

    def rate(self, n: float) -> Sample:
        """n / each value: seconds per run -> items per second."""
        return Sample(tuple(n / v if v else math.inf for v in self.values))

    def plus(self, other: Sample) -> Sample:
        """Run-by-run sum (a floor made of two steps measured separately); the shorter sample bounds the length."""
        return Sample(tuple(a + b for a, b in zip(self.values, other.values, strict=False)))


def sample(fn: Callable[[], Any], runs: int, *, warmup: int = 1, unit: str = "s") -> Sample:
    """Wall time of `fn()` over `runs` runs after `warmup` unmeasured ones, in seconds (unit "s") or ms."""
    for _ in range(warmup):
        fn()
    factor = 1000.0 if unit == "ms" else 1.0
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        values.append((time.perf_counter() - start) * factor)
    return Sample(tuple(values))


def interleaved(fns: Sequence[Callable[[], Any]], runs: int, *, warmup: int = 1, unit: str = "s") -> list[Sample]:
    """Like `sample` for several functions, run in turn (a, b, a, b, ...) so that a change in the machine's load
    during the measurement touches a figure and its floor alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    factor = 1000.0 if unit == "ms" else 1.0
    values: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            values[i].append((time.perf_counter() - start) * factor)
    return [Sample(tuple(v)) for v in values]


@dataclass(frozen=True)
class Floor:
    key: str
    what: str
    value: Sample | float


def _as_sample(value: Sample | float) -> Sample:
    return value if isinstance(value, Sample) else Sample((float(value),))


def rounded(x: float | None) -> float | None:
    """Four significant digits (no more than a benchmark on a shared machine can tell)."""
    if x is None or not math.isfinite(x) or x == 0:
        return x
    digits = 3 - int(math.floor(math.log10(abs(x))))
    return round(x, max(digits, 0)) if digits > 0 else float(round(x))


def cost_ratio(value: float, floor: float, better: str) -> float | None:
    if not value or not floor:
        return None
    return value / floor if better == "lower" else floor / value


def result(key: str, metric: str, value: Sample | float, unit: str, floors: Sequence[Floor] = (), *,
           better: str = "lower", target: str | None = None, **extra: Any) -> dict[str, Any]:
    """One figure as a result row (see the module docstring)."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    s = _as_sample(value)
    row: dict[str, Any] = {
        "key": key, "metric": metric, "value": rounded(s.median), "min": rounded(s.min), "max": rounded(s.max),
        "runs": len(s.values), "unit": unit, "better": better, "floors": [], "target": target,
    }
    for floor in floors:
        f = _as_sample(floor.value)
        ratio = cost_ratio(s.median, f.median, better)
        row["floors"].append({"key": floor.key, "what": floor.what, "value": rounded(f.median), "min": rounded(f.min),
                              "max": rounded(f.max), "ratio": None if ratio is None else round(ratio, 2)})
    first = row["floors"][0] if row["floors"] else None
    row["baseline"] = first["what"] if first else None
    row["baseline_value"] = first["value"] if first else None
    row["ratio"] = first["ratio"] if first else None
    row.update(extra)
    return row
