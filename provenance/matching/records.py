"""The JSON records of bank matching and adding (``jinjja.bank-match/v1``,
``jinjja.bank-add/v1``): what ``verify bank match`` and ``verify bank add`` print.

:func:`match_file_record` and :func:`add_file_record` never raise for a bad input file:
the problem is a record with ``status`` ``ERROR`` (or ``NOT_HASHABLE``) and its code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from provenance.errors import ProvenanceError
from provenance.matching.bank import Added, Bank, Lookup, lookup_file
from provenance.matching.pdq import NotHashable
from provenance.report import BankMatch

__all__ = [
    "ADD_SCHEMA",
    "MATCH_SCHEMA",
    "MatchRecord",
    "add_file_record",
    "match_file_record",
    "match_status",
    "without_path",
]

MATCH_SCHEMA: Final = "jinjja.bank-match/v1"
"""``schema`` of a bank match record."""
ADD_SCHEMA: Final = "jinjja.bank-add/v1"
"""``schema`` of a bank add record."""


@dataclass(frozen=True)
class MatchRecord:
    """The outcome for one bank match input (a file, or a hash line)."""

    input: str
    """Absolute path, or ``FILE:LINE`` for a line of a hash list."""
    kind: str
    """``file`` or ``hash``."""
    status: str
    """``MATCH``, ``SUPPRESSED``, ``REVIEW``, ``NO_MATCH``, ``NOT_HASHABLE`` or ``ERROR``."""
    matches: tuple[BankMatch, ...] = ()
    """Matches, best first."""
    pdq: str | None = None
    """The query hash (pictures and hash lines)."""
    quality: int | None = None
    """PDQ quality of the query."""
    media: str | None = None
    """``picture`` or ``video`` for files."""
    frames: int | None = None
    """Video: hashable frames searched."""
    vpdq: str | None = None
    """Video: its vPDQ hash (pytx signal string), kept so ``bank rescan`` need not decode."""
    pdq_variants: tuple[str, ...] = ()
    """Picture: the hashes of its 8 rotations/flips, kept for ``bank rescan``."""
    md5: str | None = None
    """Video: the file's MD5."""
    error: dict[str, str] | None = None
    """``{"code", "message"}`` when status is ERROR or NOT_HASHABLE."""

    @property
    def failed(self) -> bool:
        """True when the input could not be matched."""
        return self.status in ("ERROR", "NOT_HASHABLE")

    def to_dict(self) -> dict[str, Any]:
        """The ``jinjja.bank-match/v1`` record."""
        d: dict[str, Any] = {
            "schema": MATCH_SCHEMA,
            "input": self.input,
            "kind": self.kind,
            "status": self.status,
            "pdq": self.pdq,
            "quality": self.quality,
            "matches": [m.to_dict() for m in self.matches],
        }
        if self.media is not None:
            d["media"] = self.media
        if self.frames is not None:
            d["frames"] = self.frames
        if self.vpdq is not None:
            d["vpdq"] = self.vpdq
        if self.pdq_variants:
            d["pdq_variants"] = list(self.pdq_variants)
        if self.md5 is not None:
            d["md5"] = self.md5
        if self.error is not None:
            d["error"] = self.error
        return d


def match_status(matches: tuple[BankMatch, ...]) -> str:
    """``MATCH`` when any match is in the MATCH band, else ``SUPPRESSED`` when an allow-list
    suppressed one, else ``REVIEW`` when any is in the REVIEW band, else ``NO_MATCH``."""
    bands = {m.band for m in matches}
    for status in ("MATCH", "SUPPRESSED", "REVIEW"):
        if status in bands:
            return status
    return "NO_MATCH"


def without_path(message: str, path: Path) -> str:
    """Drop a trailing ``: PATH`` (a diagnostic line already starts with the path)."""
    suffix = f": {path}"
    return message[: -len(suffix)] if message.endswith(suffix) else message


def match_file_record(
    path: Path,
    banks: list[Bank],
    max_distance: int,
    fps: float,
    allow_lists: Sequence[Bank] = (),
) -> MatchRecord:
    """Look a picture or video up in the banks and describe the outcome.

    Parameters
    ----------
    path
        The file.
    banks
        Open banks.
    max_distance
        Largest Hamming distance reported.
    fps
        Video frames hashed per second.
    allow_lists
        Negative banks (see :func:`provenance.matching.bank.apply_allow_lists`).

    Returns
    -------
    MatchRecord
        Never raises for a bad file.
    """
    name = str(path.absolute())
    try:
        result = lookup_file(
            path, banks, max_distance=max_distance, fps=fps, allow_lists=allow_lists
        )
    except ProvenanceError as exc:
        error = {"code": exc.code, "message": without_path(exc.message, path)}
        return MatchRecord(input=name, kind="file", status="ERROR", error=error)
    if isinstance(result, NotHashable):
        return MatchRecord(
            input=name,
            kind="file",
            status="NOT_HASHABLE",
            pdq=result.hash.hex,
            quality=result.quality,
            error={"code": "not_hashable", "message": result.reason},
        )
    assert isinstance(result, Lookup)
    return MatchRecord(
        input=name,
        kind="file",
        status=match_status(result.matches),
        matches=result.matches,
        pdq=result.pdq.hex if result.pdq is not None else None,
        quality=result.quality,
        media=result.media,
        frames=result.frames,
        vpdq=result.vpdq.to_signal() if result.vpdq is not None else None,
        pdq_variants=tuple(h.hex for h in result.variants),
        md5=result.vpdq.md5 if result.vpdq is not None else None,
    )


def add_file_record(
    bank: Bank, path: Path, entry_id: str | None, label: str | None, case: str | None, fps: float
) -> dict[str, Any]:
    """Add a picture or video to a bank and return the ``jinjja.bank-add/v1`` record.

    Parameters
    ----------
    bank
        The open bank.
    path
        The file.
    entry_id, label, case
        As for :meth:`Bank.add_file`.
    fps
        Video frames hashed per second.

    Returns
    -------
    dict
        ``status`` ``ADDED``, ``ALREADY_PRESENT``, ``NOT_HASHABLE`` or ``ERROR``.
    """
    record: dict[str, Any] = {"schema": ADD_SCHEMA, "input": str(path.absolute())}
    try:
        result = bank.add_file(path, entry_id=entry_id, label=label, case=case, fps=fps)
    except ProvenanceError as exc:
        record.update(status="ERROR", message=without_path(exc.message, path), code=exc.code)
        return record
    if isinstance(result, NotHashable):
        record.update(status="NOT_HASHABLE", quality=result.quality, message=result.reason)
        return record
    assert isinstance(result, Added)
    status = "ADDED" if result.new else "ALREADY_PRESENT"
    record.update(
        status=status, entry_ids=list(result.entry_ids), new=result.new, quality=result.quality
    )
    return record
