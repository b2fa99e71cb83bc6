"""``verify bank``: banks of known content (add, import, export, match, info, remove).

Parse the options, call :mod:`provenance.matching.bank`, write one record per input to stdout (or
``--output``) and one line per problem to stderr, and exit with a code from
``spec/exit-codes.md``: 0 done; 1 ``--fail-on-match`` and some input matched;
2 usage error or unusable bank file; 3 some inputs could not be processed (unreadable,
not a picture, not hashable, invalid import rows); 4 internal error.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Final, TextIO, assert_never

import typer

from provenance.errors import ProvenanceError
from provenance.matching.bank import (
    MATCH_MAX,
    REVIEW_MAX,
    Bank,
    BankError,
    apply_allow_lists,
    negative_names,
)
from provenance.matching.exchange import (
    export_hma_csv,
    export_stopncii,
    import_hma_csv,
    import_stopncii,
)
from provenance.matching.pdq import PdqError, Variant, parse_hex
from provenance.matching.records import (
    MATCH_SCHEMA,
    MatchRecord,
    add_file_record,
    match_file_record,
    match_status,
    without_path,
)
from provenance.matching.rescan import Unusable, read_records, rescan
from provenance.report import BankMatch
from verify_cli.exit_codes import ExitCode
from verify_cli.formats import FORMAT_METAVAR

__all__ = ["MATCH_SCHEMA", "MatchRecord", "register"]

CSV_COLUMNS: Final = (
    "input",
    "kind",
    "status",
    "pdq",
    "quality",
    "bank",
    "entry_id",
    "distance",
    "band",
    "variant",
    "label",
    "case",
)
"""Columns of ``bank match --format csv`` (one row per match; one row for an input without)."""


class MatchFormat(enum.StrEnum):
    """Output formats of ``bank match`` and ``bank add`` (``text`` is the old ``table``)."""

    TABLE = "table"
    TEXT = "text"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"


class ExportFormat(enum.StrEnum):
    """Output formats of ``bank export``."""

    CSV = "csv"
    JSONL = "jsonl"
    HMA = "hma"
    STOPNCII = "stopncii"


class ImportFormat(enum.StrEnum):
    """Input formats of ``bank import``."""

    CSV = "csv"
    HMA = "hma"
    STOPNCII = "stopncii"


# -- plumbing -------------------------------------------------------------------------


def _say(message: str) -> None:
    typer.echo(f"verify: {message}", err=True)


def _open_bank(path: Path, *, create: bool = False) -> Bank:
    try:
        return Bank.open(path, create=create)
    except BankError as exc:
        _say(exc.message)
        raise typer.Exit(ExitCode.USAGE) from None


@contextmanager
def _output(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        stream = open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        _say(f"{output}: cannot write the output file: {exc.strerror or exc}")
        raise typer.Exit(ExitCode.USAGE) from None
    with stream:
        yield stream


def _default_format(output: Path | None) -> MatchFormat:
    if output is not None:
        suffixes = {".json": MatchFormat.JSON, ".csv": MatchFormat.CSV, ".txt": MatchFormat.TABLE}
        return suffixes.get(output.suffix.lower(), MatchFormat.JSONL)
    return MatchFormat.TABLE if sys.stdout.isatty() else MatchFormat.JSONL


@contextmanager
def _guard(verbose: bool) -> Iterator[None]:
    """Turn Ctrl-C into 130 and a bug into one line on stderr and exit code 4."""
    try:
        yield
    except KeyboardInterrupt:
        _say("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except BrokenPipeError:
        # The reader went away (`verify bank export BANK.db | head`): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(ExitCode.OK) from None
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise
    except Exception as exc:
        if verbose:
            traceback.print_exception(exc, file=sys.stderr)
        _say(
            f"internal error: {type(exc).__name__}: {exc}"
            + ("" if verbose else " (re-run with -v to see the traceback, and please report it)")
        )
        raise typer.Exit(ExitCode.INTERNAL) from None


class _Writer:
    """Streams records as text, JSON (one array), JSON Lines or CSV."""

    def __init__(self, fmt: MatchFormat, stream: TextIO, columns: tuple[str, ...]) -> None:
        self.fmt = fmt
        self.stream = stream
        self.count = 0
        self.csv = csv.writer(stream, lineterminator="\n") if fmt is MatchFormat.CSV else None
        if self.csv is not None:
            self.csv.writerow(columns)
        elif fmt is MatchFormat.JSON:
            stream.write("[")

    def write(self, record: dict[str, Any], text: str, rows: list[list[Any]]) -> None:
        fmt = self.fmt
        if fmt is MatchFormat.JSONL:
            self.stream.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        elif fmt is MatchFormat.JSON:
            sep = "\n" if self.count == 0 else ",\n"
            body = json.dumps(record, ensure_ascii=False, sort_keys=True, indent=2)
            self.stream.write(sep + body)
        elif fmt is MatchFormat.CSV:
            writer = self.csv or csv.writer(self.stream, lineterminator="\n")
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
        elif fmt is MatchFormat.TABLE or fmt is MatchFormat.TEXT:
            self.stream.write(text + "\n")
        else:
            assert_never(fmt)
        self.stream.flush()
        self.count += 1

    def finish(self) -> None:
        if self.fmt is MatchFormat.JSON:
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()


# -- match ------------------------------------------------------------------------------


def _match_text(r: MatchRecord) -> str:
    head = f"{r.input}: {r.status}"
    if r.error is not None:
        return f"{head} ({r.error['message']})"
    if not r.matches:
        return head + (f" (quality {r.quality})" if r.quality is not None else "")
    lines = [head]
    for m in r.matches:
        extra = [f"distance {m.distance}", m.variant]
        if m.label:
            extra.append(f"label {m.label!r}")
        if m.case:
            extra.append(f"case {m.case}")
        if m.detail and "frame_share" in m.detail:
            extra.append(f"{m.detail['frame_share']:.0%} of frames")
        lines.append(f"  {m.band:<6} {m.bank}/{m.entry_id} ({', '.join(extra)})")
    return "\n".join(lines)


def _match_rows(r: MatchRecord) -> list[list[Any]]:
    base = [r.input, r.kind, r.status, r.pdq, r.quality]
    if not r.matches:
        return [base + [None] * 7]
    return [
        base + [m.bank, m.entry_id, m.distance, m.band, m.variant, m.label, m.case]
        for m in r.matches
    ]


def _read_hash_lines(path: Path) -> list[tuple[int, str, MatchRecord | None]]:
    """(line number, text, error record or None) for each non-blank, non-comment line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _say(f"{path}: cannot read the hash list: {reason}")
        raise typer.Exit(ExitCode.INPUT_ERROR) from None
    out: list[tuple[int, str, MatchRecord | None]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        # Accept "HASH" or "HASH,QUALITY" / "HASH QUALITY".
        value = line.replace(",", " ").split()[0]
        where = f"{path.absolute()}:{number}"
        try:
            parse_hex(value)
        except PdqError as exc:
            bad = MatchRecord(
                input=where,
                kind="hash",
                status="ERROR",
                error={"code": exc.code, "message": without_path(exc.message, path)},
            )
            out.append((number, value, bad))
            continue
        out.append((number, value.lower(), None))
    return out


HASH_BATCH: Final = 1024
"""Most ``--hashes`` lines searched per index call (the first calls take 16, 32, ... so
that the first records come out at once; later ones amortise the call)."""


def _match_hash_lines(
    banks: list[Bank], negative: set[str], hashes: Path, max_distance: int
) -> Iterator[MatchRecord]:
    """One record per line of a ``--hashes`` file, searched in batches, in file order."""
    lines = _read_hash_lines(hashes)
    where = hashes.absolute()
    start, size = 0, 16
    while start < len(lines):
        part = lines[start : start + size]
        start, size = start + size, min(2 * size, HASH_BATCH)
        good = [(n, h) for n, h, bad in part if bad is None]
        queries = [[parse_hex(h)] for _, h in good]
        found: list[list[BankMatch]] = [[] for _ in good]
        for bank in banks:
            per_bank = bank.match_batch(
                queries, max_distance=max_distance, variants=[Variant.IDENTITY]
            )
            for acc, ms in zip(found, per_bank, strict=True):
                acc.extend(ms)
        by_line = {
            n: apply_allow_lists(sorted(m, key=lambda x: (x.distance, x.bank)), negative)
            for (n, _), m in zip(good, found, strict=True)
        }
        for number, value, bad in part:
            if bad is not None:
                yield bad
                continue
            m = by_line[number]
            yield MatchRecord(
                input=f"{where}:{number}", kind="hash", status=match_status(m), matches=m, pdq=value
            )


def match_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILES...", help="Pictures or videos to look up.", show_default=False
        ),
    ] = None,
    hashes: Annotated[
        Path | None,
        typer.Option(
            "--hashes",
            help="Look up PDQ hashes listed in FILE (one 64-hex-digit hash per line; '#' "
            "starts a comment). Only the hash as given is searched (no rotations/flips).",
            metavar="FILE",
            dir_okay=False,
        ),
    ] = None,
    fmt: Annotated[
        MatchFormat | None,
        typer.Option(
            "--format",
            metavar=FORMAT_METAVAR,
            help="Output format. Default: table on a terminal, jsonl otherwise.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write records to FILE.", dir_okay=False, metavar="FILE"
        ),
    ] = None,
    max_distance: Annotated[
        int,
        typer.Option(
            "--max-distance",
            help=f"Largest distance reported: 0-{MATCH_MAX} MATCH, "
            f"{MATCH_MAX + 1}-{REVIEW_MAX} REVIEW.",
            min=0,
            max=REVIEW_MAX,
        ),
    ] = REVIEW_MAX,
    fail_on_match: Annotated[
        bool,
        typer.Option("--fail-on-match", help="Exit with 1 when some input has a MATCH."),
    ] = False,
    fps: Annotated[
        float, typer.Option("--fps", help="Video: frames sampled per second.", min=0.01)
    ] = 1.0,
    allow_list: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-list",
            help="A negative bank (e.g. stock pictures that collide): its matches suppress "
            "the bank's matches of the same input (repeatable).",
            metavar="DB",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks on bugs.")] = False,
) -> None:
    """Look up pictures, videos or PDQ hashes in a bank.

    Every rotation and flip of a picture is searched. Distance 0-31 is MATCH, 32-52
    REVIEW (for a human). Records go to stdout, one per input; problems to stderr.
    """
    if not files and hashes is None:
        raise typer.BadParameter("give FILES... or --hashes FILE", param_hint="'FILES...'")
    with _guard(verbose):
        bank = _open_bank(bank_path)
        allowed = [_open_bank(p) for p in allow_list or ()]
        chosen = fmt if fmt is not None else _default_format(output)
        failures = matched = 0
        with bank, contextlib.ExitStack() as stack, _output(output) as stream:
            for b in allowed:
                stack.enter_context(b)
            writer = _Writer(chosen, stream, CSV_COLUMNS)

            def emit(record: MatchRecord) -> None:
                nonlocal failures, matched
                writer.write(record.to_dict(), _match_text(record), _match_rows(record))
                if record.failed:
                    failures += 1
                    message = record.error["message"] if record.error else record.status
                    _say(f"{record.input}: {message}")
                if record.status == "MATCH":
                    matched += 1

            for path in files or ():
                emit(match_file_record(path, [bank], max_distance, fps, allowed))
            if hashes is not None:
                negative = negative_names([bank]) | {b.name for b in allowed}
                for record in _match_hash_lines([bank, *allowed], negative, hashes, max_distance):
                    emit(record)
            writer.finish()
    if failures:
        raise typer.Exit(ExitCode.INPUT_ERROR)
    if fail_on_match and matched:
        raise typer.Exit(ExitCode.CONDITION_MET)
    raise typer.Exit(ExitCode.OK)


