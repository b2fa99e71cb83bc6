"""Turn the ``PATH...`` arguments of ``verify check`` into an ordered list of inputs.

Rules (documented in ``spec/exit-codes.md`` and ``verify check --help``):

* A file named on the command line is always checked, whatever its name or extension
  (hidden files too): the library decides from the content whether it can read it.
* A directory is an error without ``-r/--recursive``. With it, the directory is walked
  depth-first in sorted order (by name, byte-wise), so the output order is deterministic.
* While walking, hidden entries (names starting with ``.``) are skipped, and only files
  whose extension is a picture, video, audio or PDF format the C2PA SDK reads are
  checked (as ExifTool does with ``-r``). Name a file explicitly to check it anyway.
* Symbolic links are followed, but every directory is entered at most once (by its
  resolved path), so symlink loops end.
* A path that does not exist, or a directory without ``-r``, is passed on so that it gets
  an error record like any other bad input.
* ``--from-file LIST`` adds one path per line (``\n`` or ``\r\n``; blank lines
  skipped), or NUL-separated paths when the list contains a NUL byte (``find -print0``).
  They follow the command-line paths and obey the same rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer

__all__ = ["MEDIA_SUFFIXES", "Input", "expand_inputs", "read_path_list", "read_token_file"]

MEDIA_SUFFIXES: frozenset[str] = frozenset(
    {
        # pictures
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".webp",
        ".gif",
        ".tif",
        ".tiff",
        ".heic",
        ".heif",
        ".avif",
        ".jxl",
        ".dng",
        ".arw",
        ".nef",
        ".svg",
        # video
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        # audio
        ".mp3",
        ".m4a",
        ".wav",
        ".flac",
        # documents
        ".pdf",
    }
)
"""Extensions picked up while walking a directory with ``--recursive`` (lowercase)."""


@dataclass(frozen=True)
class Input:
    """One input to check, in output order."""

    path: Path
    """The path as given or as found while walking (absolute, symlinks not resolved)."""
    hint: str | None = None
    """Advice for the diagnostic line when the path cannot be checked (a broken symbolic
    link: the library only sees a missing file)."""


def _absolute(path: Path) -> Path:
    # Absolute without resolving symlinks: the report shows the path the user knows.
    return Path(os.path.abspath(path))


def _walk(directory: Path, seen: set[Path]) -> Iterator[Input]:
    try:
        real = directory.resolve()
    except OSError:
        return
    if real in seen:
        return
    seen.add(real)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: os.fsencode(e.name))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            continue
        if is_dir:
            yield from _walk(path, seen)
        elif path.suffix.lower() in MEDIA_SUFFIXES:
            yield Input(_absolute(path))


def expand_inputs(paths: Sequence[Path], *, recursive: bool) -> Iterator[Input]:
    """Expand command-line paths into inputs, in a deterministic order.

    Parameters
    ----------
    paths
        The ``PATH...`` arguments, in the order given.
    recursive
        Walk directories (``-r``). Without it a directory is passed on as it is (the
        library reports it as an error).

    Yields
    ------
    Input
        One item per named file, per file found while walking, and per argument that
        cannot be checked (missing paths, directories without ``-r``) so that it gets
        an error record too.
    """
    seen: set[Path] = set()
    for raw in paths:
        path = _absolute(raw)
        if path.is_dir():
            if recursive:
                yield from _walk(path, seen)
            else:
                yield Input(path)
        elif not path.exists() and path.is_symlink():
            yield Input(path, "it is a broken symbolic link")
        else:
            yield Input(path)


def read_path_list(data: bytes) -> list[Path]:
    r"""Parse the content of a ``--from-file`` list.

    Parameters
    ----------
    data
        The list's bytes: one path per line, or NUL-separated when it contains a NUL
        byte. Bytes are decoded as the file system does (``os.fsdecode``), so any path
        can be listed.

    Returns
    -------
    list of Path
        The paths in list order; blank lines are skipped. A line's leading and
        trailing spaces are kept (they can be part of a file name).

    Examples
    --------
    >>> read_path_list(b"a.jpg\r\n\nb c.png\n")
    [PosixPath('a.jpg'), PosixPath('b c.png')]
    >>> read_path_list(b"x\ny.jpg\0z.jpg\0")
    [PosixPath('x\ny.jpg'), PosixPath('z.jpg')]
    """
    nul = b"\0" in data
    out: list[Path] = []
    for raw in data.split(b"\0" if nul else b"\n"):
        entry = raw if nul else raw.removesuffix(b"\r")
        if not entry.strip():
            continue
        out.append(Path(os.fsdecode(entry)))
    return out


def read_token_file(path: Path, *, fail: Callable[[str], typer.Exit]) -> str:
    """The token in a file: its first line, stripped; a usage error when unreadable or empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise fail(f"{path}: cannot read the token file: {reason}") from None
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        raise fail(f"{path}: the token file is empty")
    return lines[0].strip()
