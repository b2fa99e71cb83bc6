"""The watermark key options shared by every command that reads or writes marks.

``--wm-key KEY`` (repeatable where several keys are tried) and ``--wm-key-file FILE`` take
the key; ``JINJJA_WM_KEY`` gives it from the environment, so it need not appear in ``ps``.
The picture commands' old spellings ``--key``/``--key-file`` stay as hidden aliases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["WM_KEY_ENV", "WmKeyFileOption", "read_key_file", "wm_keys"]

WM_KEY_ENV = "JINJJA_WM_KEY"

WmKeyFileOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--wm-key-file",
        help="Read a watermark key from FILE (one key per file; repeatable).",
        metavar="FILE",
        show_default=False,
    ),
]


def read_key_file(path: Path, *, flag: str = "--wm-key-file") -> bytes:
    """The key held in ``path``: its bytes without a trailing line break."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc.strerror or exc}", param_hint=f"'{flag}'"
        ) from None
    raw = raw.rstrip(b"\r\n")
    if not raw:
        raise typer.BadParameter(f"{path} is empty", param_hint=f"'{flag}'")
    return raw


def wm_keys(
    keys: list[str] | None,
    key_files: list[Path] | None,
    *,
    flag: str = "--wm-key",
) -> list[bytes | str]:
    """The keys given by ``--wm-key`` (or ``JINJJA_WM_KEY``) and ``--wm-key-file``, in order."""
    out: list[bytes | str] = []
    for key in keys or ():
        if not key:
            raise typer.BadParameter("the key must not be empty", param_hint=f"'{flag}'")
        out.append(key)
    out.extend(read_key_file(path) for path in key_files or ())
    return out
