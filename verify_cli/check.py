"""``verify check``: read Content Credentials and report a verdict per file.

Parse the options, expand the paths, call :func:`provenance.check` once per file,
stream each report through the chosen renderer, and turn what happened into an exit
code (``spec/exit-codes.md``).
"""

from __future__ import annotations

import datetime as dt
import enum
import glob
import io
import os
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TextIO

import typer

import provenance
from provenance.errors import ProvenanceError
from provenance.report import AiLabel, Report, Verdict
from verify_cli.exit_codes import ExitCode
from verify_cli.inputs import Input, expand_inputs
from verify_cli.render import OutputFormat, make_format

__all__ = ["FailOn", "conditions_met", "decide_exit_code", "parse_fail_on", "register"]


class FailOn(enum.StrEnum):
    """Conditions that ``--fail-on`` can turn into exit code 1."""

    INVALID = "invalid"
    """The verdict is INVALID or INCOMPLETE."""
    UNTRUSTED = "untrusted"
    """The verdict is VALID_UNTRUSTED."""
    NO_CREDENTIALS = "no-credentials"
    """The verdict is NO_CREDENTIALS."""
    AI = "ai"
    """The AI label is AI_GENERATED or AI_EDITED."""


def parse_fail_on(values: Iterable[str]) -> frozenset[FailOn]:
    """Parse ``--fail-on`` values (comma-separated, option repeatable).

    Parameters
    ----------
    values
        Raw option values such as ``["invalid,untrusted", "ai"]``.

    Returns
    -------
    frozenset of FailOn
        The conditions asked for.

    Raises
    ------
    typer.BadParameter
        For an unknown condition (exit code 2).
    """
    known = {c.value: c for c in FailOn}
    out: set[FailOn] = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in known:
                choices = ", ".join(c.value for c in FailOn)
                raise typer.BadParameter(
                    f"unknown condition {part.strip()!r} (choose from {choices})",
                    param_hint="'--fail-on'",
                )
            out.add(known[name])
    return frozenset(out)


def conditions_met(report: Report, fail_on: frozenset[FailOn]) -> frozenset[FailOn]:
    """Return the ``--fail-on`` conditions this report meets (read from the report).

    Parameters
    ----------
    report
        One file's report.
    fail_on
        The conditions asked for.

    Returns
    -------
    frozenset of FailOn
        The subset of ``fail_on`` that the report meets.
    """
    met: set[FailOn] = set()
    if report.verdict in (Verdict.INVALID, Verdict.INCOMPLETE):
        met.add(FailOn.INVALID)
    if report.verdict is Verdict.VALID_UNTRUSTED:
        met.add(FailOn.UNTRUSTED)
    if report.verdict is Verdict.NO_CREDENTIALS:
        met.add(FailOn.NO_CREDENTIALS)
    if report.ai.label in (AiLabel.AI_GENERATED, AiLabel.AI_EDITED):
        met.add(FailOn.AI)
    return frozenset(met & fail_on)


def decide_exit_code(*, input_errors: int, conditions: int) -> ExitCode:
    """Combine what happened into one exit code.

    An input that could not be processed (3) takes precedence over a met condition (1):
    the run is incomplete, so "nothing met the condition" cannot be claimed either way.

    Parameters
    ----------
    input_errors
        How many inputs ended with verdict ERROR.
    conditions
        How many inputs met a ``--fail-on`` condition.

    Returns
    -------
    ExitCode
        ``INPUT_ERROR``, ``CONDITION_MET`` or ``OK``.
    """
    if input_errors:
        return ExitCode.INPUT_ERROR
    if conditions:
        return ExitCode.CONDITION_MET
    return ExitCode.OK


def _parse_time(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or "T" not in text.upper() or parsed.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} is not an RFC 3339 time with a zone (e.g. 2026-01-01T00:00:00Z)",
            param_hint="'--fixed-time'",
        )
    return parsed.astimezone(dt.UTC)


