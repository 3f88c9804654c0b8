"""Finding a student the way Chinese staff search: any part of the name (黄晨 in 黄晨曦), its pinyin (huangchen),
its initials (hc) or a mix (huangc), or the start of the student number.

Names are sealed, so no index can do this without leaking them. The search decrypts the names and numbers of the
students the user may see anyway (their scope, `Student.visible_to`, narrowed by the page's filters), in memory,
for this request only, and compares there (docs/decisions.md, "Partial and pinyin search"). Nothing decrypted is
kept after the request: the only cache is the pinyin readings of single Han characters (`char_tokens`), which is
pypinyin's dictionary, not student data. A 3,000-student school is searched in a few tens of milliseconds
(`bench/bench_search.py`, docs/benchmarks.md).

Audit: what the user is shown (the matches) is opened through `Vault.reveal_many` under one `roster.search` event
with the count of matches and of the students scanned; the query itself is never written anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from models import DataKey, Student
from models.crypto import normalise
from models.vault import Vault, live_key

# The rank of a hit (lower first): an exact name or number, then a name or number that starts with the query,
# then the rest (a part of the name, a pinyin reading).
EXACT, PREFIX, PART = 0, 1, 2
MAX_QUERY = 40


@lru_cache(maxsize=30_000)
def char_tokens(ch: str) -> tuple[tuple[str, ...], frozenset[str], frozenset[str]]:
    """(full readings, initials, first letters) of one character: every reading pypinyin knows (heteronyms: 曾
    zeng/ceng, 单 shan/dan/chan), without tones, with ü also written v and u; the initials are each reading's first
    letter and its consonant initial (zh, ch, sh). A character without a reading (a letter, a digit, ·) stands for
    itself. Cached per character: this is pypinyin's dictionary, not student data."""
    from pypinyin import Style, pinyin

    if not _is_han(ch):
        return (ch,), frozenset((ch,)), frozenset((ch[:1],))
    readings: set[str] = set()
    for r in pinyin(ch, style=Style.NORMAL, heteronym=True, v_to_u=False)[0]:
        r = r.lower()
        if not r.isascii() or not r.isalpha():  # pypinyin hands back the character itself when it has no reading
            continue
        readings.add(r)
        if "v" in r:
            readings.add(r.replace("v", "u"))
    if not readings:
        return (ch,), frozenset((ch,)), frozenset((ch[:1],))
    firsts = frozenset(r[0] for r in readings)
    initials = set(firsts)
    initials.update(r[:2] for r in readings if r[:2] in ("zh", "ch", "sh"))
    return tuple(sorted(readings, key=len, reverse=True)), frozenset(initials), firsts


# The reading of a surname where it differs from the character's everyday one (曾 is zeng as a surname, ceng
# otherwise): the first character of a Chinese full name is the surname, so a name sorts by it.
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "朴": "piao", "区": "ou", "查": "zha", "盖": "ge",
    "覃": "qin", "缪": "miao", "乐": "yue", "种": "chong", "召": "shao", "员": "yun", "秘": "bi", "繁": "po",
    "翟": "zhai", "句": "gou", "尉": "yu", "万": "wan", "沈": "shen", "重": "chong", "隗": "wei", "过": "guo",
}


@lru_cache(maxsize=30_000)
def sort_reading(ch: str) -> str:
    """The one reading a character sorts by (pypinyin's most common, without tone); a character without a reading
    (a letter, a digit, ·) sorts as itself, lower-cased. Cached per character, as `char_tokens`."""
    if not _is_han(ch):
        return ch.lower()
    from pypinyin import Style, lazy_pinyin

    reading = lazy_pinyin(ch, style=Style.NORMAL, v_to_u=False)[0].lower()
    return reading if reading.isascii() and reading.isalpha() else ch


def name_sort_key(name: str | None) -> tuple[tuple[str, ...], str] | None:
    """The key a list sorts names by: pinyin order as staff expect it (李四 < 王五 < 曾六 < 张三), syllable by
    syllable, the surname by its surname reading; names of the same readings in character order. None (no
    name, an erased student): the list puts it last."""
    if not name:
        return None
    first = SURNAME_READINGS.get(name[0]) or sort_reading(name[0])
    return (first, *(sort_reading(ch) for ch in name[1:])), name


def _is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x3134F


def pinyin_start(name: str, query: str) -> int | None:
    """Where the ASCII-letter `query` first reads a run of consecutive characters of `name` (None: nowhere): each
    character by one of its full readings or by an initial, the last one possibly by the start of a reading
    (huangc)."""
    if not query:
        return None
    tokens = [char_tokens(ch) for ch in name]
    n, m = len(tokens), len(query)

    def consume(i: int, j: int) -> bool:
        if j == m:
            return True
        if i == n:
            return False
        readings, initials, _firsts = tokens[i]
        rest = query[j:]
        for r in readings:
            if rest.startswith(r):
                if consume(i + 1, j + len(r)):
                    return True
            elif len(rest) < len(r) and r.startswith(rest):
                return True  # the query ends inside this character's reading
        return any(rest.startswith(ini) and consume(i + 1, j + len(ini)) for ini in initials)

    first = query[0]
    for i in range(n):
        if first in tokens[i][2] and consume(i, 0):
            return i
    return None


