"""Roster import and export services (flush, never commit; the CLI command or the request commits once).

`plan_import` reads the file (see parse.py), matches every row to the district's students by student number
through the blind index (indexed `IN` queries on the file's index values; candidates are confirmed by comparing
normalised plaintexts with `vault.matches`) and sorts the rows into: to create, to update (naming the changed
fields), unchanged, transfers to request (the number belongs to a student of another school of the district:
nothing of that student is opened, and the preview does not say which school), and problems. Nothing is written
by planning.

`apply_import` writes a plan in one transaction: classes created as needed for the school year, changed students
updated (identity re-sealed only when it changed), new students sealed through the Vault and bulk inserted in
batches (one INSERT ... RETURNING per batch, care groups in one executemany), transfer requests only when confirmed
(the file moves when the sending school approves, app/care/transfer_requests.py).
One audit event per import (`roster.import` with the counts), never one per row.

Why one module over 400 lines: planning and applying are the two halves of one import and share its types
(`ImportPlan`, `Update`, `Transfer`) and its matching rules (a plan is applied only as planned); the export, the
import's inverse (an exported file re-imports unchanged), is kept beside them for the same reason.
"""
from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import Actor, DataKey, School, SchoolClass, Student, StudentCareGroup, append_event, clock
from models.base import utcnow
from models.vault import Vault

from . import parse
from .parse import ParsedFile, Problem, RosterRow

BATCH = 1000
MATCH_CHUNK = 900
FIELD_LABELS = {
    "name": _l("name"),
    "gender": _l("gender"),
    "birth_ym": _l("birth month"),
    "grade": _l("grade"),
    "class": _l("class"),
    "status": _l("status (re-enrolled)"),
    "care_groups": _l("care groups"),
    "guardians": _l("guardian"),
}


def school_year_for(today: date) -> str:
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}-{start + 1}"


@dataclass
class Update:
    row: RosterRow
    student: Student
    fields: list[str]


@dataclass
class Transfer:
    row: RosterRow
    student: Student
    from_school: School
    fields: list[str] = field(default_factory=list)


@dataclass
class ImportPlan:
    school: School
    school_year: str
    parsed: ParsedFile
    creates: list[RosterRow] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    unchanged: list[RosterRow] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    new_classes: list[tuple[int, int]] = field(default_factory=list)  # (grade, number)
    problems: list[Problem] = field(default_factory=list)
    classes: dict[tuple[int, int], SchoolClass] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def notes(self) -> list[Problem]:
        return self.parsed.notes

    @property
    def extra_columns(self) -> list[str]:
        return self.parsed.extra_columns

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.parsed.data_rows,
            "create": len(self.creates),
            "update": len(self.updates),
            "unchanged": len(self.unchanged),
            "transfers": len(self.transfers),
            "classes_new": len(self.new_classes),
            "errors": len(self.problems),
            "bad_rows": len({p.row for p in self.problems}),
        }


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    transfers_requested: int = 0
    transfers_pending: int = 0
    classes_created: int = 0
    skipped_rows: int = 0
    written: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- planning -------------------------------------------------------------------------------------------------
