"""Lists of students that work at 1,500 rows: one mechanism for every such page (care groups, rechecks,
interviews to do, opt-outs, class lists, the student files).

- `Listing.parse(spec, request.args, user)` reads `page`, `sort` (`name` ascending, `-name` descending, only keys
  the list allows: an unknown key falls back to the list's default) and the scope filters `school`, `grade`,
  `class` (only the user's own schools and classes count; anything else is ignored, never an error).
- `listing.sort(rows, keys)` sorts the scope's rows in memory (stable, blanks last both ways) and
  `listing.page_of(rows)` cuts the page of `PER_PAGE` rows; `listing.where(stmt, ...)` adds the filters to a query.
- `listing.url(...)` builds the list's link with every current argument kept (filters, sort, other list
  arguments) and the given ones changed: paging keeps the sort and filters, sorting keeps the filters.
- templates/_listing.html: `sort_header` (a link with `aria-sort`), `pager`, `scope_filters` (the filter bar),
  and `listing.multi_school` says whether to show a school column.

Names are sealed, so a list sorted by name reveals the names of the whole filtered scope (bounded by the user's
scope, under one audit event, as the lists already did for a page), sorts them in memory, then pages; a list
sorted by anything else sorts on clear columns and reveals only the page's names (docs/decisions.md).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import School, SchoolClass, User

PER_PAGE = 50
T = TypeVar("T")


@dataclass(frozen=True)
class ListSpec:
    """What one list allows: its sort keys (in column order) and the default sort (`-key` for descending)."""

    sorts: tuple[str, ...]
    default: str
    per_page: int = PER_PAGE


@dataclass
class ScopeOptions:
    """The filter bar's choices: the user's schools, the grades and classes of their scope."""

    schools: list[School]
    grades: list[int]
    classes: list[SchoolClass]


def scope_options(db: Session, user: User) -> ScopeOptions:
    if user.role == "counselor":
        schools = list(user.schools)
        classes = list(db.scalars(
            select(SchoolClass).where(SchoolClass.school_id.in_([s.id for s in schools]))
            .order_by(SchoolClass.school_id, SchoolClass.grade, SchoolClass.name)
        )) if schools else []
    else:
        classes = sorted(user.classes, key=lambda c: (c.school_id, c.grade, c.name))
        schools = sorted({c.school for c in classes}, key=lambda s: s.code)
    return ScopeOptions(schools, sorted({c.grade for c in classes}), classes)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass
class Page(Generic[T]):
    rows: list[T]
    total: int
    page: int
    pages: int
    arg: str = "page"  # the request argument of this page's number (a page with several lists has one each)


@dataclass
class Listing:
    spec: ListSpec
    options: ScopeOptions
    sort_key: str
    descending: bool
    page: int = 1
    school_id: int | None = None
    grade: int | None = None
    class_id: int | None = None
    args: dict[str, str] = field(default_factory=dict)  # every argument of the request, for the links
    endpoint: str = ""
    view_args: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: ListSpec, options: ScopeOptions, args: Mapping[str, str] | None = None) -> Listing:
        args = dict(request.args.items()) if args is None else dict(args)
        raw = args.get("sort") or spec.default
        key = raw.lstrip("-")
        if key not in spec.sorts:
            raw = spec.default
            key = raw.lstrip("-")
        school = _int(args.get("school"))
        grade = _int(args.get("grade"))
        klass = _int(args.get("class"))
        return cls(
            spec, options, key, raw.startswith("-"), max(1, _int(args.get("page")) or 1),
            school if school in {s.id for s in options.schools} else None,
            grade if grade in options.grades else None,
            klass if klass in {c.id for c in options.classes} else None,
            {k: v for k, v in args.items() if v not in (None, "")},
            request.endpoint or "", dict(request.view_args or {}),
        )

    # -- what the templates use ------------------------------------------------------------------------------
    @property
    def multi_school(self) -> bool:
        return len(self.options.schools) > 1

    @property
    def sort_arg(self) -> str:
        return ("-" if self.descending else "") + self.sort_key

    def url(self, **changes: Any) -> str:
        args = {**self.args, **{k: v for k, v in changes.items()}}
        args = {k: v for k, v in args.items() if v not in (None, "")}
        for key in [k for k in args if k == "page" or k.endswith("_page")]:
            if args[key] in (1, "1"):
                args.pop(key)
        return url_for(self.endpoint, **self.view_args, **args)

    def sort_url(self, key: str) -> str:
        """The link of a column header: this column ascending, or descending when it is sorted ascending now.
        A new sort starts again at page 1."""
        desc = self.sort_key == key and not self.descending
        pages = {k: None for k in self.args if k.endswith("_page")}
        return self.url(sort=("-" if desc else "") + key, page=None, **pages)

    def aria_sort(self, key: str) -> str:
        if key != self.sort_key:
            return "none"
        return "descending" if self.descending else "ascending"

    def hidden_args(self, *names: str) -> list[tuple[str, str]]:
        """Arguments a filter form keeps as hidden fields (the sort, the list's own arguments)."""
        return [(k, v) for k, v in self.args.items()
                if k not in names and k not in ("page", "school", "grade", "class") and not k.endswith("_page")]

    # -- what the views use ----------------------------------------------------------------------------------
    def keep(self, school_id: int | None, grade: int | None, class_id: int | None) -> bool:
        """Whether a row at this school, grade and class passes the filters."""
        return ((self.school_id is None or school_id == self.school_id)
                and (self.grade is None or grade == self.grade)
                and (self.class_id is None or class_id == self.class_id))

    def where(self, stmt: Any, school_col: Any, grade_col: Any, class_col: Any) -> Any:
        if self.school_id is not None:
            stmt = stmt.where(school_col == self.school_id)
        if self.grade is not None:
            stmt = stmt.where(grade_col == self.grade)
        if self.class_id is not None:
            stmt = stmt.where(class_col == self.class_id)
        return stmt

    def sort(self, rows: Iterable[T], keys: Mapping[str, Callable[[T], Any]],
             tiebreak: Callable[[T], Any] | None = None) -> list[T]:
        """The rows sorted by the chosen column; rows without a value go last in both directions, ties keep
        `tiebreak` order (or the given order)."""
        out = list(rows)
        if tiebreak is not None:
            out.sort(key=tiebreak)
        get = keys[self.sort_key]
        present = [r for r in out if get(r) is not None]
        blank = [r for r in out if get(r) is None]
        present.sort(key=get, reverse=self.descending)
        return present + blank

    def page_of(self, rows: Sequence[T], arg: str = "page") -> Page[T]:
        per = self.spec.per_page
        total = len(rows)
        pages = max(1, -(-total // per))
        wanted = self.page if arg == "page" else max(1, _int(self.args.get(arg)) or 1)
        number = min(wanted, pages)
        if arg == "page":
            self.page = number
        start = (number - 1) * per
        return Page(list(rows[start:start + per]), total, number, pages, arg)

    def page_window(self, total: int) -> tuple[int, int, int]:
        """(page, pages, offset) for a list paged in SQL over `total` rows."""
        pages = max(1, -(-total // self.spec.per_page))
        self.page = min(self.page, pages)
        return self.page, pages, (self.page - 1) * self.spec.per_page
