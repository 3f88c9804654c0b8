"""Printable reports: a Jinja template rendered to an A4 PDF by WeasyPrint, with nothing fetched from outside.

A report is an HTML template that extends `reports/base.html` (the page frame: A4, the report title at the top of
every page, "第 N 页 / 共 M 页" and the generated-at time at the bottom, the report stylesheet) and reuses the
pages' own macros and SVG charts (`app.charts` returns inline `<svg>`, which WeasyPrint draws as vectors).
`render_pdf(template, title=..., **context)` returns the PDF bytes; `pdf_response(pdf, filename)` the download.

Decisions, and why:
- **WeasyPrint with Debian's Pango** (docs/decisions.md): HTML and CSS Paged Media, so a report is a template like
  any page; no browser process, no JavaScript. The system libraries are Debian's (`make deps` and `.ci/run`
  install them: libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0, fonts-noto-cjk).
- **Fonts are local, and embedded.** The stylesheet names the family Noto Sans CJK SC, which Pango finds through
  fontconfig among Debian's fonts-noto-cjk files (no `@font-face` at all: a `src: local()` face would make
  WeasyPrint fetch the font file by a file:// URL, which the fetcher refuses); WeasyPrint embeds the subset of
  glyphs used, so the PDF reads the same on a machine without the font. No font is ever named by URL.
- **No network.** `StaticOnlyFetcher` is the only URL fetcher: it serves files from the app's own static folder
  (the report stylesheet) and refuses every other URL (http, https, file, data) with `ResourceRefused`, which
  stops the rendering (WeasyPrint would otherwise only log a warning and leave the resource out). A template that
  refers to anything outside fails its test instead of quietly fetching it in production.
- **The clock** is `models.clock`: the generated-at line says when, in the school time zone.
- Page numbers are CSS counters in the page margin (`counter(page)`, `counter(pages)`), so they are right whatever
  the content's length; the text comes from the translation ("Page %(page)s of %(pages)s").
- **Python's cyclic garbage collector is paused while WeasyPrint lays out and writes** (`collector_paused`).
  WeasyPrint allocates millions of small objects; each allocation burst triggers collections that traverse the
  whole heap of the app (SQLAlchemy, Babel, the templates), which measured more than half of the time of a
  district-scale report (a 100-row table: 2.1 s with the collector, 0.8 s without, same machine, same minute).
  Objects are still freed by reference counting; cycles WeasyPrint leaves are collected once the collector runs
  again. The pause is process-wide, counted across threads (the last render to finish re-enables it), and always
  undone, also when a render fails.
"""
from __future__ import annotations

import gc
import mimetypes
import posixpath
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, current_app, has_request_context, render_template, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from weasyprint import CSS, HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from models import clock

# The base URL every relative reference of a report resolves against. `.invalid` is reserved (RFC 2606): no
# resolver answers for it, and the fetcher never tries; it only tells the app's own static files from the rest.
REPORT_ORIGIN = "https://report.xinmiao.invalid"
BASE_TEMPLATE = "reports/base.html"
PDF_MIMETYPE = "application/pdf"

__all__ = [
    "BASE_TEMPLATE", "PDF_MIMETYPE", "REPORT_ORIGIN", "ResourceRefused", "StaticOnlyFetcher", "collector_paused",
    "css_string",
    "generated_at_text", "page_margin_css", "pdf_response", "printable_svg", "render_html", "render_pdf",
]


class ResourceRefused(FatalURLFetchingError):
    """A report referred to something other than the app's own static files (fatal: the rendering stops)."""


class StaticOnlyFetcher(URLFetcher):
    """Serves `REPORT_ORIGIN/<static url path>/<file>` from the app's static folder; refuses everything else.

    `fetched` and `refused` list the URLs asked for (the tests read them)."""

    def __init__(self, static_folder: str | Path, static_url: str) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, fail_on_errors=True)
        self.root = Path(static_folder).resolve()
        self.prefix = REPORT_ORIGIN + "/" + static_url.strip("/") + "/"
        self.fetched: list[str] = []
        self.refused: list[str] = []

    @classmethod
    def for_app(cls, app: Flask) -> StaticOnlyFetcher:
        """The fetcher of `app`'s static folder at the URL `url_for("static")` gives (a script root included)."""
        assert app.static_folder is not None  # the app serves its stylesheets from it
        return cls(app.static_folder, url_for("static", filename=""))

    def path_of(self, url: str) -> Path | None:
        """The static file a URL names, or None when it names anything else (another host, `..`, a folder)."""
        if not url.startswith(self.prefix):
            return None
        parts = urlsplit(url)
        relative = unquote(url[len(self.prefix):].split("?", 1)[0].split("#", 1)[0])
        if parts.username or parts.password or parts.port or "\\" in relative or "\x00" in relative:
            return None
        normal = posixpath.normpath(relative)
        if normal.startswith(("..", "/")) or normal == ".":
            return None
        path = (self.root / normal).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        path = self.path_of(url)
        if path is None:
            self.refused.append(url)
            raise ResourceRefused(f"a report may use only the app's static files, not {url[:200]!r}")
        self.fetched.append(url)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        charset = "; charset=utf-8" if mime.startswith("text/") else ""
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime + charset})


