"""``verify monitor``: watch URLs where known pictures or videos were posted.

``add`` registers URLs and reference fingerprints under a case, ``run`` visits them (once,
or ``--every`` interval), ``status`` sums up each URL's history, ``notice`` writes (and with
``--send`` mails) one deletion request per host, ``respond`` records the platform's answer.
Exit codes: ``spec/exit-codes.md`` (section ``verify monitor``).
"""

from __future__ import annotations

import enum
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO

import typer

from verify_cli.exit_codes import ExitCode
from verify_cli.formats import FORMAT_METAVAR, Format, RecordWriter
from verify_cli.keys import WM_KEY_ENV, read_key_file
from verify_cli.render import ReportLang, ThumbnailMode

if TYPE_CHECKING:
    from provenance.monitor import MonitorStore, Visit

__all__ = ["register"]

STATUS_COLUMNS = (
    "case",
    "url",
    "first_checked",
    "last_checked",
    "last_status",
    "last_match_at",
    "gone_since",
    "checks",
    "request_state",
)


RUN_COLUMNS = (
    "case",
    "url",
    "final_url",
    "status",
    "http_status",
    "checked_at",
    "previous_status",
    "changed",
    "matches",
    "evidence.path",
    "evidence.sha256",
    "evidence.timestamp",
    "error",
)
"""Columns of ``monitor run --format csv`` (``matches`` as a JSON cell)."""


class Lang(enum.StrEnum):
    KO = "ko"
    EN = "en"