# -- add ---------------------------------------------------------------------------------


def add_command(
    bank_path: Annotated[
        Path, typer.Argument(metavar="BANK.db", help="The bank file (created when missing).")
    ],
    files: Annotated[list[Path], typer.Argument(metavar="FILES...", help="Pictures or videos.")],
    label: Annotated[
        str | None, typer.Option("--label", help="Label stored with each entry.")
    ] = None,
    case: Annotated[
        str | None, typer.Option("--case", help="Case id stored with each entry.")
    ] = None,
    entry_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="Entry id (one file only; default: first 16 hex digits of its SHA-256)."
        ),
    ] = None,
    fmt: Annotated[
        MatchFormat | None,
        typer.Option(
            "--format",
            metavar=FORMAT_METAVAR,
            help="Output format. Default: table on a terminal, jsonl otherwise.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    fps: Annotated[
        float, typer.Option("--fps", help="Video: frames sampled per second.", min=0.01)
    ] = 1.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks on bugs.")] = False,
) -> None:
    """Hash pictures or videos and add them to a bank.

    A video adds one entry per sampled frame (ID#t=SECONDS). Files too flat to hash
    (PDQ quality < 50) are reported and not added (exit code 3).
    """
    if entry_id is not None and len(files) != 1:
        raise typer.BadParameter("--id needs exactly one file", param_hint="'--id'")
    with _guard(verbose):
        bank = _open_bank(bank_path, create=True)
        chosen = fmt if fmt is not None else _default_format(None)
        failures = 0
        with bank:
            writer = _Writer(
                chosen, sys.stdout, ("input", "status", "entry_id", "quality", "message")
            )
            for path in files:
                record = add_file_record(bank, path, entry_id, label, case, fps)
                if record["status"] in ("ERROR", "NOT_HASHABLE"):
                    failures += 1
                    _say(f"{record['input']}: {record['message']}")
                ids = record.get("entry_ids") or [None]
                text = f"{record['input']}: {record['status']}"
                if record.get("entry_ids"):
                    text += f" {', '.join(record['entry_ids'])}"
                if record.get("message"):
                    text += f" ({record['message']})"
                rows = [
                    [
                        record["input"],
                        record["status"],
                        i,
                        record.get("quality"),
                        record.get("message"),
                    ]
                    for i in ids
                ]
                writer.write(record, text, rows)
            writer.finish()
            bank.refresh_index()
    raise typer.Exit(ExitCode.INPUT_ERROR if failures else ExitCode.OK)


