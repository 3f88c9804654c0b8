"""One set of names: no template prints an instrument's id (phqa, gad7) as text; they go through
`instrument_name` (app/ui.py), which gives the display name (PHQ-A, GAD-7).

An id in an attribute (`value="{{ i.id }}"`, a URL) is not shown and stays allowed, as does an id inside
`<code>` (the import page documents the file's column values).
"""
from __future__ import annotations

import re
from pathlib import Path

from screening import list_instruments

ROOT = Path(__file__).resolve().parents[2]
EXPR = re.compile(r"\{\{(.*?)\}\}", re.S)
# an expression naming an instrument's id: `x.instrument_id`, `instrument`, `inst.id`, `row.detail` of a recheck
INSTRUMENT_REF = re.compile(r"\binstrument_id\b|\binstrument\b(?!\s*=)|\binst\.id\b")
NAMED = ("instrument_name", "short_name", "loc(")


def _in_tag(text: str, pos: int) -> bool:
    return text.rfind("<", 0, pos) > text.rfind(">", 0, pos)


def _in_code(text: str, pos: int) -> bool:
    return text.rfind("<code", 0, pos) > text.rfind("</code>", 0, pos)


def raw_instrument_ids(text: str) -> list[str]:
    found = []
    for m in EXPR.finditer(text):
        expr = m.group(1)
        code = re.sub(r"'[^']*'|\"[^\"]*\"", "''", expr)  # words inside a string literal are text, not ids
        if not INSTRUMENT_REF.search(code) or any(n in expr for n in NAMED):
            continue
        if _in_tag(text, m.start()) or _in_code(text, m.start()):
            continue
        found.append(expr.strip())
    ids = [i.id for i in list_instruments()]
    without_code = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)
    visible = re.sub(r"<[^>]*>|\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", without_code, flags=re.S)
    found += [f"literal {i}" for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", visible)]
    return found


def test_the_checker_finds_what_it_must():
    assert raw_instrument_ids("<td>{{ s.instrument_id }}</td>") == ["s.instrument_id"]
    assert raw_instrument_ids("<td>{{ r.instrument_id|upper }}</td>") == ["r.instrument_id|upper"]
    assert raw_instrument_ids("<p>测评：phqa</p>") == ["literal phqa"]
    assert raw_instrument_ids('<option value="{{ inst.id }}">{{ loc(inst.name) }}</option>') == []
    assert raw_instrument_ids("<td>{{ s.instrument_id|instrument_name }}</td><code>gad7</code>") == []


def test_no_template_prints_an_instrument_id_as_text():
    problems = []
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 50
    for path in templates:
        for expr in raw_instrument_ids(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}: {expr}")
    assert problems == [], "instrument ids printed as text (use |instrument_name):\n" + "\n".join(problems)


def test_instrument_name_gives_the_display_name(app):
    from app.ui import instrument_name

    assert instrument_name("phqa") == "PHQ-A" and instrument_name("gad7") == "GAD-7"
    assert instrument_name("no-such") == "no-such" and instrument_name(None) == "—"
