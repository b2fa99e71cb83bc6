"""Retroactive matching: earlier records matched again, from their stored hashes.

When a bank gains entries (a new case, a partner's list), pictures and videos checked
before may now match. A record of an earlier lookup keeps the query's hashes, so it can be
matched again without the file and without decoding anything:

* ``pdq_variants``: the 8 rotations/flips of a picture (``bank match`` records), searched
  like the original lookup; or only ``pdq`` (the hash as it is; ``--hashes`` records);
* ``vpdq`` (pytx signal string) and/or ``md5`` for a video.

``verify check --bank`` reports (``jinjja.report/v1``) keep the same fields under
``hashes``; their ``subject.path`` is the input and their ``matches`` the known matches.

:func:`rescan` yields, per record, every current match and the **new** ones: matches whose
``(bank, entry_id)`` the record did not list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from provenance.matching.bank import REVIEW_MAX, Bank, apply_allow_lists, negative_names
from provenance.matching.pdq import PdqError, PdqHash, Variant, parse_hex
from provenance.matching.vpdq import VpdqHash
from provenance.report import SCHEMA as REPORT_SCHEMA
from provenance.report import BankMatch

__all__ = ["BATCH", "Rescanned", "Unusable", "read_records", "rescan"]

BATCH: Final = 1024
"""Picture records searched per index call."""


@dataclass(frozen=True)
class Rescanned:
    """One record matched again."""

    line: int
    """Line of the record in its file."""
    input: str | None
    """The record's ``input`` (what was checked then)."""
    matches: tuple[BankMatch, ...]
    """Every match now, best first."""
    new: tuple[BankMatch, ...]
    """Matches the record did not have."""


@dataclass(frozen=True)
class Unusable:
    """A line that could not be matched again, and why."""

    line: int
    reason: str


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Unusable]]:
    """Yield ``(line, record)`` for each JSON object line of a JSON Lines file.

    Raises
    ------
    OSError, UnicodeDecodeError
        When the file cannot be read as UTF-8 text.
    """
    with Path(path).open(encoding="utf-8-sig") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as exc:
                yield number, Unusable(number, f"not JSON: {exc}")
                continue
            if not isinstance(record, dict):
                yield number, Unusable(number, "not a JSON object")
                continue
            yield number, record


def _is_check_record(record: dict[str, Any]) -> bool:
    return record.get("schema") == REPORT_SCHEMA


def _check_hashes(record: dict[str, Any]) -> dict[str, Any] | str:
    """The ``hashes`` of a ``verify check`` report, or why it has none."""
    hashes = record.get("hashes")
    if isinstance(hashes, dict):
        return hashes
    if hashes is not None:
        return "stored hash is not valid: hashes is not a JSON object"
    if record.get("verdict") == "ERROR":
        return "check record with verdict ERROR: the file was never hashed"
    return (
        "check record without stored hashes (checked without --bank, by an earlier "
        "version, or too flat to hash): check the file again with --bank"
    )


def _query(record: dict[str, Any]) -> tuple[list[PdqHash], list[Variant]] | VpdqHash | str:
    """The stored hashes of a record, or why there are none."""
    if _is_check_record(record):
        hashes = _check_hashes(record)
        if isinstance(hashes, str):
            return hashes
        record = hashes
    try:
        if isinstance(record.get("pdq_variants"), list) and len(record["pdq_variants"]) == 8:
            return [parse_hex(str(h)) for h in record["pdq_variants"]], list(Variant)
        if record.get("vpdq") or record.get("md5"):
            video = VpdqHash.from_signal(str(record.get("vpdq") or "[]"))
            md5 = record.get("md5")
            return VpdqHash(video.features, str(md5).lower() if md5 else None)
        if isinstance(record.get("pdq"), str):
            return [parse_hex(record["pdq"])], [Variant.IDENTITY]
    except (PdqError, ValueError) as exc:
        return f"stored hash is not valid: {exc}"
    return "no stored hash (pdq_variants, pdq, vpdq or md5)"


def _known(record: dict[str, Any]) -> set[tuple[str, str]]:
    found = record.get("matches")
    if not isinstance(found, list):
        return set()
    return {(str(m.get("bank")), str(m.get("entry_id"))) for m in found if isinstance(m, dict)}


def _result(line: int, record: dict[str, Any], matches: Sequence[BankMatch]) -> Rescanned:
    known = _known(record)
    ordered = tuple(sorted(matches, key=lambda m: (m.distance, m.bank, m.entry_id)))
    new = tuple(m for m in ordered if (m.bank, m.entry_id) not in known)
    raw_input = record.get("input")
    if _is_check_record(record) and isinstance(record.get("subject"), dict):
        raw_input = record["subject"].get("path")
    return Rescanned(line, str(raw_input) if raw_input is not None else None, ordered, new)


def rescan(
    banks: Sequence[Bank],
    records: Iterable[tuple[int, dict[str, Any] | Unusable]],
    *,
    max_distance: int = REVIEW_MAX,
    allow_lists: Sequence[Bank] = (),
) -> Iterator[Rescanned | Unusable]:
    """Match records again from their stored hashes (in file order, pictures batched).

    Parameters
    ----------
    banks
        Banks to search (negative banks suppress, as in a lookup).
    records
        ``(line, record)`` pairs, e.g. from :func:`read_records`.
    max_distance
        Largest picture distance reported.
    allow_lists
        Banks searched as negative banks whatever their configured kind.

    Yields
    ------
    Rescanned | Unusable
        One item per record.
    """
    negative = negative_names(banks) | {b.name for b in allow_lists}
    banks = [*banks, *allow_lists]
    pending: list[tuple[int, dict[str, Any], list[PdqHash], list[Variant]]] = []

    def flush() -> Iterator[Rescanned]:
        groups = [p[2] for p in pending]
        found: list[list[BankMatch]] = [[] for _ in pending]
        for bank in banks:
            for names in {tuple(p[3]) for p in pending}:
                idx = [i for i, p in enumerate(pending) if tuple(p[3]) == names]
                per = bank.match_batch(
                    [groups[i] for i in idx], max_distance=max_distance, variants=names
                )
                for i, ms in zip(idx, per, strict=True):
                    found[i].extend(ms)
        for (line, record, _, _), hits in zip(pending, found, strict=True):
            yield _result(line, record, apply_allow_lists(hits, negative))
        pending.clear()

    for line, record in records:
        if isinstance(record, Unusable):
            yield from flush()
            yield record
            continue
        query = _query(record)
        if isinstance(query, str):
            yield from flush()
            yield Unusable(line, query)
        elif isinstance(query, VpdqHash):
            yield from flush()
            video = [m for bank in banks for m in bank.match_video(query)]
            yield _result(line, record, apply_allow_lists(video, negative))
        else:
            pending.append((line, record, query[0], query[1]))
            if len(pending) >= BATCH:
                yield from flush()
    yield from flush()