def css_string(text: str) -> str:
    """`text` as a CSS string literal: quotes and backslashes escaped, no line break, no `<` (so it cannot close
    the `<style>` element it is written into)."""
    out = []
    for ch in str(text):
        if ch in ('"', "\\", "<", ">", "&") or ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _page_counter_content() -> str:
    """The CSS `content` of the page number: the translated "Page %(page)s of %(pages)s" with counters."""
    marker_page, marker_pages = "\x00PAGE\x00", "\x00PAGES\x00"
    text = pgettext("report footer", "Page %(page)s of %(pages)s", page=marker_page, pages=marker_pages)
    pieces: list[str] = []
    for chunk in text.split(marker_page):
        if pieces:
            pieces.append("counter(page)")
        inner = []
        for j, part in enumerate(chunk.split(marker_pages)):
            if j:
                inner.append("counter(pages)")
            if part:
                inner.append(css_string(part))
        pieces.extend(inner)
    return " ".join(pieces)


def generated_at_text(now: datetime | None = None) -> str:
    """"Generated at 2026-12-03 16:45" in the school time zone (the moved clock in tests)."""
    tz = current_app.config.get("TIMEZONE") or clock.DEFAULT_TIMEZONE
    local = clock.local_now(tz) if now is None else now.astimezone(clock.school_timezone(tz))
    return _("Generated at %(time)s", time=local.strftime("%Y-%m-%d %H:%M"))


def page_margin_css(title: str, generated_at: str) -> str:
    """The `@page` margin texts of every report: the title top left (not on the first page, which has it as its
    heading), generated-at bottom left, page N of M bottom right; A4 and the margins are in css/report.css.

    A stylesheet of its own, given to WeasyPrint beside the template's (no inline style in any template), built
    here because the texts go into CSS strings, where HTML escaping is wrong."""
    return (
        "@page {\n"
        f"  @top-left {{ content: {css_string(title)}; }}\n"
        f"  @bottom-left {{ content: {css_string(generated_at)}; }}\n"
        f"  @bottom-right {{ content: {_page_counter_content()}; }}\n"
        "}\n"
    )


_SVG_OPEN = re.compile(r"<svg\b[^>]*>", re.I)
_HEIGHT_AUTO = re.compile(r"(?<![-\w])height\s*:\s*auto\s*;?", re.I)


def printable_svg(html: str) -> str:
    """The HTML with `height:auto` taken out of every `<svg>` tag's style attribute.

    The pages' charts (app.charts) carry `style="max-width:100%;height:auto"` so browsers scale them; WeasyPrint 70
    reads `height:auto` in an inline SVG's own style as a square box (the chart drawn small in the middle of a
    box as tall as it is wide). Without it the report stylesheet's `width: 100%; height: auto` keeps the chart's
    aspect ratio (tests/web/test_pdf_machinery.py measures the box)."""
    return _SVG_OPEN.sub(lambda m: _HEIGHT_AUTO.sub("", m.group(0)), html)


_pause_lock = threading.Lock()
_pause_depth = 0
_pause_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the duration (see the module's docstring); nests across threads."""
    global _pause_depth, _pause_was_enabled
    with _pause_lock:
        if _pause_depth == 0:
            _pause_was_enabled = gc.isenabled()
            gc.disable()
        _pause_depth += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_depth -= 1
            if _pause_depth == 0 and _pause_was_enabled:
                gc.enable()


def _render(template: str, title: str, now: datetime | None, context: dict[str, Any]) -> tuple[str, str]:
    generated = generated_at_text(now)  # read once: the heading and every page's footer say the same minute
    html = render_template(template, report_title=title, generated_at=generated, **context)
    return printable_svg(html), generated


def render_html(template: str, /, *, title: str, now: datetime | None = None, **context: Any) -> str:
    """The report's HTML, exactly what `render_pdf` lays out (a test may parse it).

    The template receives `report_title` and `generated_at` (the text) beside the caller's context. Call it inside
    a request, or in `app.test_request_context()` (a CLI, a bench)."""
    return _render(template, title, now, context)[0]


def render_pdf(template: str, /, *, title: str, now: datetime | None = None,
               fetcher: StaticOnlyFetcher | None = None, **context: Any) -> bytes:
    """`template` (extending reports/base.html) rendered to A4 PDF bytes, fonts embedded, nothing fetched outside.

    `title` is the report's title (the PDF's title, the running head); `now` overrides the generated-at instant
    (default: the clock); `fetcher` lets a test inspect what was fetched. Needs a request context (url_for): a CLI
    or a bench wraps the call in `app.test_request_context()`."""
    if not has_request_context():
        raise RuntimeError("render_pdf needs a request context: use app.test_request_context()")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    html, generated = _render(template, title, now, context)
    fetcher = fetcher or StaticOnlyFetcher.for_app(app)
    margins = CSS(string=page_margin_css(title, generated), url_fetcher=fetcher)
    with collector_paused():
        document = HTML(string=html, base_url=REPORT_ORIGIN + "/", url_fetcher=fetcher)
        pdf = document.write_pdf(stylesheets=[margins])
    assert pdf is not None  # write_pdf without a target returns the bytes
    return pdf


def pdf_response(pdf: bytes, filename: str) -> Response:
    """The PDF as a download: attachment, never cached (a report of a school is not for a shared proxy)."""
    safe = "".join(ch for ch in filename if ch.isascii() and (ch.isalnum() or ch in "-_.")) or "report.pdf"
    return Response(pdf, mimetype=PDF_MIMETYPE, headers={
        "Content-Disposition": f'attachment; filename="{safe}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })

