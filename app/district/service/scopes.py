"""The family of cells: every set of schools the district role can reach (the district, each school type, stage
and type x stage, each school) and, inside each, each grade and gender, with the additive relations between
them that disclosure control must respect (app/district/suppression.py)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from models.roster import SCHOOL_STAGES as STAGES
from models.roster import SCHOOL_TYPES

from .context import GENDERS, Context, Filters
from .cubes import Cube

ScopeKey = tuple[frozenset[int], int | None, str | None]  # (schools, grade or None, gender or None)


@dataclass
class Scopes:
    """Named sets of schools (the filters) and each set's level: 0 district, 1 type/stage, 2 type × stage, 3 school."""

    all: frozenset[int]
    by_type: dict[str, frozenset[int]]
    by_stage: dict[str, frozenset[int]]
    by_type_stage: dict[tuple[str, str], frozenset[int]]
    level: dict[frozenset[int], int]

    def of(self, filters: Filters) -> frozenset[int]:
        scope = self.all
        if filters.type:
            scope = scope & self.by_type.get(filters.type, frozenset())
        if filters.stage:
            scope = scope & self.by_stage.get(filters.stage, frozenset())
        return scope

    def filter_sets(self) -> list[frozenset[int]]:
        sets = [self.all, *self.by_type.values(), *self.by_stage.values(), *self.by_type_stage.values()]
        return [s for s in dict.fromkeys(sets) if s]

    def part_of(self) -> dict[int, frozenset[int]]:
        """Each school's type x stage set (these sets partition the schools)."""
        return {sid: part for part in self.by_type_stage.values() for sid in part}

    def components(self) -> dict[frozenset[int], list[frozenset[int]]]:
        """Each filter set as the type x stage sets it is made of."""
        cached = getattr(self, "_components", None)
        if cached is None:
            parts = list(self.by_type_stage.values())
            cached = {f: [p for p in parts if p <= f] for f in self.filter_sets()}
            self._components = cached
        return cached


def make_scopes(ctx: Context) -> Scopes:
    ids = ctx.school_ids
    by_type = {t: frozenset(s for s in ids if ctx.schools[s].type == t) for t in SCHOOL_TYPES}
    by_stage = {st: frozenset(s for s in ids if ctx.schools[s].stage == st) for st in STAGES}
    by_ts = {(t, st): by_type[t] & by_stage[st] for t in SCHOOL_TYPES for st in STAGES}
    by_type = {k: v for k, v in by_type.items() if v}
    by_stage = {k: v for k, v in by_stage.items() if v}
    by_ts = {k: v for k, v in by_ts.items() if v}
    level: dict[frozenset[int], int] = {}
    for s in ids:
        level[frozenset([s])] = 3
    for v in by_ts.values():
        level[v] = min(level.get(v, 9), 2)
    for v in [*by_type.values(), *by_stage.values()]:
        level[v] = min(level.get(v, 9), 1)
    level[ids] = 0
    return Scopes(ids, by_type, by_stage, by_ts, level)


def cell_level(scopes: Scopes, key: ScopeKey) -> int:
    schools, grade, gender = key
    return scopes.level.get(schools, 3) + (grade is not None) + (gender is not None)


def family_keys(
    scopes: Scopes, grades: Iterable[int], max_level: int = 9
) -> tuple[list[ScopeKey], list[tuple[ScopeKey, tuple[ScopeKey, ...]]]]:
    """Every reachable cell of one measure and the additive relations between them (parent, children)."""
    grades = sorted(grades)
    keys: dict[ScopeKey, None] = {}
    relations: list[tuple[ScopeKey, tuple[ScopeKey, ...]]] = []

    def add(key: ScopeKey) -> ScopeKey:
        keys.setdefault(key, None)
        return key

    def parts(scope: frozenset[int]) -> list[list[frozenset[int]]]:
        splits = [
            [scope & v for v in scopes.by_type.values() if scope & v],
            [scope & v for v in scopes.by_stage.values() if scope & v],
            [frozenset([s]) for s in sorted(scope)],
        ]
        return [p for p in splits if len(p) > 1 or (p and p[0] != scope)]

    for scope in scopes.filter_sets():
        total = add((scope, None, None))
        for split in parts(scope):
            relations.append((total, tuple(add((p, None, None)) for p in split)))
        relations.append((total, tuple(add((scope, g, None)) for g in grades)))
        relations.append((total, tuple(add((scope, None, x)) for x in GENDERS)))
        # The same grade / gender inside each type or stage of this scope (reachable through a filter).
        for split in parts(scope)[:2]:
            if all(p in scopes.level and scopes.level[p] <= 2 for p in split):
                for g in grades:
                    relations.append(((scope, g, None), tuple(add((p, g, None)) for p in split)))
                for x in GENDERS:
                    relations.append(((scope, None, x), tuple(add((p, None, x)) for p in split)))
    if max_level < 9:
        kept = {k for k in keys if cell_level(scopes, k) <= max_level}
        relations = [(p, c) for p, c in relations if p in kept and all(x in kept for x in c)]
        return [k for k in keys if k in kept], relations
    return list(keys), relations


def cell_values(cube: Cube, keys: Iterable[ScopeKey], scopes: Scopes) -> dict[ScopeKey, int]:
    """Each cell's count, summed from the fine cube.

    Every filter set is a union of type x stage sets, and those partition the schools: sum the fine entries into
    schools and type x stage sets once, then each other set from its type x stage parts.
    """
    part_of = scopes.part_of()
    school: dict[int, int] = defaultdict(int)
    base: dict[ScopeKey, int] = defaultdict(int)
    for (sid, grade, gender), n in cube.items():
        school[sid] += n
        part = part_of.get(sid)
        if part is not None:
            base[(part, None, None)] += n
            base[(part, grade, None)] += n
            base[(part, None, gender)] += n
    components = scopes.components()
    out: dict[ScopeKey, int] = {}
    for key in keys:
        schools, key_grade, key_gender = key
        parts = components.get(schools)
        if parts is not None:
            out[key] = sum(base.get((p, key_grade, key_gender), 0) for p in parts)
        else:  # a single school that is not a filter set
            out[key] = sum(school.get(s, 0) for s in schools)
    return out

