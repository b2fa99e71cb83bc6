"""``verify trust``: fetch and show the trust lists that ``verify check`` uses.

* ``verify trust update [--from URL|DIR] [--interim]`` downloads (or copies) the C2PA
  trust lists into the data directory (``$JINJJA_DATA_DIR`` or the platform default).
* ``verify trust show [--format text|json]`` lists what is stored.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, assert_never

import typer

from provenance.credentials.trust import store_record
from provenance.errors import ProvenanceError
from verify_cli.exit_codes import ExitCode
from verify_cli.formats import FORMAT_METAVAR, Format, RecordWriter
from verify_cli.render import dumps_record

__all__ = ["ShowFormat", "register", "store_record"]

trust_app = typer.Typer(
    name="trust",
    help="Fetch and show the trust lists used to decide whether an issuer is trusted.",
    no_args_is_help=True,
)


ShowFormat = Format
"""The values of ``verify trust show --format`` (the shared :class:`Format`)."""

LIST_COLUMNS = ("name", "source", "issued", "sha256", "certificates", "fetched_at")
"""Columns of ``verify trust show --format csv`` (one row per stored list)."""


def _say(message: str) -> None:
    typer.echo(f"verify: {message}", err=True)


def _print_table(record: dict[str, Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Trust lists in {record['data_dir']}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("name", style="bold", min_width=8)
    table.add_column("source", overflow="fold", min_width=10)
    table.add_column("issued", no_wrap=True)
    table.add_column("sha256", no_wrap=True)
    table.add_column("certs", justify="right", no_wrap=True)
    table.add_column("fetched", no_wrap=True)
    for row in record["lists"]:
        issued = str(row["issued"])[:10] if row["issued"] else "not stated"
        fetched = str(row["fetched_at"] or "")[:10]
        table.add_row(
            str(row["name"]),
            str(row["source"]),
            issued,
            str(row["sha256"])[:12],
            str(row["certificates"]),
            fetched,
        )
    Console(file=sys.stdout, highlight=False).print(table)


def _emit(record: dict[str, Any], fmt: ShowFormat) -> None:
    match fmt.canonical:
        case Format.TABLE | Format.TEXT:
            _print_table(record)
        case Format.JSON:
            sys.stdout.write(dumps_record(record, indent=2) + "\n")
        case Format.JSONL:
            sys.stdout.write(dumps_record(record) + "\n")
        case Format.CSV:
            writer = RecordWriter(Format.CSV, sys.stdout, columns=LIST_COLUMNS, line=str)
            for row in record["lists"]:
                writer.write(row)
        case other:
            assert_never(other)
    sys.stdout.flush()


def _fail(exc: ProvenanceError, *, verbose: bool, code: ExitCode) -> typer.Exit:
    _say(exc.diagnostics() if verbose else exc.message)
    return typer.Exit(code)


FormatOption = Annotated[
    ShowFormat,
    typer.Option("--format", help="Output format.", case_sensitive=False, metavar=FORMAT_METAVAR),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show diagnostic details on errors.")
]


@trust_app.command("update")
def update_command(
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Fetch from this URL prefix or copy from this directory instead of the "
            "official C2PA locations. Expected layout (same under a URL prefix): "
            "DIR/c2pa-conformance-public/C2PA-TRUST-LIST.pem and C2PA-TSA-TRUST-LIST.pem "
            "(their .json siblings, optional, give the issue date); with --interim also "
            "DIR/cai-verify-site/anchors.pem, allowed.pem and store.cfg.",
            metavar="URL|DIR",
        ),
    ] = None,
    interim: Annotated[
        bool,
        typer.Option(
            "--interim",
            help="Also fetch the legacy interim list used by the Verify site (frozen since "
            "2026-01-01).",
        ),
    ] = False,
    fmt: FormatOption = Format.TABLE,
    verbose: VerboseOption = False,
) -> None:
    """Download the trust lists and store them in the data directory.

    Exit codes: 0 stored, 2 usage error, 3 the lists could not be fetched or stored
    (network error, bad list), 130 interrupted.
    """
    from provenance.credentials import trust

    try:
        if source is not None and "://" not in source and not Path(source).is_dir():
            _say(f"{source}: not a URL and not a directory")
            raise typer.Exit(ExitCode.USAGE)
        store = trust.update(source, interim=interim)
        data_dir = trust.default_data_dir()
    except ProvenanceError as exc:
        raise _fail(exc, verbose=verbose, code=ExitCode.INPUT_ERROR) from None
    except KeyboardInterrupt:
        _say("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    record = store_record(store, data_dir)
    _say(f"stored {len(record['lists'])} trust list(s) in {data_dir}")
    _emit(record, fmt)


@trust_app.command("show")
def show_command(
    fmt: FormatOption = Format.TABLE,
    verbose: VerboseOption = False,
) -> None:
    """Show the stored trust lists (name, source, issue date, hash, certificates)."""
    from provenance.credentials import trust

    try:
        data_dir = trust.default_data_dir()
        store = trust.load()
    except ProvenanceError as exc:
        raise _fail(exc, verbose=verbose, code=ExitCode.INPUT_ERROR) from None
    record = store_record(store, data_dir)
    if store.bundled:
        _say(
            f"no trust lists stored in {data_dir}: using the snapshots shipped with the "
            "package; run `verify trust update` for current lists"
        )
    elif not record["lists"]:
        _say(f"no trust lists stored in {data_dir}; run `verify trust update`")
    _emit(record, fmt)


def register(app: typer.Typer) -> None:
    """Add the ``verify trust`` group to the application.

    Parameters
    ----------
    app
        The ``verify`` Typer application.
    """
    app.add_typer(trust_app, name="trust")