class State(enum.StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REFUSED = "refused"
    REMOVED = "removed"


def _say(message: str) -> None:
    typer.echo(f"verify: {message}", err=True)


def _fail(where: str, message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    _say(f"{where}: {message}")
    raise typer.Exit(code)


@contextmanager
def _guard(where: str) -> Iterator[None]:
    """Turn the library's errors into one stderr line and an exit code."""
    try:
        from provenance.monitor import MonitorError  # optional extra `monitor`
    except ImportError as exc:
        _fail(
            "monitor",
            f"needs the monitor extra ({exc.name}): pip install 'jinjja[monitor]'",
            ExitCode.INPUT_ERROR,
        )
    try:
        yield
    except MonitorError as exc:
        code = ExitCode.INPUT_ERROR if exc.code in ("smtp_failed", "tsa_failed") else ExitCode.USAGE
        if where in exc.message:  # the library already names it: say it once
            _say(exc.message)
            raise typer.Exit(code) from None
        _fail(where, exc.message, code)


def _open(db: Path, *, create: bool = False) -> MonitorStore:
    from provenance.monitor import MonitorStore  # optional extra `monitor`

    return MonitorStore.open(db, create=create)


def _wm_key(ctx: typer.Context, key: str | None, key_file: Path | None) -> bytes | str | None:
    """The key of ``--wm-key``/``--wm-key-file``; a file wins over ``JINJJA_WM_KEY``."""
    source = ctx.get_parameter_source("wm_key")
    from_env = getattr(source, "name", None) == "ENVIRONMENT"
    if key is not None and key_file is not None and not from_env:
        raise typer.BadParameter(
            "give --wm-key or --wm-key-file, not both", param_hint="'--wm-key'"
        )
    if key_file is not None:
        return read_key_file(key_file)
    return key or None


DbArg = Annotated[Path, typer.Argument(metavar="DB", help="The monitoring database (SQLite).")]
WmKey = Annotated[
    str | None,
    typer.Option(
        "--wm-key",
        envvar=WM_KEY_ENV,
        metavar="KEY",
        show_envvar=False,
        help=f"Watermark key: references are also matched by their payload (env {WM_KEY_ENV}).",
    ),
]
WmKeyFile = Annotated[
    Path | None, typer.Option("--wm-key-file", metavar="FILE", help="Read the key from FILE.")
]
FormatOption = Annotated[
    Format | None,
    typer.Option(
        "--format",
        case_sensitive=False,
        metavar=FORMAT_METAVAR,
        help="Output format (default: table on a terminal, else jsonl).",
    ),
]


def add_command(
    ctx: typer.Context,
    db: DbArg,
    urls: Annotated[list[str], typer.Argument(metavar="URL...", help="http(s) URLs to watch.")],
    case: Annotated[str, typer.Option("--case", metavar="CASE", help="Case name.")],
    ref: Annotated[
        list[Path] | None,
        typer.Option("--ref", metavar="FILE", help="Reference picture or video (repeatable)."),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", metavar="TEXT", help="A note.")] = None,
    wm_key: WmKey = None,
    wm_key_file: WmKeyFile = None,
) -> None:
    """Register URLs under a case with reference media (only fingerprints are stored)."""
    key = _wm_key(ctx, wm_key, wm_key_file)
    with _guard(str(db)):
        from provenance.monitor import (  # optional extra `monitor`
            check_url,
            fingerprint_file,
            redact_url,
        )

        for u in urls:
            with _guard(redact_url(u)):
                clean = check_url(u)
            if clean != u.strip():
                _say(f"{clean}: credentials removed from the URL (they are never stored)")
        if not ref and not db.exists():
            _fail(str(db), f"case {case!r} has no reference yet: give --ref FILE")
        refs = []
        for r in ref or []:
            with _guard(str(r)):
                refs.append(fingerprint_file(r, wm_key=key))
        with _open(db, create=True) as store:
            if not refs and not store.references(case):
                _fail(str(db), f"case {case!r} has no reference yet: give --ref FILE")
            added = store.add(case, urls, refs, note=note)
    for u in added.already:
        _say(f"{u}: already in case {case!r}; nothing done")
    for r in added.refs_already:
        _say(f"{r.name}: reference already in case {case!r}; nothing done")
    typer.echo(
        f"case {case}: {len(added.added)} URL(s) and {len(added.refs_added)} reference(s) added"
    )


def _visit_line(record: dict[str, Any]) -> str:
    ev = record["evidence"]["path"] if record["evidence"] else ""
    extra = record["error"] or ", ".join(f"{m['method']}:{m['ref']}" for m in record["matches"])
    code = record["http_status"] if record["http_status"] is not None else "-"
    return f"{record['status']:<12} {code!s:<4} {record['url']}  {extra}  {ev}".rstrip()


class _AboveBar:
    """A stream that prints above the progress bar (records on a terminal)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        pass


@contextmanager
def _progress(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.console import Console  # start-up cost: rich only when drawing
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        yield bar


@contextmanager
def _writer(output: Path | None, mode: str = "a") -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    try:
        stream = output.open(mode, encoding="utf-8")
    except OSError as exc:
        _fail(str(output), f"cannot write: {exc.strerror}")
    with stream:
        yield stream


def run_command(
    ctx: typer.Context,
    db: DbArg,
    case: Annotated[
        str | None, typer.Option("--case", metavar="CASE", help="Only this case.")
    ] = None,
    evidence: Annotated[
        Path | None, typer.Option("--evidence", metavar="DIR", help="Write WACZ evidence here.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", metavar="SECONDS", min=0.1, help="Per request.")
    ] = 30.0,
    every: Annotated[
        str | None, typer.Option("--every", metavar="DURATION", help="Repeat: 90s, 15m, 6h, 1d.")
    ] = None,
    fmt: FormatOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", metavar="FILE", help="Append records here.")
    ] = None,
    tsa: Annotated[
        str | None, typer.Option("--tsa", metavar="URL", help="RFC 3161 TSA for the evidence.")
    ] = None,
    screenshot: Annotated[
        bool, typer.Option("--screenshot", help="Add a screenshot to the evidence (Chromium).")
    ] = False,
    delay: Annotated[
        float,
        typer.Option("--delay", metavar="SECONDS", min=0.0, help="Between requests to a host."),
    ] = 1.0,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", metavar="N", min=1, help="Largest response read.")
    ] = 100 * 1024 * 1024,
    wm_key: WmKey = None,
    wm_key_file: WmKeyFile = None,
) -> None:
    """Visit every URL and record MATCH / NO_MATCH / GONE / UNREACHABLE (one JSON line each)."""
    key = _wm_key(ctx, wm_key, wm_key_file)
    with _guard(str(db)):
        from provenance.monitor import (  # optional extra `monitor`
            EvidenceOptions,
            RunOptions,
            parse_duration,
        )

        interval = parse_duration(every) if every is not None else None
        if tsa is not None and evidence is None:
            _fail("--tsa", "needs --evidence DIR")
        if screenshot and evidence is None:
            _fail("--screenshot", "needs --evidence DIR")
        if screenshot:
            from provenance.monitor.evidence import find_chromium  # optional extra `monitor`

            if find_chromium() is None:
                _say("note: Chromium is not installed; screenshots are skipped")
        store = _open(db)
        if case is not None and not store.has_case(case):
            store.close()
            _fail(str(db), f"no case named {case!r}")
        ev = None if evidence is None else EvidenceOptions(evidence, tsa, screenshot, timeout)
        options = RunOptions(case, ev, timeout, max_bytes, delay=delay, wm_key=key)
        with _writer(output) as out:
            chosen = fmt or (Format.TABLE if out.isatty() else Format.JSONL)
            unreachable = _run_loop(store, options, interval, out, chosen)
    raise typer.Exit(ExitCode.INPUT_ERROR if unreachable else ExitCode.OK)


def _run_loop(
    store: MonitorStore, options: Any, interval: float | None, out: TextIO, fmt: Format
) -> int:
    from provenance.monitor import run, watch  # optional extra `monitor`

    last = [0]
    with store, _progress(sys.stderr.isatty()) as bar:
        task = (
            None
            if bar is None
            else bar.add_task("checking", total=len(store.targets(options.case)))
        )

        stream: Any = _AboveBar(bar) if bar is not None and out.isatty() else out
        writer = RecordWriter(fmt, stream, columns=RUN_COLUMNS, line=_visit_line)

        def emit(visit: Visit) -> None:
            writer.write(visit.to_dict())
            if bar is not None:
                bar.advance(task)

        def passed(summary: Any) -> None:
            last[0] = summary.unreachable
            counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items()))
            _say(f"checked {summary.visits} URL(s): {counts or 'none'}")
            if bar is not None:
                bar.reset(task)

        previous = signal.signal(signal.SIGTERM, _interrupt)  # systemd and kill stop cleanly too
        try:
            if interval is None:
                passed(run(store, options, emit))
            else:
                watch(store, options, interval, emit, on_pass=passed)
        except KeyboardInterrupt:
            _say("stopped; every visit finished before Ctrl-C is recorded")
            raise typer.Exit(ExitCode.INTERRUPTED) from None
        except BrokenPipeError:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            writer.finish()  # a JSON array is closed, also after Ctrl-C
    return last[0]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class StatusFormat(enum.StrEnum):
    """``--format`` of ``monitor status``: the shared formats, and ``html`` (a case page)."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    TEXT = "text"
    HTML = "html"


def status_command(
    db: DbArg,
    case: Annotated[
        str | None, typer.Option("--case", metavar="CASE", help="Only this case.")
    ] = None,
    fmt: Annotated[
        StatusFormat | None,
        typer.Option(
            "--format",
            case_sensitive=False,
            metavar=FORMAT_METAVAR.replace("csv]", "csv|html]"),
            help="Output format (default: table on a terminal, else jsonl; html: a "
            "self-contained case page for support staff and lawyers).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", metavar="FILE", help="Write here.")
    ] = None,
    thumbnails: Annotated[
        ThumbnailMode,
        typer.Option(
            "--thumbnails",
            case_sensitive=False,
            help="html only: pictures of the evidence; none (default: the material may be "
            "abusive), blur or full.",
        ),
    ] = ThumbnailMode.NONE,
    lang: Annotated[
        ReportLang | None,
        typer.Option(
            "--lang",
            case_sensitive=False,
            help="html only: ko or en (default: from the locale).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """One row per URL: last status, since when it is gone, the request state (json/jsonl
    add each URL's timeline; html writes a case page with every timeline)."""
    with _guard(str(db)):
        with _open(db) as store:
            if case is not None and not store.has_case(case):
                _fail(str(db), f"no case named {case!r}")
            rows = store.status(case)
    if fmt is StatusFormat.HTML:
        with _guard(str(db)), _writer(output, "w") as out:
            _status_html(rows, out, thumbnails=thumbnails, lang=lang)
        return
    with _writer(output, "w") as out:
        shared = Format(fmt.value) if fmt is not None else None
        chosen = (shared or (Format.TABLE if out.isatty() else Format.JSONL)).canonical
        if chosen is Format.TABLE:
            _status_table(rows, out)
            return
        writer = RecordWriter(chosen, out, columns=STATUS_COLUMNS, line=str)
        for row in rows:
            writer.write(row.to_dict(timeline=chosen is not Format.CSV))
        writer.finish()


def _status_html(
    rows: list[Any], out: TextIO, *, thumbnails: ThumbnailMode, lang: ReportLang | None
) -> None:
    from provenance import render  # jinja2 and the templates only load for HTML output

    urls = [render.case_url_from_dict(row.to_dict(timeline=True)) for row in rows]
    render.render_case_page(
        urls,
        out,
        lang=render.Lang(lang.value) if lang is not None else render.default_lang(),
        thumbnails=render.Thumbnails(thumbnails.value),
    )


def _status_table(rows: list[Any], out: TextIO) -> None:
    from rich.console import Console  # start-up cost: rich only when drawing
    from rich.table import Table

    table = Table("case", "url", "last status", "last checked", "gone since", "checks", "request")
    for r in rows:
        d = r.to_dict()
        table.add_row(
            d["case"],
            d["url"],
            d["last_status"] or "-",
            d["last_checked"] or "-",
            d["gone_since"] or "-",
            str(d["checks"]),
            d["request_state"] or "-",
        )
    Console(file=out, width=200 if not out.isatty() else None).print(table)


def notice_command(
    db: DbArg,
    case: Annotated[str, typer.Option("--case", metavar="CASE", help="The case.")],
    output: Annotated[Path, typer.Option("--output", metavar="DIR", help="Write requests here.")],
    lang: Annotated[Lang, typer.Option("--lang", help="ko or en.")] = Lang.KO,
    template: Annotated[
        Path | None, typer.Option("--template", metavar="FILE", help="Your own Jinja2 template.")
    ] = None,
    profiles: Annotated[
        Path | None, typer.Option("--profiles", metavar="FILE", help="Platform profiles (TOML).")
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Mail the requests that go by email.")
    ] = False,
    smtp: Annotated[
        str | None, typer.Option("--smtp", metavar="URL", help="smtp://HOST:PORT or smtps://...")
    ] = None,
    sender: Annotated[
        str | None, typer.Option("--from", metavar="ADDRESS", help="Sender (or JINJJA_SMTP_FROM).")
    ] = None,
) -> None:
    """Write one deletion request per host for the URLs whose last status is MATCH."""
    with _guard(str(db)):
        from provenance.monitor.notice import (  # optional extra `monitor`
            SmtpConfig,
            build_notices,
            load_profiles,
            send_notices,
            write_notices,
        )

        from_addr = sender or os.environ.get("JINJJA_SMTP_FROM")
        config = None
        if send:
            if smtp is None or not from_addr:
                _fail("--send", "needs --smtp URL and --from ADDRESS (or JINJJA_SMTP_FROM)")
            config = SmtpConfig.from_url(smtp)
        prof = load_profiles(profiles) if profiles is not None else None
        with _open(db) as store:
            notices = build_notices(
                store,
                case,
                lang=lang.value,
                template=template,
                profiles=prof,
                sender={"email": from_addr or ""},
            )
            written = write_notices(notices, output)
            for n in written:
                typer.echo(f"{n.path}\t{n.host}\t{n.channel.kind}\t{len(n.items)} URL(s)")
            if not written:
                _say(f"case {case!r}: no URL whose last status is MATCH; nothing to request")
            if config is not None and from_addr:
                sent, notes = send_notices(store, written, config, sender=from_addr)
                for s in sent:
                    typer.echo(f"sent\t{s.notice.host}\t{s.to}\t{s.message_id}")
                for note in notes:
                    _say(note)


def respond_command(
    db: DbArg,
    url: Annotated[str, typer.Argument(metavar="URL", help="A monitored URL.")],
    state: Annotated[State, typer.Option("--state", help="sent, acknowledged, refused, removed.")],
    note: Annotated[str | None, typer.Option("--note", metavar="TEXT", help="A note.")] = None,
    case: Annotated[
        str | None, typer.Option("--case", metavar="CASE", help="Only this case.")
    ] = None,
) -> None:
    """Record what happened to a deletion request."""
    with _guard(str(db)):
        with _open(db) as store:
            n = store.respond(url, state.value, case=case, note=note)
    typer.echo(f"recorded {state.value} for {n} URL(s)")


def register(app: typer.Typer) -> None:
    """Add ``verify monitor`` (add, run, status, notice, respond) to the application."""
    monitor_app = typer.Typer(
        name="monitor",
        help="Watch URLs where known media were posted, keep evidence, ask for deletion.",
        no_args_is_help=True,
    )
    monitor_app.command("add")(add_command)
    monitor_app.command("run")(run_command)
    monitor_app.command("status")(status_command)
    monitor_app.command("notice")(notice_command)
    monitor_app.command("respond")(respond_command)
    app.add_typer(monitor_app, name="monitor")
