"""Disclosure control for the district figures (pure Python: no Flask, no database).

What is protected
-----------------
A *family* of published counts of the same base: every cell the district role can reach for one measure in one
term or campaign — the district total, each school type, stage, grade and gender, each school, and the same
breakdowns inside every filter (type, stage, type × stage). Cells are identified by a key (any hashable); the
same group reached through two pages is ONE cell, so it is shown or hidden the same way everywhere. The family
states its additive *relations*: `parent = sum(children)` (a total and its breakdown, a type and its schools,
all students = care-group students + other students, ...).

The rule (k = SUPPRESSION_K, default 5)
---------------------------------------
1. **Primary suppression.** Every cell with a value in 1..k−1 is suppressed; it reads "<5". Zero is shown (a zero
   cannot single anybody out, and it does not help to recover another cell).
2. **Complementary suppression.** A suppressed cell must not be recoverable by linear algebra from the shown
   cells and the relations — neither from one row or column total, nor by combining several breakdowns (for
   example a type total minus all its other schools, or "all grade 7" minus the grade-7 cells of each type).
   The check is exact: the relations restricted to the suppressed cells form a linear system (values of shown
   cells are constants); a suppressed cell is *determined* when its unit vector lies in the row space of that
   system, i.e. it is a pivot of the reduced row-echelon form whose row has no other non-zero entry. The
   elimination runs modulo a 61-bit prime (relation coefficients are ±1, so ranks agree with the rationals
   except with negligible probability; the unit tests cross-check with exact fractions).
   While some suppressed cell is determined, one more cell is suppressed: first a cheap pass (any relation with
   exactly one suppressed member gets a second one), then the exact check catches the remaining cases (a cell
   whose only protection is a bridge between two protected blocks). The exact check runs at levels 0 and 1 (so
   the coarse figures are final there) and at the last level over every relation; middle levels use the cheap
   pass only, which is enough because the last check sees all relations at once. The complement chosen is the member
   of a relation through the determined cell with the smallest value above k (then exactly k, then zero), so as
   little as possible is hidden and a pair "<5" + hidden cell cannot be pinned down by "one is 1..4, the other
   is at least 5". Complements read "*" (hidden to protect another cell), never a number.
3. **Levels, top down.** Each cell has a level (0 = district total, 1 = one dimension, 2 = two, 3 = a school...).
   Relations are activated level by level (a relation belongs to the level of its deepest member) and a
   complement is taken from the current level whenever one exists. So coarse figures (the district, each type:
   what the trend charts show) are usually decided before and independently of fine ones — but not always: when
   no cell of the current level can serve, a coarser one is hidden (an escalation), so protecting levels 0–1
   alone can show a cell the whole family hides. The trend page therefore uses the whole family's result, as the
   dashboard does (app/district/service/trends.py; tests/web/test_figure_agreement.py has the case).
4. **After filters.** A filter only selects cells of the family; the threshold applies to the filtered cell's
   own value, so a filter cannot narrow a group down to a few students.
5. **Rates.** A rate is shown only when both its numerator and its denominator are shown (`rate_text`).

Known limits (documented, not hidden): differences between *different* measures that are not declared as a
relation (enrolled minus screened = not screened; a care group's count against all care-group students, which
only bound each other because groups overlap) are not protected; nor are integer-interval attacks across many
cells beyond the "above k" preference of rule 2. Measures with identical counts get identical hidden cells
(the algorithm is deterministic), so they never reveal each other.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

PRIME = (1 << 61) - 1
SHOWN, PRIMARY, COMPLEMENT = "shown", "primary", "complement"
Key = Hashable


@dataclass(frozen=True)
class Relation:
    """parent = sum(children): an additive identity an outsider can use."""

    parent: Key
    children: tuple[Key, ...]

    def members(self) -> tuple[Key, ...]:
        return (self.parent, *self.children)


@dataclass
class Protected:
    """The outcome: each cell's value and status, and how to print it."""

    values: dict[Key, int]
    status: dict[Key, str]
    k: int
    escalations: int = 0

    def shown(self, key: Key) -> bool:
        return self.status.get(key, SHOWN) == SHOWN

    def value(self, key: Key) -> int | None:
        """The number if it may be shown, else None."""
        return self.values.get(key, 0) if self.shown(key) else None

    def text(self, key: Key) -> str:
        return cell_text(self.values.get(key, 0), self.status.get(key, SHOWN), self.k)

    @property
    def suppressed(self) -> set[Key]:
        return {key for key, s in self.status.items() if s != SHOWN}