def _expand_fragments(pattern: str | None) -> tuple[Path, ...]:
    if pattern is None:
        return ()
    found = sorted(glob.glob(pattern, recursive=True))
    files = tuple(Path(p).absolute() for p in found if Path(p).is_file())
    if not files:
        raise typer.BadParameter(f"{pattern!r} matches no file", param_hint="'--fragments'")
    return files


def _default_format(output: Path | None, stdout: TextIO) -> OutputFormat:
    if output is not None:
        by_suffix = {
            ".json": OutputFormat.JSON,
            ".jsonl": OutputFormat.JSONL,
            ".ndjson": OutputFormat.JSONL,
            ".csv": OutputFormat.CSV,
            ".txt": OutputFormat.TEXT,
        }
        return by_suffix.get(output.suffix.lower(), OutputFormat.JSONL)
    isatty = getattr(stdout, "isatty", None)
    return OutputFormat.TEXT if isatty is not None and isatty() else OutputFormat.JSONL


@contextmanager
def _open_output(output: Path | None) -> Iterator[TextIO]:
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


def _silence_stdout() -> None:
    # Point stdout at /dev/null so the interpreter's final flush does not fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _say(message: str) -> None:
    typer.echo(f"verify: {message}", err=True)


def _internal_error(exc: BaseException, *, verbose: bool) -> typer.Exit:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    _say(
        f"internal error: {type(exc).__name__}: {exc}"
        + ("" if verbose else " (re-run with -v to see the traceback, and please report it)")
    )
    return typer.Exit(ExitCode.INTERNAL)


