"""Benchmark of the screening engine: scorings per second on one core, against a bare ``sum()`` over the same
answer lists measured in the same run (the floor: no engine can add up answers faster than ``sum``).

    .venv/bin/python -m bench.bench_engine [small|district|large]

Answers are uniformly random over each item's answer set (seeded), so about three PHQ-9 forms in four carry a
critical item 9 and produce the longer explanation: a pessimistic mix compared with a real school.
"""
from __future__ import annotations

import os
import random
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from config import BaseConfig
from screening import get_instrument, load_policy, score, suggest_level

SIZES = {"small": 20_000, "district": 100_000, "large": 250_000}
REPEATS = 5
PHQ9_TARGET = 50_000


@contextmanager
def one_core() -> Iterator[None]:
    """Pin the process to a single CPU while measuring (Linux); restore the previous affinity afterwards."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        yield
        return
    before = getter(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        yield
    finally:
        os.sched_setaffinity(0, before)


def answer_lists(instrument_id: str, n: int, seed: int = 20261129) -> list[list[int]]:
    rng = random.Random(seed)
    options = [item.values for item in get_instrument(instrument_id).items]
    return [[rng.choice(vals) for vals in options] for _ in range(n)]


def best_rate(fn: Callable[[], None], n: int) -> float:
    """Items per second, best of REPEATS runs (the least disturbed by other processes on the machine)."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def _measure(instrument_id: str, lists: list[list[int]], with_level: bool = False) -> tuple[float, float]:
    score(instrument_id, lists[0])  # load and compile the definition outside the timing
    policy = load_policy(BaseConfig.WARNING_POLICY_FILE)  # read once, outside the timing

    def engine() -> None:
        for answers in lists:
            score(instrument_id, answers)

    def engine_and_level() -> None:
        for answers in lists:
            suggest_level([score(instrument_id, answers)], (), policy)

    def bare_sum() -> None:
        for answers in lists:
            sum(answers)

    rate = best_rate(engine_and_level if with_level else engine, len(lists))
    baseline = best_rate(bare_sum, len(lists))
    return rate, baseline


def run(scale: str = "small") -> list[dict]:
    n = SIZES.get(scale, SIZES["small"])
    rows = []
    with one_core():
        phq9 = answer_lists("phq9", n)
        scared = answer_lists("scared41", n)
        cases = [
            ("phq9", phq9, False, f">= {PHQ9_TARGET} PHQ-9 scorings/s on one core"),
            ("scared41", scared, False, None),
            ("phq9", phq9, True, None),
        ]
        for inst_id, lists, with_level, target in cases:
            rate, baseline = _measure(inst_id, lists, with_level)
            what = f"{inst_id}_score_and_suggest_level" if with_level else f"{inst_id}_scorings"
            rows.append({
                "metric": f"{what}_per_second_one_core (higher is better; ratio = engine rate / bare sum() rate, "
                          f"at most 1)",
                "value": round(rate, 1),
                "unit": "forms/s",
                "baseline": f"bare sum() over the same {len(lists):,} {inst_id} answer lists in the same run "
                            f"(the floor on per-form work)",
                "baseline_value": round(baseline, 1),
                "ratio": round(rate / baseline, 4),
                "target": target,
            })
    return rows


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        target = f"  target: {row['target']}" if row["target"] else ""
        print(f"{row['metric']}\n  {row['value']:,.0f} {row['unit']}; baseline {row['baseline_value']:,.0f} "
              f"({row['baseline']}); ratio {row['ratio']:.4f}{target}")
