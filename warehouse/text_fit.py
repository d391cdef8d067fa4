"""Text on its way into the warehouse, made storable the same way on SQLite and PostgreSQL.

PostgreSQL refuses a NUL in text and a string longer than its varchar(n); SQLite takes both. So every
string a load writes passes here: controls (NUL, ESC…) and undecodable bytes become visible escapes
(\\x00), and a string longer than its column is cut to fit, ending in "…". The receipt keeps the text
as the file had it; the warehouse keeps what both databases can hold.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from township.text import printable

MULTILINE = "\t\n\r"  # kept in free text (notes, messages); escaped in names and codes


def fit(value: object, length: int | None, *, multiline: bool = False) -> object:
    """A string made storable in a column of `length` characters (None: unbounded); other values as given."""
    if not isinstance(value, str):
        return value
    value = printable(value, keep=MULTILINE if multiline else "")
    if length is not None and len(value) > length:
        value = value[:length - 1] + "…"
    return value


def _limit(column: Column) -> tuple[int | None, bool]:
    """(length, multiline) of a text column: String(n) is a name or code, Text is free text."""
    length = column.type.length if isinstance(column.type, String) else None
    return length, length is None


def fit_rows(table: Table, rows: list[dict]) -> list[dict]:
    """Rows for an insert into `table`, each string fitted to its column (in place, and returned)."""
    limits = {c.name: _limit(c) for c in table.columns if isinstance(c.type, String)}
    for row in rows:
        for k, v in row.items():
            if isinstance(v, str) and k in limits:
                length, multiline = limits[k]
                row[k] = fit(v, length, multiline=multiline)
    return rows


def fit_column(column: Column, values: list) -> list:
    """The values of one column fitted to it (for bulk paths that build rows as tuples, e.g. COPY)."""
    length, multiline = _limit(column)
    return [fit(v, length, multiline=multiline) for v in values]
