"""Export helpers: CSV with a BOM, XLSX numbers as numbers and marks as text, no spreadsheet formulas."""
import io

from openpyxl import load_workbook

from app.district.tables import safe_cell, to_csv, to_xlsx

MATRIX = [["学校", "在籍学生数", "阳性率"], ["=HYPERLINK(\"x\")", "12", "—"], ["农村小学", "<5", "—"]]


def test_csv_starts_with_a_bom_and_keeps_the_marks():
    body = to_csv(MATRIX, ["标题"])
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "<5" in text and "农村小学" in text


def test_no_cell_is_exported_as_a_formula():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("<5") == "<5"
    assert "'=HYPERLINK" in to_csv(MATRIX, []).decode("utf-8-sig")


def test_xlsx_writes_shown_counts_as_numbers_and_hidden_ones_as_text():
    sheet = load_workbook(io.BytesIO(to_xlsx(MATRIX, ["标题"], "表"))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][1] == 12
    assert rows[3][1] == "<5"
    assert str(rows[2][0]).startswith("'=")
