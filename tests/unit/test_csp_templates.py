"""The Content-Security-Policy of deploy/nginx/xinmiao.conf allows scripts and styles from the site only: no
template may need an inline script, an inline event handler or a style attribute."""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "xinmiao.conf"


def test_no_template_has_inline_script_handlers_or_styles():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for name, pattern in (("handler", INLINE_HANDLER), ("script", INLINE_SCRIPT), ("style", STYLE_ATTR)):
            found += [f"{path.relative_to(TEMPLATES)}: inline {name} {m.group(0)!r}" for m in pattern.finditer(text)]
    assert found == []


def test_the_nginx_policy_forbids_inline_script():
    text = CONF.read_text()
    [policy] = re.findall(r'Content-Security-Policy "([^"]+)"', text)
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