# -- import / export / info / remove -----------------------------------------------------


def import_command(
    bank_path: Annotated[
        Path, typer.Argument(metavar="BANK.db", help="The bank file (created when missing).")
    ],
    csv_path: Annotated[
        Path,
        typer.Argument(
            metavar="FILE.csv",
            help="Hash list with a header: a pdq/hash column, optional id, quality, label, case.",
        ),
    ],
    label: Annotated[
        str | None, typer.Option("--label", help="Label for rows without one.")
    ] = None,
    case: Annotated[
        str | None, typer.Option("--case", help="Case id for rows without one.")
    ] = None,
    errors: Annotated[
        Path | None,
        typer.Option(
            "--errors", help="Write every invalid row (line,reason) to FILE as CSV.", metavar="FILE"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    list_format: Annotated[
        ImportFormat,
        typer.Option(
            "--format",
            help="csv (this toolkit's CSV, any header as in spec/bank.md), hma (HMA / "
            "python-threatexchange data-set CSV) or stopncii (StopNCII hash records, JSON).",
            case_sensitive=False,
        ),
    ] = ImportFormat.CSV,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks on bugs.")] = False,
) -> None:
    """Import a hash list (CSV, HMA data-set CSV, StopNCII records) into a bank.

    Valid rows are imported in one transaction. Invalid rows (bad hash, quality outside
    0-100 or below 50, duplicate id) are listed on stderr with line numbers, and in
    --errors FILE; the exit code is then 3.
    """
    with _guard(verbose):
        bank = _open_bank(bank_path, create=True)
        with bank:
            try:
                if list_format is ImportFormat.HMA:
                    result = import_hma_csv(bank, csv_path)
                elif list_format is ImportFormat.STOPNCII:
                    result = import_stopncii(bank, csv_path)
                else:
                    result = bank.import_csv(csv_path, label=label, case=case)
            except BankError as exc:
                _say(f"{csv_path}: {exc.message}")
                raise typer.Exit(ExitCode.INPUT_ERROR) from None
            bank.refresh_index()
        if errors is not None:
            try:
                with open(errors, "w", encoding="utf-8", newline="") as f:
                    w = csv.writer(f, lineterminator="\n")
                    w.writerow(["line", "reason"])
                    w.writerows([r.line, r.reason] for r in result.invalid)
            except OSError as exc:
                _say(f"{errors}: cannot write the error file: {exc.strerror or exc}")
                raise typer.Exit(ExitCode.USAGE) from None
        if as_json:
            typer.echo(
                json.dumps({"bank": str(bank_path.absolute()), **result.to_dict()}, sort_keys=True)
            )
        else:
            typer.echo(f"imported {result.imported} of {result.rows} rows into {bank_path}")
        if result.invalid:
            _say(f"{csv_path}: {len(result.invalid)} invalid rows not imported")
            for row in result.invalid[:10]:
                _say(f"{csv_path}:{row.line}: {row.reason}")
            if len(result.invalid) > 10:
                hint = f" (all of them in {errors})" if errors else " (use --errors FILE for all)"
                _say(f"... and {len(result.invalid) - 10} more{hint}")
    raise typer.Exit(ExitCode.INPUT_ERROR if result.invalid else ExitCode.OK)


def export_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="csv (importable again), jsonl, hma (HMA data-set CSV) or stopncii "
            "(StopNCII hash records); each imports back unchanged.",
            case_sensitive=False,
        ),
    ] = ExportFormat.CSV,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE.", dir_okay=False, metavar="FILE"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks on bugs.")] = False,
) -> None:
    """Write every entry of a bank as CSV or JSON Lines."""
    with _guard(verbose):
        bank = _open_bank(bank_path)
        with bank, _output(output) as stream:
            if fmt is ExportFormat.HMA:
                n = export_hma_csv(bank, stream)
            elif fmt is ExportFormat.STOPNCII:
                n = export_stopncii(bank, stream)
            else:
                n = bank.export(stream, format="csv" if fmt is ExportFormat.CSV else "jsonl")
        if output is not None:
            _say(f"wrote {n} entries to {output}")
    raise typer.Exit(ExitCode.OK)


