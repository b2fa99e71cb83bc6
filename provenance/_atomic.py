"""The one way the library writes a file: all of it or nothing, never a torn file.

The content goes to a temporary file in the target's directory, which is flushed to disk
(``fsync``), given the mode a new file would get (``0o666`` minus the umask), moved into
place and followed by an ``fsync`` of the directory so the rename itself survives a
crash. Any failure removes the temporary file. Without ``overwrite`` the move is a hard
link that refuses to clobber an existing file (:class:`FileExistsError`), with a
check-then-rename fallback on file systems without hard links.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_path", "atomic_write", "atomic_writer"]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not on every platform or file system
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _publish(tmp: Path, target: Path, *, overwrite: bool) -> None:
    """Move the finished temporary file into place."""
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network or FAT file systems)
        if target.exists():
            raise FileExistsError(17, "File exists", str(target)) from None
        os.replace(tmp, target)
        return
    tmp.unlink()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary path to write by name; moved onto ``target`` when the block succeeds.

    For writers that need a file name (video muxers, image encoders). The temporary file
    exists (empty) when the block starts.

    Parameters
    ----------
    target
        The file to produce.
    overwrite
        Replace an existing ``target``; else raise :class:`FileExistsError`.

    Yields
    ------
    Path
        The temporary file, in ``target``'s directory.

    Raises
    ------
    OSError
        When the directory is not writable, or moving into place fails.
    FileExistsError
        ``target`` exists and ``overwrite`` is false.
    """
    out = Path(target)
    # The temporary file ends with the target's suffix: some writers choose the format by it.
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=f".part{out.suffix}", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        mask = os.umask(0)
        os.umask(mask)
        tmp.chmod(0o666 & ~mask)
        _publish(tmp, out, overwrite=overwrite)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(out.parent)


@contextlib.contextmanager
def atomic_writer(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[BinaryIO]:
    """An open binary file (read-write) whose content replaces ``target`` on success.

    Parameters
    ----------
    target
        The file to produce.
    overwrite
        As for :func:`atomic_path`.

    Yields
    ------
    BinaryIO
        The temporary file, opened ``w+b``.
    """
    with atomic_path(target, overwrite=overwrite) as tmp, open(tmp, "w+b") as f:
        yield f
        f.flush()


def atomic_write(target: str | os.PathLike[str], data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to ``target`` atomically (see the module docstring).

    Parameters
    ----------
    target
        The file.
    data
        Its new content.
    overwrite
        As for :func:`atomic_path`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(path, b"hello")
    >>> path.read_bytes()
    b'hello'
    """
    with atomic_writer(target, overwrite=overwrite) as f:
        f.write(data)
