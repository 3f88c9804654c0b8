"""Chinese text is written with Chinese punctuation: no half-width colon after a translated label or after
Chinese text, in any template or any Chinese translation (issue 16, "one set of names"; ux.md)."""
from __future__ import annotations

import re
from pathlib import Path

from translations.build import merged_catalog

ROOT = Path(__file__).resolve().parents[2]
HAN = r"[\u4e00-\u9fff]"
# a colon right after an expression: `{{ _('Time') }}: ` renders 时间: — write `{{ _('Time')|colon }}`
EXPRESSION_THEN_COLON = re.compile(r"[}%]\}:")
HAN_THEN_HALF_WIDTH = re.compile(HAN + r"[:;,!?]")
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1>", re.S)
# the English msgids inside _('...') are source strings (examples such as 男/女, 是/否 included); their Chinese
# translations are checked in the catalog below
MSGID = re.compile(r"""_\(\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")


def _templates() -> list[Path]:
    return sorted((ROOT / "templates").rglob("*.html"))


def test_no_template_puts_a_half_width_colon_after_an_expression_or_chinese_text():
    offenders = []
    for path in _templates():
        text = MSGID.sub("_(''", SCRIPT_OR_STYLE.sub("", path.read_text(encoding="utf-8")))
        for lineno, line in enumerate(text.splitlines(), 1):
            if EXPRESSION_THEN_COLON.search(line) or HAN_THEN_HALF_WIDTH.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:100]}")
    assert offenders == [], "half-width punctuation after Chinese text or a label:\n" + "\n".join(offenders)


def test_no_chinese_translation_uses_half_width_punctuation_after_chinese_text():
    catalog, _ = merged_catalog()
    offenders = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for s in strings:
            if s and HAN_THEN_HALF_WIDTH.search(s):
                offenders.append(f"{message.id!r} → {s!r}")
    assert offenders == [], "\n".join(offenders)


def test_the_colon_filter_follows_the_language(app):
    from flask import session
    from flask_babel import refresh

    from app.ui import colon

    with app.test_request_context():
        session["lang"] = "en"
        refresh()
        english = str(colon("Time"))
    with app.test_request_context():
        chinese = str(colon("时间"))
    assert english == "Time: " and chinese == "时间："
    assert str(colon("<b>")).startswith("&lt;b&gt;")
