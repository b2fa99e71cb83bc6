"""``verify sign``: sign pictures and videos with Content Credentials (publisher flow).

Parse the options, build the signer, check the certificate once (and stop with exit code
2 naming every problem), then call :func:`provenance.credentials.sign.sign_file` for each input. A
folder is signed file by file into the output folder, keeping its layout, with a progress
bar on stderr; one failure does not stop the others, and a summary ends the run. Exit
codes are in ``spec/exit-codes.md``.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

import watermark as watermark_lib  # 'watermark' is the --watermark flag here
from provenance.credentials.plan import SignJob, plan_outputs, sign_record
from provenance.errors import ProvenanceError, error_record
from verify_cli.exit_codes import ExitCode
from verify_cli.formats import FORMAT_METAVAR, Format, RecordWriter
from verify_cli.inputs import MEDIA_SUFFIXES, read_token_file
from verify_cli.keys import WM_KEY_ENV, wm_keys

__all__ = ["register"]


SIGN_COLUMNS = (
    "input",
    "output",
    "status",
    "media_type",
    "manifest",
    "alg",
    "signer",
    "timestamp",
    "error.message",
)
"""Columns of ``verify sign --format csv``."""


def _say(message: str) -> None:
    typer.echo(f"verify: {message}", err=True)


def _usage(message: str) -> typer.Exit:
    _say(message)
    return typer.Exit(ExitCode.USAGE)


def _internal_error(exc: BaseException, *, verbose: bool) -> typer.Exit:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    _say(
        error_record(exc).message
        + ("" if verbose else " (re-run with -v to see the traceback, and please report it)")
    )
    return typer.Exit(ExitCode.INTERNAL)


def _load_manifest(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    text = value
    origin = "--manifest"
    if not value.lstrip().startswith("{"):
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise _usage(
                f"--manifest: {path} does not exist (give a JSON file or inline JSON)"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise _usage(f"--manifest: cannot read {path}: {exc}") from None
        origin = f"--manifest {path}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _usage(f"{origin} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _usage(f"{origin} must be a JSON object (a manifest definition)")
    return data


def _signer(
    cert: Path,
    key: Path | None,
    signer_cmd: str | None,
    alg: str | None,
    tsa: str | None,
) -> Any:
    from provenance.credentials.certcheck import alg_for_key, load_certificates
    from provenance.credentials.sign import SignerSpec

    if key is not None and signer_cmd is not None:
        raise _usage("give --key or --signer-cmd, not both")
    if key is None and signer_cmd is None:
        raise _usage("give --key KEY.pem, or --signer-cmd CMD to sign with an external program")
    try:
        if key is not None:
            return SignerSpec.from_files(cert, key, alg=alg, tsa_url=tsa)
        assert signer_cmd is not None
        chosen = alg
        if chosen is None:
            try:
                chain = cert.read_bytes()
            except OSError:
                chain = b""
            if chain:
                chosen = alg_for_key(
                    load_certificates(chain, origin=f"certificate chain {cert}")[0].public_key()
                )
        return SignerSpec.from_command(signer_cmd, cert, alg=chosen or "es256", tsa_url=tsa)
    except ProvenanceError as exc:
        raise _usage(exc.message) from None


def _preflight(signer: Any, anchors_pem: bytes | None) -> set[str]:
    """Check the certificate once; exit 2 naming every problem. Returns the warnings."""
    from provenance.credentials.certcheck import CertificateError

    try:
        result = signer.preflight(trust_anchors_pem=anchors_pem)
    except CertificateError as exc:
        raise _usage(exc.message) from None
    for finding in result.errors:
        _say(f"certificate: {finding.message}")
    if result.errors:
        _say(
            f"{signer.source}: cannot sign with this certificate ({len(result.errors)} problem(s))"
        )
        raise typer.Exit(ExitCode.USAGE)
    for finding in result.warnings:
        _say(f"warning: {finding.message}")
    return {f.message for f in result.warnings}


def _anchors(paths: Sequence[Path]) -> bytes | None:
    from provenance.credentials.certcheck import load_certificates

    parts = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise _usage(f"--trust-anchors {path}: {exc.strerror or exc}") from None
        try:
            load_certificates(raw, origin=f"--trust-anchors {path}")
        except ProvenanceError as exc:
            raise _usage(exc.message) from None
        parts.append(raw)
    return b"\n".join(parts) if parts else None


def _progress(jobs: Sequence[SignJob]) -> Iterable[SignJob]:
    """Iterate with a Rich progress bar on stderr (terminals only, several files)."""
    if len(jobs) < 2:
        return jobs
    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True)
    return track(
        jobs,
        description="signing",
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _text_line(result: Any) -> str:
    facts = [result.alg]
    if result.timestamped:
        facts.append(f"timestamp {result.timestamp}")
    if result.history > 1:
        facts.append(f"history of {result.history} manifests, parent {result.parent}")
    return f"{result.path}: signed ({', '.join(facts)})"


def sign_command(
    ctx: typer.Context,
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Files or folders to sign.", metavar="IN", show_default=False),
    ],
    output: Annotated[
        str,
        typer.Option(
            "-o",
            "--output",
            help="Signed file (one input) or folder (several inputs, a folder, or a path "
            "ending with /).",
            metavar="OUT|OUTDIR",
            show_default=False,
        ),
    ],
    cert: Annotated[
        Path,
        typer.Option(
            "--cert",
            help="Certificate chain (PEM): signing certificate first, then intermediates.",
            metavar="CHAIN.pem",
            show_default=False,
        ),
    ],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Private key (PEM, unencrypted).", metavar="KEY.pem"),
    ] = None,
    signer_cmd: Annotated[
        str | None,
        typer.Option(
            "--signer-cmd",
            help="Sign with an external program instead of --key (KMS, HSM): it gets the "
            "bytes to sign on stdin and prints the raw signature on stdout.",
            metavar="CMD",
        ),
    ] = None,
    alg: Annotated[
        str | None,
        typer.Option(
            "--alg",
            help="es256, es384, es512, ps256, ps384, ps512 or ed25519 (default: from the key).",
        ),
    ] = None,
    tsa: Annotated[
        str | None,
        typer.Option(
            "--tsa",
            help="RFC 3161 time-stamping authority: keeps signatures valid after the "
            "certificate expires.",
            metavar="URL",
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="Title (default: file name).")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            help="What was done: created, edited, published, cropped, ... (default: created "
            "for files without credentials, else only 'opened').",
        ),
    ] = None,
    source_type: Annotated[
        str | None,
        typer.Option(
            "--source-type",
            help="Digital source type: digitalCapture, trainedAlgorithmicMedia, "
            "compositeWithTrainedAlgorithmicMedia, ... (needed for files without credentials).",
        ),
    ] = None,
    parent: Annotated[
        Path | None,
        typer.Option(
            "--parent",
            help="The file this one was made from (one input only). Default: the input "
            "itself when it already has credentials.",
            metavar="FILE",
        ),
    ] = None,
    author: Annotated[
        str | None, typer.Option("--author", help="Author name (schema.org CreativeWork).")
    ] = None,
    manifest: Annotated[
        str | None,
        typer.Option(
            "--manifest",
            help="Manifest definition to merge: a JSON file, or inline JSON.",
            metavar="JSON",
        ),
    ] = None,
    trust_anchors: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust-anchors",
            help="PEM anchors readers will use: the chain must lead to one, and ingredients "
            "are validated with them.",
            metavar="PEM",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            help="table: one line per signed file; json, jsonl, csv: one record per input.",
            case_sensitive=False,
            metavar=FORMAT_METAVAR,
        ),
    ] = Format.TABLE,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Error codes and details; tracebacks.")
    ] = False,
    watermark: Annotated[
        bool,
        typer.Option(
            "--watermark",
            help="Durable credentials: embed an invisible watermark carrying a new manifest "
            "identifier, record it (and a PDQ fingerprint) as soft bindings, and store the "
            "manifest in a repository (--repo or --repo-url).",
        ),
    ] = False,
    wm_key: Annotated[
        str | None,
        typer.Option(
            "--wm-key",
            help="Private watermark key (default: the public key, readable by anyone; "
            "env JINJJA_WM_KEY).",
            envvar=WM_KEY_ENV,
            metavar="KEY",
            show_envvar=False,
        ),
    ] = None,
    wm_key_file: Annotated[
        Path | None,
        typer.Option("--wm-key-file", help="Read the watermark key from FILE.", metavar="FILE"),
    ] = None,
    wm_profile: Annotated[
        str | None,
        typer.Option(
            "--wm-profile",
            help="Watermark profile for pictures: 'robust' (default) or 'subtle' (less "
            "visible in flat areas, weaker after heavy edits).",
            metavar="NAME",
        ),
    ] = None,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo", help="Manifest repository file (created when missing).", metavar="PATH"
        ),
    ] = None,
    repo_url: Annotated[
        str | None,
        typer.Option(
            "--repo-url",
            "--resolver",
            help="Soft Binding Resolution API 2.4 server that stores manifests and bindings "
            "(verify serve --allow-writes, or another); its receipt is kept as "
            "OUTPUT.receipt.json.",
            metavar="URL",
        ),
    ] = None,
    repo_token: Annotated[
        str | None,
        typer.Option(
            "--repo-token",
            help="Bearer token for --repo-url on the command line (visible in process "
            "listings: prefer JINJJA_SERVER_TOKEN or --repo-token-file).",
            envvar="JINJJA_SERVER_TOKEN",
            hidden=True,
        ),
    ] = None,
    repo_token_file: Annotated[
        Path | None,
        typer.Option(
            "--repo-token-file",
            help="File holding the bearer token for --repo-url. Or set JINJJA_SERVER_TOKEN.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """Sign pictures and videos with Content Credentials (C2PA).

    Writes new files, never in place; refuses to overwrite without --force. A file that
    already has credentials keeps its history (it becomes the parent). The certificate is
    checked first and every problem is named.

    Exit codes: 0 all signed; 2 usage error or unusable certificate/key; 3 some inputs
    failed (the others were signed); 4 internal error; 130 interrupted.
    """
    from provenance.credentials.sign import (  # lazy: c2pa and the signing code
        SignResult,
        action_label,
        sign_file,
        source_type_uri,
    )

    try:
        if action is not None:
            action_label(action)
        if source_type is not None:
            source_type_uri(source_type)
    except ProvenanceError as exc:
        raise _usage(exc.message) from None
    if author is not None and not author.strip():
        raise _usage("--author must not be empty")
    if parent is not None and (len(inputs) != 1 or inputs[0].is_dir()):
        raise _usage("--parent applies to exactly one input file")
    if parent is not None and not parent.is_file():
        raise _usage(f"--parent {parent} is not a file")
    user_manifest = _load_manifest(manifest)
    anchor_paths = tuple(trust_anchors or ())
    anchors_pem = _anchors(anchor_paths)
    signer = _signer(cert, key, signer_cmd, alg, tsa)
    cert_warnings = _preflight(signer, anchors_pem)
    if repo_token_file is not None:
        repo_token = read_token_file(repo_token_file, fail=_usage)
    from_env = getattr(ctx.get_parameter_source("wm_key"), "name", None) == "ENVIRONMENT"
    if not watermark and (wm_key_file is not None or (wm_key is not None and not from_env)):
        raise _usage("--wm-key needs --watermark")
    if wm_key is not None and wm_key_file is not None and not from_env:
        raise _usage("give --wm-key or --wm-key-file, not both")
    keys = wm_keys([wm_key] if wm_key is not None else None, [wm_key_file] if wm_key_file else None)
    key = keys[-1] if keys else None
    if wm_profile is not None and not watermark:
        raise _usage("--wm-profile needs --watermark")
    if wm_profile is not None and wm_profile not in watermark_lib.PROFILES:
        names = " or ".join(repr(p) for p in watermark_lib.PROFILES)
        raise _usage(f"--wm-profile: {wm_profile!r} is not {names}")
    publisher = _publisher(
        watermark, key.encode() if isinstance(key, str) else key, repo, repo_url, repo_token, parent
    )
    if publisher is not None and wm_profile is not None:
        publisher = functools.partial(publisher, wm_profile=wm_profile)
    try:
        jobs = plan_outputs(inputs, output, force=force, suffixes=MEDIA_SUFFIXES)
    except ProvenanceError as exc:
        raise _usage(exc.message) from None
    if not jobs:
        _say("no media files found in the given folders")
    signed = failed = 0
    # table: one line per signed file on stdout, problems on stderr; others: every record.
    table = fmt.canonical is Format.TABLE
    writer = RecordWriter(fmt, sys.stdout, columns=SIGN_COLUMNS, line=str)
    try:
        for job in _progress(jobs):
            if job.dst is None:
                failed += 1
                _say(f"{job.src}: {job.problem}")
                if not table:
                    writer.write(sign_record(job))
                continue
            try:
                job.dst.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                failed += 1
                _say(f"{job.src}: cannot create {job.dst.parent}: {exc.strerror or exc}")
                if not table:
                    writer.write(sign_record(job))
                continue
            try:
                outcome = (publisher or sign_file)(
                    job.src,
                    job.dst,
                    signer=signer,
                    title=title,
                    action=action,
                    source_type=source_type,
                    parent=parent,
                    author=author,
                    manifest=user_manifest,
                    force=force,
                    trust_anchors=anchor_paths,
                )
            except ProvenanceError as exc:
                failed += 1
                _say(f"{job.src}: {exc.diagnostics() if verbose else exc.message}")
                if not table:
                    writer.write(sign_record(job, error=exc))
                continue
            signed += 1
            result = outcome if isinstance(outcome, SignResult) else outcome.signed
            for warning in result.warnings:
                if warning not in cert_warnings:
                    _say(f"{job.src}: warning: {warning}")
            if table:
                typer.echo(_text_line(result) + _watermark_text(outcome))
            else:
                writer.write(sign_record(job, outcome))
    except KeyboardInterrupt:
        _say(f"interrupted after signing {signed} file(s)")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:  # a bug: one line, not a traceback
        raise _internal_error(exc, verbose=verbose) from None
    writer.finish()
    if len(jobs) > 1:
        total = signed + failed
        _say(f"signed {signed} of {total} file(s)" + (f"; {failed} failed" if failed else ""))
    raise typer.Exit(ExitCode.INPUT_ERROR if failed else ExitCode.OK)


# ---------------------------------------------------------- --watermark (soft binding)


def _publisher(
    watermark: bool,
    wm_key: bytes | None,
    repo: Path | None,
    repo_url: str | None,
    repo_token: str | None,
    parent: Path | None,
) -> Any:
    """With ``--watermark``: a ``sign_file``-like callable running the publish step."""
    if not watermark:
        for flag, value in (("--repo", repo), ("--repo-url", repo_url)):
            if value is not None:
                raise _usage(f"{flag} needs --watermark")
        return None
    if (repo is None) == (repo_url is None):
        raise _usage("--watermark needs a manifest repository: --repo PATH or --repo-url URL")
    if parent is not None:
        raise _usage("--parent cannot be combined with --watermark (the input is the parent)")
    from provenance.durable.client import ResolverClient
    from provenance.durable.publishing import publish
    from provenance.durable.repository import Repository

    repository = None
    try:
        if repo is not None:
            repository = Repository.open(repo, create=True)
        else:
            assert repo_url is not None
            ResolverClient(repo_url)
    except ProvenanceError as exc:
        raise _usage(exc.message) from None

    def run(src: Path, dst: Path, **kw: Any) -> Any:
        kw.pop("parent", None)
        done: Any = publish(
            src,
            dst,
            repository=repository,
            repo_url=repo_url,
            token=repo_token,
            wm_key=wm_key,
            **kw,
        )
        return done

    return run


def _watermark_text(outcome: Any) -> str:
    if getattr(outcome, "manifest_id", None) is None:  # signed only
        return ""
    where = outcome.repository
    if outcome.stored_as not in (None, outcome.manifest_id):
        where += f" as {outcome.stored_as}"
    receipt = f" (receipt {outcome.receipt.name})" if outcome.receipt is not None else ""
    return f"; watermark {outcome.manifest_id} stored in {where}{receipt}"


def register(app: typer.Typer) -> None:
    """Add ``verify sign`` to the application.

    Parameters
    ----------
    app
        The ``verify`` Typer application.
    """
    app.command(name="sign", no_args_is_help=True)(sign_command)
