"""The student entrance and the help form: every field is styled and sized like the others (issue 22) — the
birth month (an `<input type=month>`) and the entry code included — on a phone (390×844) and a classroom PC
(1366×768). Screenshots: tests/artifacts/student-fields-*.png (looked at)."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import shot

FIELDS_JS = """() => Array.from(document.querySelectorAll(
    'main form input:not([type=hidden]):not([type=radio]):not([type=checkbox]), main form select, main form textarea'
  )).map(e => {
    const s = getComputedStyle(e), r = e.getBoundingClientRect();
    return {id: e.id, width: Math.round(r.width), height: r.height, font: parseFloat(s.fontSize),
            border: s.borderTopColor + ' ' + s.borderTopWidth, radius: s.borderTopLeftRadius, pad: s.paddingLeft};
  })"""
CHOICES_JS = """() => Array.from(document.querySelectorAll('main form label:has(input[type=radio])')).map(l => {
    const r = l.getBoundingClientRect(), i = l.querySelector('input').getBoundingClientRect();
    return {height: r.height, radio: Math.min(i.width, i.height)};
  })"""


@pytest.mark.parametrize("width,height", [(390, 844), (1366, 768)])
@pytest.mark.parametrize("name,path,reference", [("start", "/s?code=ABCDEF", "student_number"),
                                                 ("help", "/s/help", "student_number")])
def test_every_student_field_looks_like_the_student_number_field(browser, live_server, width, height, name, path,
                                                                 reference):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(live_server.url + path)
        fields = {f["id"]: f for f in page.evaluate(FIELDS_JS)}
        ref = fields[reference]
        assert ref["height"] >= 44
        assert len(fields) >= 3, fields
        for f in fields.values():
            where = f"{name} {width}px #{f['id']}"
            assert f["border"] == ref["border"] and f["radius"] == ref["radius"] and f["pad"] == ref["pad"], where
            assert f["width"] == ref["width"], where
            assert f["height"] >= ref["height"] - 2, where  # the code fields are taller (larger type), never smaller
            assert f["font"] >= ref["font"], where
        for choice in page.evaluate(CHOICES_JS):  # the help form's urgency: full-size tap targets
            assert choice["height"] >= 44 and choice["radio"] >= 20, choice
        shot(page, f"student-fields-{name}-{width}")
    finally:
        context.close()
