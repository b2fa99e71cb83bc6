"""``--format table|json|jsonl|csv``: one meaning on every command.

``table`` is for people (one aligned line or block per record), ``json`` one document
(an array of records), ``jsonl`` one JSON object per line as records arrive, ``csv`` one
header row and one row per record. ``text``, the old spelling of ``table``, is still read
but not shown in help.
"""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO, assert_never

__all__ = ["FORMAT_METAVAR", "Format", "RecordWriter"]

FORMAT_METAVAR = "[table|json|jsonl|csv]"
"""What help shows for every ``--format`` option."""


class Format(enum.StrEnum):
    """Output formats of the commands that write records."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    TEXT = "text"
    """The old spelling of :attr:`TABLE`."""

    @property
    def canonical(self) -> Format:
        """This format, with ``text`` read as ``table``."""
        return Format.TABLE if self is Format.TEXT else self


class RecordWriter:
    """Stream records in one :class:`Format`.

    Parameters
    ----------
    fmt
        The format.
    stream
        Where to write.
    columns
        CSV columns: keys of the record, dotted for nested ones (``subject.path``); a
        nested object or list in a cell is written as JSON.
    line
        The ``table`` rendering of one record.
    """

    def __init__(
        self,
        fmt: Format,
        stream: TextIO,
        *,
        columns: Sequence[str],
        line: Callable[[dict[str, Any]], str],
    ) -> None:
        self.fmt = fmt.canonical
        self.stream = stream
        self.columns = tuple(columns)
        self.line = line
        self.count = 0
        self._csv = csv.writer(stream, lineterminator="\n") if self.fmt is Format.CSV else None
        if self._csv is not None:
            self._csv.writerow(self.columns)
        elif self.fmt is Format.JSON:
            stream.write("[")

    def write(self, record: dict[str, Any]) -> None:
        """Write one record (flushed at once, so a pipe sees it)."""
        fmt = self.fmt
        if fmt is Format.JSONL:
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif fmt is Format.JSON:
            body = json.dumps(record, ensure_ascii=False, indent=2)
            self.stream.write(("\n" if self.count == 0 else ",\n") + body)
        elif fmt is Format.CSV:
            assert self._csv is not None
            self._csv.writerow([_cell(_lookup(record, c)) for c in self.columns])
        elif fmt is Format.TABLE or fmt is Format.TEXT:
            self.stream.write(self.line(record) + "\n")
        else:
            assert_never(fmt)
        self.stream.flush()
        self.count += 1

    def finish(self) -> None:
        """Close the JSON array (other formats need nothing)."""
        if self.fmt is Format.JSON:
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()


def _lookup(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)