def plan_import(
    db: Session,
    vault: Vault,
    school: School,
    path: Path | str | bytes,
    *,
    today: date | None = None,
    max_bytes: int = parse.MAX_BYTES,
    max_rows: int = parse.MAX_ROWS,
) -> ImportPlan:
    """Parse and match; raises RosterFileError for a file that cannot be used at all. Writes nothing."""
    today = today or clock.today()
    with _cyclic_gc_paused():
        parsed = parse.parse_file(path, max_bytes=max_bytes, max_rows=max_rows, this_year=today.year)
    plan = ImportPlan(school=school, school_year=school_year_for(today), parsed=parsed, problems=list(parsed.problems))
    plan.classes = _school_classes(db, school, plan.school_year)
    header = parsed.header
    grade_col = header[parsed.columns["grade"]]
    class_col = header[parsed.columns["class"]] if "class" in parsed.columns else "班级"
    offered = set(school.grades)
    rows: list[RosterRow] = []
    for r in parsed.rows:
        if r.grade not in offered:
            plan.problems.append(
                Problem(r.row, grade_col, _l("%(school)s has no grade %(grade)s", school=school.name, grade=r.grade))
            )
            continue
        rows.append(r)
    matches = _match_numbers(db, vault, school.district_id, rows)
    new_classes: set[tuple[int, int]] = set()
    for r in rows:
        key = (r.grade, r.class_number) if r.class_number else None
        if key and key not in plan.classes:
            new_classes.add(key)
        student = matches.get(r.student_number)
        if student is None:
            plan.creates.append(r)
            continue
        if student.school_id == school.id:
            fields = _changed_fields(vault, student, r, plan.classes)
            if student.status == "erased":
                plan.problems.append(Problem(r.row, header[parsed.columns["student_number"]],
                                             _l("this student number belongs to an erased record")))
            elif fields:
                plan.updates.append(Update(r, student, fields))
            else:
                plan.unchanged.append(r)
        else:
            if key is None:
                plan.problems.append(
                    Problem(
                        r.row,
                        class_col,
                        _l("the student is at another school: a class is needed to transfer them here"),
                    )
                )
                continue
            # Nothing of that student is opened or compared here: the file belongs to the other school until it
            # approves the transfer request (app/care/transfer_requests.py).
            plan.transfers.append(Transfer(r, student, db.get_one(School, student.school_id)))
    plan.new_classes = sorted(new_classes)
    plan.problems.sort(key=lambda p: p.row)
    return plan


