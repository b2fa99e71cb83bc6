"""``verify check``: read Content Credentials and report a verdict per file.

Parse the options, expand the paths (and ``--from-file`` lists), run
:func:`provenance.batch.runner.run_batch` (in-process, on local worker processes or on Dask),
stream each record through the chosen renderer in input order, and turn what happened
into an exit code (``spec/exit-codes.md``). Progress and the summary go to stderr.
"""

from __future__ import annotations

import datetime as dt
import enum
import glob
import io
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from provenance.batch import runner as batch
from provenance.check import CheckOptions
from provenance.errors import ProvenanceError, error_record
from provenance.report import AiLabel, Report, Verdict
from verify_cli.exit_codes import ExitCode
from verify_cli.formats import FORMAT_METAVAR
from verify_cli.guard import problem_line
from verify_cli.inputs import Input, expand_inputs, read_path_list
from verify_cli.keys import WM_KEY_ENV, WmKeyFileOption
from verify_cli.keys import wm_keys as wm_keys_of
from verify_cli.render import OutputFormat, ReportLang, ThumbnailMode, make_format

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
    INGREDIENT = "ingredient"
    """A manifest in the chain has an ingredient that failed validation (also one recorded
    as failed inside a 1.x ingredient assertion), whatever the verdict."""


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
    if report.unreliable_ingredients:
        met.add(FailOn.INGREDIENT)
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
            ".txt": OutputFormat.TABLE,
            ".html": OutputFormat.HTML,
            ".htm": OutputFormat.HTML,
        }
        return by_suffix.get(output.suffix.lower(), OutputFormat.JSONL)
    isatty = getattr(stdout, "isatty", None)
    return OutputFormat.TABLE if isatty is not None and isatty() else OutputFormat.JSONL


@contextmanager
def _open_output(output: Path | None, *, append: bool = False) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        stream = open(output, "a" if append else "w", encoding="utf-8", newline="")  # noqa: SIM115
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
        error_record(exc).message
        + ("" if verbose else " (re-run with -v to see the traceback, and please report it)")
    )
    return typer.Exit(ExitCode.INTERNAL)


def _read_from_file(source: str) -> list[Path]:
    try:
        if source == "-":
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read() if stream is not None else sys.stdin.read().encode()
        else:
            data = Path(source).read_bytes()
    except OSError as exc:
        _say(f"{source}: cannot read the list of files: {exc.strerror or exc}")
        raise typer.Exit(ExitCode.USAGE) from None
    return read_path_list(data)


def _preflight_banks(banks: Sequence[Path], *, verbose: bool) -> None:
    """Open every bank once before any output, so that a bad bank is a usage error."""
    from provenance.matching.bank import Bank

    for path in banks:
        try:
            Bank.open(path).close()
        except ProvenanceError as exc:
            typer.echo(problem_line(path, exc.diagnostics() if verbose else exc.message), err=True)
            raise typer.Exit(ExitCode.USAGE) from None


def _preflight_repo(repo: Path | None, *, verbose: bool) -> None:
    """Open ``--repo`` once before any output, so that a file that is not a manifest
    repository is a usage error, not a silent recovery failure per input."""
    if repo is None:
        return
    from provenance.durable.repository import Repository  # lazy: only with --repo

    try:
        Repository.open(repo).close()
    except ProvenanceError as exc:
        typer.echo(problem_line(repo, exc.diagnostics() if verbose else exc.message), err=True)
        raise typer.Exit(ExitCode.USAGE) from None


