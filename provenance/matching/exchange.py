"""Hash lists as exchanges write them: HMA / python-threatexchange CSV and StopNCII records.

Both import and export round-trip exactly: a list imported into a bank and exported again
is the same list (same rows, fields and order; the HMA CSV byte for byte), because each
entry keeps the exchange's own record (``entries.exchange``, JSON) next to the fields the
bank matches on.

* **HMA CSV** (``hma``): what python-threatexchange's ``threatexchange dataset -P --csv``
  (the HMA data-set dump) writes: a header ``signal_type,signal_str,collab,category,tags``
  and CRLF line ends; ``tags`` separated by spaces. ``pdq`` rows become entries (id
  ``COLLAB/HASH``, or the hash without a collaboration); ``video_md5`` rows become video
  MD5 entries.
* **StopNCII** (``stopncii``): hash records as StopNCII's ``FetchHashes`` returns them,
  one JSON object per line (or a saved response ``{"hashRecords": [...]}``):
  ``signalType`` (``ImagePDQ`` or ``VideoMD5``), ``hashValue``, ``hashStatus``
  (``Received``, ``Active``, ``Withdrawn``, ``Deleted``), ``caseNumbers`` (case -> status),
  ``lastModtimestamp``, ``CSPFeedbacks`` and any other key (the exchange's own ids) kept
  as they are. ``Withdrawn``/``Deleted`` entries are kept **disabled** (they never match)
  with the change in the entry's history; a later list that reactivates them enables them.

Rows that cannot be imported (another signal type, a bad hash, an id already used by
another hash) are reported with their line, never dropped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

from provenance.matching.bank import Bank, BankError, ExchangeRow, ImportResult, InvalidRow
from provenance.matching.vpdq import VpdqHash

__all__ = [
    "HMA_COLUMNS",
    "STOPNCII_DISABLED",
    "export_hma_csv",
    "export_stopncii",
    "import_hma_csv",
    "import_stopncii",
]

HMA_COLUMNS: Final = ("signal_type", "signal_str", "collab", "category", "tags")
"""Header of python-threatexchange's data-set CSV."""
STOPNCII_DISABLED: Final = ("Withdrawn", "Deleted")
"""StopNCII ``hashStatus`` values meaning "delete this hash" (kept disabled here)."""
_STOPNCII_SIGNALS: Final = ("ImagePDQ", "VideoMD5")


def _pdq_digest(value: str) -> bytes | None:
    v = value.strip()
    if len(v) != 64:
        return None
    try:
        return bytes.fromhex(v)
    except ValueError:
        return None


def _md5(value: str) -> str | None:
    v = value.strip().lower()
    if len(v) != 32 or any(c not in "0123456789abcdef" for c in v):
        return None
    return v


def _vpdq(value: str) -> str | None:
    try:
        parsed = VpdqHash.from_signal(value)
    except ValueError:
        return None
    return value if parsed.features else None


def _open_text(source: str | Path | IO[str]) -> tuple[IO[str], str | None, bool]:
    if not isinstance(source, str | Path):
        return source, getattr(source, "name", None), False
    p = Path(source)
    try:
        return p.open(encoding="utf-8-sig", newline=""), p.name, True
    except FileNotFoundError:
        raise BankError(f"no such file: {p}", code="not_found") from None
    except OSError as exc:
        raise BankError(f"cannot read {p}: {exc.strerror or exc}") from None


