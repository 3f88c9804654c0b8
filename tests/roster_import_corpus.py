"""A corpus of messy roster files, built by the tests (never checked in): encodings, headers, typed values,
formula cells, oversized files, non-spreadsheets and a compressed-file bomb."""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ZH_HEADER = [
    "姓名",
    "性别",
    "学籍号",
    "出生年月",
    "年级",
    "班级",
    "留守儿童",
    "随迁子女",
    "困难学生",
    "寄宿",
    "监护人",
    "联系电话",
]
EN_HEADER = ["name", "gender", "student_number", "birth_month", "grade", "class", "left_behind", "migrant", "hardship",
             "boarding", "guardian", "phone"]


def row(name: str = "张小明", gender: str = "男", number: str = "G310151201401010001", birth: Any = "2014-03",
        grade: Any = "七年级", klass: Any = "七(3)班", left: str = "否", migrant: str = "否", hardship: str = "否",
        boarding: str = "否", guardian: str = "张建国", phone: str = "13912345678") -> list[Any]:
    return [name, gender, number, birth, grade, klass, left, migrant, hardship, boarding, guardian, phone]


def students(n: int, start: int = 1, grade: int = 7, classes: int = 4, prefix: str = "G3101512014") -> list[list[Any]]:
    out = []
    for i in range(start, start + n):
        out.append(
            row(
                name=f"学生{i}",
                gender="男" if i % 2 else "女",
                number=f"{prefix}{i:08d}",
                birth=f"{2026 - grade - 6}-{(i % 12) + 1:02d}",
                grade=str(grade),
                klass=f"{grade}.{(i % classes) + 1}",
                left="是" if i % 5 == 0 else "否",
                migrant="√" if i % 7 == 0 else "",
                guardian=f"家长{i}",
                phone=f"139{i:08d}",
            )
        )
    return out


def csv_bytes(rows: Sequence[Sequence[Any]], header: Sequence[str] = ZH_HEADER, encoding: str = "utf-8",
              bom: bool = False, delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    data = buf.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(rows: Sequence[Sequence[Any]], header: Sequence[str] = ZH_HEADER) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def zip_bomb(member_mb: int = 64) -> bytes:
    """A valid-looking workbook zip whose one sheet inflates from a few kilobytes to `member_mb` megabytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            block = b"\0" * (1 << 20)
            for _ in range(member_mb):
                fh.write(block)
    return buf.getvalue()


def big_csv(size_mb: int = 50) -> bytes:
    """A CSV of `size_mb` megabytes (header, then filler rows)."""
    line = ("学生," + "男,G3101512014" + "0" * 8 + ",2014-03,7,7.1," + "x" * 60 + "\n").encode("utf-8")
    head = (",".join(ZH_HEADER) + "\n").encode("utf-8")
    count = (size_mb * 1024 * 1024) // len(line) + 1
    return head + line * count


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


NOW = datetime(2014, 3, 15)
