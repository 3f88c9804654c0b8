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
   whose only protection is a bridge between two protected blocks). The complement chosen is the member of a
   relation through the determined cell with the smallest value above k (then exactly k, then zero), so as
   little as possible is hidden and a pair "<5" + hidden cell cannot be pinned down by "one is 1..4, the other
   is at least 5". Complements read "*" (hidden to protect another cell), never a number.
3. **Levels, top down.** Each cell has a level (0 = district total, 1 = one dimension, 2 = two, 3 = a school...).
   Relations are activated level by level (a relation belongs to the level of its deepest member) and a
   complement is taken from the current level whenever one exists. So coarse figures (the district, each type:
   what the trend charts show) are decided before and independently of fine ones: the trend page, which
   computes only levels 0–1, hides exactly the cells the dashboard hides.
4. **After filters.** A filter only selects cells of the family; the threshold applies to the filtered cell's
   own value, so a filter cannot narrow a group down to a few students.
5. **Rates.** A rate is shown only when both its numerator and its denominator are shown (`rate_text`).

Known limits (documented, not hidden): complements of differences between *different* measures (enrolled minus
screened = not screened) are not protected; nor are integer-interval attacks across many cells beyond the
"above k" preference of rule 2.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Iterable, Mapping, Sequence

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
    vals = {key: int(v) for key, v in values.items()}
    rels = [r for r in _clean(relations) if all(m in vals for m in r.members())]
    lv = {key: (levels or {}).get(key, 0) for key in vals}
    status = {key: (PRIMARY if 1 <= v < k else SHOWN) for key, v in vals.items()}
    counter = [0]
    rel_level = [max(lv[m] for m in r.members()) for r in rels]
    by_member: dict[Key, list[int]] = {}
    for i, r in enumerate(rels):
        for m in r.members():
            by_member.setdefault(m, []).append(i)
    for level in sorted(set(rel_level)):
        active = [i for i, rl in enumerate(rel_level) if rl <= level]
        active_set = set(active)
        while True:
            added = _simple_pass(vals, rels, active, status, lv, level, k, counter)
            if added:
                continue
            determined = determined_cells([rels[i] for i in active], {key for key, s in status.items() if s != SHOWN})
            if not determined:
                break
            q = min(determined, key=_sort_key)
            choice, escalated = _complement_for(q, vals, rels, by_member, active_set, status, lv, level, k)
            if choice is None:  # cannot happen for a consistent family; fail safe by hiding the relation's parent
                raise RuntimeError(f"no complement available for {q!r}")
            status[choice] = COMPLEMENT
            counter[0] += escalated
    return Protected(vals, status, k, counter[0])


def _clean(relations: Iterable[Relation]) -> list[Relation]:
    out, seen = [], set()
    for r in relations:
        children = tuple(c for c in dict.fromkeys(r.children) if c != r.parent)
        if not children:
            continue
        if len(children) == 1 and children[0] == r.parent:
            continue
        sig = (r.parent, frozenset(children))
        if sig in seen:
            continue
        seen.add(sig)
        out.append(Relation(r.parent, children))
    return out


def _sort_key(key: Key) -> str:
    return repr(key)


def _rank(value: int, k: int) -> tuple[int, int]:
    """Preference for a complement: smallest value above k, then k itself, then zero."""
    if value > k:
        return (0, value)
    if value == k:
        return (1, value)
    return (2, value)


def _candidates(rel: Relation, status: Mapping[Key, str], vals: Mapping[Key, int], k: int) -> list[Key]:
    return [m for m in rel.members() if status[m] == SHOWN]


def _pick(cands: Sequence[Key], vals: Mapping[Key, int], lv: Mapping[Key, int], level: int, k: int) -> tuple[Key | None, bool]:
    if not cands:
        return None, False
    at_level = [c for c in cands if lv[c] == level]
    pool, escalated = (at_level, False) if at_level else (list(cands), True)
    best = min(pool, key=lambda c: (_rank(vals[c], k), -lv[c], _sort_key(c)))
    return best, escalated


def _simple_pass(vals, rels, active, status, lv, level, k, counter) -> bool:  # type: ignore[no-untyped-def]
    """Give every active relation with exactly one suppressed member a second one. True if anything changed."""
    changed = False
    for i in active:
        rel = rels[i]
        hidden = [m for m in rel.members() if status[m] != SHOWN]
        if len(hidden) != 1:
            continue
        choice, escalated = _pick(_candidates(rel, status, vals, k), vals, lv, level, k)
        if choice is not None:
            status[choice] = COMPLEMENT
            changed = True
            counter[0] += escalated
    return changed


def _complement_for(q, vals, rels, by_member, active_set, status, lv, level, k):  # type: ignore[no-untyped-def]
    """A shown cell to hide so that q stops being determined: look through q's relations, then their neighbours."""
    seen_rel: set[int] = set()
    frontier = [i for i in by_member.get(q, []) if i in active_set]
    fallback: tuple[Key | None, bool] = (None, False)
    while frontier:
        cands: list[Key] = []
        nxt: list[int] = []
        for i in frontier:
            if i in seen_rel:
                continue
            seen_rel.add(i)
            cands.extend(_candidates(rels[i], status, vals, k))
            for m in rels[i].members():
                if status[m] != SHOWN:
                    nxt.extend(j for j in by_member.get(m, []) if j in active_set and j not in seen_rel)
        choice, escalated = _pick(list(dict.fromkeys(cands)), vals, lv, level, k)
        if choice is not None and not escalated:
            return choice, False
        if choice is not None and fallback[0] is None:
            fallback = (choice, True)
        frontier = nxt
    return fallback


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
    if not rows:
        return set()
    pivots: dict[int, dict[int, int]] = {}  # pivot column -> normalised row
    for row in rows:
        row = dict(row)
        # reduce by the existing pivot rows (they are fully reduced, so one pass per pivot column suffices)
        while True:
            hit = [c for c in row if c in pivots]
            if not hit:
                break
            pc = hit[0]
            factor = row[pc]
            for j, v in pivots[pc].items():
                nv = (row.get(j, 0) - factor * v) % PRIME
                if nv:
                    row[j] = nv
                else:
                    row.pop(j, None)
        if not row:
            continue
        pc = min(row)
        inv = pow(row[pc], PRIME - 2, PRIME)
        row = {j: (v * inv) % PRIME for j, v in row.items()}
        # eliminate the new pivot from the existing pivot rows (keep the form fully reduced)
        for other_pc, other in pivots.items():
            if pc in other:
                factor = other[pc]
                for j, v in row.items():
                    nv = (other.get(j, 0) - factor * v) % PRIME
                    if nv:
                        other[j] = nv
                    else:
                        other.pop(j, None)
        pivots[pc] = row
    names = {j: key for key, j in cols.items()}
    return {names[pc] for pc, row in pivots.items() if len(row) == 1}


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