def info_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show a bank's name, size and format."""
    with _guard(False):
        info = _info(bank_path)
    if as_json:
        typer.echo(json.dumps(info, sort_keys=True))
    else:
        for key, value in info.items():
            typer.echo(f"{key}: {value}")
    raise typer.Exit(ExitCode.OK)


def _info(bank_path: Path) -> dict[str, Any]:
    from provenance.matching.bank import SCHEMA_VERSION

    bank = _open_bank(bank_path)
    with bank:
        return {
            "path": str(bank_path.absolute()),
            "name": bank.name,
            "entries": len(bank),
            "format_version": SCHEMA_VERSION,
            "journal_mode": bank.journal_mode,
            "threshold": bank.threshold,
            "kind": bank.kind,
        }


def remove_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    entry_ids: Annotated[list[str], typer.Argument(metavar="IDS...", help="Entry ids to delete.")],
) -> None:
    """Delete entries (for example hashes withdrawn by an exchange); a video id takes its frames."""
    with _guard(False):
        bank = _open_bank(bank_path)
        with bank:
            n = bank.remove(entry_ids)
            bank.refresh_index()
    typer.echo(f"removed {n} entries")
    raise typer.Exit(ExitCode.OK)


def config_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    threshold: Annotated[
        int | None,
        typer.Option(
            "--threshold",
            help=f"Largest distance reported as MATCH in this bank (default {MATCH_MAX}).",
            min=0,
            max=REVIEW_MAX,
        ),
    ] = None,
    negative: Annotated[
        bool | None,
        typer.Option(
            "--negative/--positive",
            help="A negative bank (allow-list) suppresses the matches of the other banks.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show or set a bank's match threshold and kind (positive, or negative: an allow-list)."""
    with _guard(False):
        bank = _open_bank(bank_path)
        with bank:
            try:
                bank.configure(
                    threshold=threshold,
                    kind=None if negative is None else ("negative" if negative else "positive"),
                )
            except BankError as exc:
                _say(exc.message)
                raise typer.Exit(ExitCode.USAGE) from None
            typer.echo(
                json.dumps({"name": bank.name, "threshold": bank.threshold, "kind": bank.kind})
            )
    raise typer.Exit(ExitCode.OK)


def _state_command(bank_path: Path, entry_ids: list[str], state: str, reason: str | None) -> None:
    with _guard(False):
        bank = _open_bank(bank_path)
        with bank:
            n = bank.set_state(
                entry_ids, "active" if state == "active" else "disabled", reason=reason
            )
            missing = [e for e in entry_ids if bank.state_of(e) is None and not bank.history(e)]
    typer.echo(f"{'enabled' if state == 'active' else 'disabled'} {n} entries")
    for e in missing:
        _say(f"{bank_path}: no entry {e!r}")
    raise typer.Exit(ExitCode.INPUT_ERROR if missing else ExitCode.OK)


def disable_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    entry_ids: Annotated[list[str], typer.Argument(metavar="IDS...", help="Entry ids.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the entry's history).")
    ] = None,
) -> None:
    """Disable entries (e.g. withdrawn by an exchange): kept, with their history, never matched."""
    _state_command(bank_path, entry_ids, "disabled", reason)


def enable_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    entry_ids: Annotated[list[str], typer.Argument(metavar="IDS...", help="Entry ids.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the entry's history).")
    ] = None,
) -> None:
    """Enable disabled entries again."""
    _state_command(bank_path, entry_ids, "active", reason)


