"""``verify bank``: banks of known content (add, import, export, match, info, remove).

Parse the options, call :mod:`provenance.matching.bank`, write one record per input to stdout (or
``--output``) and one line per problem to stderr, and exit with a code from
``spec/exit-codes.md``: 0 done; 1 ``--fail-on-match`` and some input matched;
2 usage error or unusable bank file; 3 some inputs could not be processed (unreadable,
not a picture, not hashable, invalid import rows); 4 internal error.
"""

from __future__ import annotations

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

from provenance.matching.bank import (
    MATCH_MAX,
    REVIEW_MAX,
    Bank,
    BankError,
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
        chosen = fmt if fmt is not None else _default_format(output)
        failures = matched = 0
        with bank, _output(output) as stream:
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
                emit(match_file_record(path, [bank], max_distance, fps))
            if hashes is not None:
                lines = _read_hash_lines(hashes)
                good = [(n, h) for n, h, bad in lines if bad is None]
                found = bank.match_batch(
                    [[parse_hex(h)] for _, h in good],
                    max_distance=max_distance,
                    variants=[Variant.IDENTITY],
                )
                by_line = {n: m for (n, _), m in zip(good, found, strict=True)}
                for number, value, bad in lines:
                    if bad is not None:
                        emit(bad)
                        continue
                    m = by_line[number]
                    emit(
                        MatchRecord(
                            input=f"{hashes.absolute()}:{number}",
                            kind="hash",
                            status=match_status(m),
                            matches=m,
                            pdq=value,
                        )
                    )
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
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks on bugs.")] = False,
) -> None:
    """Import a hash list (HMA/StopNCII-style CSV) into a bank.

    Valid rows are imported in one transaction. Invalid rows (bad hash, quality outside
    0-100 or below 50, duplicate id) are listed on stderr with line numbers, and in
    --errors FILE; the exit code is then 3.
    """
    with _guard(verbose):
        bank = _open_bank(bank_path, create=True)
        with bank:
            try:
                result = bank.import_csv(csv_path, label=label, case=case)
            except BankError as exc:
                _say(f"{csv_path}: {exc.message}")
                raise typer.Exit(ExitCode.INPUT_ERROR) from None
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
        typer.Option("--format", help="csv (importable again) or jsonl.", case_sensitive=False),
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
            n = bank.export(stream, format=fmt.value)
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
    typer.echo(f"removed {n} entries")
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
    app.add_typer(bank_app, name="bank")
