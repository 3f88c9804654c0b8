"""Protected figures: the cubes summed over the family of cells and protected together (small cells and their
complements hidden over the whole family at once, so every page, filter and export shows the same figures).

Protection is a pure function of the counts, so its result is memoised per app (`FiguresCache`, kept by the
district area in `app.extensions`): another filter or grouping of the same selection, or an export of the page
just seen, is not protected twice.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..glossary import is_measure
from ..suppression import Key, Protected, Relation, Structure, rate_value
from .context import Context, Selection, load_context
from .cubes import Cube
from .rollups import OPEN_ROLLUP_MAX_AGE, ROLLUP_MAX_AGE, Enrolled, RollupSource, cached_cubes, fresh_rollup
from .scopes import ScopeKey, Scopes, cell_level, cell_values, family_keys, make_scopes

# Measures protected together because they are linked by an additive relation (all = care + other).
LINKED: dict[str, tuple[str, ...]] = {"screened": ("screened_care", "screened_other"),
                                      "positive": ("positive_care", "positive_other")}


@dataclass
class Figures:
    """Protected figures of every measure over the whole family of one selection."""

    scopes: Scopes
    grades: list[int]
    protected: dict[str, Protected]
    k: int

    def value(self, measure: str, key: ScopeKey) -> int | None:
        p = self._measure(measure)
        return None if p is None else p.value(key)

    def text(self, measure: str, key: ScopeKey) -> str:
        p = self._measure(measure)
        return "0" if p is None else p.text(key)

    def status(self, measure: str, key: ScopeKey) -> str:
        p = self._measure(measure)
        return "shown" if p is None else p.status.get(key, "shown")

    def rate(self, numerator: str, denominator: str, key: ScopeKey) -> float | None:
        return rate_value(self.value(numerator, key), self.value(denominator, key))

    def _measure(self, measure: str) -> Protected | None:
        """The protected counts of a measure; None (reads 0) for a measure with no rows in this selection. A name
        that is no measure at all (a typo, a measure renamed: "enrolled" became `on_roll` / `eligible`) raises
        instead of reading 0 (app/district/glossary.py lists them)."""
        p = self.protected.get(measure)
        if p is None and not is_measure(measure):
            raise KeyError(f"not a district measure: {measure!r} (see app/district/glossary.py)")
        return p




class FiguresCache:
    """The last `size` protected results, by their inputs (counts and school ids only: no identity)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], Figures] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Figures | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], figures: Figures) -> None:
        self._items[key] = figures
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def _cache_key(cubes_id: Any, scopes: Scopes, grades: list[int], k: int, max_level: int,
               links: dict[str, tuple[str, ...]] = LINKED) -> tuple[Any, ...]:
    # the schools of each type x stage: the whole family's shape
    return (k, max_level, tuple(grades), tuple(sorted(links.items())), frozenset(scopes.by_type_stage.items()),
            cubes_id)


def protect_cubes(cubes: dict[str, Cube], scopes: Scopes, grades: Iterable[int], k: int, max_level: int = 9,
                  cache: FiguresCache | None = None, source: RollupSource | None = None,
                  linked: dict[str, tuple[str, ...]] | None = None) -> Figures:
    """Protect every measure over the family, memoised in `cache` when one is given: the result is a pure
    function of its inputs, so the same counts (another filter or grouping of the same selection, an export of
    the page just seen) are not protected twice. The cache key holds counts and school ids only, or, for counts
    read from a rollup, the rollup's identity (`source`: key, stamp and refresh time) in place of the counts.
    `linked`: the measures protected together (default `LINKED`; a page that shows more parts passes more)."""
    grades = sorted(grades)
    links = LINKED if linked is None else linked
    if cache is None:
        return _protect_cubes(cubes, scopes, grades, k, max_level, links)
    cubes_id = source if source is not None else frozenset((m, frozenset(c.items())) for m, c in cubes.items())
    key = _cache_key(cubes_id, scopes, grades, k, max_level, links)
    figures = cache.get(key)
    if figures is None:
        figures = _protect_cubes(cubes, scopes, grades, k, max_level, links)
        cache.put(key, figures)
    return figures


