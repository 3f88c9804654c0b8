"""Importing screening results from a file (paper batches or another platform): CSV or XLSX.

Columns: 学籍号 (or student_number), instrument (an engine id such as phqa), date (YYYY-MM-DD), then q1 … qN in
the engine's item order (blank = unanswered). CSV may be UTF-8 (with or without BOM) or GBK/GB18030.
The file passes the upload gate every importer shares (`app/uploads.py`: size, archive, XML, columns,
encodings) before it is parsed. Every row is checked first; by default nothing is written when any row is
wrong, and the report names each bad row (as numbered in the file, the header being row 1) and field. Used by
`flask screenings import` and the upload.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app import uploads
from models import Actor, Campaign, Screening, Student
from models.vault import Vault
from screening import UnknownInstrument, get_instrument

from .finding import match_by_number
from .recording import ScreeningError, answer_error_text, check_answers, grade_refusal_text
from .submission import DuplicateScreening, Submission, Summary, submit_screenings

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
NUMBER_COLUMNS = ("学籍号", "student_number")
Q_RE = re.compile(r"^q(\d+)$", re.IGNORECASE)


class ImportFileError(ValueError):
    """The file as a whole cannot be read (size, format, encoding, header)."""


@dataclass
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return _("row %(row)s, %(field)s: %(message)s", row=self.row, field=self.field, message=self.message)


@dataclass
class ParsedRow:
    row: int
    student_number: str
    instrument_id: str
    administered_on: date | None
    answers: list[Any]
    student: Student | None = None
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class ImportReport:
    rows: list[ParsedRow]
    written: int = 0
    dry_run: bool = False

    @property
    def errors(self) -> list[RowError]:
        return [e for r in self.rows for e in r.errors]

    @property
    def bad_rows(self) -> list[ParsedRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def good_rows(self) -> list[ParsedRow]:
        return [r for r in self.rows if r.ok]


def decode_csv(data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030 (a superset of GBK and GB2312); UTF-16 with a BOM."""
    try:
        return uploads.decode_text(data)[0]
    except uploads.UploadError as exc:
        raise ImportFileError(str(exc.args[0])) from exc


def read_table(data: bytes, filename: str = "") -> list[list[str]]:
    """The file's rows as lists of strings (header first), after the upload gate (app/uploads.py)."""
    limits = uploads.current_limits(MAX_BYTES)
    try:
        kind = uploads.inspect(data, limits)
        if kind == "xlsx":
            return [
                [_cell(v) for v in values]
                for values in uploads.xlsx_rows(data, limits, max_rows=MAX_ROWS, data_only=True)
            ]
    except uploads.UploadError as exc:
        raise ImportFileError(str(exc.args[0])) from exc
    if filename.lower().endswith(".xlsx"):
        raise ImportFileError(_("The workbook cannot be read."))
    text = decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [[cell.strip() for cell in row[: limits.max_columns]] for row in csv.reader(io.StringIO(text), dialect)]
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file cannot be read: %(error)s", error=str(exc))) from exc


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def parse(data: bytes, filename: str = "") -> list[ParsedRow]:
    table = [r for r in read_table(data, filename)]
    while table and not any(table[-1]):
        table.pop()
    if not table:
        raise ImportFileError(_("The file is empty."))
    header = [h.strip().lstrip("\ufeff") for h in table[0]]
    lower = [h.lower() for h in header]
    number_col = next((i for i, h in enumerate(header) if h in NUMBER_COLUMNS or h.lower() == "student_number"), None)
    missing = []
    if number_col is None:
        missing.append("学籍号 / student_number")
    if "instrument" not in lower:
        missing.append("instrument")
    if "date" not in lower:
        missing.append("date")
    if missing:
        raise ImportFileError(_("Missing column(s): %(cols)s", cols=", ".join(missing)))
    assert number_col is not None  # a missing column was reported above
    inst_col, date_col = lower.index("instrument"), lower.index("date")
    q_cols: dict[int, int] = {}
    for i, h in enumerate(header):
        m = Q_RE.match(h)
        if m:
            q_cols[int(m.group(1))] = i
    if len(table) - 1 > MAX_ROWS:
        raise ImportFileError(_("More than %(n)s rows; split the file.", n=MAX_ROWS))
    rows: list[ParsedRow] = []
    for n, raw in enumerate(table[1:], start=2):
        if not any(c.strip() for c in raw):
            continue
        cells = raw + [""] * (len(header) - len(raw))
        pr = ParsedRow(n, cells[number_col].strip(), cells[inst_col].strip().lower(), None, [])
        if not pr.student_number:
            pr.errors.append(RowError(n, header[number_col], _("empty")))
        try:
            inst = get_instrument(pr.instrument_id)
        except UnknownInstrument:
            inst = None
            pr.errors.append(RowError(n, "instrument", _("unknown instrument %(id)s", id=repr(pr.instrument_id))))
        try:
            pr.administered_on = date.fromisoformat(cells[date_col].strip()[:10])
        except ValueError:
            pr.errors.append(
                RowError(n, "date", _("%(value)s is not a date (YYYY-MM-DD)", value=repr(cells[date_col])))
            )
        if inst is not None:
            extra = [k for k in q_cols if k > inst.item_count and cells[q_cols[k]].strip()]
            for k in extra:
                pr.errors.append(
                    RowError(n, f"q{k}", _("%(name)s has only %(n)s items", name=inst.short_name, n=inst.item_count))
                )
            answers: list[Any] = []
            for k in range(1, inst.item_count + 1):
                col = q_cols.get(k)
                value = cells[col].strip() if col is not None else ""
                if value == "":
                    answers.append(None)
                    continue
                try:
                    answers.append(int(float(value)) if re.fullmatch(r"-?\d+(\.0+)?", value) else int(value))
                except ValueError:
                    pr.errors.append(RowError(n, f"q{k}", _("%(value)s is not a number", value=repr(value))))
                    answers.append(None)
            pr.answers = answers
            if not pr.errors:
                try:
                    pr.answers = check_answers(inst.id, answers)
                except ScreeningError as exc:
                    pr.errors.append(RowError(n, f"q{exc.item}" if exc.item else "answers", answer_error_text(exc)))
        rows.append(pr)
    return rows


