"""Every translatable string in app/ and templates/ has a Simplified Chinese translation.

Chinese is the default interface language; an msgid without a zh msgstr would show English to a Chinese user.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_file

from translations.build import merged_catalog

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2),
            "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2), "_lp": ((1, "c"), 2)}


def _msgids():
    for path in sorted((ROOT / "app").rglob("*.py")):
        for lineno, msgid, _, context in extract_from_file("python", str(path), keywords=KEYWORDS):
            yield path.relative_to(ROOT), lineno, msgid, context
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for lineno, msgid, _, context in extract_from_file(
            "jinja2.ext:babel_extract", str(path), keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
        ):
            yield path.relative_to(ROOT), lineno, msgid, context


def test_every_interface_string_has_a_chinese_translation():
    catalog, _ = merged_catalog()
    missing = []
    found = 0
    for path, lineno, msgid, context in _msgids():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        for one in ids:
            if not one:
                continue
            found += 1
            message = catalog.get(one, context=context)
            if message is None or not message.string or (isinstance(message.string, tuple) and not all(message.string)):
                missing.append(f"{path}:{lineno}: {one!r}")
    assert found > 300
    assert missing == [], "untranslated strings:\n" + "\n".join(missing)


def test_translation_sources_do_not_contradict_each_other():
    _, problems = merged_catalog()
    assert problems == []
