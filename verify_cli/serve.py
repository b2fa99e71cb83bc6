"""``verify serve``: the C2PA Soft Binding Resolution API 2.4.0 over a manifest repository.

Parse the options, build the app with :func:`provenance.durable.server.create_app` and run it with
uvicorn. Read-only unless started with ``--allow-writes`` and a token from the
``JINJJA_SERVER_TOKEN`` environment variable or ``--token-file`` (both keep it out of
process listings; ``--token T`` remains as a hidden alias). With writes, receipts are
signed with the Ed25519 key in ``--receipt-key`` (default ``<repo>.receipt-key.pem``,
created with mode 0600 when missing). Exit codes: 0 stopped cleanly, 2 bad options or
unusable repository, 3 the server extra is not installed,
130 Ctrl-C.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from provenance.errors import ProvenanceError
from provenance.media.budget import SERVER_DECODES, SERVER_MAX_PIXELS
from verify_cli.exit_codes import ExitCode
from verify_cli.inputs import read_token_file
from verify_cli.keys import WM_KEY_ENV, WmKeyFileOption, wm_keys

__all__ = ["register"]


def _fail(message: str, code: ExitCode) -> typer.Exit:
    sys.stderr.write(f"verify serve: {message}\n")
    return typer.Exit(code)


def serve(
    repo: Annotated[
        Path,
        typer.Option(
            "--repo",
            help="Manifest repository file (created only with --allow-writes).",
            dir_okay=False,
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8750,
    allow_writes: Annotated[
        bool, typer.Option("--allow-writes", help="Enable POST /manifests (needs --token).")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token on the command line (visible in process listings: prefer "
            "JINJJA_SERVER_TOKEN or --token-file).",
            envvar="JINJJA_SERVER_TOKEN",
            hidden=True,
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding the bearer token for POST /manifests (16+ characters; one "
            "line). Or set JINJJA_SERVER_TOKEN.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest request body in MB.", min=0.01)
    ] = 50.0,
    wm_key: Annotated[
        list[str] | None,
        typer.Option(
            "--wm-key",
            help="Private watermark key tried by /matches/byContent (repeatable; env "
            "JINJJA_WM_KEY).",
            envvar=WM_KEY_ENV,
            metavar="KEY",
            show_envvar=False,
        ),
    ] = None,
    wm_key_file: WmKeyFileOption = None,
    max_pixels: Annotated[
        int,
        typer.Option(
            "--max-pixels",
            help="Uploads declaring more pixels get 413 before decoding.",
            min=1,
        ),
    ] = SERVER_MAX_PIXELS,
    max_decodes: Annotated[
        int,
        typer.Option(
            "--max-decodes", help="Uploads decoded at the same time (others wait).", min=1
        ),
    ] = SERVER_DECODES,
    receipt_key: Annotated[
        Path | None,
        typer.Option(
            "--receipt-key",
            help="Ed25519 PEM key that signs receipts (default <repo>.receipt-key.pem, "
            "created when missing; writes only).",
            dir_okay=False,
            metavar="PATH",
        ),
    ] = None,
    private_references: Annotated[
        bool,
        typer.Option(
            "--allow-private-references",
            help="Let /matches/byReference fetch from loopback and private addresses.",
        ),
    ] = False,
) -> None:
    """Serve the Soft Binding Resolution API 2.4.0 for a manifest repository."""
    try:
        import uvicorn
    except ImportError:
        raise _fail(
            "the server needs uvicorn and FastAPI: pip install 'jinjja[server]'",
            ExitCode.INPUT_ERROR,
        ) from None
    if token_file is not None:
        token = read_token_file(token_file, fail=lambda m: _fail(m, ExitCode.USAGE))
    if allow_writes and not token:
        raise _fail(
            "--allow-writes needs a token: JINJJA_SERVER_TOKEN or --token-file", ExitCode.USAGE
        )
    if token and not allow_writes:
        sys.stderr.write("verify serve: the token has no effect without --allow-writes\n")
    from provenance.durable.receipts import ReceiptKey
    from provenance.durable.server import API_VERSION, create_app
    from provenance.durable.server.transport import JsonErrorsH11Protocol

    if receipt_key is not None and not allow_writes:
        sys.stderr.write("verify serve: --receipt-key has no effect without --allow-writes\n")
    if allow_writes and token is not None and len(token) < 16:
        raise _fail("writes need a token of at least 16 characters", ExitCode.USAGE)
    try:
        key = None
        if allow_writes:
            key_path = receipt_key or repo.with_name(repo.name + ".receipt-key.pem")
            key = ReceiptKey.load_or_create(key_path, create=receipt_key is None)
        app = create_app(
            repo,
            allow_writes=allow_writes,
            token=token if allow_writes else None,
            max_upload=max(1024, int(max_upload_mb * 1024 * 1024)),
            wm_keys=tuple(wm_keys(wm_key, wm_key_file)),
            max_pixels=max_pixels,
            max_decodes=max_decodes,
            receipt_key=key,
            private_references=private_references,
        )
    except ProvenanceError as exc:
        code = ExitCode.INPUT_ERROR if exc.code == "missing_dependency" else ExitCode.USAGE
        raise _fail(exc.message, code) from None
    mode = "read and write" if allow_writes else "read-only"
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"verify serve: repository {repo} ({mode}) at http://{shown}:{port} "
        f"(Soft Binding Resolution API {API_VERSION}; API document: /openapi.json)\n"
    )
    sys.stderr.flush()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            http=JsonErrorsH11Protocol,
        )
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except OSError as exc:
        raise _fail(f"could not serve on {host}:{port}: {exc}", ExitCode.USAGE) from None
    except SystemExit:  # uvicorn exits when it cannot bind; it said why just above
        raise _fail(
            f"could not serve on {host}:{port} (address in use, or not allowed)", ExitCode.USAGE
        ) from None


def register(app: typer.Typer) -> None:
    """Add ``verify serve`` to the ``verify`` command."""
    app.command("serve")(serve)
