"""Roster services: list and find students in the user's scope, create and edit them.

Functions take the session and the acting user/actor, flush and never commit. Identity goes through the vault
only; audit events record which fields changed, never their values.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, joinedload

from models import Actor, School, SchoolClass, Student, StudentCareGroup, User, append_event
from models.crypto import normalise
from models.vault import Identity, Vault

from .search import name_sort_key

PAGE_SIZE = 50
EDITABLE_STATUSES = ("enrolled", "transferred_out", "graduated", "left")
LISTED_STATUSES = EDITABLE_STATUSES  # erased students have no identity left to list
MAX_GUARDIANS = 3


# -- reading -------------------------------------------------------------------------------------------------
@dataclass
class StudentFilters:
    school_id: int | None = None
    grade: int | None = None
    class_id: int | None = None
    care_group: str | None = None
    status: str | None = None
    q: str = ""


@dataclass
class StudentRow:
    student: Student
    identity: Identity


@dataclass
class StudentPage:
    rows: list[StudentRow]
    total: int
    page: int
    pages: int
    searched: bool = False
    arg: str = "page"  # the pager's argument (templates/_listing.html)


def _scoped(user: User, filters: StudentFilters) -> Any:
    """The filtered, scoped SELECT of students (no ordering, no paging)."""
    stmt = select(Student).where(Student.visible_to(user))
    if filters.school_id:
        stmt = stmt.where(Student.school_id == filters.school_id)
    if filters.grade:
        stmt = stmt.where(Student.grade == filters.grade)
    if filters.class_id:
        stmt = stmt.where(Student.class_id == filters.class_id)
    if filters.status:
        stmt = stmt.where(Student.status == filters.status)
    else:
        stmt = stmt.where(Student.status.in_(LISTED_STATUSES))
    if filters.care_group:
        stmt = stmt.where(
            Student.id.in_(select(StudentCareGroup.student_id).where(StudentCareGroup.group == filters.care_group))
        )
    return stmt


def _ordered(stmt: Any) -> Any:
    # Names are sealed, so the database orders by where a student sits, then by creation.
    return stmt.options(joinedload(Student.school), joinedload(Student.school_class)).order_by(
        Student.school_id, Student.grade, Student.class_id, Student.id
    )


# The list's columns (app/roster/views.py STUDENT_LIST): `name` and `number` are sealed and sorted in memory, the
# rest in SQL. `match` is the search's own order (best match first), only while a search is shown.
SEALED_SORTS = {"name": "name", "number": "student_number"}
SQL_SORTS = ("school", "class", "status")


def _sql_sorted(stmt: Any, sort: str, descending: bool) -> Any:
    """`stmt` ordered by a clear column, ties in roster order; students without a class last in both directions
    (as app/listing.py's in-memory sort puts blanks)."""
    def way(col: Any) -> Any:
        return col.desc() if descending else col.asc()

    stmt = stmt.options(joinedload(Student.school), joinedload(Student.school_class))
    if sort == "school":
        stmt = stmt.join(School, School.id == Student.school_id)
        keys = [way(School.code)]
    elif sort == "status":
        keys = [way(case({s: i for i, s in enumerate(LISTED_STATUSES)}, value=Student.status, else_=99))]
    else:  # class: by grade, then by the class's name, within a grade the students without a class last
        stmt = stmt.outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
        keys = [way(Student.grade), Student.class_id.is_(None), way(SchoolClass.name)]
    return stmt.order_by(*keys, Student.school_id, Student.grade, Student.class_id, Student.id)


def _sort_in_memory(rows: list[StudentRow], sort: str, descending: bool) -> list[StudentRow]:
    """Rows sorted by an opened column (a name, a number) or by a clear one, blanks last in both directions, ties
    in the given order (roster order, or best match first for a search)."""
    def value(r: StudentRow) -> Any:
        s = r.student
        if sort == "name":
            return name_sort_key(r.identity.name)
        if sort in SEALED_SORTS:
            return getattr(r.identity, SEALED_SORTS[sort]) or None
        if sort == "school":
            return s.school.code if s.school else None
        if sort == "status":
            return LISTED_STATUSES.index(s.status) if s.status in LISTED_STATUSES else None
        return (s.grade, s.school_class.name) if s.school_class else None

    present = [r for r in rows if value(r) is not None]
    blank = [r for r in rows if value(r) is None]
    present.sort(key=value, reverse=descending)
    return present + blank


def list_students(
    db: Session, vault: Vault, user: User, filters: StudentFilters, page: int = 1, page_size: int = PAGE_SIZE,
    *, sort: str | None = None, descending: bool = False,
) -> StudentPage:
    """One page of the user's students with names and numbers opened under ONE audit event.

    `sort` is a column of the list (`SEALED_SORTS`, `SQL_SORTS`). Sorted by a clear column the database orders and
    pages, and only the page's names are opened; sorted by name or number, the names and numbers of the filtered
    scope are opened (bounded by the scope, one event saying so: `to_sort`), sorted in memory, then paged.

    With `filters.q` it is a search (after normalisation: full-width digits, spaces, case) by any part of the name,
    its pinyin or initials, or the start of the student number, within the same scope and filters; best match
    first unless another `sort` is asked for. No `sort`: the list's default (by class; a search: best match).
    """
    q = (filters.q or "").strip()
    detail: dict[str, Any] = {"filters": _filter_detail(filters)}
    if sort is not None:
        detail["sort"] = ("-" if descending else "") + sort
    if q and normalise(q):
        return _search(db, vault, user, filters, q, page, page_size, detail, sort or "match", descending)
    if sort in SEALED_SORTS:
        # The filtered scope's names (or numbers) are opened in memory as the search opens them, sorted, and only
        # the page's students are loaded and revealed: one event, saying how many were opened to sort.
        from .search import load, scope_values

        values = scope_values(db, vault, _ordered(_scoped(user, filters)), SEALED_SORTS[sort])
        key = name_sort_key if sort == "name" else (lambda v: v or None)
        present = [(k, sid) for sid, v in values if (k := key(v)) is not None]
        present.sort(key=lambda p: p[0], reverse=descending)  # stable: ties keep the roster order
        ordered = [sid for _k, sid in present] + [sid for sid, v in values if key(v) is None]
        total = len(ordered)
        pages = max(1, math.ceil(total / page_size))
        page = min(max(1, page), pages)
        students = load(db, ordered[(page - 1) * page_size : page * page_size], _ordered(select(Student)))
        detail.update(to_sort=True, scanned=total, page=page)
        identities = vault.reveal_many(students, "roster.list", detail=detail)
        return StudentPage([StudentRow(s, identities[s.id]) for s in students], total, page, pages)
    total = db.scalar(select(func.count()).select_from(_scoped(user, filters).subquery())) or 0
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    ordered = _sql_sorted(_scoped(user, filters), sort if sort in SQL_SORTS else "class", descending)
    students = list(db.scalars(ordered.limit(page_size).offset((page - 1) * page_size)).unique())
    detail["page"] = page
    identities = vault.reveal_many(students, "roster.list", detail=detail)
    return StudentPage([StudentRow(s, identities[s.id]) for s in students], total, page, pages)


def _search(
    db: Session, vault: Vault, user: User, filters: StudentFilters, q: str, page: int, page_size: int,
    detail: dict[str, Any], sort: str = "match", descending: bool = False,
) -> StudentPage:
    """Any part of the name, its pinyin or initials, the start of the number (app/roster/search.py): the scope's
    names are opened in memory and compared there; only the page's matches are revealed, under one audit event
    (every match when they are sorted by another column than the match: the matches are the scope to sort)."""
    from .search import load, scan

    hits, scanned = scan(db, vault, _ordered(_scoped(user, filters)), q)
    total = len(hits)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    # The query itself is never written to the audit log (it is a name or a number); only that a search happened,
    # how many students matched and how many were compared.
    detail.update(search=True, matches=total, scanned=scanned, page=page)
    if sort in (*SEALED_SORTS, *SQL_SORTS):
        students = load(db, [h.student_id for h in hits], _ordered(select(Student)))
        identities = vault.reveal_many(students, "roster.search", detail=detail)
        rows = _sort_in_memory([StudentRow(s, identities[s.id]) for s in students], sort, descending)
        return StudentPage(rows[(page - 1) * page_size : page * page_size], total, page, pages, searched=True)
    students = load(db, [h.student_id for h in hits[(page - 1) * page_size : page * page_size]],
                    _ordered(select(Student)))
    identities = vault.reveal_many(students, "roster.search", detail=detail)
    return StudentPage([StudentRow(s, identities[s.id]) for s in students], total, page, pages, searched=True)


def _filter_detail(filters: StudentFilters) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "school_id": filters.school_id,
            "grade": filters.grade,
            "class_id": filters.class_id,
            "care_group": filters.care_group,
            "status": filters.status,
        }.items()
        if v
    }


