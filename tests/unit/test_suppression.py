"""Disclosure control: no small count is shown, and no hidden cell can be worked out from what is shown."""
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.district.suppression import (
    COMPLEMENT,
    PRIMARY,
    Relation,
    determined_cells,
    protect,
    protect_table,
    rate_text,
    table_family,
)

K = 5

small_counts = st.one_of(st.integers(0, 4), st.integers(0, 30), st.just(0))
tables = st.integers(1, 5).flatmap(
    lambda r: st.integers(1, 5).flatmap(
        lambda c: st.lists(st.lists(small_counts, min_size=c, max_size=c), min_size=r, max_size=r)
    )
)


def exact_determined(relations, unknown):
    """Independent check with exact fractions: a hidden cell is determined iff no null-space vector moves it."""
    cols = sorted(unknown, key=repr)
    index = {key: j for j, key in enumerate(cols)}
    matrix = []
    for rel in relations:
        row = [Fraction(0)] * len(cols)
        for sign, m in [(1, rel.parent)] + [(-1, c) for c in rel.children]:
            if m in index:
                row[index[m]] += sign
        if any(row):
            matrix.append(row)
    # reduced row-echelon form
    pivots = []
    r = 0
    for c in range(len(cols)):
        p = next((i for i in range(r, len(matrix)) if matrix[i][c] != 0), None)
        if p is None:
            continue
        matrix[r], matrix[p] = matrix[p], matrix[r]
        pv = matrix[r][c]
        matrix[r] = [v / pv for v in matrix[r]]
        for i in range(len(matrix)):
            if i != r and matrix[i][c] != 0:
                f = matrix[i][c]
                matrix[i] = [a - f * b for a, b in zip(matrix[i], matrix[r], strict=True)]
        pivots.append(c)
        r += 1
    determined = set()
    for i, c in enumerate(pivots):
        if all(matrix[i][j] == 0 for j in range(len(cols)) if j != c):
            determined.add(cols[c])
    return determined


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_no_shown_cell_of_a_random_table_is_between_one_and_k_minus_one(cells):
    table = protect_table(cells, K)
    for key, value in table.protected.values.items():
        if 1 <= value < K:
            assert table.protected.status[key] == PRIMARY
            assert table.text(key) == "<5"
        if table.protected.shown(key):
            assert not 1 <= int(table.text(key)) < K


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables)
def test_no_hidden_cell_of_a_random_table_can_be_solved_from_the_shown_cells_and_totals(cells):
    values, relations, _ = table_family(cells)
    table = protect_table(cells, K)
    hidden = table.protected.suppressed
    assert exact_determined(relations, hidden) == set()


@settings(max_examples=200, deadline=None)
@given(tables)
def test_every_row_and_column_with_a_hidden_cell_hides_a_second_cell_or_its_total(cells):
    table = protect_table(cells, K)
    hidden = table.protected.suppressed
    n_rows, n_cols = len(cells), len(cells[0])
    lines = [([("c", i, j) for j in range(n_cols)], ("r", i)) for i in range(n_rows)]
    lines += [([("c", i, j) for i in range(n_rows)], ("col", j)) for j in range(n_cols)]
    lines.append(([("r", i) for i in range(n_rows)], ("t",)))
    lines.append(([("col", j) for j in range(n_cols)], ("t",)))
    for members, total in lines:
        count = sum(1 for m in members if m in hidden) + (total in hidden)
        assert count != 1, (members, total)


@settings(max_examples=150, deadline=None)
@given(tables)
def test_the_modular_elimination_agrees_with_exact_fractions(cells):
    values, relations, _ = table_family(cells)
    hidden = {key for key, v in values.items() if 1 <= v < K}
    assert determined_cells(relations, hidden) == exact_determined(relations, hidden)


def test_a_single_small_cell_gets_a_complement_in_its_row_and_column():
    table = protect_table([[3, 10, 12], [8, 9, 11]], K)
    hidden = table.protected.suppressed
    assert ("c", 0, 0) in hidden
    assert table.protected.status[("c", 0, 0)] == PRIMARY
    assert any(("c", 0, j) in hidden for j in (1, 2))
    assert any(("c", 1, 0) in hidden for _ in [0])
    assert table.text(("t",)) == str(3 + 10 + 12 + 8 + 9 + 11)


def test_complements_read_as_a_star_and_never_as_a_number():
    table = protect_table([[3, 10], [8, 9]], K)
    complements = [key for key, s in table.protected.status.items() if s == COMPLEMENT]
    assert complements
    assert all(table.text(key) == "*" for key in complements)


def test_a_bridge_between_two_protected_blocks_is_found_and_protected():
    # Two 2x2 blocks each protecting itself, joined by one more hidden cell: the joining cell would be a bridge.
    relations = [
        Relation("r1", ("a", "b", "x")),
        Relation("r2", ("c", "d")),
        Relation("c1", ("a", "c")),
        Relation("c2", ("b", "d")),
        Relation("r3", ("e", "f")),
        Relation("r4", ("g", "h")),
        Relation("c3", ("e", "g", "x")),
        Relation("c4", ("f", "h")),
    ]
    assert determined_cells(relations, {"a", "b", "c", "d", "e", "f", "g", "h", "x"}) == {"x"}
    values = dict(a=2, b=6, c=7, d=8, x=3, e=2, f=9, g=6, h=7)
    for rel in relations:
        values[rel.parent] = sum(values[c] for c in rel.children)
    result = protect(values, relations, K)
    assert determined_cells(relations, result.suppressed) == set()


def test_another_breakdown_of_the_same_base_cannot_reveal_a_hidden_school():
    # By school: A=3 (hidden), B=40, C=50; by type: urban = A + B, rural = C; district = all.
    values = {"A": 3, "B": 40, "C": 50, "urban": 43, "rural": 50, "all": 93}
    relations = [Relation("all", ("A", "B", "C")), Relation("urban", ("A", "B")), Relation("rural", ("C",)),
                 Relation("all", ("urban", "rural"))]
    levels = {"all": 0, "urban": 1, "rural": 1, "A": 2, "B": 2, "C": 2}
    result = protect(values, relations, K, levels)
    assert "A" in result.suppressed
    assert determined_cells(relations, result.suppressed) == set()
    assert result.shown("all")


def test_zero_is_shown_and_k_itself_is_shown():
    table = protect_table([[0, 5], [5, 20]], K)
    assert table.text(("c", 0, 0)) == "0"
    assert table.text(("c", 0, 1)) == "5"


def test_the_threshold_is_a_setting():
    table = protect_table([[7, 30], [30, 30]], 10)
    assert table.text(("c", 0, 0)) == "<10"


def test_rates_over_a_hidden_figure_are_hidden_too():
    assert rate_text(None, 40) == "—"
    assert rate_text(4, None) == "—"
    assert rate_text(10, 0) == "—"
    assert rate_text(10, 40) == "25.0%"