def _hma_rows(f: IO[str], source: str | None) -> Iterator[ExchangeRow | InvalidRow]:
    reader = csv.reader(f, strict=True)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != list(HMA_COLUMNS):
        raise BankError(
            "not an HMA data-set CSV: the header must be " + ",".join(HMA_COLUMNS),
            code="bad_import",
        )
    for fields in reader:
        line = reader.line_num
        if not fields:
            continue
        if len(fields) != len(HMA_COLUMNS):
            yield InvalidRow(line, f"{len(fields)} columns, the header has {len(HMA_COLUMNS)}")
            continue
        signal_type, value, collab, category, tags = fields
        record = json.dumps(
            {"collab": collab, "category": category, "tags": tags, "signal_str": value}
        )
        digest = _pdq_digest(value) if signal_type == "pdq" else None
        md5 = _md5(value) if signal_type == "video_md5" else None
        vpdq = _vpdq(value) if signal_type == "vpdq" else None
        if digest is None and md5 is None and vpdq is None:
            what = {"pdq": "PDQ hash", "video_md5": "video MD5", "vpdq": "vPDQ signal"}
            yield InvalidRow(
                line,
                f"not a {what[signal_type]}: {value[:70]!r}"
                if signal_type in what
                else f"signal type {signal_type!r} is not kept in banks (pdq, video_md5, vpdq)",
            )
            continue
        key = value.strip().lower()
        if vpdq is not None:  # a long JSON list: named by its digest
            key = "vpdq-" + hashlib.sha256(value.encode()).hexdigest()[:32]
        yield ExchangeRow(
            line=line,
            entry_id=f"{collab}/{key}" if collab else key,
            digest=digest,
            md5=md5,
            quality=None,
            label=tags or None,
            case=None,
            source=source,
            state="active",
            reason=f"imported from {source or 'an HMA CSV'}",
            exchange=record,
            vpdq=vpdq,
        )


def _import(bank: Bank, rows: Iterator[ExchangeRow | InvalidRow]) -> ImportResult:
    good: list[ExchangeRow] = []
    invalid: list[InvalidRow] = []
    seen: dict[str, int] = {}
    for r in rows:
        if isinstance(r, InvalidRow):
            invalid.append(r)
        elif r.entry_id in seen:
            invalid.append(
                InvalidRow(r.line, f"duplicate id {r.entry_id!r} (line {seen[r.entry_id]})")
            )
        else:
            seen[r.entry_id] = r.line
            good.append(r)
    done, refused = bank.upsert(good)
    invalid.extend(refused)
    invalid.sort(key=lambda r: r.line)
    return ImportResult(
        rows=len(good) + len(invalid) - len(refused), imported=done, invalid=tuple(invalid)
    )


def import_hma_csv(bank: Bank, source: str | Path | IO[str]) -> ImportResult:
    """Import an HMA / python-threatexchange data-set CSV (see the module notes).

    Parameters
    ----------
    bank
        The bank to import into.
    source
        Path or text stream.

    Returns
    -------
    ImportResult
        Counts and the rows refused (with line numbers).

    Raises
    ------
    BankError
        When the file cannot be read, is not UTF-8 CSV or lacks the HMA header.
    """
    f, name, close = _open_text(source)
    try:
        return _import(bank, _hma_rows(f, name))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BankError(f"not a UTF-8 CSV file: {exc}", code="bad_import") from None
    finally:
        if close:
            f.close()


def export_hma_csv(bank: Bank, out: IO[str]) -> int:
    """Write the bank's active entries as an HMA data-set CSV (CRLF, as pytx writes it).

    Entries imported from such a CSV are written back as they came; others get
    ``collab`` = the bank's name, an empty ``category`` and their label as ``tags``.

    Returns
    -------
    int
        Rows written.
    """
    writer = csv.writer(out)  # lineterminator "\r\n", like csv.DictWriter in pytx
    writer.writerow(HMA_COLUMNS)
    n = 0
    for row in bank.exchange_rows():
        if row["state"] != "active":
            continue
        kept = json.loads(row["exchange"]) if row["exchange"] else {}
        if "signal_str" in kept:
            collab, category, tags, value = (
                kept["collab"],
                kept["category"],
                kept["tags"],
                kept["signal_str"],
            )
        else:
            collab, category, tags = bank.name, "", row["label"] or ""
            value = row["pdq"] or row["md5"] or row["vpdq"]
        kind = "pdq" if row["pdq"] else "video_md5" if row["md5"] else "vpdq"
        writer.writerow([kind, value, collab, category, tags])
        n += 1
    return n


def _stopncii_records(f: IO[str]) -> Iterator[tuple[int, Any]]:
    text = f.read()
    stripped = text.lstrip()
    if stripped.startswith("{") and '"hashRecords"' in stripped[:4096]:
        try:
            page = json.loads(text)
        except ValueError:
            page = None
        if isinstance(page, dict) and isinstance(page.get("hashRecords"), list):
            yield from enumerate(page["hashRecords"], start=1)
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                yield number, exc