def cell_text(value: int, status: str, k: int) -> str:
    if status == PRIMARY:
        return f"<{k}"
    if status == COMPLEMENT:
        return "*"
    return str(value)


def rate_text(numerator: int | None, denominator: int | None, digits: int = 1) -> str:
    """A percentage, only over shown figures; "—" when either is hidden or the base is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return "—"
    return f"{100.0 * numerator / denominator:.{digits}f}%"


def rate_value(numerator: int | None, denominator: int | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return 100.0 * numerator / denominator


# -- the algorithm ------------------------------------------------------------------------------------------
def protect(
    values: Mapping[Key, int],
    relations: Iterable[Relation],
    k: int = 5,
    levels: Mapping[Key, int] | None = None,
) -> Protected:
    """Primary and complementary suppression of a family of counts (see the module docstring)."""
    structure = Structure(list(values), relations, levels or {})
    return structure.protect([int(values[key]) for key in structure.keys], k)


class Structure:
    """The shape of a family (cells, relations, levels), indexed once and reused for every measure."""

    def __init__(self, keys: Sequence[Key], relations: Iterable[Relation], levels: Mapping[Key, int]):
        self.keys = list(keys)
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.level = [int(levels.get(key, 0)) for key in self.keys]
        self.order = sorted(range(len(self.keys)), key=lambda i: _sort_key(self.keys[i]))
        self.rank_of = {i: r for r, i in enumerate(self.order)}  # deterministic tie-breaks
        rels: list[tuple[int, ...]] = []
        seen: set[tuple[int, frozenset[int]]] = set()
        for r in relations:
            if r.parent not in self.index or any(c not in self.index for c in r.children):
                continue
            parent = self.index[r.parent]
            children = tuple(dict.fromkeys(self.index[c] for c in r.children if c != r.parent))
            if not children:
                continue
            sig = (parent, frozenset(children))
            if sig in seen:
                continue
            seen.add(sig)
            rels.append((parent, *children))
        self.relations = rels
        self.rel_level = [max(self.level[m] for m in rel) for rel in rels]
        self.by_member: list[list[int]] = [[] for _ in self.keys]
        for ri, rel in enumerate(rels):
            for m in rel:
                self.by_member[m].append(ri)
        self.steps = sorted(set(self.rel_level))

    # -- the algorithm --------------------------------------------------------------------------------------
    def protect(self, values: Sequence[int], k: int) -> Protected:
        n = len(self.keys)
        hidden = [1 <= v < k for v in values]
        status = [PRIMARY if h else SHOWN for h in hidden]
        escalations = 0
        if any(hidden):
            active = [False] * len(self.relations)
            count = [0] * len(self.relations)
            for step in self.steps:
                work: list[int] = []
                dirty = False  # the exact check is needed only if this step touches a hidden cell
                for ri, lv in enumerate(self.rel_level):
                    if lv == step:
                        active[ri] = True
                        count[ri] = sum(1 for m in self.relations[ri] if hidden[m])
                        dirty = dirty or count[ri] > 0
                        if count[ri] == 1:
                            work.append(ri)
                while dirty:
                    while work:
                        ri = work.pop()
                        if count[ri] != 1:
                            continue
                        choice, escalated = self._pick(
                            [m for m in self.relations[ri] if not hidden[m]], values, step, k
                        )
                        if choice is None:
                            continue
                        escalations += escalated
                        self._hide(choice, hidden, status, count, active, work)
                    if 1 < step < self.steps[-1]:
                        break  # middle levels: the single-hidden pass only; the exact check runs at the last level
                    unknown = [i for i in range(n) if hidden[i]]
                    determined = self._determined(active, hidden, unknown)
                    if not determined:
                        break
                    # One complement per determined cell, then check again (the simple pass may add more).
                    for q in sorted(determined, key=self.rank_of.__getitem__):
                        choice, escalated = self._complement_for(q, values, hidden, active, step, k)
                        if choice is None:
                            raise RuntimeError(f"no complement available for {self.keys[q]!r}")
                        if not hidden[choice]:
                            escalations += escalated
                            self._hide(choice, hidden, status, count, active, work)
        return Protected(dict(zip(self.keys, values, strict=True)), dict(zip(self.keys, status, strict=True)), k,
                         escalations)

    def _hide(self, i: int, hidden: list[bool], status: list[str], count: list[int], active: list[bool],
              work: list[int]) -> None:
        hidden[i] = True
        status[i] = COMPLEMENT
        for ri in self.by_member[i]:
            if active[ri]:
                count[ri] += 1
                if count[ri] == 1:
                    work.append(ri)

    def _pick(self, cands: Sequence[int], values: Sequence[int], step: int, k: int) -> tuple[int | None, bool]:
        if not cands:
            return None, False
        at_level = [c for c in cands if self.level[c] == step]
        pool, escalated = (at_level, False) if at_level else (list(cands), True)
        best = min(pool, key=lambda c: (_rank(values[c], k), -self.level[c], self.rank_of[c]))
        return best, escalated

    def _complement_for(self, q: int, values: Sequence[int], hidden: list[bool], active: list[bool], step: int,
                        k: int) -> tuple[int | None, bool]:
        """A shown cell to hide so that q stops being determined: q's relations first, then their neighbours."""
        seen_rel: set[int] = set()
        frontier = [ri for ri in self.by_member[q] if active[ri]]
        fallback: tuple[int | None, bool] = (None, False)
        while frontier:
            cands: list[int] = []
            nxt: list[int] = []
            for ri in frontier:
                if ri in seen_rel:
                    continue
                seen_rel.add(ri)
                for m in self.relations[ri]:
                    if not hidden[m]:
                        cands.append(m)
                    else:
                        nxt.extend(rj for rj in self.by_member[m] if active[rj] and rj not in seen_rel)
            choice, escalated = self._pick(list(dict.fromkeys(cands)), values, step, k)
            if choice is not None and not escalated:
                return choice, False
            if choice is not None and fallback[0] is None:
                fallback = (choice, True)
            frontier = nxt
        return fallback

    def _determined(self, active: list[bool], hidden: list[bool], unknown: list[int]) -> set[int]:
        if not unknown:
            return set()
        col = {i: j for j, i in enumerate(unknown)}
        rows = []
        seen: set[int] = set()
        for i in unknown:
            for ri in self.by_member[i]:
                if active[ri] and ri not in seen:
                    seen.add(ri)
                    rel = self.relations[ri]
                    row: dict[int, int] = {}
                    if hidden[rel[0]]:
                        row[col[rel[0]]] = 1
                    for m in rel[1:]:
                        if hidden[m]:
                            j = col[m]
                            row[j] = (row.get(j, 0) - 1) % PRIME
                    row = {j: v for j, v in row.items() if v}
                    if row:
                        rows.append(row)
        return {unknown[j] for j in _determined_columns(rows)}


