"""Reading and normalising roster spreadsheets as schools really keep them (no database here).

- Files: XLSX (openpyxl read-only, streamed row by row; formulas come back as their text) or CSV/TSV text in
  UTF-8 with or without BOM, UTF-16 with BOM, else GBK/GB18030 (detected by strict decoding, never asked).
- Before anything is parsed, the upload gate every importer shares (`app/uploads.py`): size, magic bytes (not a
  spreadsheet, an old .xls), the zip directory (members, uncompressed total, ratios: a bomb is refused before a
  byte is inflated), XML prologs (no DTD, no entities), at most 256 columns, encodings.
- Headers in Chinese or English, any order; unknown columns are ignored and reported.
- Values as people type them: full-width digits, 男/女, 是/否/Y/N/1/0/√/×, 2014-03 / 2014/3 / 201403 / 2014年3月
  (and Excel date cells), grades 七年级 / 7 / 初一, classes 七(3)班 / 7.3 / 3班.
- A cell starting with = + - @ is kept as plain text (never evaluated) and reported; on export such cells are
  prefixed with a single quote, which the import strips again, so an export re-imports unchanged.

Problems carry the spreadsheet row number (the header is row 1), the column as written in the file and a
message (English msgid, shown in Chinese through the catalog).

Why one module over 400 lines: it is one thing, the reader of a school's roster file — the file-level guards,
header recognition and the per-cell normalisers form a single pipeline over a row, and its fast paths (ASCII
cells, letters-only names) sit beside the general rule they are tested equal to.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from app import uploads
from app.roster.service import clean_phone, valid_birth_ym
from models import clock

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 10_000
MAX_CELL = 200  # characters kept of any cell (a name, a number); longer is an error

GRADE_WORDS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九"}
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
JUNIOR = {"初一": 7, "初二": 8, "初三": 9, "小一": 1, "小二": 2, "小三": 3, "小四": 4, "小五": 5, "小六": 6}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# canonical column -> header spellings (compared after NFKC, lower case, no spaces or '*')
BASE_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "学生姓名", "name"),
    "gender": ("性别", "gender", "sex"),
    "student_number": ("学籍号", "全国学籍号", "学生学籍号", "student_number", "studentnumber", "student_no"),
    "birth_month": ("出生年月", "出生日期", "出生年月日", "birth_month", "birth_ym", "birthmonth", "birthday"),
    "grade": ("年级", "grade"),
    "class": ("班级", "class", "class_name"),
    "guardian": ("监护人", "监护人姓名", "家长", "家长姓名", "guardian"),
    "relation": ("关系", "与学生关系", "监护人关系", "relation"),
    "phone": ("联系电话", "监护人电话", "家长电话", "电话", "手机", "phone", "mobile"),
}
REQUIRED = ("name", "gender", "student_number", "birth_month", "grade")
EXTRA_GROUP_SPELLINGS = {"boarding": ("寄宿", "寄宿生", "住校"), "hardship": ("困难学生", "家庭困难", "经济困难")}

TRUE_WORDS = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "有", "t"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "×", "✗", "✘", "x", "无", "f", "", "-", "—"}
MALE = {"男", "m", "male", "男性", "男生"}
FEMALE = {"女", "f", "female", "女性", "女生"}

NUMBER_RE = re.compile(r"^[A-Z0-9]{4,32}$")
CLASS_FULL_RE = re.compile(
    r"^(初[一二三]|小[一二三四五六]|[一二三四五六七八九1-9])(?:年级)?\(?([0-9一二三四五六七八九十〇零两]{1,3})\)?班?$"
)
CLASS_DOTTED_RE = re.compile(r"^([1-9])[.\-_/]([0-9]{1,2})$")
CLASS_ONLY_RE = re.compile(r"^\(?([0-9一二三四五六七八九十〇零两]{1,3})\)?班?$")
GRADE_RE = re.compile(r"^([1-9一二三四五六七八九])(?:年级|级)?$")
YM_RE = re.compile(
    r"^(\d{4})\s*(?:[-/.年])\s*(\d{1,2})\s*(?:月)?(?:\s*[-/.]?\s*\d{1,2}\s*(?:日|号)?)?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?$"
)
YM_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")


class RosterFileError(uploads.UploadError):
    """The file as a whole cannot be used (size, type, encoding, zip bomb, header, row count)."""


@dataclass
class Problem:
    row: int
    column: str
    message: Any  # a lazy string: English msgid, Chinese in the zh locale

    def text(self) -> str:
        from flask_babel import gettext as _

        return _(
            "Row %(row)s, column %(column)s: %(message)s", row=self.row, column=self.column, message=str(self.message)
        )


@dataclass
class RosterRow:
    row: int
    name: str
    student_number: str
    gender: str
    birth_ym: str
    grade: int
    class_number: int | None = None
    care_groups: tuple[str, ...] | None = None  # None: the file has no care-group columns (keep what is stored)
    guardian: dict[str, str] | None = None  # None: no guardian columns, or all empty (keep what is stored)

    def class_name(self) -> str | None:
        return class_name(self.grade, self.class_number) if self.class_number else None


@dataclass
class ParsedFile:
    kind: str  # "xlsx" | "csv"
    encoding: str | None
    header: list[str]
    columns: dict[str, int]  # canonical -> index
    extra_columns: list[str]
    rows: list[RosterRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)  # non-blocking (formula-like text kept as plain text)
    data_rows: int = 0
    group_columns: list[str] | None = field(default=None, repr=False)  # the "group:*" keys of columns (cached)

    @property
    def bad_rows(self) -> set[int]:
        return {p.row for p in self.problems}


def class_name(grade: int, number: int) -> str:
    """The canonical class name, as the admin pages and the demo district write it: 七年级(3)班."""
    return f"{GRADE_WORDS[grade]}年级({number})班"


# -- cell values ---------------------------------------------------------------------------------------------
def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def _squash(value: str) -> str:
    return re.sub(r"\s+", "", _nfkc(value)).replace("\ufeff", "").replace("\u200b", "")


def cell_text(value: Any) -> str:
    """A cell as text: Excel integers without '.0', dates as ISO, everything stripped."""
    if type(value) is str:  # the common case first (every CSV cell)
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def unquote(text: str) -> str:
    """Strip the export's neutralising quote ('=..., '+..., '-..., '@...)."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        return text[1:]
    return text


