"""Reading a PDF report back in tests, with poppler-utils (Debian's; `make deps` / `.ci/run` install it):
`pdf_text` (pdftotext), `pdf_fonts` (pdffonts), `pdf_pages` (pdfinfo), `first_page_png` (pdftoppm)."""
from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path


def _run(args: list[str], pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.pdf"
        path.write_bytes(pdf)
        done = subprocess.run([*args, str(path), "-"] if args[0] == "pdftotext" else [*args, str(path)],
                              capture_output=True, check=True, timeout=60)
        return done.stdout.decode("utf-8")


def pdf_text(pdf: bytes, layout: bool = True) -> str:
    """The text of every page (pdftotext -layout keeps a table row on one line); pages end with a form feed."""
    return _run(["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else [])], pdf)


def squeeze(text: str) -> str:
    """Text without any white space: pdftotext drops or adds spaces between CJK characters."""
    return re.sub(r"\s+", "", text)


def pdf_fonts(pdf: bytes) -> list[dict[str, str]]:
    """pdffonts' rows: name, type, emb (yes/no)."""
    lines = _run(["pdffonts"], pdf).splitlines()[2:]
    rows = []
    for line in lines:
        parts = line.split()
        emb = [p for p in parts if p in ("yes", "no")]
        rows.append({"name": parts[0], "emb": emb[0] if emb else "?"})
    return rows


def pdf_info(pdf: bytes) -> dict[str, str]:
    out = {}
    for line in _run(["pdfinfo"], pdf).splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def first_page_png(pdf: bytes, target: Path, dpi: int = 60) -> Path:
    """The first page as a PNG at `target` (pdftoppm -png -r dpi -f 1 -l 1 -singlefile)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.pdf"
        path.write_bytes(pdf)
        stem = target.with_suffix("")
        subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(path),
                        str(stem)], check=True, timeout=60)
    return target
