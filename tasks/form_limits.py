"""Limits checked before a form is parsed, so that a hostile or broken file (a zip bomb, XML entities, a
1,048,576-row sheet, a truncated or renamed file) costs a bounded amount of memory and time and comes
back as a coded conflict (E_FILE_TOO_LARGE / E_FILE_UNREADABLE) instead of taking the run down.

An .xlsx is a zip: every part is inflated here in bounded chunks, measuring its real size (a zip can lie
about sizes in its headers), refusing DTDs and entity declarations (entity expansion), and counting the
rows and columns of each worksheet. Only a workbook that passes reaches the Excel reader.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from township.conflicts import Conflict, FormError
from township.settings import Settings

MB = 2**20
RATIO_FLOOR = MB  # parts smaller than this are never refused for their ratio (tiny XML compresses well)
PROLOG_BYTES = 4096  # a DOCTYPE can only come before the root element, at the start of a part
_CHUNK_IN, _CHUNK_OUT = 64 * 1024, MB

_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*\bref="[A-Z]*\d*:?([A-Z]*)(\d*)"')
_ROW = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_ROW_INDEX = re.compile(rb'\br="(\d+)"')
_CELL_COLUMN = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})\d')


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_uncompressed: int
    max_ratio: float
    max_rows: int
    max_columns: int

    @classmethod
    def of(cls, s: Settings) -> Limits:
        return cls(s.max_file_bytes, int(s.max_uncompressed_mb * MB), s.max_compression_ratio, s.max_rows,
                   s.max_columns)


def too_large(file_name: str, found: str, limit: str) -> FormError:
    return FormError(Conflict("E_FILE_TOO_LARGE", file_name=file_name, found=found, expected=limit))


def _unreadable(file_name: str, why: str) -> FormError:
    return FormError(Conflict("E_FILE_UNREADABLE", file_name=file_name, found=why))


def _mb(n: float) -> str:
    return f"{n / MB:,.1f} MB"


def check_size(data: bytes, file_name: str, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise too_large(file_name, f"{_mb(len(data))} ({len(data):,} bytes)",
                        f"{_mb(limits.max_bytes)} (TOWNSHIP_MAX_FILE_MB)")


def check_grid(rows: int, columns: int, where: str, file_name: str, limits: Limits, *, so_far: bool = False) -> None:
    """so_far: counted while reading (reading stops at the first excess): the file holds at least that."""
    least = "at least " if so_far else ""
    if rows > limits.max_rows:
        raise too_large(file_name, f"{least}{rows:,} rows ({where})", f"{limits.max_rows:,} rows (TOWNSHIP_MAX_ROWS)")
    if columns > limits.max_columns:
        raise too_large(file_name, f"{least}{columns:,} columns ({where})",
                        f"{limits.max_columns:,} columns (TOWNSHIP_MAX_COLUMNS)")


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


_SIGNATURES = {b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
               b"Rar!": "a RAR archive", b"\x1f\x8b": "a gzip file", b"7z\xbc\xaf": "a 7-Zip archive",
               b"{\\rtf": "an RTF document", b"<": "an HTML or XML page"}
CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the legacy .xls container (the Excel reader checks it itself)


def check_workbook(data: bytes, file_name: str, limits: Limits) -> None:
    """Refuse an .xlsx/.xlsm that is not a whole zip, or whose parts exceed the limits, before parsing it."""
    check_size(data, file_name, limits)
    if data.startswith(CFB):
        return  # a legacy workbook saved as .xlsx: no compression, bounded by its file size
    if not data.startswith(b"PK\x03\x04"):
        what = next((v for k, v in _SIGNATURES.items() if data.lstrip()[:len(k)] == k), "not a workbook")
        raise _unreadable(file_name, f"not an Excel workbook: the file is {what} (renamed?)")
    try:
        book = zipfile.ZipFile(io.BytesIO(data))
        infos = book.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as e:
        raise _unreadable(file_name, f"damaged or incomplete Excel workbook (still being copied?): {e}") from None
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_uncompressed:
        raise too_large(file_name, f"{_mb(declared)} uncompressed",
                        f"{_mb(limits.max_uncompressed)} (TOWNSHIP_MAX_UNCOMPRESSED_MB)")
    budget = limits.max_uncompressed
    for info in infos:
        if info.is_dir():
            continue
        budget -= _check_part(data, info, file_name, limits, budget)


def _check_part(data: bytes, info: zipfile.ZipInfo, file_name: str, limits: Limits, budget: int) -> int:
    """Inflate one part in bounded chunks; check its real size, ratio, prolog and (a worksheet) its grid."""
    name = info.filename
    is_xml = name.lower().endswith((".xml", ".rels", ".vml"))
    sheet = name.startswith("xl/worksheets/") and is_xml
    size, prolog, tail = 0, b"", b""
    rows = max_row = max_col = 0
    for out in _inflate(data, info, file_name):
        size += len(out)
        if size > info.file_size or size > budget:
            if size > budget:
                raise too_large(file_name, f"more than {_mb(limits.max_uncompressed)} uncompressed ({name})",
                                f"{_mb(limits.max_uncompressed)} (TOWNSHIP_MAX_UNCOMPRESSED_MB)")
            raise _unreadable(file_name, f"damaged workbook: {name} is larger than its zip entry says")
        if size > RATIO_FLOOR and size > limits.max_ratio * max(info.compress_size, 1):
            raise too_large(file_name, f"{name} expands more than {limits.max_ratio:g}× ({_mb(size)} so far "
                            f"from {info.compress_size:,} bytes)",
                            f"{limits.max_ratio:g}× (TOWNSHIP_MAX_COMPRESSION_RATIO)")
        if is_xml and len(prolog) < PROLOG_BYTES:
            prolog += out[:PROLOG_BYTES]
            if _DTD.search(prolog):
                raise _unreadable(file_name, f"{name} declares a DTD or entities, which a workbook never needs")
        if not sheet:
            continue
        if rows == 0 and (dim := _DIMENSION.search(out)):  # the sheet's own claim: a cheap early refusal
            check_grid(int(dim[2] or 0), _column_number(dim[1]), name, file_name, limits)
        # cut at the last '<' so that no tag straddles two chunks (attribute values never hold '<')
        text = tail + out
        cut = text.rfind(b"<")
        text, tail = (text[:cut], text[cut:]) if cut > 0 else (text, b"")
        for m in _ROW.finditer(text):
            rows += 1
            if r := _ROW_INDEX.search(m[1]):
                max_row = max(max_row, int(r[1]))
        cols = set(_CELL_COLUMN.findall(text))
        if cols:
            max_col = max(max_col, max(_column_number(c) for c in cols))
        check_grid(max(rows, max_row), max_col, name, file_name, limits, so_far=True)
    return size


def _inflate(data: bytes, info: zipfile.ZipInfo, file_name: str) -> Iterator[bytes]:
    """The part's bytes in chunks of at most 1 MB, inflated from its raw data (not trusting sizes)."""
    offset = info.header_offset
    header = data[offset:offset + 30]
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise _unreadable(file_name, f"damaged workbook: no entry for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = offset + 30 + name_len + extra_len
    raw = memoryview(data)[start:start + info.compress_size]
    if len(raw) < info.compress_size:
        raise _unreadable(file_name, f"incomplete workbook (still being copied?): {info.filename} is cut off")
    if info.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(raw), _CHUNK_OUT):
            yield bytes(raw[i:i + _CHUNK_OUT])
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise _unreadable(file_name, f"unsupported compression in {info.filename} (Excel uses deflate)")
    d = zlib.decompressobj(-15)
    try:
        for i in range(0, len(raw), _CHUNK_IN):
            buf = raw[i:i + _CHUNK_IN]
            while buf:
                out = d.decompress(buf, _CHUNK_OUT)
                buf = d.unconsumed_tail
                if out:
                    yield out
                if d.eof:
                    return
    except zlib.error as e:
        raise _unreadable(file_name, f"damaged workbook: {info.filename}: {e}") from None
    if not d.eof:
        raise _unreadable(file_name, f"incomplete workbook (still being copied?): {info.filename} is cut off")


def check_csv(data: bytes, file_name: str, limits: Limits) -> None:
    """Size, and the number of lines, before any decoding (one C-level count)."""
    check_size(data, file_name, limits)
    lines = data.count(b"\n")
    if lines > limits.max_rows:
        check_grid(lines, 0, "lines", file_name, limits)  # counted whole: exact