def _resume_skip(
    resume: Path, inputs: list[Input], *, retry_errors: bool = False
) -> tuple[list[Input], int]:
    """Inputs not yet recorded in the resume file (same path and SHA-256; a file that could
    not be read then and still cannot be read counts as recorded). Records that ended
    ``timeout``/``worker_crashed`` (every ERROR with ``retry_errors``) are retried."""
    try:
        state = batch.load_resume(resume, retry_errors=retry_errors)
    except ProvenanceError as exc:
        _say(exc.message)
        raise typer.Exit(ExitCode.USAGE) from None
    if state.truncated:
        _say(f"{resume}: cut off a torn last line ({state.truncated} bytes)")
    paths = {path for path, _ in state.recorded}
    todo: list[Input] = []
    for item in inputs:
        key = str(item.path)
        if key in paths and (key, batch.file_sha256(item.path) or "") in state.recorded:
            continue
        todo.append(item)
    return todo, len(inputs) - len(todo)


class _Feedback:
    """The progress bar and the end-of-run summary, both on stderr."""

    def __init__(self, total: int, *, progress: bool, summary: bool, skipped: int) -> None:
        self.total = total
        self.skipped = skipped
        self.show_summary = summary
        self.done = 0
        self.errors = 0
        self.verdicts: Counter[str] = Counter()
        self.ai: Counter[str] = Counter()
        self.error_codes: Counter[str] = Counter()
        self.bank_match = 0
        self.bank_review = 0
        self.started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self._console: Any = None
        if progress or summary:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        if progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("checking"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} files/s"),
                TextColumn("[red]{task.fields[errors]} errors"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self._console,
                redirect_stdout=False,
                redirect_stderr=False,
                transient=False,
            )
            self._task = self._progress.add_task("check", total=total, rate="0.0", errors=0)
            self._progress.start()

    def say(self, message: str) -> None:
        """A diagnostic line that does not tear the progress bar."""
        if self._progress is not None:
            self._progress.console.print(f"verify: {message}", markup=False, highlight=False)
        else:
            _say(message)

    def add(self, report: Report) -> None:
        """Count one report."""
        self.done += 1
        self.verdicts[report.verdict.value] += 1
        self.ai[report.ai.label.value] += 1
        if report.verdict is Verdict.ERROR:
            self.errors += 1
            self.error_codes[report.error.code if report.error else "error"] += 1
        bands = {m.band for m in report.matches}
        if "MATCH" in bands:
            self.bank_match += 1
        elif bands:
            self.bank_review += 1
        if self._progress is not None:
            self._progress.update(
                self._task, advance=1, rate=f"{self.rate:.1f}", errors=self.errors
            )

    @property
    def rate(self) -> float:
        """Files per second so far."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def close(self) -> None:
        """Stop the progress bar and print the summary table."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if not self.show_summary or self._console is None:
            return
        from rich.table import Table

        table = Table(title="verify check: summary", header_style="bold")
        table.add_column("count", style="bold")
        table.add_column("value")
        table.add_column("files", justify="right")
        elapsed = time.monotonic() - self.started
        table.add_row("checked", "", str(self.done))
        if self.skipped:
            table.add_row("skipped", "already recorded (--resume)", str(self.skipped))
        for verdict in Verdict:
            if self.verdicts[verdict.value]:
                table.add_row("verdict", verdict.value, str(self.verdicts[verdict.value]))
        for label in AiLabel:
            if self.ai[label.value]:
                table.add_row("AI label", label.value, str(self.ai[label.value]))
        if self.bank_match or self.bank_review:
            table.add_row("bank", "MATCH", str(self.bank_match))
            table.add_row("bank", "REVIEW only", str(self.bank_review))
        for code, count in sorted(self.error_codes.items()):
            table.add_row("error", code, str(count))
        table.caption = f"{elapsed:.1f} s, {self.rate:.1f} files/s"
        self._console.print(table)