def _protect_cubes(cubes: dict[str, Cube], scopes: Scopes, grades: list[int], k: int, max_level: int,
                   linked: dict[str, tuple[str, ...]] = LINKED) -> Figures:
    """Protect every measure over the family; linked measures (all = care + other) are protected together."""
    keys, rels = family_keys(scopes, grades, max_level)
    levels: dict[Key, int] = {key: cell_level(scopes, key) for key in keys}
    single = Structure(keys, [Relation(p, c) for p, c in rels], levels)
    linked_structures: dict[int, Structure] = {}
    protected: dict[str, Protected] = {}
    done: set[str] = set()
    for measure in cubes:
        if measure in done:
            continue
        group = [m for m in (measure, *linked.get(measure, ())) if m in cubes]
        values = [cell_values(cubes[m], keys, scopes) for m in group]
        if not any(1 <= v < k for vals in values for v in vals.values()):
            for m, vals in zip(group, values, strict=True):
                protected[m] = Protected(dict(vals.items()), dict.fromkeys(vals, "shown"), k)
                done.add(m)
            continue
        if len(group) == 1:
            protected[measure] = single.protect([values[0][key] for key in keys], k)
            done.add(measure)
            continue
        structure = linked_structures.get(len(group))
        if structure is None:
            gkeys = [(g, key) for g in range(len(group)) for key in keys]
            grels = [Relation((g, p), tuple((g, x) for x in c)) for g in range(len(group)) for p, c in rels]
            grels += [Relation((0, key), tuple((g, key) for g in range(1, len(group)))) for key in keys]
            structure = Structure(gkeys, grels, {(g, key): levels[key] for g in range(len(group)) for key in keys})
            linked_structures[len(group)] = structure
        result = structure.protect([values[g][key] for g in range(len(group)) for key in keys], k)
        for g, m in enumerate(group):
            protected[m] = Protected(
                {key: result.values[(g, key)] for key in keys}, {key: result.status[(g, key)] for key in keys}, k
            )
            done.add(m)
    return Figures(scopes, sorted(grades), protected, k)


def present_grades(ctx: Context) -> list[int]:
    return sorted({g for grades in ctx.eligible.values() for g in grades})


def compute_figures(db: Session, district_id: int | None, selection: Selection, k: int, today: date,
                    tz_name: str = "Asia/Shanghai", max_level: int = 9, *, enrolled: Enrolled = None,
                    rollup_max_age: timedelta | None = ROLLUP_MAX_AGE,
                    open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE,
                    cache: FiguresCache | None = None) -> tuple[Context, Figures]:
    """Protected figures for one selection. `max_level=1` computes only the district-level cells (trends).
    `cache`: the app's memo of protected results (`figures_cache()` in a request). `enrolled`: the enrolment cube
    (or a function returning it) when the caller has it; otherwise read when the figures are computed live.

    Disclosure control runs on whatever counts are used (live or from a rollup); `ctx.as_of` says how old they are.
    Served from a fresh rollup whose protected figures the cache holds, the request reads neither the students nor
    the rollup's counts.
    """
    ctx = load_context(db, district_id, selection)
    detail = "coarse" if max_level <= 1 else "full"
    scopes = make_scopes(ctx)
    grades = present_grades(ctx)
    source = None
    if cache is not None:
        source = fresh_rollup(db, district_id, selection, ctx, today, detail, rollup_max_age, open_max_age)
        if source is not None:
            found = cache.get(_cache_key(source, scopes, grades, k, max_level))
            if found is not None:
                ctx.as_of = source.refreshed_at
                return ctx, found
    cubes, source = cached_cubes(db, district_id, selection, ctx, today, tz_name, detail, rollup_max_age,
                                 open_max_age, enrolled=enrolled, source=source)
    return ctx, protect_cubes(cubes, scopes, grades, k, max_level, cache, source)

