"""Upload safety: the one gate every importer's file passes before a parser sees it (roster import, screening
results import; web upload and CLI alike).

- Size: refused past the importer's limit while being read (`read_stream`, `read_file`), never read whole first.
- Kind, by magic bytes: a workbook (zip) or text; an old .xls, a PDF, an image, an executable, an archive or
  binary data is refused with a message saying what to upload instead.
- Workbooks (zip), from the directory alone, before a byte is inflated: member count, declared uncompressed total,
  each large member's compression ratio (zipfile never inflates past a member's declared size). Then every XML
  member's prolog (at most 64 KiB inflated each): a document type declaration (DTD) or entity declaration is
  refused outright (billion laughs, external entities: real spreadsheets never have one), as is a prolog too long
  to hold the root element.
- Reading a workbook: openpyxl in read-only mode (which parses through defusedxml when installed), at most
  `max_columns` columns per row, trailing blanks dropped: a sheet declaring A1:XFD20001 with one cell at the far
  end of each row is 20,000 short rows, not 327 million empty cells.
- Text: UTF-16 (BOM), UTF-8 (with or without BOM) or GB18030 (a superset of GBK and GB2312), each decoded
  strictly; anything else is one clear error.

Settings (app.config, optional): UPLOAD_MAX_ZIP_MEMBERS (2,000), UPLOAD_MAX_UNCOMPRESSED_MB (200),
UPLOAD_MAX_RATIO (150), UPLOAD_MAX_COLUMNS (256). Each importer keeps its own size and row limits.
"""
from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flask_babel import lazy_gettext as _l

CHUNK = 1 << 16
PROLOG_BYTES = 64 * 1024
XML_SUFFIXES = (".xml", ".rels", ".vml")
_DTD_RE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ELEMENT_RE = re.compile(r"<[A-Za-z_]")

BINARY_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"%PDF", "binary"),
    (b"\x89PNG", "binary"),
    (b"\xff\xd8\xff", "binary"),
    (b"GIF8", "binary"),
    (b"\x1f\x8b", "archive"),
    (b"Rar!", "archive"),
    (b"7z\xbc\xaf", "archive"),
    (b"BZh", "archive"),
    (b"\xfd7zXZ", "archive"),
    (b"\x7fELF", "binary"),
    (b"MZ", "binary"),
)


class UploadError(ValueError):
    """The file as a whole is refused (size, kind, archive, XML, encoding). args[0] is a (lazy) message."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024
    max_members: int = 2_000
    max_uncompressed: int = 200 * 1024 * 1024
    max_ratio: int = 150  # a real sheet compresses 5-20 times; a bomb thousands of times
    ratio_floor: int = 4 * 1024 * 1024  # members smaller than this are never a threat, whatever their ratio
    max_columns: int = 256

    @classmethod
    def from_config(cls, config: Any, max_bytes: int) -> Limits:
        """The limits of an app's config (keys above), with the importer's own size limit."""
        get = config.get if config is not None else (lambda _k, d=None: d)
        return cls(
            max_bytes=int(max_bytes),
            max_members=int(get("UPLOAD_MAX_ZIP_MEMBERS", cls.max_members)),
            max_uncompressed=int(get("UPLOAD_MAX_UNCOMPRESSED_MB", cls.max_uncompressed // (1024 * 1024)))
            * 1024
            * 1024,
            max_ratio=int(get("UPLOAD_MAX_RATIO", cls.max_ratio)),
            max_columns=int(get("UPLOAD_MAX_COLUMNS", cls.max_columns)),
        )


def current_limits(max_bytes: int) -> Limits:
    """Limits from the current app's config when there is one (requests, CLI), else the defaults."""
    from flask import current_app, has_app_context

    return Limits.from_config(current_app.config if has_app_context() else None, max_bytes)


def _too_large(max_bytes: int) -> UploadError:
    mb = max_bytes / (1024 * 1024)
    return UploadError(_l("The file is larger than %(n)s MB.", n=int(mb) if mb >= 1 else round(mb, 2)))


# -- reading, bounded ------------------------------------------------------------------------------------------
def read_stream(stream: IO[bytes], max_bytes: int) -> bytes:
    """Read an upload stream, refusing it as soon as it passes `max_bytes`."""
    buf = io.BytesIO()
    while chunk := stream.read(CHUNK):
        if buf.tell() + len(chunk) > max_bytes:
            raise _too_large(max_bytes)
        buf.write(chunk)
    return buf.getvalue()