def check_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files to check; directories too with -r.",
            show_default=False,
        ),
    ],
    recursive: Annotated[
        bool,
        typer.Option(
            "--recursive",
            "-r",
            help="Walk directories (sorted; hidden entries skipped; media extensions only; "
            "symlinks followed, each directory once).",
        ),
    ] = False,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            help="Output format. Default: text on a terminal, jsonl otherwise "
            "(with --output: from its extension, else jsonl).",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the reports to FILE instead of stdout.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    trust_anchors: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust-anchors",
            help="PEM file of extra trust anchors (repeatable), on top of the stored trust lists.",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="PEM",
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            help="Validate PATH against this downloaded manifest store (.c2pa).",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE.c2pa",
        ),
    ] = None,
    fragments: Annotated[
        str | None,
        typer.Option(
            "--fragments",
            help="Glob of fragment files (fragmented MP4) validated with the init segment PATH.",
            metavar="GLOB",
        ),
    ] = None,
    allow_network: Annotated[
        bool,
        typer.Option(
            "--allow-network", help="Allow fetching remote manifests (offline by default)."
        ),
    ] = False,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            help="Exit with 1 when an input meets one of these conditions (comma-separated): "
            "invalid, untrusted, no-credentials, ai.",
            metavar="COND[,COND...]",
        ),
    ] = None,
    show_prompts: Annotated[
        bool,
        typer.Option("--show-prompts", help="Show generator prompts instead of redacting them."),
    ] = False,
    fixed_time: Annotated[
        str | None,
        typer.Option(
            "--fixed-time",
            help="Pin analyzed_at in the reports, for byte-reproducible output.",
            metavar="RFC3339",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show raw codes and certificate details; tracebacks."),
    ] = False,
) -> None:
    """Check the Content Credentials (C2PA) of pictures and videos.

    One report per input goes to stdout (or --output); one line per input that could not
    be checked goes to stderr.

    Exit codes: 0 done; 1 a --fail-on condition was met; 2 usage error; 3 some inputs
    could not be processed (takes precedence over 1); 4 internal error; 130 interrupted.
    """
    conditions = parse_fail_on(fail_on or ())
    analyzed_at = _parse_time(fixed_time)
    fragment_files = _expand_fragments(fragments)
    if (manifest is not None or fragment_files) and (recursive or len(paths) != 1):
        raise typer.BadParameter(
            "--manifest and --fragments apply to exactly one PATH (no -r)",
            param_hint="'PATH...'",
        )
    _preflight_trust(tuple(trust_anchors or ()), verbose=verbose)
    try:
        inputs = list(expand_inputs(paths, recursive=recursive))
    except KeyboardInterrupt:  # while walking a large tree
        _say("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    chosen = fmt if fmt is not None else _default_format(output, sys.stdout)
    if not inputs:
        _say("no media files found in the given directories")

    input_errors = 0
    met = 0
    with _open_output(output) as stream:
        formatter = make_format(chosen, stream, verbose=verbose)
        formatter.start(len(inputs))
        try:
            for item in inputs:
                report = _check_one(
                    item,
                    trust_anchors=tuple(trust_anchors or ()),
                    manifest=manifest,
                    allow_network=allow_network,
                    fragments=fragment_files,
                    show_prompts=show_prompts,
                    analyzed_at=analyzed_at,
                    verbose=verbose,
                )
                formatter.write(report)
                if report.verdict is Verdict.ERROR:
                    input_errors += 1
                    _report_bad_input(item, report)
                if conditions_met(report, conditions):
                    met += 1
        except KeyboardInterrupt:
            formatter.finish()
            _say("interrupted")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except BrokenPipeError:  # the reader went away (`verify check ... | head -1`)
            _silence_stdout()
            raise typer.Exit(decide_exit_code(input_errors=input_errors, conditions=met)) from None
        except (typer.Exit, typer.Abort, ProvenanceError):
            raise
        except Exception as exc:  # a bug: say so in one line, not a traceback
            raise _internal_error(exc, verbose=verbose) from None
        formatter.finish()
    raise typer.Exit(decide_exit_code(input_errors=input_errors, conditions=met))


def _preflight_trust(trust_anchors: Sequence[Path], *, verbose: bool) -> None:
    """Fail with a usage error before any output when the trust configuration is unusable."""
    from provenance import trust

    try:
        trust.load()
        for anchor in trust_anchors:
            try:
                raw = anchor.read_bytes()
            except OSError as exc:
                _say(f"{anchor}: cannot read the trust anchors: {exc.strerror or exc}")
                raise typer.Exit(ExitCode.USAGE) from None
            trust.load_pem_bundle(raw, origin=str(anchor))
    except ProvenanceError as exc:
        _say(exc.diagnostics() if verbose else exc.message)
        raise typer.Exit(ExitCode.USAGE) from None


def _check_one(
    item: Input,
    *,
    trust_anchors: Sequence[Path],
    manifest: Path | None,
    allow_network: bool,
    fragments: Sequence[Path],
    show_prompts: bool,
    analyzed_at: dt.datetime | None,
    verbose: bool,
) -> Report:
    try:
        return provenance.check(
            item.path,
            trust_anchors=tuple(trust_anchors),
            manifest=manifest,
            allow_network=allow_network,
            fragments=tuple(fragments),
            show_prompts=show_prompts,
            analyzed_at=analyzed_at,
        )
    except ProvenanceError as exc:
        # Configuration problems (an unusable --trust-anchors file, a broken trust store)
        # concern every input: stop with a usage error.
        _say(exc.diagnostics() if verbose else exc.message)
        raise typer.Exit(ExitCode.USAGE) from None


def _report_bad_input(item: Input, report: Report) -> None:
    message = report.error.message if report.error is not None else "could not be checked"
    # The line already starts with the path: do not repeat it inside the message.
    path = str(item.path)
    if message.startswith(path + " "):
        message = message[len(path) + 1 :]
    elif message.endswith(": " + path):
        message = message[: -len(path) - 2]
    if report.error is not None and report.error.code == "is_directory":
        message = "is a directory (use -r/--recursive to check the files inside it)"
    elif item.hint:
        message = f"{message} ({item.hint})"
    _say(f"{item.path}: {message}")


def register(app: typer.Typer) -> None:
    """Add ``verify check`` to the application.

    Parameters
    ----------
    app
        The ``verify`` Typer application.
    """
    app.command(name="check", no_args_is_help=True)(check_command)