def pinyin_matches(name: str, query: str, *, at_start: bool = False) -> bool:
    start = pinyin_start(name, query)
    return start is not None and (start == 0 or not at_start)


def rank(name: str | None, number: str | None, wanted: str) -> int | None:
    """The rank of a student for the normalised query `wanted`, or None when they do not match."""
    nn = normalise(name) if name else ""
    num = normalise(number) if number else ""
    if wanted in (nn, num):
        return EXACT
    if nn.startswith(wanted) or (num and num.startswith(wanted)):
        return PREFIX
    if wanted in nn:
        return PART
    if nn and wanted.isascii() and wanted.isalpha():
        start = pinyin_start(nn, wanted)
        if start is not None:
            return PREFIX if start == 0 else PART
    return None


@dataclass(frozen=True)
class Hit:
    student_id: int
    rank: int


def _sealed_rows(db: Session, stmt: Any, enc: list[Any]) -> list[Any]:
    """The plain rows `Vault.scan_identities` opens, for the students `stmt` selects, in its order.

    The data keys come in the same query (one row per student, its wrapped key joined in) rather than in a second
    query of every key id: the same keys, unwrapped by the vault, one query of 3,000 rows fewer. Plain columns, so
    the statement runs on the session's connection (its transaction) without the ORM's result processing, after a
    flush so that it sees what this session changed (as the ORM's autoflush would)."""
    db.flush()
    return list(db.connection().execute(
        stmt.with_only_columns(Student.id, Student.public_id, Student.data_key_id, *enc, DataKey.wrapped,
                               DataKey.master_version)
        .outerjoin(DataKey, and_(DataKey.id == Student.data_key_id, live_key()))
    ))


def scope_values(db: Session, vault: Vault, stmt: Any, column: str) -> list[tuple[int, str | None]]:
    """(student id, the opened `column`: name or student_number) of every student `stmt` selects, in its order,
    None where it does not open (an erased student): what a list sorted by a sealed column sorts. Opened as the
    search opens them (no event: nothing of it is shown; the caller reveals the page it shows)."""
    enc = Student.name_enc if column == "name" else Student.student_number_enc
    rows = _sealed_rows(db, stmt, [enc])
    opened = vault.scan_identities(rows, (column,))
    return [(r[0], (opened.get(r[0]) or (None,))[0]) for r in rows]


def scan(db: Session, vault: Vault, stmt: Any, query: str) -> tuple[list[Hit], int]:
    """(hits in display order, number of students scanned) for `query` among the students `stmt` selects (a
    `select(Student)` with the scope and filters; its ordering is kept among hits of the same rank).

    Only the columns needed are read (no ORM objects for the whole scope); names and numbers are opened by
    `Vault.scan_identities`, which writes no event: the caller reveals the hits it shows through `reveal_many`.
    """
    wanted = normalise((query or "")[:MAX_QUERY])
    if not wanted:
        return [], 0
    # Open only what the query can match: student numbers carry digits and names none, so a query without a digit
    # is compared with the names alone and one of digits alone with the numbers (one decryption per student).
    has_digit = any(ch.isdigit() for ch in wanted)
    columns = ("student_number",) if wanted.isdigit() else ("name", "student_number") if has_digit else ("name",)
    enc = [Student.name_enc if c == "name" else Student.student_number_enc for c in columns]
    rows = _sealed_rows(db, stmt, enc)
    identities = vault.scan_identities(rows, columns)
    name_at = columns.index("name") if "name" in columns else None
    number_at = columns.index("student_number") if "student_number" in columns else None
    hits = []
    for position, row in enumerate(rows):
        values = identities.get(row.id)
        if values is None:
            continue
        r = rank(values[name_at] if name_at is not None else None,
                 values[number_at] if number_at is not None else None, wanted)
        if r is not None:
            hits.append((r, position, row.id))
    hits.sort()
    return [Hit(student_id, r) for r, _p, student_id in hits], len(rows)


def load(db: Session, ids: list[int], stmt: Any) -> list[Student]:
    """The Student objects of `ids`, in that order (with what `stmt`'s options load along)."""
    if not ids:
        return []
    by_id = {s.id: s for s in db.scalars(stmt.where(Student.id.in_(ids))).unique()}
    return [by_id[i] for i in ids if i in by_id]


def search_students(
    db: Session, vault: Vault, condition: Any, query: str, *, limit: int = 20, purpose: str | None = None
) -> list[Student]:
    """Up to `limit` students matching `query` among those `condition` (a SQL condition on Student) selects, best
    first, their names and numbers revealed under one `roster.search` event (the paper-entry search)."""
    stmt = select(Student).where(condition).order_by(Student.school_id, Student.grade, Student.class_id, Student.id)
    hits, _scanned = scan(db, vault, stmt, query)
    return load(db, [h.student_id for h in hits[:limit]], select(Student))