def _stopncii_rows(f: IO[str], source: str | None) -> Iterator[ExchangeRow | InvalidRow]:
    for line, record in _stopncii_records(f):
        if isinstance(record, ValueError):
            yield InvalidRow(line, f"not JSON: {record}")
            continue
        if not isinstance(record, dict):
            yield InvalidRow(line, "not a JSON object")
            continue
        signal = record.get("signalType")
        value = record.get("hashValue")
        status = record.get("hashStatus", "Active")
        cases = record.get("caseNumbers") or {}
        if signal not in _STOPNCII_SIGNALS or not isinstance(value, str):
            yield InvalidRow(
                line, f"signalType {signal!r} is not kept in banks (ImagePDQ, VideoMD5)"
            )
            continue
        if not isinstance(cases, dict) or not isinstance(status, str):
            yield InvalidRow(line, "caseNumbers must be an object and hashStatus a string")
            continue
        digest = _pdq_digest(value) if signal == "ImagePDQ" else None
        md5 = _md5(value) if signal == "VideoMD5" else None
        if digest is None and md5 is None:
            yield InvalidRow(line, f"hashValue is not a valid {signal} hash: {value[:70]!r}")
            continue
        yield ExchangeRow(
            line=line,
            entry_id=value.strip().lower(),
            digest=digest,
            md5=md5,
            quality=None,
            label=None,
            case=",".join(sorted(cases)) or None,
            source=source,
            state="disabled" if status in STOPNCII_DISABLED else "active",
            reason=f"StopNCII hashStatus {status}",
            exchange=json.dumps(record, ensure_ascii=False),
        )


def import_stopncii(bank: Bank, source: str | Path | IO[str]) -> ImportResult:
    """Import StopNCII hash records (JSON Lines, or a saved ``FetchHashes`` page).

    Parameters
    ----------
    bank
        The bank to import into.
    source
        Path or text stream.

    Returns
    -------
    ImportResult
        Counts and the records refused (with line or record numbers).

    Raises
    ------
    BankError
        When the file cannot be read or is not UTF-8.
    """
    f, name, close = _open_text(source)
    try:
        return _import(bank, _stopncii_rows(f, name))
    except UnicodeDecodeError as exc:
        raise BankError(f"not UTF-8 text: {exc}", code="bad_import") from None
    finally:
        if close:
            f.close()


def _epoch(added_at: str | None) -> int:
    if not added_at:
        return 0
    return int(
        dt.datetime.strptime(added_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    )


def export_stopncii(bank: Bank, out: IO[str]) -> int:
    """Write every entry as a StopNCII hash record, one JSON object per line.

    Records imported from StopNCII are written back as received, with ``hashStatus``
    brought in line with the entry's state when it was changed here (``Withdrawn`` for
    a disabled entry, ``Active`` for a re-enabled one). Other entries get a record built
    from the bank (``hashStatus`` from the state, ``caseNumbers`` from the case).

    Returns
    -------
    int
        Records written.
    """
    n = 0
    for row in bank.exchange_rows():
        if row["vpdq"]:
            continue  # StopNCII exchanges video MD5s, not vPDQ
        disabled = row["state"] != "active"
        kept = json.loads(row["exchange"]) if row["exchange"] else None
        if isinstance(kept, dict) and "hashValue" in kept:
            record = kept
            if disabled != (record.get("hashStatus") in STOPNCII_DISABLED):
                record["hashStatus"] = "Withdrawn" if disabled else "Active"
        else:
            status = "Withdrawn" if disabled else "Active"
            record = {
                "lastModtimestamp": _epoch(row["added_at"]),
                "signalType": "ImagePDQ" if row["pdq"] else "VideoMD5",
                "hashValue": row["pdq"] or row["md5"],
                "hashStatus": status,
                "caseNumbers": {c: status for c in (row["case"] or "").split(",") if c},
                "CSPFeedbacks": [],
            }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n