def validate(
    db: Session, vault: Vault, rows: list[ParsedRow], school_filter: Any, campaign: Campaign | None = None
) -> None:
    """Match students by student number (blind index within `school_filter`) and check duplicates."""
    found = match_by_number(db, vault, [r.student_number for r in rows if r.student_number], school_filter)
    seen: dict[tuple[str, str, Any], int] = {}
    for r in rows:
        if not r.student_number:
            continue
        student = found.get(r.student_number)
        if student is None:
            r.errors.append(RowError(r.row, "学籍号", _("no student with this number in your schools")))
            continue
        if student.status != "enrolled":
            r.errors.append(RowError(r.row, "学籍号", _("the student is not enrolled")))
            continue
        if campaign is not None and student.school_id not in {s.id for s in campaign.schools}:
            r.errors.append(RowError(r.row, "学籍号", _("the student's school is not in this campaign")))
            continue
        r.student = student
        if r.instrument_id and not any(e.field == "instrument" for e in r.errors):
            refusal = grade_refusal_text(r.instrument_id, student.grade)
            if refusal is not None:  # the instrument is not validated for the student's grade (PHQ-9, grade 1)
                r.errors.append(RowError(r.row, "instrument", refusal))
                continue
        if campaign is not None:
            key = (r.student_number, r.instrument_id, campaign.id)
            if key in seen:
                r.errors.append(
                    RowError(r.row, "instrument", _("the same student and instrument as row %(n)s", n=seen[key]))
                )
            seen[key] = r.row
            exists = (
                db.query(Screening.id)
                .filter(
                    Screening.campaign_id == campaign.id,
                    Screening.student_id == student.id,
                    Screening.instrument_id == r.instrument_id,
                )
                .first()
            )
            if exists:
                r.errors.append(RowError(r.row, "instrument", _("already recorded for this campaign")))


def run_import(
    db: Session,
    actor: Actor,
    vault: Vault,
    data: bytes,
    *,
    filename: str = "",
    school_filter: Any,
    campaign: Campaign | None = None,
    dry_run: bool = False,
    partial: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Parse, validate and (unless dry_run, or any row is wrong and not `partial`) record every good row."""
    rows = parse(data, filename)
    validate(db, vault, rows, school_filter, campaign)
    report = ImportReport(rows, dry_run=dry_run)
    if dry_run or (report.errors and not partial):
        return report
    good = report.good_rows
    submissions = []
    for r in good:
        assert r.student is not None and r.administered_on is not None
        submissions.append(Submission(r.student, r.instrument_id, r.answers, r.administered_on, campaign=campaign))
    summary = Summary(
        "screening.imported",
        f"campaign:{campaign.id}" if campaign else None,
        {"rows": len(rows), "written": len(good), "bad": len(report.bad_rows)},
    )
    try:
        submit_screenings(db, actor, vault, submissions, mode="import", summary=summary, progress=progress)
    except DuplicateScreening as exc:
        # recorded by someone else since the rows were checked: nothing of the file was written
        for i in exc.rows:
            good[i].errors.append(RowError(good[i].row, "instrument", _("already recorded for this campaign")))
        return report
    report.written = len(good)
    return report


def format_errors(report: ImportReport, limit: int = 200) -> list[str]:
    return [str(e) for e in report.errors[:limit]]


def sample_rows(instrument_id: str) -> Sequence[str]:
    inst = get_instrument(instrument_id)
    return ["学籍号", "instrument", "date"] + [f"q{i}" for i in range(1, inst.item_count + 1)]
