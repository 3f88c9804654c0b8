"""Benchmark of the screening engine: scorings per second on one core, against a bare ``sum()`` over the same
answer lists measured in the same run (the floor: no engine can add up answers faster than ``sum``).

    .venv/bin/python -m bench.bench_engine [tiny|small|district]

Data: none (answer lists made here). Median of several runs on one core; ratio = bare sum() rate / engine rate.

Answers are uniformly random over each item's answer set (seeded), so about three PHQ-9 forms in four carry a
critical item 9 and produce the longer explanation: a pessimistic mix compared with a real school.
"""
from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

from bench.core import Floor, Sample, interleaved, result, runs_for
from config import BaseConfig
from screening import get_instrument, load_policy, score, suggest_level

DATA = None  # no database
SIZES = {"tiny": 2_000, "small": 20_000, "district": 100_000}
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


def _measure(instrument_id: str, lists: list[list[int]], runs: int, with_level: bool = False) -> tuple[Sample, Sample]:
    """(engine seconds, bare sum() seconds) over `lists`."""
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

    measured, floor = interleaved([engine_and_level if with_level else engine, bare_sum], runs)
    return measured, floor


def run(scale: str, data: object = None) -> list[dict]:
    n = SIZES.get(scale, SIZES["small"])
    runs = runs_for(scale)
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
            measured, floor = _measure(inst_id, lists, runs, with_level)
            what = f"{inst_id}_score_and_suggest_level" if with_level else f"{inst_id}_scorings"
            rows.append(result(
                f"engine.{what}_per_second", f"{what.replace('_', ' ')} per second, one core",
                measured.rate(len(lists)), "forms/s",
                [Floor("sum", f"bare sum() over the same {len(lists):,} {inst_id} answer lists (the floor on per-form "
                       "work)", floor.rate(len(lists)))],
                better="higher", target=target))
    return rows


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_engine")
