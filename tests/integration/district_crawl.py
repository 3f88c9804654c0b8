"""A crawl of every page and export the district role can reach (shared by the district privacy tests).

Starting at /district, the crawl follows every link under /district, submits the filter form with every option
of every select (each alone, each grouping with each type and with each stage, and every type x stage pair), and
downloads the exports linked from the plain pages and from every filter combination on the school grouping.
Exports are read as text: CSV decoded, XLSX unzipped (its XML parts), the PDF report through pdftotext.
"""
from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.selects: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "select":
            self._select = a.get("name")
            self.selects.setdefault(self._select or "", [])
        elif tag == "option" and self._select is not None:
            self.selects[self._select].append(a.get("value", ""))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "select":
            self._select = None


def as_text(response: Any) -> str:
    data = response.data
    if data[:5] == b"%PDF-":  # the supervision report: its text as pdftotext reads it
        from tests.pdf_tools import pdf_text

        return pdf_text(data)
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return "\n".join(zf.read(name).decode("utf-8", "replace") for name in zf.namelist())
    return data.decode("utf-8-sig", "replace")


def crawl(client: Any) -> dict[str, str]:
    """Every district page and export reachable by the logged-in client: url -> its text (all answered 200)."""
    queue = ["/district"]
    first = PageParser()
    first.feed(client.get("/district").get_data(as_text=True))
    selects = first.selects
    assert {"term", "campaign", "type", "stage", "group"} <= set(selects)
    # Every option of every select alone, then every grouping with every type and stage filter.
    for name, options in selects.items():
        for option in options:
            queue.append("/district?" + urlencode({name: option}))
    for group in selects["group"]:
        for school_type in selects["type"]:
            queue.append("/district?" + urlencode({"group": group, "type": school_type}))
        for stage in selects["stage"]:
            queue.append("/district?" + urlencode({"group": group, "stage": stage}))
    for school_type in selects["type"]:
        for stage in selects["stage"]:
            queue.append("/district?" + urlencode({"group": "school", "type": school_type, "stage": stage}))

    seen: dict[str, str] = {}
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code == 200, url
        seen[url] = text = as_text(response)
        if "/export/" in url:
            continue
        parser = PageParser()
        parser.feed(text)
        for link in parser.links:
            parts = urlsplit(link)
            if parts.path.startswith("/district") and link not in seen:
                # Exports are fetched for the plain pages and for every filter on the school grouping.
                if "/export/" in parts.path:
                    query = dict(parse_qsl(parts.query))
                    if query.get("group", "school") != "school" and (query.get("type") or query.get("stage")):
                        continue
                queue.append(link)
    return seen
