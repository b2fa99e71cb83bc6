"""``verify watermark embed`` / ``verify watermark detect``: the invisible watermark.

Pictures are read and written by :mod:`provenance.media.imagefile` and videos by
:mod:`provenance.media.video` (the numeric core in :mod:`watermark` never touches files); this
module parses, renders and exits. ``embed`` keeps the ICC profile and EXIF, writes JPEG at
quality 95 unless told otherwise, never overwrites its input or an existing output without
``--force``, and writes through a temporary file renamed into place. ``detect`` prints one
record per input (``--format text|json|jsonl``); exit codes are in ``spec/exit-codes.md``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

import watermark
from provenance.media.imagefile import detection_record as record
from provenance.media.imagefile import unreadable_record as error_record
from verify_cli.exit_codes import ExitCode
from verify_cli.formats import FORMAT_METAVAR, Format, RecordWriter
from verify_cli.keys import WM_KEY_ENV, read_key_file, wm_keys

__all__ = ["register", "record"]


DETECT_COLUMNS = (
    "subject.path",
    "found",
    "payload_hex",
    "payload_text",
    "score",
    "p_value",
    "frames_used",
    "error.message",
)
"""Columns of ``watermark detect --format csv``."""


def _key(ctx: typer.Context, wm_key: str | None, wm_key_file: Path | None) -> bytes | str:
    """The one key of ``--wm-key``/``--wm-key-file``; a file wins over ``JINJJA_WM_KEY``."""
    source = ctx.get_parameter_source("wm_key")
    from_env = getattr(source, "name", None) == "ENVIRONMENT" and not ctx.params.get("old_key")
    if wm_key is not None and wm_key_file is not None and not from_env:
        raise typer.BadParameter(
            "give --wm-key or --wm-key-file, not both", param_hint="'--wm-key'"
        )
    if wm_key_file is not None:
        return read_key_file(wm_key_file)
    if wm_key is not None:
        keys = wm_keys([wm_key], None)
        return keys[0]
    return watermark.PUBLIC_KEY


def _refuse_credentials(path: Path) -> None:
    from provenance.media.imagefile import ImageFileError, refuse_credentials

    try:
        refuse_credentials(path)
    except ImageFileError as exc:
        sys.stderr.write(f"verify: {path}: {exc.message}\n")
        raise typer.Exit(ExitCode.USAGE) from None


def _payload(payload_hex: str | None, text: str | None) -> bytes:
    if (payload_hex is None) == (text is None):
        raise typer.BadParameter("give exactly one of --payload HEX or --text STR")
    if text is not None:
        data = text.encode("utf-8")
        if len(data) > 8:
            raise typer.BadParameter(
                f"--text is {len(data)} bytes in UTF-8; at most 8 fit", param_hint="'--text'"
            )
        return data
    assert payload_hex is not None
    digits = payload_hex.removeprefix("0x").removeprefix("0X")
    try:
        data = bytes.fromhex(digits)
    except ValueError:
        raise typer.BadParameter(
            f"{payload_hex!r} is not hexadecimal (e.g. 0123abcd)", param_hint="'--payload'"
        ) from None
    if len(data) > 8:
        raise typer.BadParameter(
            f"--payload is {len(data)} bytes; at most 8 (16 hex digits) fit",
            param_hint="'--payload'",
        )
    return data


def _fail(path: object, message: str) -> None:
    sys.stderr.write(f"verify: {path}: {message}\n")


def embed_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Picture or video to mark.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the result.")],
    payload: Annotated[
        str | None, typer.Option("--payload", help="Payload as hex, up to 16 digits.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Payload as text, up to 8 UTF-8 bytes.")
    ] = None,
    wm_key: Annotated[
        str | None,
        typer.Option(
            "--wm-key",
            envvar=WM_KEY_ENV,
            help=f"Marking key (default: the public key; env {WM_KEY_ENV}).",
            metavar="KEY",
            show_envvar=False,
        ),
    ] = None,
    wm_key_file: Annotated[
        Path | None,
        typer.Option("--wm-key-file", help="Read the key from FILE.", metavar="FILE"),
    ] = None,
    old_key: Annotated[str | None, typer.Option("--key", hidden=True)] = None,
    old_key_file: Annotated[Path | None, typer.Option("--key-file", hidden=True)] = None,
    psnr: Annotated[float, typer.Option("--psnr", help="Target PSNR in dB (20-60).")] = 40.0,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Pictures: 'robust' (default; survives chains of edits and small copies) or "
            "'subtle' (hidden in texture, less visible in flat skies, weaker after heavy edits).",
            metavar="NAME",
        ),
    ] = None,
    quality: Annotated[
        int | None,
        typer.Option("--quality", min=1, max=100, help="JPEG/WebP quality (default 95)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite OUT, even if it is the input.")
    ] = False,
    drop_credentials: Annotated[
        bool,
        typer.Option(
            "--drop-credentials",
            help="Mark a file that carries Content Credentials and write it without them "
            "(marking changes the pixels, so they would no longer match; 'verify sign "
            "--watermark' marks and signs anew instead).",
        ),
    ] = False,
    crf: Annotated[
        int | None,
        typer.Option("--crf", min=0, max=63, help="Video: encoder CRF (default 23, as ffmpeg's)."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset", help="Video: encoder preset, ultrafast..veryslow (default: medium)."
        ),
    ] = None,
) -> None:
    """Mark a picture or video with an invisible, robust watermark carrying up to 64 bits."""
    data = _payload(payload, text)
    k = _key(ctx, old_key or wm_key, old_key_file or wm_key_file)
    if not 20.0 <= psnr <= 60.0:
        raise typer.BadParameter("must be between 20 and 60 dB", param_hint="'--psnr'")
    if profile is not None and profile not in watermark.PROFILES:
        names = " or ".join(repr(p) for p in watermark.PROFILES)
        raise typer.BadParameter(f"{profile!r} is not {names}", param_hint="'--profile'")
    if output.exists() and not force:
        same = path.exists() and output.resolve() == path.resolve()
        what = "is the input" if same else "exists"
        raise typer.BadParameter(f"{output} {what}; add --force to overwrite", param_hint="'-o'")
    if output.is_dir():
        raise typer.BadParameter(f"{output} is a directory", param_hint="'-o'")
    if not output.parent.is_dir():
        raise typer.BadParameter(f"directory {output.parent} does not exist", param_hint="'-o'")
    from provenance.media.video import is_video

    if not drop_credentials:
        _refuse_credentials(path)
    if is_video(path):
        if quality is not None:
            raise typer.BadParameter("use --crf for videos", param_hint="'--quality'")
        if profile is not None:
            raise typer.BadParameter(
                "applies to pictures; videos use the video profile", param_hint="'--profile'"
            )
        _embed_video(path, output, data, k, psnr=psnr, crf=crf, preset=preset)
        return
    if crf is not None or preset is not None:
        raise typer.BadParameter(
            f"{path} is not a video; --crf and --preset apply to videos only",
            param_hint="'--crf'" if crf is not None else "'--preset'",
        )
    from provenance.media.imagefile import ImageFileError, embed_file

    try:
        result = embed_file(
            path,
            output,
            data,
            k,
            psnr=psnr,
            quality=quality,
            force=True,
            drop_credentials=True,
            profile=profile or watermark.DEFAULT_PROFILE,
        )
    except ImageFileError as exc:
        if exc.code == "unknown_output_format":
            raise typer.BadParameter(exc.message, param_hint="'-o'") from None
        _fail(path, exc.message)
        raise typer.Exit(ExitCode.INPUT_ERROR) from None
    except ValueError as exc:
        _fail(path, str(exc))
        raise typer.Exit(ExitCode.INPUT_ERROR) from None
    except OSError as exc:
        raise typer.BadParameter(f"cannot write {output}: {exc}", param_hint="'-o'") from None
    shown = data.hex() or "(empty)"
    sys.stdout.write(f"{output}: marked with payload {shown}, {result.psnr:.2f} dB\n")


def _text_line(rec: dict[str, Any]) -> str:
    path = rec["subject"]["path"]
    if "error" in rec:
        return f"{path}: could not be read: {rec['error']['message']}"
    if not rec["found"]:
        return f"{path}: no watermark (score {rec['score']:.1f}, p {rec['p_value']:.2g})"
    if rec["payload_hex"] is None:
        payload = "payload unreadable"
    elif rec["payload_text"] is not None:
        payload = f"payload {rec['payload_hex'] or '(empty)'} ({rec['payload_text']!r})"
    else:
        payload = f"payload {rec['payload_hex'] or '(empty)'}"
    return f"{path}: watermark found, {payload} (score {rec['score']:.1f}, p {rec['p_value']:.2g})"


def detect_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="Pictures or videos to inspect.", show_default=False)
    ],
    wm_key: Annotated[
        str | None,
        typer.Option(
            "--wm-key",
            envvar=WM_KEY_ENV,
            help=f"Key to look for (default: the public key; env {WM_KEY_ENV}).",
            metavar="KEY",
            show_envvar=False,
        ),
    ] = None,
    wm_key_file: Annotated[
        Path | None,
        typer.Option("--wm-key-file", help="Read the key from FILE.", metavar="FILE"),
    ] = None,
    old_key: Annotated[str | None, typer.Option("--key", hidden=True)] = None,
    old_key_file: Annotated[Path | None, typer.Option("--key-file", hidden=True)] = None,
    fmt: Annotated[
        Format,
        typer.Option(
            "--format", help="Output format.", case_sensitive=False, metavar=FORMAT_METAVAR
        ),
    ] = Format.TABLE,
    segment: Annotated[
        str | None,
        typer.Option("--segment", help="Video: only START-END seconds, e.g. 12-14 or 1:02-1:05."),
    ] = None,
) -> None:
    """Look for the watermark of a key in pictures or videos and read its payload."""
    k = _key(ctx, old_key or wm_key, old_key_file or wm_key_file)
    span = _segment(segment)
    writer = RecordWriter(fmt, sys.stdout, columns=DETECT_COLUMNS, line=_text_line)
    unreadable = 0
    missing = 0
    emit = writer.write

    def one(path: Path) -> None:
        nonlocal unreadable, missing
        from provenance.media.video import is_video

        if is_video(path):
            vrec = _detect_video(path, k, span)
            if isinstance(vrec, str):
                unreadable += 1
                emit(error_record(path, vrec))
            else:
                missing += not vrec["found"]
                emit(vrec)
            return
        if span is not None:
            unreadable += 1
            message = "not a video; --segment applies to videos only"
            _fail(path, message)
            emit(error_record(path, message))
            return
        from provenance.media.imagefile import ImageFileError, detect_file

        try:
            result = detect_file(path, k)
        except (ImageFileError, ValueError) as exc:
            message = exc.message if isinstance(exc, ImageFileError) else str(exc)
            unreadable += 1
            _fail(path, message)
            emit(error_record(path, message))
            return
        missing += not result.found
        emit(record(path, result))

    for path in _progress(paths):
        one(path)
    writer.finish()
    if unreadable:
        raise typer.Exit(ExitCode.INPUT_ERROR)
    if missing:
        raise typer.Exit(ExitCode.CONDITION_MET)


def _progress(paths: Sequence[Path]) -> Sequence[Path] | Any:
    """Iterate ``paths`` with a Rich progress bar on stderr when there are several of them."""
    if len(paths) < 2:
        return paths
    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True)
    return track(
        paths,
        description="detecting",
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _segment(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    from provenance.media.video import parse_segment

    try:
        return parse_segment(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--segment'") from None


def _detect_video(
    path: Path, key: bytes | str, span: tuple[float, float] | None
) -> dict[str, Any] | str:
    """Detect in one video; the record, or why it is unreadable (already said on stderr)."""
    from provenance.errors import ProvenanceError
    from provenance.media.video import detect_video

    try:
        result = detect_video(path, key, segment=span)
    except ProvenanceError as exc:
        message = exc.message.removeprefix(f"{path}: ")
        _fail(path, message)
        return message
    rec = record(path, result)
    rec["frames_used"] = result.frames_used
    rec["frames_analysed"] = result.frames_analysed
    if span is not None:
        rec["segment"] = [span[0], span[1]]
    return rec


def _embed_video(
    path: Path,
    output: Path,
    data: bytes,
    key: bytes | str,
    *,
    psnr: float,
    crf: int | None,
    preset: str | None,
) -> None:
    """``embed`` for a video: PyAV transcode with a Rich progress bar (frames per second)."""
    from provenance.errors import ProvenanceError
    from provenance.media.video import PRESETS, embed_video

    if preset is not None and preset not in PRESETS:
        raise typer.BadParameter(f"must be one of {', '.join(PRESETS)}", param_hint="'--preset'")
    if crf is not None and crf > 51 and output.suffix.lower() != ".webm":
        raise typer.BadParameter("must be 0-51 for H.264 (0-63 for .webm)", param_hint="'--crf'")
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Fps(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:5.1f} fps" if speed else "  ... fps")

    console = Console(stderr=True)
    bar = Progress(
        TextColumn("marking"),
        BarColumn(),
        MofNCompleteColumn(),
        _Fps(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task("marking", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = embed_video(
                path,
                output,
                data,
                key,
                psnr=psnr,
                crf=23 if crf is None else crf,
                preset=preset or "medium",
                progress=progress,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        except ProvenanceError as exc:
            _fail(path, exc.message.removeprefix(f"{path}: "))
            raise typer.Exit(ExitCode.INPUT_ERROR) from None
    shown = data.hex() or "(empty)"
    sys.stdout.write(
        f"{output}: marked {result.frames} frames with payload {shown}, "
        f"{result.psnr_min:.2f} dB (lowest measured), {result.codec}\n"
    )


def register(app: typer.Typer) -> None:
    """Add the ``watermark`` command group to ``app``."""
    group = typer.Typer(
        name="watermark",
        help="Mark pictures and videos with an invisible watermark, and read it back.",
        no_args_is_help=True,
    )
    group.command("embed")(embed_command)
    group.command("detect")(detect_command)
    app.add_typer(group, name="watermark")