def check_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files to check; directories too with -r.",
            show_default=False,
        ),
    ] = None,
    recursive: Annotated[
        bool,
        typer.Option(
            "--recursive",
            "-r",
            help="Walk directories (sorted; hidden entries skipped; media extensions only; "
            "symlinks followed, each directory once).",
        ),
    ] = False,
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from-file",
            help="Also check the paths listed in LIST, one per line or NUL-separated "
            "('-': standard input).",
            metavar="LIST",
        ),
    ] = None,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            metavar=FORMAT_METAVAR.replace("csv]", "csv|html]"),
            help="Output format (html: one self-contained page). Default: table on a "
            "terminal, jsonl otherwise (with --output: from its extension, else jsonl).",
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
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Append JSON Lines to FILE, skipping inputs already recorded there (same "
            "path and SHA-256); a torn last line is cut off, and files that ended timeout or "
            "worker_crashed are checked again. Starts afresh if FILE is missing.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    retry_errors: Annotated[
        bool,
        typer.Option(
            "--retry-errors",
            help="With --resume: check again every file whose record is an ERROR.",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            help="Worker processes. Default: check in-process, and start one worker per "
            "core only once the batch has run for a second and the files left would take "
            "more than about 4 s more (workers need about a second each to start). "
            "With --timeout, workers from the start. 1: in-process (unless --timeout is given). "
            "An explicit N is always used.",
            min=1,
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Per-file time limit in seconds with worker processes; a file over it gets "
            f"an ERROR record and its worker is replaced. Default {batch.DEFAULT_TIMEOUT:g}.",
            min=0.001,
            show_default=False,
            metavar="SECONDS",
        ),
    ] = None,
    max_pixels: Annotated[
        int,
        typer.Option(
            "--max-pixels",
            help="Refuse pictures and video frames declaring more pixels than this, before "
            "decoding (decompression-bomb guard; peak memory is about 28 bytes per pixel).",
            min=1,
        ),
    ] = batch.DEFAULT_MAX_PIXELS,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="Run on dask.distributed: a scheduler ADDRESS (tcp://host:8786), or "
            "local:N for a LocalCluster of N worker processes.",
            metavar="ADDRESS",
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
    tsa_anchors: Annotated[
        list[Path] | None,
        typer.Option(
            "--tsa-anchors",
            help="PEM file of time-stamping authority anchors (repeatable), trusted for RFC "
            "3161 timestamps on top of the C2PA TSA Trust List.",
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
    banks: Annotated[
        list[Path] | None,
        typer.Option(
            "--bank",
            help="Match every file against this bank of known content (repeatable); "
            "reports keep the hashes used, for `verify bank rescan`.",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="BANK.db",
        ),
    ] = None,
    metadata: Annotated[
        bool,
        typer.Option(
            "--metadata",
            help="Add metadata and structure facts (software, dates, JPEG quality, "
            "thumbnail, trailing data, GPS presence).",
        ),
    ] = False,
    show_gps: Annotated[
        bool,
        typer.Option("--show-gps", help="Show GPS coordinates (implies --metadata)."),
    ] = False,
    generator_marks: Annotated[
        bool,
        typer.Option(
            "--generator-marks/--no-generator-marks",
            help="Look for the default invisible watermarks of open image generators "
            "(decodes the pixels; on by default, --no-generator-marks skips it).",
        ),
    ] = True,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="Manifest repository: recover stripped or broken credentials through the "
            "watermark or fingerprint.",
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="PATH",
        ),
    ] = None,
    resolver: Annotated[
        str | None,
        typer.Option(
            "--resolver",
            help="Soft Binding Resolution API server (2.4 discovery, or 2.2) to recover "
            "credentials from.",
            metavar="URL",
        ),
    ] = None,
    wm_keys: Annotated[
        list[str] | None,
        typer.Option(
            "--wm-key",
            help="Private watermark key tried during recovery (repeatable; env JINJJA_WM_KEY).",
            metavar="KEY",
            envvar=WM_KEY_ENV,
            show_envvar=False,
        ),
    ] = None,
    wm_key_files: WmKeyFileOption = None,
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
            "invalid, untrusted, no-credentials, ai, ingredient.",
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
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar on stderr. Default: when stderr is a terminal.",
            show_default=False,
        ),
    ] = None,
    summary: Annotated[
        bool | None,
        typer.Option(
            "--summary/--no-summary",
            help="Summary table on stderr at the end. Default: when stderr is a terminal.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show raw codes and certificate details; tracebacks."),
    ] = False,
    thumbnails: Annotated[
        ThumbnailMode,
        typer.Option(
            "--thumbnails",
            help="HTML only: full (at most 320 px wide), blur (beyond recognition) or none.",
            case_sensitive=False,
        ),
    ] = ThumbnailMode.FULL,
    lang: Annotated[
        ReportLang | None,
        typer.Option(
            "--lang",
            help="HTML only: language of the page. Default: from the locale.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check the Content Credentials (C2PA) of pictures and videos.

    One report per input goes to stdout (or --output), in input order whatever the number
    of workers; one line per input that could not be checked goes to stderr.

    Exit codes: 0 done; 1 a --fail-on condition was met; 2 usage error; 3 some inputs
    could not be processed (takes precedence over 1); 4 internal error; 130 interrupted.
    """
    conditions = parse_fail_on(fail_on or ())
    analyzed_at = _parse_time(fixed_time)
    fragment_files = _expand_fragments(fragments)
    paths = list(paths or ())
    if not paths and from_file is None:
        raise typer.BadParameter("give at least one PATH or --from-file", param_hint="'PATH...'")
    if (manifest is not None or fragment_files) and (
        recursive or len(paths) != 1 or from_file is not None
    ):
        raise typer.BadParameter(
            "--manifest and --fragments apply to exactly one PATH (no -r)",
            param_hint="'PATH...'",
        )
    if dask is not None and jobs is not None:
        raise typer.BadParameter(
            "--jobs applies to local worker processes; the Dask cluster decides with --dask",
            param_hint="'--jobs'",
        )
    if dask is not None:
        try:
            batch.parse_executor(f"dask:{dask}")
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--dask'") from None
    if resume is not None:
        if output is not None and output.absolute() != resume.absolute():
            raise typer.BadParameter(
                "--resume writes to its own FILE; drop --output", param_hint="'--output'"
            )
        if fmt not in (None, OutputFormat.JSONL):
            raise typer.BadParameter("--resume writes JSON Lines", param_hint="'--format'")
    elif retry_errors:
        raise typer.BadParameter("--retry-errors goes with --resume", param_hint="'--retry-errors'")
    if resolver is not None and not resolver.startswith(("http://", "https://")):
        raise typer.BadParameter("give an http:// or https:// URL", param_hint="'--resolver'")
    from_env = getattr(ctx.get_parameter_source("wm_keys"), "name", None) == "ENVIRONMENT"
    if (wm_keys and not from_env or wm_key_files) and repo is None and resolver is None:
        raise typer.BadParameter("--wm-key needs --repo or --resolver", param_hint="'--wm-key'")
    keys = wm_keys_of(wm_keys, wm_key_files) if repo is not None or resolver is not None else []
    _preflight_trust(tuple(trust_anchors or ()) + tuple(tsa_anchors or ()), verbose=verbose)
    _preflight_banks(tuple(banks or ()), verbose=verbose)
    _preflight_repo(repo, verbose=verbose)
    if from_file is not None:
        paths.extend(_read_from_file(from_file))
    try:
        inputs = list(expand_inputs(paths, recursive=recursive))
    except KeyboardInterrupt:  # while walking a large tree
        _say("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    skipped = 0
    if resume is not None:
        inputs, skipped = _resume_skip(resume, inputs, retry_errors=retry_errors)
        chosen = OutputFormat.JSONL
    else:
        chosen = fmt if fmt is not None else _default_format(output, sys.stdout)
    if not inputs and not skipped:
        _say("no media files found in the given directories")

    options = batch.BatchOptions(
        CheckOptions(
            trust_anchors=tuple(trust_anchors or ()),
            manifest=manifest,
            fragments=fragment_files,
            allow_network=allow_network,
            show_prompts=show_prompts,
            analyzed_at=analyzed_at,
            banks=tuple(str(b) for b in banks or ()),
            metadata=metadata,
            show_gps=show_gps,
            generator_marks=generator_marks,
            repo=str(repo) if repo is not None else None,
            resolver=resolver,
            wm_keys=tuple(keys),
            tsa_anchors=tuple(tsa_anchors or ()),
        ),
        max_pixels=max_pixels,
    )
    plan = batch.plan_workers(len(inputs), jobs=jobs, timeout=timeout, dask=dask)
    stderr_tty = _isatty(sys.stderr)
    feedback = _Feedback(
        len(inputs),
        progress=stderr_tty if progress is None else progress,
        summary=stderr_tty if summary is None else summary,
        skipped=skipped,
    )
    input_errors = 0
    met = 0
    try:
        opened = _open_output(resume, append=True) if resume is not None else _open_output(output)
        with opened as stream:
            formatter = make_format(
                chosen,
                stream,
                verbose=verbose,
                thumbnails=thumbnails.value,
                lang=lang.value if lang is not None else None,
            )
            formatter.start(len(inputs))
            records = batch.run_batch(
                [item.path for item in inputs],
                options,
                jobs=plan.jobs,
                timeout=plan.timeout,
                executor=plan.executor,
                fan_out=plan.fan_out,
            )
            try:
                for record in records:
                    report = (
                        record.report
                        if record.report is not None
                        else batch.report_from_dict(record.data)
                    )
                    formatter.write(report, record.data)
                    feedback.add(report)
                    if report.verdict is Verdict.ERROR:
                        input_errors += 1
                        _report_bad_input(inputs[record.index], report, say=feedback.say)
                    elif report.recovery is not None and report.recovery.error is not None:
                        input_errors += 1
                        reason = report.recovery.error.message
                        feedback.say(f"{inputs[record.index].path}: recovery: {reason}")
                    if conditions_met(report, conditions):
                        met += 1
            except KeyboardInterrupt:
                formatter.finish()
                feedback.close()
                _say("interrupted")
                raise typer.Exit(ExitCode.INTERRUPTED) from None
            except BrokenPipeError:  # the reader went away (`verify check ... | head -1`)
                _silence_stdout()
                raise typer.Exit(
                    decide_exit_code(input_errors=input_errors, conditions=met)
                ) from None
            except (typer.Exit, typer.Abort):
                raise
            except batch.BatchError as exc:
                feedback.close()
                if exc.code == "internal_error":
                    _say(exc.message)
                    if verbose and "traceback" in exc.detail:
                        sys.stderr.write(str(exc.detail["traceback"]))
                    raise typer.Exit(ExitCode.INTERNAL) from None
                _say(exc.diagnostics() if verbose else exc.message)
                code = ExitCode.INPUT_ERROR if exc.code == "missing_dependency" else ExitCode.USAGE
                raise typer.Exit(code) from None
            except ProvenanceError as exc:
                # Configuration problems (an unusable --trust-anchors file, a broken trust
                # store) concern every input: stop with a usage error.
                feedback.close()
                _say(exc.diagnostics() if verbose else exc.message)
                raise typer.Exit(ExitCode.USAGE) from None
            except Exception as exc:  # a bug: say so in one line, not a traceback
                feedback.close()
                raise _internal_error(exc, verbose=verbose) from None
            finally:
                records.close()
            formatter.finish()
    finally:
        feedback.close()
    raise typer.Exit(decide_exit_code(input_errors=input_errors, conditions=met))


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):
        return False


def _preflight_trust(trust_anchors: Sequence[Path], *, verbose: bool) -> None:
    """Fail with a usage error before any output when the trust configuration is unusable."""
    from provenance.credentials import trust

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


def _report_bad_input(item: Input, report: Report, *, say: Callable[[str], None] = _say) -> None:
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
    say(f"{item.path}: {message}")


def register(app: typer.Typer) -> None:
    """Add ``verify check`` to the application.

    Parameters
    ----------
    app
        The ``verify`` Typer application.
    """
    app.command(name="check", no_args_is_help=True)(check_command)