def _school_classes(db: Session, school: School, school_year: str) -> dict[tuple[int, int], SchoolClass]:
    out: dict[tuple[int, int], SchoolClass] = {}
    for klass in db.scalars(
        select(SchoolClass).where(SchoolClass.school_id == school.id, SchoolClass.school_year == school_year)
    ):
        parsed = parse.parse_class(klass.name)
        if parsed is not None:
            out.setdefault((klass.grade, parsed[1]), klass)
    return out


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _select_in(db: Session, columns: Sequence[Any], column: Any, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """SELECT `columns` (of one table, types without bind/result processing: ids and strings) WHERE `column` IN
    `values`. On SQLite the statement goes to the driver as is: SQLAlchemy renders an expanding IN value by value
    at every execution, ~10 ms per thousand values, a fifth of a 600-row file's import. Elsewhere, SQLAlchemy."""
    if db.get_bind().dialect.name != "sqlite":
        return [tuple(r) for r in db.execute(select(*columns).where(column.in_(values)))]
    db.flush()  # as Session.execute would (autoflush)
    conn = db.connection()
    quote = conn.dialect.identifier_preparer.quote
    sql = (f"SELECT {', '.join(quote(c.name) for c in columns)} FROM {quote(column.table.name)} "
           f"WHERE {quote(column.name)} IN ({', '.join('?' for _ in values)})")
    return [tuple(r) for r in conn.exec_driver_sql(sql, tuple(values))]


def _match_numbers(db: Session, vault: Vault, district_id: int, rows: Iterable[RosterRow]) -> dict[str, Student]:
    """student number -> the district's student with that number.

    The file's numbers are turned into blind indexes once; the students carrying one of those index values come
    back in a few `IN` queries on the blind-index column alone (ids and schools only), those of the district's
    schools are then loaded by primary key, and each candidate is confirmed by comparing normalised plaintexts.
    Never a scan of the district, so a 600-row file costs the same in a district of 600 or of 60,000 students.
    (With the join to schools in the same query, SQLite's planner chose to walk the district's students by
    school once the tables had statistics: 32 ms per 600-row file at 60,000 students, growing with the district.)
    """
    rows = list(rows)
    if not rows:
        return {}
    by_bidx: dict[str, list[str]] = {}
    for r in rows:
        for bidx in vault.blind_indexes("student_number", r.student_number):  # every index key version
            by_bidx.setdefault(bidx, []).append(r.student_number)
    district_schools = set(db.scalars(select(School.id).where(School.district_id == district_id)))
    found: dict[str, Student] = {}
    for chunk in _chunks(sorted(by_bidx), MATCH_CHUNK):
        ids = [sid for sid, school_id in _select_in(db, (Student.id, Student.school_id), Student.student_number_bidx,
                                                    chunk) if school_id in district_schools]
        if not ids:
            continue
        students = list(db.scalars(select(Student).where(Student.id.in_(ids))))
        vault.preload_keys(s.data_key_id for s in students)
        for s in students:
            for number in by_bidx.get(s.student_number_bidx or "", ()):
                if vault.matches(s, "student_number", number):
                    # a number held twice (should not happen): prefer the enrolled record
                    if number not in found or (found[number].status != "enrolled" and s.status == "enrolled"):
                        found[number] = s
    return found


class _Number:
    def __init__(self, number: str):
        self.student_number = number


def find_by_student_number(db: Session, vault: Vault, district_id: int, number: str) -> Student | None:
    """The district's student with this student number (typed in any width or case), or None: the lookup of the
    "request a transfer" form, by the import's own matching (blind index, then the plaintext compared)."""
    number = parse.clean_number(number or "")
    if not number or not parse.NUMBER_RE.match(number):
        return None
    return _match_numbers(db, vault, district_id, [_Number(number)]).get(number)  # type: ignore[list-item]


def _guardians_json(row: RosterRow) -> str:
    return json.dumps([row.guardian] if row.guardian else [], ensure_ascii=False)


def _changed_fields(
    vault: Vault, student: Student, r: RosterRow, classes: dict[tuple[int, int], SchoolClass]
) -> list[str]:
    """The fields this row would change on the student (identity compared as normalised plaintext)."""
    fields: list[str] = []
    if not vault.matches(student, "name", r.name):
        fields.append("name")
    for attr in ("gender", "birth_ym", "grade"):
        if getattr(student, attr) != getattr(r, attr):
            fields.append(attr)
    if r.class_number:
        klass = classes.get((r.grade, r.class_number))
        if klass is None or klass.id != student.class_id:
            fields.append("class")
    if student.status != "enrolled":
        fields.append("status")
    if r.care_groups is not None and set(r.care_groups) != set(student.care_groups):
        fields.append("care_groups")
    if r.guardian is not None:
        if student.guardians_enc is None or not vault.matches(student, "guardians", _guardians_json(r)):
            fields.append("guardians")
    return fields


# -- writing --------------------------------------------------------------------------------------------------
def apply_import(
    db: Session,
    actor: Actor,
    vault: Vault,
    plan: ImportPlan,
    *,
    apply_transfers: bool = False,
    partial: bool = False,
    source: str = "import",
    audit_detail: dict[str, Any] | None = None,
) -> ImportResult:
    """Write the plan. With problems and not `partial`, nothing is written (result.written is False).

    `apply_transfers`: ask for the students found at another school (transfer requests, `source` "import" or
    "cli"); nothing of theirs moves or changes until the sending school approves."""
    result = ImportResult(unchanged=len(plan.unchanged))
    if plan.problems and not partial:
        return result
    result.skipped_rows = len({p.row for p in plan.problems})
    school = plan.school
    needed = set(plan.new_classes)
    for (grade, number) in sorted(needed):
        klass = SchoolClass(
            school_id=school.id, grade=grade, name=parse.class_name(grade, number), school_year=plan.school_year
        )
        db.add(klass)
        plan.classes[(grade, number)] = klass
    if needed:
        db.flush()
    result.classes_created = len(needed)

    for i, u in enumerate(plan.updates, start=1):
        _apply_fields(vault, u.student, u.row, u.fields, plan.classes)
        if i % BATCH == 0:
            db.flush()
    result.updated = len(plan.updates)
    db.flush()

    if apply_transfers and plan.transfers:
        # A transfer is a request: the file moves only when the sending school approves it (the rows' other
        # values are not applied to a file this school does not hold).
        from app.care.transfer_requests import request_transfer

        for t in plan.transfers:
            assert t.row.class_number is not None  # a transfer without a class was refused when planned
            to_class = plan.classes[(t.row.grade, t.row.class_number)]
            request_transfer(db, actor, t.student, to_class, source=source)
        db.flush()
        result.transfers_requested = len(plan.transfers)
    else:
        result.transfers_pending = len(plan.transfers)

    result.created = _bulk_create(db, vault, school, plan)
    result.written = True
    detail = {"school": school.code, **plan.counts(), **{k: v for k, v in result.as_dict().items() if k != "written"}}
    detail.update(audit_detail or {})
    append_event(db, actor, "roster.import", target=f"school:{school.code}", detail=detail)
    return result


def _apply_fields(
    vault: Vault, student: Student, r: RosterRow, fields: list[str], classes: dict[tuple[int, int], SchoolClass]
) -> None:
    identity: dict[str, Any] = {}
    if "name" in fields:
        identity["name"] = r.name
    if "guardians" in fields:
        identity["guardians"] = [r.guardian] if r.guardian else []
    if identity:
        vault.seal_identity(student, **identity)
    student.gender = r.gender
    student.birth_ym = r.birth_ym
    student.grade = r.grade
    if "status" in fields:
        student.status = "enrolled"
        student.left_on = None  # back in school: the retention period after leaving no longer runs (app/retention)
    if r.class_number:
        klass = classes[(r.grade, r.class_number)]
        student.class_id = klass.id
        student.school_class = klass
    elif "grade" in fields and student.class_id is not None:
        student.class_id = None  # the old class belongs to another grade
        student.school_class = None
    if "care_groups" in fields and r.care_groups is not None:
        student.set_care_groups(list(r.care_groups))


class _NewStudent:
    """What `Vault.seal_identity` needs of a student about to be bulk inserted: the row's values, no ORM state.

    The Vault sets `public_id`, `data_key_id`, the `*_enc` and `*_bidx` attributes exactly as on a `Student`;
    the instance's `__dict__` is the row handed to the INSERT (skipping the ORM instrumentation for thousands of
    new rows is much of what makes the import fast).
    """

    def __init__(self, values: dict[str, Any]):
        self.__dict__ = values


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a file's rows are parsed or its students sealed and inserted.

    Those loops allocate millions of short-lived containers (freed at once by reference counting); each
    allocation burst triggered a collection that walked every live object, the whole plan included (about a
    tenth of a 60,000-row import). Memory stays bounded: nothing cyclic is made there, and the collector is
    switched back on (unless it was already off) when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _new_public_id() -> str:
    """str(uuid.uuid4()) (random 122 bits, version 4, RFC 4122 variant, same text form) at a fraction of the cost."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _insert_rows(db: Session, table: Any, rows: list[dict[str, Any]], same: dict[str, Any] | None = None) -> None:
    """INSERT `rows` (dicts with the same keys), each completed with the `same` values, in one executemany.

    On SQLite the rows go straight to the driver's executemany: every value still passes through its column's
    bind processor (as SQLAlchemy would do), the `same` values once for the whole call, without SQLAlchemy's
    per-row parameter machinery, which cost twice the driver's own time. Elsewhere (PostgreSQL) it is SQLAlchemy's
    executemany, which batches the rows into multi-row INSERTs.
    """
    if not rows:
        return
    same = same or {}
    conn = db.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite":
        conn.execute(insert(table), [{**row, **same} for row in rows])
        return
    keys = list(rows[0])
    fixed = list(same)

    def processor(key: str) -> Any:
        column = table.c[key]
        return column.type.dialect_impl(dialect).bind_processor(dialect)

    fixed_values = []
    for key in fixed:
        proc = processor(key)
        fixed_values.append(proc(same[key]) if proc else same[key])
    procs = [(i, proc) for i, key in enumerate(keys) if (proc := processor(key)) is not None]
    quote = dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys + fixed)}) "
           f"VALUES ({', '.join('?' for _ in keys + fixed)})")
    params = []
    for row in rows:
        values = [row[k] for k in keys]
        for i, proc in procs:
            values[i] = proc(values[i])
        values.extend(fixed_values)
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


def _bulk_create(db: Session, vault: Vault, school: School, plan: ImportPlan) -> int:
    """Seal through the Vault, then one executemany per batch for the students and one for their care groups."""
    created = 0
    with vault.collecting_new_keys() as new_keys, _cyclic_gc_paused():
        for batch in _chunks(plan.creates, BATCH):
            created += _create_batch(db, vault, school, plan, batch, new_keys)
            new_keys.clear()
    return created


def _create_batch(db: Session, vault: Vault, school: School, plan: ImportPlan, batch: Sequence[RosterRow],
                  new_keys: list[dict[str, Any]]) -> int:
    """One batch: seal each new student through the Vault, then one executemany each for the data keys, the
    students and their care groups."""
    values: list[dict[str, Any]] = []
    groups: list[tuple[str, tuple[str, ...]]] = []
    classes = plan.classes
    seal_identity = vault.seal_identity
    for r in batch:
        klass = classes.get((r.grade, r.class_number)) if r.class_number else None
        public_id = _new_public_id()
        row = {"public_id": public_id, "class_id": klass.id if klass else None, "grade": r.grade,
               "gender": r.gender, "birth_ym": r.birth_ym, "data_key_id": None, "national_id_enc": None}
        # _NewStudent: the attributes seal_identity writes, over the row dict of a bulk insert (no ORM object)
        seal_identity(_NewStudent(row), name=r.name, student_number=r.student_number,  # type: ignore[arg-type]
                      guardians=[r.guardian] if r.guardian else [])
        values.append(row)
        if r.care_groups:
            groups.append((public_id, r.care_groups))
    now = utcnow()
    _insert_rows(db, DataKey.__table__, new_keys, {"created_at": now})  # the keys, before the students using them
    _insert_rows(db, Student.__table__, values,
                 {"school_id": school.id, "status": "enrolled", "created_at": now, "updated_at": now})
    if groups:
        ids = dict(_select_in(db, (Student.public_id, Student.id), Student.public_id, [pid for pid, _ in groups]))
        _insert_rows(
            db, StudentCareGroup.__table__, [{"student_id": ids[pid], "group": g} for pid, gs in groups for g in gs]
        )
    return len(values)


def audit_preview(db: Session, actor: Actor, plan: ImportPlan, file: str | None = None) -> None:
    """The preview compared the file with stored (sealed) identities: one event, counts only."""
    detail: dict[str, Any] = {"school": plan.school.code, **plan.counts()}
    if file:
        detail["file"] = file
    append_event(db, actor, "roster.import_preview", target=f"school:{plan.school.code}", detail=detail)


# -- export ---------------------------------------------------------------------------------------------------
EXPORT_HEADER = ["姓名", "性别", "学籍号", "出生年月", "年级", "班级", "监护人", "关系", "联系电话"]


def export_rows(db: Session, vault: Vault, school: School) -> tuple[list[str], Iterator[list[Any]], int]:
    """The school's enrolled students as rows in the import's own format (so an export re-imports unchanged).

    Identity is opened through ONE `reveal_many` (the `roster.export` audit event, with the count); every text
    cell that a spreadsheet would evaluate (= + - @ at the start) is neutralised with a leading quote.
    """
    from app.care_groups import care_groups

    groups = care_groups()
    header = EXPORT_HEADER[:6] + [g.zh for g in groups] + EXPORT_HEADER[6:]
    students = list(db.scalars(
        select(Student).where(Student.school_id == school.id, Student.status == "enrolled")
        .order_by(Student.grade, Student.class_id, Student.id)
    ))
    classes = {c.id: c.name for c in db.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id))}
    identities = vault.reveal_many(students, "roster.export", columns=("name", "student_number", "guardians"),
                                   detail={"school": school.code})

    def rows() -> Iterator[list[Any]]:
        for s in students:
            ident = identities[s.id]
            g = ident.guardians[0] if ident.guardians else {}
            mine = set(s.care_groups)
            row = [ident.name or "", "男" if s.gender == "M" else "女", ident.student_number or "", s.birth_ym,
                   f"{parse.GRADE_WORDS[s.grade]}年级", classes.get(s.class_id, "") if s.class_id else ""]
            row += ["是" if grp.key in mine else "否" for grp in groups]
            row += [g.get("name", ""), g.get("relation", ""), g.get("phone", "")]
            yield [parse.neutralise(v) for v in row]

    return header, rows(), len(students)


def export_xlsx(db: Session, vault: Vault, school: School, out: Any) -> int:
    """Write the school's roster as XLSX (write-only, streamed) to a path or binary file; returns the count."""
    from openpyxl import Workbook

    header, rows, count = export_rows(db, vault, school)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title="学生名册")
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.save(out)
    return count
