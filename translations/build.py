"""Merge the per-area Chinese PO sources (translations/src/*.po) into one catalog and compile it.

Areas own their own source file, so engineers working in parallel never edit the same catalog.
Run by `make translations` (and so by `make run` and `make test`). English is the source language of msgids.
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent


def merged_catalog() -> tuple[Catalog, list[str]]:
    catalog = Catalog(locale="zh", domain="messages")
    problems: list[str] = []
    for src in sorted((HERE / "src").glob("*.po")):
        with src.open("rb") as fh:
            part = read_po(fh, locale="zh")
        for message in part:
            if not message.id:
                continue
            existing = catalog.get(message.id, context=message.context)
            if existing is not None and existing.string and message.string and existing.string != message.string:
                problems.append(f"{src.name}: {message.id!r} translated differently elsewhere; kept the first")
                continue
            if existing is None or not existing.string:
                catalog.add(message.id, message.string, context=message.context)
    return catalog, problems


def main() -> int:
    catalog, problems = merged_catalog()
    out = HERE / "zh" / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "messages.po").open("wb") as fh:
        write_po(fh, catalog, width=0)
    with (out / "messages.mo").open("wb") as fh:
        write_mo(fh, catalog)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    print(f"translations: {len(catalog)} messages compiled to {out / 'messages.mo'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
