"""Export helpers: CSV with a BOM and the header in row 1, XLSX numbers as numbers and marks as text, its second
sheet what the table is about, no spreadsheet formulas."""
import csv
import io

from openpyxl import load_workbook

from app.district.tables import safe_cell, to_csv, to_xlsx

MATRIX = [["学校", "在籍学生（人）", "阳性率（%）"], ["=HYPERLINK(\"x\")", "12", "—"], ["农村小学", "<5", "—"]]
ABOUT = [("表格", "在籍人数与测评覆盖率"), ("统计范围", "2026-2027-1")]


def test_csv_starts_with_a_bom_then_the_header_row_and_keeps_the_marks():
    body = to_csv(MATRIX)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == MATRIX[0]
    assert rows[2] == ["农村小学", "<5", "—"]
    assert len(rows) == len(MATRIX)


def test_no_cell_is_exported_as_a_formula():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("<5") == "<5"
    assert "'=HYPERLINK" in to_csv(MATRIX).decode("utf-8-sig")


def test_xlsx_writes_shown_counts_as_numbers_and_hidden_ones_as_text():
    book = load_workbook(io.BytesIO(to_xlsx(MATRIX, "表", ABOUT)))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == MATRIX[0]  # the header in row 1
    assert rows[1][1] == 12
    assert rows[2][1] == "<5"
    assert str(rows[1][0]).startswith("'=")


def test_xlsx_says_what_it_is_about_on_sheet_two():
    book = load_workbook(io.BytesIO(to_xlsx(MATRIX, "表:1/2", ABOUT, "说明")))
    assert book.sheetnames == ["表12", "说明"]
    assert [tuple(r) for r in book.worksheets[1].iter_rows(values_only=True)] == ABOUT
