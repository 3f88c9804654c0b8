"""Roster file parsing: encodings, headers, values as people type them, limits and hostile files."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.roster_import import parse
from app.roster_import.parse import RosterFileError, parse_file
from tests.roster_import_corpus import (
    EN_HEADER,
    ZH_HEADER,
    big_csv,
    csv_bytes,
    row,
    students,
    write,
    xlsx_bytes,
    zip_bomb,
)


def _parse(tmp_path: Path, name: str, data: bytes, **kw):  # type: ignore[no-untyped-def]
    return parse_file(write(tmp_path, name, data), this_year=2026, **kw)


@pytest.mark.parametrize("encoding,bom", [("utf-8", False), ("utf-8", True), ("gbk", False), ("gb18030", False)])
def test_a_csv_in_utf8_with_or_without_bom_or_in_gbk_reads_the_same(tmp_path, encoding, bom):
    parsed = _parse(tmp_path, "r.csv", csv_bytes([row(), row(name="李四", number="G310151201401010002", gender="女")],
                                               encoding=encoding, bom=bom))
    assert not parsed.problems
    assert [r.name for r in parsed.rows] == ["张小明", "李四"]
    assert parsed.encoding in {"utf-8-sig", "gb18030"}
    assert parsed.rows[0].care_groups == ()


def test_an_xlsx_reads_the_same_as_the_csv(tmp_path):
    rows = students(20)
    from_csv = _parse(tmp_path, "r.csv", csv_bytes(rows)).rows
    from_xlsx = _parse(tmp_path, "r.xlsx", xlsx_bytes(rows)).rows
    assert from_xlsx == [type(r)(**{**r.__dict__}) for r in from_csv]
    assert len(from_xlsx) == 20


def test_english_headers_in_any_order_with_extra_columns_are_mapped_and_the_extras_reported(tmp_path):
    header = ["备注", *reversed(EN_HEADER), "身份证件类型"]
    values = ["转学生", *reversed(row()), "居民身份证"]
    parsed = _parse(tmp_path, "r.csv", csv_bytes([values], header=header))
    assert not parsed.problems
    assert parsed.extra_columns == ["备注", "身份证件类型"]
    r = parsed.rows[0]
    assert (r.name, r.gender, r.student_number, r.birth_ym, r.grade, r.class_number) == (
        "张小明", "M", "G310151201401010001", "2014-03", 7, 3)


def test_a_missing_required_column_is_one_clear_error_naming_it(tmp_path):
    header = [h for h in ZH_HEADER if h != "学籍号"]
    with pytest.raises(RosterFileError, match="学籍号"):
        _parse(tmp_path, "r.csv", csv_bytes([row()[:2] + row()[3:]], header=header))


@pytest.mark.parametrize("typed,expected", [
    ("2014-03", "2014-03"), ("2014/3", "2014-03"), ("201403", "2014-03"), ("2014年3月", "2014-03"),
    ("２０１４年３月", "2014-03"), ("2014.03.15", "2014-03"), ("20140315", "2014-03"), ("2014年3月15日", "2014-03"),
    (datetime(2014, 3, 15), "2014-03"), (201403, "2014-03"),
])
def test_birth_months_are_read_as_people_type_them(typed, expected):
    assert parse.parse_birth(typed) == expected


@pytest.mark.parametrize("typed", ["2014-13", "三月", "14-03", "", "2014"])
def test_a_birth_month_that_is_not_one_is_refused(typed):
    assert parse.parse_birth(typed) is None


@pytest.mark.parametrize(
    "typed,grade", [("七年级", 7), ("7", 7), ("初一", 7), ("初三", 9), ("７", 7), ("三年级", 3), ("7年级", 7)]
)
def test_grades_are_read_as_people_type_them(typed, grade):
    assert parse.parse_grade(typed) == grade


@pytest.mark.parametrize("typed,expected", [
    ("七(3)班", (7, 3)), ("七（3）班", (7, 3)), ("七年级(3)班", (7, 3)), ("初一(3)班", (7, 3)), ("7.3", (7, 3)),
    ("7-12", (7, 12)), ("3班", (None, 3)), ("(3)", (None, 3)), ("3", (None, 3)), ("七(十二)班", (7, 12)),
    ("７．３", (7, 3)), ("7年级3班", (7, 3)),
])
def test_class_names_are_read_as_people_type_them(typed, expected):
    assert parse.parse_class(typed) == expected


def test_the_canonical_class_name_is_the_admin_pages_one():
    assert parse.class_name(7, 3) == "七年级(3)班"


@pytest.mark.parametrize(
    "typed,value",
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("n", False),
        ("1", True),
        ("0", False),
        ("√", True),
        ("×", False),
        ("", False),
        ("１", True),
    ],
)
def test_yes_no_cells_are_read_as_people_type_them(typed, value):
    assert parse.parse_bool(typed) is value


def test_full_width_digits_in_numbers_and_phones_are_normalised(tmp_path):
    parsed = _parse(
        tmp_path,
        "r.csv",
        csv_bytes([row(number="Ｇ３１０１５１２０１４０１０１０００１", phone="１３９ １２３４ ５６７８")]),
    )
    assert not parsed.problems
    assert parsed.rows[0].student_number == "G310151201401010001"
    assert parsed.rows[0].guardian == {"name": "张建国", "relation": "", "phone": "13912345678"}


def test_care_group_columns_give_the_set_of_groups(tmp_path):
    parsed = _parse(tmp_path, "r.csv", csv_bytes([row(left="是", boarding="√", migrant="N", hardship="")]))
    assert parsed.rows[0].care_groups == ("boarding", "left_behind")


def test_without_care_group_columns_the_groups_are_left_alone(tmp_path):
    header = ZH_HEADER[:6]
    parsed = _parse(tmp_path, "r.csv", csv_bytes([row()[:6]], header=header))
    assert parsed.rows[0].care_groups is None and parsed.rows[0].guardian is None


def test_every_bad_cell_is_reported_with_row_number_column_and_problem(tmp_path):
    rows = [row(), row(number="G310151201401010002", gender="未知", birth="2014-13", grade="十年级"),
            row(number="", klass="八(2)班")]
    parsed = _parse(tmp_path, "r.csv", csv_bytes(rows))
    where = {(p.row, p.column) for p in parsed.problems}
    assert where == {(3, "性别"), (3, "出生年月"), (3, "年级"), (4, "学籍号"), (4, "班级")}
    assert [r.row for r in parsed.rows] == [2]


def test_problems_read_in_chinese_in_the_zh_locale(tmp_path):
    from flask import Flask
    from flask_babel import Babel

    from config import ROOT

    parsed = _parse(tmp_path, "r.csv", csv_bytes([row(gender="未知")]))
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "translations")
    Babel(app, locale_selector=lambda: "zh")
    with app.test_request_context():
        text = parsed.problems[0].text()
    assert "第 2 行" in text and "性别" in text and "不是" in text


def test_a_student_number_twice_in_the_file_is_reported_on_the_second_row(tmp_path):
    parsed = _parse(tmp_path, "r.csv", csv_bytes([row(), row(name="重复"), row(number="G310151201401010009")]))
    assert [(p.row, p.column) for p in parsed.problems] == [(3, "学籍号")]
    assert "2" in str(parsed.problems[0].message)


def test_formula_cells_are_kept_as_plain_text_and_noted(tmp_path):
    rows = [
        row(name='=HYPERLINK("http://evil.example","点我")'),
        row(number="G310151201401010002", guardian="@SUM(1+1)"),
    ]
    parsed = _parse(tmp_path, "r.xlsx", xlsx_bytes(rows))
    assert parsed.rows[0].name == '=HYPERLINK("http://evil.example","点我")'
    assert parsed.rows[1].guardian["name"] == "@SUM(1+1)"
    assert [(n.row, n.column) for n in parsed.notes] == [(2, "姓名"), (3, "监护人")]


def test_the_exports_neutralising_quote_is_stripped_on_import(tmp_path):
    parsed = _parse(tmp_path, "r.csv", csv_bytes([row(name="'=1+2")]))
    assert parsed.rows[0].name == "=1+2"
    assert (
        parse.neutralise("=1+2") == "'=1+2" and parse.neutralise("+86") == "'+86" and parse.neutralise("张三") == "张三"
    )


def test_blank_rows_are_skipped_but_row_numbers_stay_those_of_the_spreadsheet(tmp_path):
    rows = [row(), ["", "", ""], row(number="G310151201401010002", gender="?")]
    parsed = _parse(tmp_path, "r.xlsx", xlsx_bytes(rows))
    assert [p.row for p in parsed.problems] == [4]


def test_more_rows_than_the_limit_is_one_clear_error(tmp_path):
    with pytest.raises(RosterFileError, match="5"):
        _parse(tmp_path, "r.csv", csv_bytes(students(6)), max_rows=5)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    with pytest.raises(RosterFileError, match="20 MB"):
        _parse(tmp_path, "big.csv", big_csv(50))


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7 not a roster", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"\x00\x01\x02binary\x00" * 10, b"\x7fELF\x02\x01"],
)
def test_a_file_that_is_not_a_spreadsheet_is_refused(tmp_path, data):
    with pytest.raises(RosterFileError):
        _parse(tmp_path, "roster.xlsx", data)


def test_an_old_xls_file_is_refused_with_advice(tmp_path):
    with pytest.raises(RosterFileError, match="xlsx"):
        _parse(tmp_path, "roster.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/document.xml", "<doc/>")
    with pytest.raises(RosterFileError):
        _parse(tmp_path, "roster.xlsx", buf.getvalue())


def test_a_compressed_file_bomb_is_refused_before_it_is_inflated(tmp_path):
    bomb = zip_bomb(64)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(RosterFileError, match="bomb|炸弹"):
        _parse(tmp_path, "bomb.xlsx", bomb)


def test_a_damaged_workbook_is_one_clear_error(tmp_path):
    data = xlsx_bytes([row()])
    with pytest.raises(RosterFileError):
        _parse(tmp_path, "r.xlsx", data[: len(data) // 2])


def test_text_in_no_known_encoding_is_refused(tmp_path):
    with pytest.raises(RosterFileError):
        _parse(tmp_path, "r.csv", "姓名,性别\n".encode() + b"\xff\xfe\xff\x80\x80\xff")


def test_a_header_only_file_is_an_error(tmp_path):
    with pytest.raises(RosterFileError):
        _parse(tmp_path, "r.csv", csv_bytes([]))


def test_a_workbook_is_recognised_by_its_content_not_its_file_name(tmp_path):
    parsed = _parse(tmp_path, "token.upload", xlsx_bytes([row()]))
    assert parsed.kind == "xlsx" and len(parsed.rows) == 1


def test_chinese_and_english_headers_mixed_in_one_file_are_both_understood(tmp_path):
    header = ["姓名", "gender", "学籍号", "birth_month", "年级", "class", "Left-behind child", "寄宿生", "phone"]
    values = ["王芳", "女", "G310151201401010003", "2014/3", "初一", "3班", "√", "否", "13900000001"]
    parsed = _parse(tmp_path, "r.csv", csv_bytes([values], header=header))
    assert not parsed.problems and not parsed.extra_columns
    r = parsed.rows[0]
    assert (r.gender, r.birth_ym, r.grade, r.class_number, r.care_groups) == ("F", "2014-03", 7, 3, ("left_behind",))
    assert r.guardian == {"name": "", "relation": "", "phone": "13900000001"}


def test_an_excel_date_cell_gives_the_birth_month(tmp_path):
    parsed = _parse(tmp_path, "r.xlsx", xlsx_bytes([row(birth=datetime(2013, 11, 2))]))
    assert parsed.rows[0].birth_ym == "2013-11"


# -- the fast paths of clean_number / clean_name give what the general rules give ----------------------------

_CELL_TEXT = st.text(alphabet=st.one_of(
    st.characters(min_codepoint=0, max_codepoint=127),
    st.sampled_from("张小明欧阳·０１ＧＡ\u3000\u00a0\u200b\ufeff\u0661①ﬁ"),
    st.characters(),
))


@settings(max_examples=400, deadline=None)
@given(_CELL_TEXT)
def test_clean_number_equals_the_squashed_upper_cased_text_for_any_text(text):
    assert parse.clean_number(text) == parse._squash(text).upper()


@settings(max_examples=400, deadline=None)
@given(_CELL_TEXT)
def test_clean_name_equals_the_whitespace_collapsing_rule_for_any_text(text):
    expected = re.sub(r"\s+", " ", text.replace("\ufeff", "").replace("\u200b", "")).strip()
    assert parse.clean_name(text) == expected