_QUOTE_OR_FORMULA = frozenset(FORMULA_START) | {"'"}


def looks_like_formula(text: str) -> bool:
    return bool(text) and text[0] in FORMULA_START


def neutralise(value: Any) -> Any:
    """For export: text that a spreadsheet would evaluate gets a leading single quote."""
    if isinstance(value, str) and value and value[0] in FORMULA_START:
        return "'" + value
    return value


def cn_number(text: str) -> int | None:
    """1-99 written with ASCII digits or Chinese numerals (三, 十二, 二十, 二十一)."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = CN_DIGITS.get(head, None) if head else 1
        ones = CN_DIGITS.get(tail, None) if tail else 0
        if tens is None or ones is None:
            return None
        return tens * 10 + ones
    if len(text) == 1 and text in CN_DIGITS:
        return CN_DIGITS[text]
    return None


@lru_cache(maxsize=4096)  # a column holds few distinct spellings; parsing is pure
def parse_gender(text: str) -> str | None:
    t = _squash(text).lower()
    if t in MALE:
        return "M"
    if t in FEMALE:
        return "F"
    return None


@lru_cache(maxsize=4096)  # a column holds few distinct spellings; parsing is pure
def parse_bool(text: str) -> bool | None:
    t = _squash(text).lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    return None


def parse_birth(value: Any) -> str | None:
    """YYYY-MM from 2014-03, 2014/3, 2014.3, 201403, 20140315, 2014年3月(15日), an Excel date cell."""
    if isinstance(value, (datetime, date)):
        return f"{value.year:04d}-{value.month:02d}"
    return _parse_birth_text(cell_text(value))


@lru_cache(maxsize=4096)
def _parse_birth_text(raw: str) -> str | None:
    text = _squash(raw)
    m = YM_RE.match(text) or YM_COMPACT_RE.match(text)
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12:
        return None
    return f"{year:04d}-{month:02d}"


@lru_cache(maxsize=4096)  # a column holds few distinct spellings; parsing is pure
def parse_grade(text: str) -> int | None:
    t = _squash(text)
    if t in JUNIOR:
        return JUNIOR[t]
    m = GRADE_RE.match(t)
    if m:
        g = m.group(1)
        return int(g) if g.isdigit() else CN_DIGITS[g]
    return None


@lru_cache(maxsize=4096)  # a column holds few distinct spellings; parsing is pure
def parse_class(text: str) -> tuple[int | None, int] | None:
    """(grade or None, class number) from 七(3)班, 七年级(3)班, 初一(3)班, 7年级3班, 7.3, 7-3, 3班, (3), 3."""
    t = _squash(text).replace("（", "(").replace("）", ")")
    m = CLASS_DOTTED_RE.match(t)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = CLASS_FULL_RE.match(t)
    if m:
        g = m.group(1)
        grade = JUNIOR.get(g) or (int(g) if g.isdigit() else CN_DIGITS[g])
        number = cn_number(m.group(2))
        if number:
            return grade, number
    m = CLASS_ONLY_RE.match(t)
    if m:
        number = cn_number(m.group(1))
        if number:
            return None, number
    return None


def clean_number(text: str) -> str:
    if text.isascii() and text.isalnum():  # the usual case: NFKC and _squash would leave it unchanged
        return text.upper()
    return _squash(text).upper()


def clean_name(text: str) -> str:
    if text.isalpha():  # the usual case (张小明): no whitespace, BOM or zero-width space to remove
        return text
    return re.sub(r"\s+", " ", text.replace("\ufeff", "").replace("\u200b", "")).strip()


# -- header --------------------------------------------------------------------------------------------------
def _header_key(text: str) -> str:
    return _squash(text).lower().replace("*", "").replace("_", "").replace("(必填)", "")


def header_aliases() -> dict[str, str]:
    """header spelling (normalised) -> canonical column, care groups included from the warning policy
    (app/care_groups.py)."""
    from app.care_groups import care_groups

    out: dict[str, str] = {}
    for canonical, spellings in BASE_HEADERS.items():
        for s in spellings:
            out[_header_key(s)] = canonical
    for g in care_groups():
        for s in (g.key, g.zh, g.en, *EXTRA_GROUP_SPELLINGS.get(g.key, ())):
            out.setdefault(_header_key(s), f"group:{g.key}")
    return out


def _loose(text: str) -> str:
    return re.sub(r"[\s_\-.·]+", "", _squash(text).lower())


def _loose_group_keys() -> set[str]:
    from app.care_groups import care_groups

    return {_loose(g.key) for g in care_groups()}


def map_header(header: list[str]) -> tuple[dict[str, int], list[str], list[Problem]]:
    aliases = header_aliases()
    columns: dict[str, int] = {}
    extra: list[str] = []
    problems: list[Problem] = []
    for i, raw in enumerate(header):
        key = _header_key(raw)
        if not key:
            continue
        canonical = aliases.get(key)
        if canonical is None and _loose(raw) in _loose_group_keys():
            # `left-behind` for `left_behind`: refused, never an ignored column (the students would lose the group
            # and a positive screen would drop from level 2 to level 3)
            from app.care_groups import care_group_keys

            problems.append(Problem(1, raw.strip(), _l(
                "unknown care group %(code)s; valid codes: %(valid)s", code=repr(raw.strip()),
                valid=", ".join(care_group_keys()))))
        elif canonical is None:
            extra.append(raw.strip())
        elif canonical in columns:
            problems.append(Problem(1, raw.strip(), _l("the column appears twice")))
        else:
            columns[canonical] = i
    return columns, extra, problems


# -- the file ------------------------------------------------------------------------------------------------
def read_rows(data: bytes, max_bytes: int, max_rows: int) -> tuple[str, str | None, Iterator[list[Any]]]:
    """(kind, encoding, rows) of a roster file that passed the upload gate (app/uploads.py)."""
    limits = uploads.current_limits(max_bytes)
    kind = uploads.inspect(data, limits)
    if kind == "xlsx":
        return "xlsx", None, uploads.xlsx_rows(data, limits, max_rows=max_rows)
    text, encoding = uploads.decode_text(data)
    return "csv", encoding, _csv_rows(text, limits.max_columns)


def _csv_rows(text: str, max_columns: int) -> Iterator[list[Any]]:
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            yield row[:max_columns]
    except csv.Error as exc:
        raise RosterFileError(_l("The CSV file cannot be read: %(error)s", error=str(exc))) from exc


def parse_file(source: Path | str | bytes, *, max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS,
               this_year: int | None = None) -> ParsedFile:
    """Read, check and normalise every row of a file (a path, or its bytes). File-level failures raise
    RosterFileError; row problems are listed."""
    try:
        data = source if isinstance(source, bytes) else uploads.read_file(source, max_bytes)
        kind, encoding, rows_iter = read_rows(data, max_bytes, max_rows)
        return _parse_rows(kind, encoding, rows_iter, max_rows, this_year)
    except uploads.UploadError as exc:
        if isinstance(exc, RosterFileError):
            raise
        raise RosterFileError(exc.args[0]) from exc


def _parse_rows(kind: str, encoding: str | None, rows_iter: Iterator[list[Any]], max_rows: int,
                this_year: int | None) -> ParsedFile:
    this_year = this_year or clock.today().year
    header: list[str] | None = None
    parsed: ParsedFile | None = None
    number = 0
    try:
        for number, raw in enumerate(rows_iter, start=1):
            if header is None:
                header = [cell_text(v) for v in raw]
                columns, extra, problems = map_header(header)
                missing = [c for c in REQUIRED if c not in columns]
                if missing:
                    names = "、".join(BASE_HEADERS[c][0] for c in missing)
                    raise RosterFileError(
                        _l("Missing column(s): %(cols)s. The first row must hold the column names.", cols=names)
                    )
                parsed = ParsedFile(kind, encoding, header, columns, extra, problems=problems)
                continue
            assert parsed is not None
            if not any(cell_text(v) for v in raw):
                continue
            parsed.data_rows += 1
            if parsed.data_rows > max_rows:
                raise RosterFileError(
                    _l("More than %(n)s students in one file; split it (one school per file).", n=max_rows)
                )
            _parse_row(parsed, number, raw, this_year)
    finally:
        close = getattr(rows_iter, "close", None)
        if close:
            close()
    if parsed is None:
        raise RosterFileError(_l("The file is empty."))
    if parsed.data_rows == 0:
        raise RosterFileError(_l("The file has a header but no students."))
    _check_duplicates(parsed)
    return parsed


def _parse_row(parsed: ParsedFile, number: int, raw: list[Any], this_year: int) -> None:
    cols = parsed.columns
    header = parsed.header
    problems: list[Problem] = []

    width = len(raw)

    def raw_at(key: str) -> Any:
        i = cols.get(key)
        return raw[i] if i is not None and i < width else None

    def text_at(key: str) -> str:
        i = cols.get(key)
        value = raw[i] if i is not None and i < width else None
        text = value.strip() if type(value) is str else cell_text(value)
        if text and text[0] in _QUOTE_OR_FORMULA:  # rare: only then can unquote() or the formula note apply
            text = unquote(text)
            if looks_like_formula(text) and key in ("name", "guardian", "relation"):
                parsed.notes.append(Problem(number, header[cols[key]], _l("starts like a formula; kept as plain text")))
        if len(text) > MAX_CELL:
            problems.append(Problem(number, header[cols[key]], _l("too long")))
            return text[:MAX_CELL]
        return text

    def bad(key: str, message: Any) -> None:
        problems.append(Problem(number, header[cols[key]], message))

    name = clean_name(text_at("name"))
    if not name:
        bad("name", _l("empty"))
    elif len(name) > 50:
        bad("name", _l("longer than 50 characters"))

    student_number = clean_number(text_at("student_number"))
    if not student_number:
        bad("student_number", _l("empty"))
    elif not NUMBER_RE.match(student_number):
        bad(
            "student_number",
            _l("%(value)s is not a student number (4-32 letters and digits)", value=student_number[:40]),
        )

    gender_text = text_at("gender")
    gender = parse_gender(gender_text)
    if gender is None:
        bad("gender", _l("%(value)s is not 男 or 女", value=gender_text or "—"))

    birth_raw = raw_at("birth_month")
    birth = parse_birth(birth_raw)
    if birth is None or not valid_birth_ym(birth, this_year):
        bad("birth_month", _l("%(value)s is not a birth month (like 2014-03 or 2014年3月)",
                              value=cell_text(birth_raw) or "—"))

    grade_text = text_at("grade")
    grade = parse_grade(grade_text)
    if grade is None:
        bad("grade", _l("%(value)s is not a grade from 1 to 9 (like 七年级, 7 or 初一)", value=grade_text or "—"))

    class_number = None
    if "class" in cols:
        class_text = text_at("class")
        if class_text:
            parsed_class = parse_class(class_text)
            if parsed_class is None:
                bad("class", _l("%(value)s is not a class (like 七(3)班, 7.3 or 3班)", value=class_text))
            else:
                class_grade, class_number = parsed_class
                if class_grade is not None and grade is not None and class_grade != grade:
                    bad("class", _l("the class %(value)s is not in grade %(grade)s", value=class_text, grade=grade))

    care: tuple[str, ...] | None = None
    group_cols = parsed.group_columns
    if group_cols is None:  # once per file
        group_cols = parsed.group_columns = [k for k in cols if k.startswith("group:")]
    if group_cols:
        chosen = []
        for key in group_cols:
            value = parse_bool(text_at(key))
            if value is None:
                bad(key, _l("%(value)s is not 是 or 否", value=text_at(key)))
            elif value:
                chosen.append(key.split(":", 1)[1])
        care = tuple(sorted(chosen))

    guardian: dict[str, str] | None = None
    if "guardian" in cols or "phone" in cols:
        g_name = clean_name(text_at("guardian")) if "guardian" in cols else ""
        relation = clean_name(text_at("relation")) if "relation" in cols else ""
        phone_text = text_at("phone") if "phone" in cols else ""
        phone = ""
        if phone_text:
            cleaned = clean_phone(phone_text)
            if cleaned is None:
                bad("phone", _l("%(value)s is not a phone number", value=phone_text))
            else:
                phone = cleaned
        if g_name or phone or relation:
            guardian = {"name": g_name, "relation": relation, "phone": phone}

    if problems:
        parsed.problems.extend(problems)
        return
    assert gender is not None and birth is not None and grade is not None
    parsed.rows.append(RosterRow(number, name, student_number, gender, birth, grade, class_number, care, guardian))


def _check_duplicates(parsed: ParsedFile) -> None:
    seen: dict[str, int] = {}
    column = parsed.header[parsed.columns["student_number"]]
    keep: list[RosterRow] = []
    for r in parsed.rows:
        first = seen.get(r.student_number)
        if first is not None:
            parsed.problems.append(Problem(r.row, column, _l("the same student number as row %(n)s", n=first)))
            continue
        seen[r.student_number] = r.row
        keep.append(r)
    parsed.rows = keep
    parsed.problems.sort(key=lambda p: p.row)


def write_csv_bytes(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    """Helper for tests and the benchmark: rows to CSV bytes in an encoding."""
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)