def read_file(path: Path | str, max_bytes: int) -> bytes:
    """Read a file given on the command line: its size is checked before a byte is read."""
    path = Path(path)
    if path.stat().st_size > max_bytes:
        raise _too_large(max_bytes)
    with path.open("rb") as fh:
        return read_stream(fh, max_bytes)


# -- the gate --------------------------------------------------------------------------------------------------
def inspect(data: bytes, limits: Limits) -> str:
    """'xlsx' or 'text' for a file that may go on to a parser; UploadError for anything else."""
    if len(data) > limits.max_bytes:
        raise _too_large(limits.max_bytes)
    if not data.strip():
        raise UploadError(_l("The file is empty."))
    head = data[:16]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        check_workbook(data, limits)
        return "xlsx"
    for magic, what in BINARY_MAGIC:
        if head.startswith(magic):
            if what == "xls":
                raise UploadError(_l("This is an old Excel .xls file: open it in Excel or WPS and save it as .xlsx."))
            raise UploadError(_l("The file is not a spreadsheet: upload an .xlsx or .csv file."))
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"
    if b"\x00" in data[:65536]:
        raise UploadError(_l("The file is not a spreadsheet: upload an .xlsx or .csv file."))
    return "text"


def check_workbook(data: bytes, limits: Limits) -> None:
    """The zip directory, then each XML member's prolog, as described above."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UploadError(_l("The workbook is damaged and cannot be read.")) from exc
    with zf:
        if len(infos) > limits.max_members:
            raise UploadError(_l("The workbook has too many parts; it looks like a compressed-file bomb."))
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise UploadError(
                    _l("The workbook expands far more than a real spreadsheet; it looks like a compressed-file bomb.")
                )
        if total > limits.max_uncompressed:
            raise UploadError(
                _l(
                    "The workbook expands to more than %(n)s MB; it looks like a compressed-file bomb.",
                    n=limits.max_uncompressed // (1024 * 1024),
                )
            )
        names = {i.filename for i in infos}
        if "xl/workbook.xml" not in names:
            raise UploadError(_l("The file is not a spreadsheet: upload an .xlsx or .csv file."))
        for info in infos:
            if info.filename.lower().endswith(XML_SUFFIXES) and not info.is_dir():
                _check_prolog(zf, info)


def _check_prolog(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    try:
        with zf.open(info) as fh:
            head = fh.read(PROLOG_BYTES)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise UploadError(_l("The workbook is damaged and cannot be read.")) from exc
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8", errors="replace")
    root = _ELEMENT_RE.search(text)
    prolog = text if root is None else text[: root.start()]
    if _DTD_RE.search(prolog) or (root is None and _DTD_RE.search(text)):
        raise UploadError(
            _l(
                "The workbook contains an XML document type declaration, which real spreadsheets never "
                "have; it is refused (save the file again from Excel or WPS)."
            )
        )
    if root is None and info.file_size > len(head):
        raise UploadError(_l("The workbook is damaged and cannot be read."))


# -- text and workbook rows ------------------------------------------------------------------------------------
def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-16 with BOM, UTF-8 (BOM or not), else GB18030/GBK, each strict; else UploadError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
            try:
                return decoder.decode(data, final=True), encoding
            except UnicodeDecodeError:
                continue
    raise UploadError(_l("The file is neither UTF-8 nor GBK/GB18030 text; save it as UTF-8 CSV or as .xlsx."))


BLANK_ROWS_ALLOWED = 10_000


def xlsx_rows(data: bytes, limits: Limits, *, max_rows: int, data_only: bool = False) -> Iterator[list[Any]]:
    """The first sheet's rows (at most `limits.max_columns` cells each, trailing blanks dropped), after
    `check_workbook` passed. More than `max_rows` + 10,000 rows, blank ones included (a sheet whose second row is
    numbered 1,048,576 yields a million blank rows), is an UploadError, as is a workbook openpyxl cannot read."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is one clear error
        raise UploadError(_l("The workbook is damaged and cannot be read.")) from exc
    try:
        ws = wb.worksheets[0]
        ceiling = max_rows + BLANK_ROWS_ALLOWED + 1  # the header, the data rows, the blank rows allowed
        for number, values in enumerate(
            ws.iter_rows(max_col=limits.max_columns, max_row=ceiling + 1, values_only=True), start=1
        ):
            if number > ceiling:
                raise UploadError(
                    _l(
                        "The sheet has more than %(n)s rows, blank ones included; delete the empty rows at its end.",
                        n=ceiling,
                    )
                )
            row = list(values)
            while row and row[-1] is None:
                row.pop()
            yield row
    except UploadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UploadError(_l("The workbook is damaged and cannot be read.")) from exc
    finally:
        wb.close()