def history_command(
    bank_path: Annotated[Path, typer.Argument(metavar="BANK.db", help="The bank file.")],
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="Entry id.")],
) -> None:
    """Show an entry's states over time, one JSON object per line."""
    with _guard(False):
        bank = _open_bank(bank_path)
        with bank:
            lines = bank.history(entry_id)
            state = bank.state_of(entry_id)
    if state is None and not lines:
        _say(f"{bank_path}: no entry {entry_id!r}")
        raise typer.Exit(ExitCode.INPUT_ERROR)
    for line in lines:
        typer.echo(json.dumps({"entry_id": entry_id, **line}, sort_keys=True))
    raise typer.Exit(ExitCode.OK)


RESCAN_SCHEMA: Final = "jinjja.bank-rescan/v1"
"""``schema`` of a ``bank rescan`` record."""


def rescan_command(
    bank_path: Annotated[Path, typer.Argument(metavar="DB", help="The bank file.")],
    records_path: Annotated[
        Path,
        typer.Argument(
            metavar="RECORDS.jsonl",
            help="Earlier records with their stored hashes: `verify bank match` output, or "
            "`verify check --bank` JSON Lines reports.",
            dir_okay=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write records to FILE.", dir_okay=False, metavar="FILE"
        ),
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Write a record for every input, not only new hits.")
    ] = False,
    allow_list: Annotated[
        list[Path] | None,
        typer.Option("--allow-list", help="A negative bank (repeatable).", metavar="DB"),
    ] = None,
    max_distance: Annotated[
        int, typer.Option("--max-distance", help="Largest distance reported.", min=0, max=52)
    ] = REVIEW_MAX,
    fail_on_match: Annotated[
        bool, typer.Option("--fail-on-match", help="Exit with 1 when a new MATCH was found.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks on bugs.")] = False,
) -> None:
    """Match earlier records again from their stored hashes (no file is read or decoded).

    Writes one JSON line per record that has new hits (matches the record did not list),
    with `new_matches` and all current `matches`. Records without stored hashes are
    reported on stderr (exit code 3).
    """
    with _guard(verbose):
        bank = _open_bank(bank_path)
        allowed = [_open_bank(p) for p in allow_list or ()]
        unusable = new_match = 0
        with bank, contextlib.ExitStack() as stack, _output(output) as stream:
            for b in allowed:
                stack.enter_context(b)
            try:
                records = list(read_records(records_path))
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                _say(f"{records_path}: cannot read the records: {reason}")
                raise typer.Exit(ExitCode.INPUT_ERROR) from None
            found = rescan([bank], records, max_distance=max_distance, allow_lists=allowed)
            for item in found:
                if isinstance(item, Unusable):
                    unusable += 1
                    _say(f"{records_path}:{item.line}: {item.reason}")
                    continue
                new_match += any(m.band == "MATCH" for m in item.new)
                if item.new or everything:
                    record = {
                        "schema": RESCAN_SCHEMA,
                        "line": item.line,
                        "input": item.input,
                        "status": match_status(item.matches),
                        "new_matches": [m.to_dict() for m in item.new],
                        "matches": [m.to_dict() for m in item.matches],
                    }
                    stream.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    if unusable:
        raise typer.Exit(ExitCode.INPUT_ERROR)
    raise typer.Exit(ExitCode.CONDITION_MET if fail_on_match and new_match else ExitCode.OK)