def class_list(db: Session, vault: Vault, user: User) -> list[tuple[SchoolClass, list[StudentRow]]]:
    """A head teacher's classes and their enrolled students, names opened under ONE audit event."""
    classes = list(
        db.scalars(
            select(SchoolClass).where(SchoolClass.visible_to(user)).order_by(SchoolClass.grade, SchoolClass.name)
        )
    )
    students = list(
        db.scalars(
            select(Student)
            .where(Student.visible_to(user), Student.status == "enrolled")
            .order_by(Student.class_id, Student.id)
        )
    )
    identities = vault.reveal_many(
        students, "roster.class_list", columns=("name",), detail={"classes": [c.id for c in classes]}
    )
    by_class: dict[int | None, list[StudentRow]] = {}
    for s in students:
        by_class.setdefault(s.class_id, []).append(StudentRow(s, identities[s.id]))
    for rows in by_class.values():
        rows.sort(key=lambda r: r.identity.name or "")
    return [(c, by_class.get(c.id, [])) for c in classes]


def schools_of(user: User) -> list[School]:
    return list(user.schools) if user.role == "counselor" else []


def visible_classes(db: Session, user: User) -> list[SchoolClass]:
    return list(
        db.scalars(
            select(SchoolClass)
            .where(SchoolClass.visible_to(user))
            .options(joinedload(SchoolClass.school))
            .order_by(SchoolClass.school_id, SchoolClass.grade, SchoolClass.name)
        )
    )