def _determined_columns(rows: list[dict[int, int]]) -> set[int]:
    """Columns fixed by the homogeneous system `rows` (mod PRIME): pivots whose reduced row is a unit vector.

    Forward elimination keeps each pivot row's pivot at its smallest column; back substitution, from the last
    pivot to the first, then gives the reduced row-echelon form.
    """
    pivots: dict[int, dict[int, int]] = {}
    for row in rows:
        row = dict(row)
        while row:
            c = min(row)
            if c not in pivots:
                lead = row[c]
                if lead == 1:
                    pivots[c] = row
                elif lead == PRIME - 1:  # -1: negate (the usual case besides 1; no modular inverse needed)
                    pivots[c] = {j: (PRIME - v) % PRIME for j, v in row.items()}
                else:
                    inv = pow(lead, PRIME - 2, PRIME)
                    pivots[c] = {j: (v * inv) % PRIME for j, v in row.items()}
                break
            factor = row[c]
            for j, v in pivots[c].items():
                nv = (row.get(j, 0) - factor * v) % PRIME
                if nv:
                    row[j] = nv
                else:
                    row.pop(j, None)
    for c in sorted(pivots, reverse=True):
        row = pivots[c]
        for j in sorted(j for j in row if j != c and j in pivots):
            if j not in row:
                continue
            factor = row[j]
            for jj, v in pivots[j].items():
                nv = (row.get(jj, 0) - factor * v) % PRIME
                if nv:
                    row[jj] = nv
                else:
                    row.pop(jj, None)
    return {c for c, row in pivots.items() if len(row) == 1}