def _read_token(token_file: Path | None) -> str | None:
    if token_file is None:
        return os.environ.get("JINJJA_SERVER_TOKEN") or None
    try:
        return token_file.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        _say(f"{token_file}: cannot read the token file: {reason}")
        raise typer.Exit(ExitCode.USAGE) from None


def serve_command(
    bank_paths: Annotated[list[Path], typer.Argument(metavar="DB...", help="Bank files to serve.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 5000,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding the bearer token that writes need (16+ characters; "
            "default: JINJJA_SERVER_TOKEN).",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    allow_writes: Annotated[
        bool,
        typer.Option("--allow-writes", help="Enable adding and deleting content (needs a token)."),
    ] = False,
    allow_network: Annotated[
        bool,
        typer.Option("--allow-network", help="Let lookups and adds fetch a url= themselves."),
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes sharing the bank files.", min=1)
    ] = 1,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest upload in MB.", min=0.01)
    ] = 50.0,
) -> None:
    """Serve banks over HTTP with Hasher-Matcher-Actioner 2.x's API (/m, /h, /c routes).

    Read-only unless started with --allow-writes and a token. See README for running it
    behind a reverse proxy.
    """
    try:
        import uvicorn  # the `server` extra, only needed here
    except ImportError:
        _say("the bank service needs uvicorn and FastAPI: pip install 'jinjja[server]'")
        raise typer.Exit(ExitCode.INPUT_ERROR) from None
    from provenance.matching import service  # imports FastAPI: only when serving

    token = _read_token(token_file)
    if allow_writes and (token is None or len(token) < 16):
        _say("--allow-writes needs a token of 16+ characters (--token-file or JINJJA_SERVER_TOKEN)")
        raise typer.Exit(ExitCode.USAGE)
    options = {
        "allow_writes": allow_writes,
        "allow_network": allow_network,
        "max_upload": max(1024, int(max_upload_mb * 1024 * 1024)),
    }
    os.environ[service.ENV_BANKS] = os.pathsep.join(str(p.absolute()) for p in bank_paths)
    os.environ[service.ENV_OPTIONS] = json.dumps(options)
    if token is not None:
        os.environ["JINJJA_SERVER_TOKEN"] = token
    try:
        app = service.app_from_env()  # also checks every bank before any worker starts
    except ProvenanceError as exc:
        _say(exc.message)
        raise typer.Exit(ExitCode.USAGE) from None
    mode = "read and write" if allow_writes else "read-only"
    shown = f"[{host}]" if ":" in host else host
    _say(f"serving {len(bank_paths)} bank(s) ({mode}) at http://{shown}:{port}")
    target: Any = app
    if workers > 1:
        target = "provenance.matching.service:app_from_env"
    try:
        uvicorn.run(
            target,
            host=host,
            port=port,
            workers=workers,
            factory=workers > 1,
            log_level="warning",
            access_log=False,
        )
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except (OSError, SystemExit):
        _say(f"could not serve on {host}:{port} (address in use, or not allowed)")
        raise typer.Exit(ExitCode.USAGE) from None
    raise typer.Exit(ExitCode.OK)


def register(app: typer.Typer) -> None:
    """Add ``verify bank`` (add, import, export, match, info, remove) to the application.

    Parameters
    ----------
    app
        The ``verify`` application.
    """
    bank_app = typer.Typer(
        name="bank",
        help="Banks of known content: PDQ hashes in a SQLite file, matched with rotations/flips.",
        no_args_is_help=True,
    )
    bank_app.command("add")(add_command)
    bank_app.command("import")(import_command)
    bank_app.command("export")(export_command)
    bank_app.command("match")(match_command)
    bank_app.command("info")(info_command)
    bank_app.command("remove")(remove_command)
    bank_app.command("serve")(serve_command)
    bank_app.command("config")(config_command)
    bank_app.command("disable")(disable_command)
    bank_app.command("enable")(enable_command)
    bank_app.command("history")(history_command)
    bank_app.command("rescan")(rescan_command)
    app.add_typer(bank_app, name="bank")