# -- writing -------------------------------------------------------------------------------------------------
@dataclass
class StudentData:
    """Validated input for a student (from the form, an import or a test)."""

    name: str
    student_number: str
    school_id: int
    grade: int
    gender: str
    birth_ym: str
    class_id: int | None = None
    status: str = "enrolled"
    national_id: str | None = None
    care_groups: Sequence[str] = ()
    guardians: list[dict[str, str]] = field(default_factory=list)


class RosterError(ValueError):
    """A rule broken by the input; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str, unknown: list[str] | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.unknown = unknown or []  # the refused codes (care groups), for a message naming the valid ones


PHONE_RE = re.compile(r"^\d{7,12}$")
BIRTH_YM_RE = re.compile(r"^(\d{4})-(\d{2})$")
NATIONAL_ID_RE = re.compile(r"^\d{17}[\dX]$")


def clean_phone(raw: str) -> str | None:
    """Digits only (full-width digits accepted; spaces, hyphens and a +86 prefix dropped), or None if invalid.

    A mobile number is 11 digits starting with 1; a landline 7-12 digits (with or without the area code).
    """
    text = unicodedata.normalize("NFKC", raw or "")
    text = re.sub(r"[\s\-()（）]", "", text)
    if text.startswith("+86"):
        text = text[3:]
    if not PHONE_RE.match(text):
        return None
    if text.startswith("1") and len(text) != 11:
        return None
    return text


def clean_national_id(raw: str | None) -> str | None:
    text = unicodedata.normalize("NFKC", raw or "").replace(" ", "").upper()
    return text or None


def valid_birth_ym(value: str, this_year: int) -> bool:
    m = BIRTH_YM_RE.match(value or "")
    return m is not None and this_year - 25 <= int(m.group(1)) <= this_year and 1 <= int(m.group(2)) <= 12


def find_number_owner(
    db: Session, vault: Vault, district_id: int, number: str, exclude: Student | None = None
) -> Student | None:
    """The student of this district who already has this student number (blind index, then plaintext confirm)."""
    stmt = (
        select(Student)
        .join(School, School.id == Student.school_id)
        .where(
            School.district_id == district_id,
            Student.student_number_bidx.in_(vault.blind_indexes("student_number", number)),
        )
    )
    if exclude is not None and exclude.id is not None:
        stmt = stmt.where(Student.id != exclude.id)
    for candidate in db.scalars(stmt):
        if vault.matches(candidate, "student_number", number):
            return candidate
    return None


def _check(
    db: Session, actor_user: User, vault: Vault, data: StudentData, student: Student | None
) -> tuple[School, SchoolClass | None]:
    from app.care_groups import care_group_keys

    school = db.get(School, data.school_id)
    if school is None or school.id not in {s.id for s in schools_of(actor_user)}:
        raise RosterError("school_id", "school")
    if not 1 <= data.grade <= 9:
        raise RosterError("grade", "grade")
    klass = None
    if data.class_id:
        klass = db.get(SchoolClass, data.class_id)
        if klass is None or klass.school_id != school.id or klass.grade != data.grade:
            raise RosterError("class_id", "class")
    unknown = set(data.care_groups) - set(care_group_keys())
    if unknown:
        # never dropped: an ignored `left-behind` would lower a positive screen from level 2 to level 3
        raise RosterError("care_groups", "care_groups", sorted(unknown))
    if data.status not in EDITABLE_STATUSES:
        raise RosterError("status", "status")
    if len(data.guardians) > MAX_GUARDIANS:
        raise RosterError("guardians", "guardians")
    if find_number_owner(db, vault, school.district_id, data.student_number, exclude=student) is not None:
        raise RosterError("student_number", "duplicate")
    return school, klass


def _record_leaving(student: Student, old_status: str | None) -> None:
    """The day a student leaves the district's schools is the basis of their file's retention (app/retention)."""
    from flask import has_app_context

    from app.retention.policy import load_retention_policy
    from app.retention.service import record_leaving
    from app.ui import local_today
    from models import clock

    today = local_today() if has_app_context() else clock.today()
    record_leaving(student, old_status, today, load_retention_policy())


def create_student(db: Session, actor: Actor, vault: Vault, actor_user: User, data: StudentData) -> Student:
    """Add a student to one of the counselor's schools; writes `student.created` with the fields given."""
    school, klass = _check(db, actor_user, vault, data, None)
    student = Student(
        school_id=school.id,
        class_id=klass.id if klass else None,
        grade=data.grade,
        gender=data.gender,
        birth_ym=data.birth_ym,
        status=data.status,
    )
    student.school = school
    student.school_class = klass
    db.add(student)
    vault.seal_identity(
        student,
        name=data.name,
        student_number=data.student_number,
        national_id=data.national_id,
        guardians=data.guardians,
    )
    student.set_care_groups(list(data.care_groups))
    _record_leaving(student, None)
    db.flush()
    given = ["name", "student_number", "school", "grade", "gender", "birth_ym", "status"]
    given += [f for f, v in (("class", klass), ("national_id", data.national_id), ("guardians", data.guardians),
                             ("care_groups", data.care_groups)) if v]
    append_event(db, actor, "student.created", student_public_id=student.public_id, detail={"fields": given})
    return student