def _sort_key(key: Key) -> str:
    return repr(key)


def _rank(value: int, k: int) -> tuple[int, int]:
    """Preference for a complement: smallest value above k, then k itself, then zero."""
    if value > k:
        return (0, value)
    if value == k:
        return (1, value)
    return (2, value)


def determined_cells(relations: Iterable[Relation], unknown: set[Key]) -> set[Key]:
    """The unknown cells whose value follows from the relations and the known (shown) cells.

    Each relation restricted to the unknowns is a row (+1 for the parent, −1 for each child); shown cells move to
    the constant side and do not matter for *whether* a cell is determined. Reduced row-echelon form mod PRIME.
    """
    cols: dict[Key, int] = {}
    rows: list[dict[int, int]] = []
    for rel in relations:
        row: dict[int, int] = {}
        for sign, member in [(1, rel.parent)] + [(-1, c) for c in rel.children]:
            if member in unknown:
                j = cols.setdefault(member, len(cols))
                row[j] = (row.get(j, 0) + sign) % PRIME
        row = {j: v for j, v in row.items() if v}
        if row:
            rows.append(row)
    names = {j: key for key, j in cols.items()}
    return {names[c] for c in _determined_columns(rows)}


# -- two-way tables -----------------------------------------------------------------------------------------
@dataclass
class Table:
    """A rows × columns table of counts with its row totals, column totals and grand total, protected."""

    cells: list[list[int]]
    protected: Protected = field(repr=False)

    def text(self, key: Key) -> str:
        return self.protected.text(key)


def table_family(cells: Sequence[Sequence[int]]) -> tuple[dict[Key, int], list[Relation], dict[Key, int]]:
    """Keys ("c", i, j), ("r", i) row total, ("col", j) column total, ("t",) grand total, with their relations."""
    n_rows = len(cells)
    n_cols = len(cells[0]) if n_rows else 0
    values: dict[Key, int] = {}
    levels: dict[Key, int] = {("t",): 0}
    for i in range(n_rows):
        for j in range(n_cols):
            values[("c", i, j)] = int(cells[i][j])
            levels[("c", i, j)] = 2
    for i in range(n_rows):
        values[("r", i)] = sum(int(v) for v in cells[i])
        levels[("r", i)] = 1
    for j in range(n_cols):
        values[("col", j)] = sum(int(cells[i][j]) for i in range(n_rows))
        levels[("col", j)] = 1
    values[("t",)] = sum(values[("r", i)] for i in range(n_rows))
    relations = [Relation(("r", i), tuple(("c", i, j) for j in range(n_cols))) for i in range(n_rows)]
    relations += [Relation(("col", j), tuple(("c", i, j) for i in range(n_rows))) for j in range(n_cols)]
    relations.append(Relation(("t",), tuple(("r", i) for i in range(n_rows))))
    relations.append(Relation(("t",), tuple(("col", j) for j in range(n_cols))))
    return values, relations, levels


def protect_table(cells: Sequence[Sequence[int]], k: int = 5) -> Table:
    values, relations, levels = table_family(cells)
    return Table([list(map(int, row)) for row in cells], protect(values, relations, k, levels))
