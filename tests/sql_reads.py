"""Which table columns the statements executed on an engine read (for privacy tests).

`ColumnReads(engine)` listens to `before_cursor_execute` and, for every statement, walks the compiled statement
(for ORM statements the core statement the ORM compiled, so `select(Student)` counts as a read of every mapped
column of `students`): every column of a table that appears anywhere in a SELECT (result list, subqueries,
joins, WHERE, GROUP BY, ORDER BY, inside an aggregate or not) is a read. For INSERT only its SELECT part and
RETURNING are reads (the target columns are writes); for UPDATE and DELETE the WHERE clause, RETURNING and the
right-hand side of SET. A statement without a compiled structure (text(), exec_driver_sql) counts as reading
every marked column whose name appears as a word in its SQL text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import ClauseElement, ColumnClause, TextClause
from sqlalchemy.sql.selectable import TableClause

from models import Base
from models.base import sensitive_columns

Column = tuple[str, str]  # (table, column)


def _columns(elements: Iterable[Any]) -> Iterator[Column]:
    for element in elements:
        if not isinstance(element, ClauseElement):
            continue
        for node in visitors.iterate(element):
            if isinstance(node, ColumnClause) and isinstance(node.table, TableClause):
                yield (node.table.name, node.name)


def _read_parts(stmt: Any) -> list[Any]:
    if isinstance(stmt, Insert):
        return [stmt.select, *stmt._returning]
    if isinstance(stmt, (Update, Delete)):
        values = [*(getattr(stmt, "_values", None) or {}).values()]
        values += [v for _, v in (getattr(stmt, "_ordered_values", None) or ())]
        return [*stmt._where_criteria, *stmt._returning, *values]
    return [stmt]


class ColumnReads:
    """Records, while entered, every (table, column) read by statements on `engine`, with one SQL that read it."""

    def __init__(self, engine: Engine, marked: dict[Column, str] | None = None) -> None:
        self.engine = engine
        self.marked = sensitive_columns(Base.metadata) if marked is None else marked
        self.reads: dict[Column, str] = {}
        self.statements = 0
        by_name: dict[str, list[Column]] = {}
        for table, column in self.marked:
            by_name.setdefault(column, []).append((table, column))
        self._by_name = by_name
        self._names = re.compile(r"\b(" + "|".join(map(re.escape, sorted(by_name))) + r")\b", re.I)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.statements += 1
        compiled = getattr(context, "compiled", None)
        stmt = getattr(compiled, "statement", None)
        if stmt is None or isinstance(stmt, TextClause):
            found = [c for name in self._names.findall(statement) for c in self._by_name[name.lower()]]
        else:
            state = getattr(compiled, "compile_state", None)
            core = getattr(state, "statement", None)
            found = list(_columns(_read_parts(core if core is not None else stmt)))
        for column in found:
            self.reads.setdefault(column, statement)

    def __enter__(self) -> ColumnReads:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)

    def sensitive(self) -> list[tuple[str, str, str]]:
        """Every marked column read: (table.column, kind, the first SQL that read it)."""
        return sorted(
            (f"{t}.{c}", self.marked[(t, c)], " ".join(self.reads[(t, c)].split())[:400])
            for (t, c) in self.reads
            if (t, c) in self.marked
        )