def update_student(
    db: Session, actor: Actor, vault: Vault, actor_user: User, student: Student, data: StudentData
) -> list[str]:
    """Apply the changes; writes `student.updated` naming the changed fields (none: no event). Returns them.

    Identity fields count as changed when they differ after normalisation (spaces, full-width digits), the same
    equality that search uses; they are re-sealed either way, so the stored text is what was entered.
    """
    if data.school_id != student.school_id:
        raise RosterError("school_id", "school")
    _, klass = _check(db, actor_user, vault, data, student)
    changed: list[str] = []
    for column, value in (
        ("name", data.name),
        ("student_number", data.student_number),
        ("national_id", data.national_id),
    ):
        old_present = getattr(student, f"{column}_enc") is not None
        if value:
            if not old_present or not vault.matches(student, column, value):
                changed.append(column)
        elif old_present:
            changed.append(column)
    new_guardians = json.dumps(data.guardians or [], ensure_ascii=False)
    if student.guardians_enc is None:
        if data.guardians:
            changed.append("guardians")
    elif not vault.matches(student, "guardians", new_guardians):
        changed.append("guardians")
    vault.seal_identity(
        student,
        name=data.name,
        student_number=data.student_number,
        national_id=data.national_id,
        guardians=data.guardians,
    )
    old_status = student.status
    plain: dict[str, Any] = {"grade": data.grade, "gender": data.gender, "birth_ym": data.birth_ym,
                             "status": data.status, "class_id": klass.id if klass else None}
    for attr, value in plain.items():
        if getattr(student, attr) != value:
            setattr(student, attr, value)
            changed.append("class" if attr == "class_id" else attr)
    student.school_class = klass
    _record_leaving(student, old_status)
    if set(student.care_groups) != set(data.care_groups):
        student.set_care_groups(list(data.care_groups))
        changed.append("care_groups")
    db.flush()
    if changed:
        append_event(db, actor, "student.updated", student_public_id=student.public_id, detail={"fields": changed})
    return changed
