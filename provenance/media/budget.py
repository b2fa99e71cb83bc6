"""One decode budget for every reader of pixels: a pixel limit checked from the header,
reduced decodes, and one error for whatever a decoder raises.

Every command that decodes a picture or a video frame (``check`` and its options, bank
add/match, watermark detect/embed, durable publishing, the server) goes through
:func:`open_picture` / :func:`load_rgb` / :func:`decoding`, so that:

* a picture whose header declares more than the pixel limit is refused **before** any
  pixel is decoded (:data:`DEFAULT_MAX_PIXELS`, ``--max-pixels``; the server's own default
  is :data:`SERVER_MAX_PIXELS`);
* where a reduced picture is enough (PDQ, thumbnails, the watermark reader of recovery and
  the server) JPEG is decoded at a reduced DCT scale (Pillow ``draft``) and other formats
  are reduced right after decoding; generator marks and ``watermark detect``/``embed``
  need the full resolution;
* every exception a decoder can raise (``RuntimeError`` from AVIF/HEIF, ``OSError``,
  ``SyntaxError``, ``struct.error``, ``ValueError``, ``EOFError``, ``zlib.error``, PyAV
  errors, libtiff failures, ``Image.DecompressionBombError``) becomes one
  :class:`DecodeError` with a one-line message;
* library warnings (Pillow, libtiff, PyAV) are collected into a list of notes instead of
  reaching stderr.

Peak memory per file is at most about :data:`BYTES_PER_PIXEL` bytes per declared pixel
(the heaviest reader, the watermark detector, on a full-resolution picture) plus the file's
own bytes, so :data:`DEFAULT_MAX_PIXELS` bounds it to about 1.3 GiB; reduced decodes
(PDQ, thumbnails) keep at most :data:`REDUCED_SIDE` pixels on a side after decoding.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import sys
import tempfile
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from provenance.errors import DecodeError, ProvenanceError

__all__ = [
    "ANALYSIS_SIDE",
    "BYTES_PER_PIXEL",
    "DEFAULT_MAX_PIXELS",
    "REDUCED_SIDE",
    "SERVER_DECODES",
    "SERVER_MAX_PIXELS",
    "DecodeError",
    "analysis_factor",
    "check_pixels",
    "collecting",
    "decoding",
    "declared_size",
    "load_rgb",
    "max_pixels",
    "native_messages",
    "open_header",
    "open_picture",
    "peak_bytes",
    "pixel_limit",
]

DEFAULT_MAX_PIXELS: Final = 50_000_000
"""Pictures (and video frames) declaring more pixels than this are refused before decoding
(``too_large``); ``--max-pixels`` overrides it. The CLI, the library and the server share it."""
SERVER_MAX_PIXELS: Final = DEFAULT_MAX_PIXELS
"""The server's default per-request limit (``verify serve --max-pixels``): the same number."""
SERVER_DECODES: Final = 2
"""Uploads the server decodes at the same time (``verify serve --max-decodes``)."""
REDUCED_SIDE: Final = 1024
"""Longest side kept by the reduced decode for PDQ hashing (PDQ itself works at 512)."""
ANALYSIS_SIDE: Final = 1024
"""Shorter side kept when reading a picture for the watermark (see :func:`analysis_factor`)."""
BYTES_PER_PIXEL: Final = 28
"""Peak bytes per declared pixel of the heaviest full-resolution reader (the watermark
detector: 24 B/px measured, plus the RGB copy); 50 M pixels -> about 1.3 GiB."""
_CODECS_AVAILABLE: Final = ("RGB", "RGBA", "L", "LA", "P", "I;16", "I", "F", "1", "CMYK")
_NATIVE_FORMATS: Final = frozenset({"TIFF", "MIC"})
"""Pillow formats decoded by a C library that prints on stderr itself (libtiff)."""
_NATIVE_LOCK = threading.Lock()
_MAX_NOTE_BYTES: Final = 16 * 1024
_MAX_NOTES: Final = 20
_SINK: ContextVar[list[str] | None] = ContextVar("jinjja_decode_notes", default=None)
"""Where notes go when the caller gave no list: the innermost :func:`collecting`."""


_LIMIT: ContextVar[int] = ContextVar("jinjja_max_pixels", default=DEFAULT_MAX_PIXELS)


def max_pixels() -> int:
    """The pixel limit in force: the innermost :func:`pixel_limit`, else the default."""
    return _LIMIT.get()


@contextmanager
def pixel_limit(limit: int | None) -> Iterator[int]:
    """Set the pixel limit for every decode inside (``--max-pixels``); None keeps it."""
    if limit is None:
        yield _LIMIT.get()
        return
    if limit < 1:
        raise ValueError(f"the pixel limit must be at least 1, not {limit}")
    token = _LIMIT.set(limit)
    try:
        yield limit
    finally:
        _LIMIT.reset(token)


def _note(notes: list[str] | None, text: str) -> None:
    target = notes if notes is not None else _SINK.get()
    if target is not None and text not in target and len(target) < _MAX_NOTES:
        target.append(text)


class _NotesHandler(logging.Handler):
    """Log records of the decoders (Pillow's ``PIL`` logger, PyAV's ``libav``) become notes.

    Having a handler also keeps Python's last-resort handler from printing them raw on
    stderr when the application configured no logging.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage().strip().splitlines()
        except Exception:  # a malformed log call must not break a decode
            return
        if text:
            _note(None, f"decoder {record.levelname.lower()}: {text[0]}")


for _name in ("PIL", "libav"):
    logging.getLogger(_name).addHandler(_NotesHandler(logging.WARNING))


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect every decoder warning and native message raised inside, as one list of notes.

    Python warnings raised anywhere inside (Pillow, PyAV, numpy) are caught too, so that
    none reaches stderr raw. Used around one file's whole check.
    """
    notes: list[str] = []
    token = _SINK.set(notes)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield notes
            for message in caught:
                _note(notes, _warning_note(message))
    finally:
        _SINK.reset(token)


def peak_bytes(pixels: int) -> int:
    """Expected peak memory of one full decode of a picture with ``pixels`` pixels.

    >>> peak_bytes(1_000_000)
    28000000
    """
    return BYTES_PER_PIXEL * max(0, pixels)


def check_pixels(width: int, height: int, limit: int | None = None) -> None:
    """Refuse an empty picture or one over ``limit`` (default :func:`max_pixels`).

    Raises
    ------
    DecodeError
        ``corrupt`` for an empty size, ``too_large`` over the limit.
    """
    if width <= 0 or height <= 0:
        raise DecodeError(f"the picture declares an empty size ({width}x{height})")
    limit = _LIMIT.get() if limit is None else limit
    if width * height > limit:
        raise DecodeError(
            f"the picture declares {width}x{height} pixels (over the limit of "
            f"{limit:,}); refused before decoding as a possible decompression bomb",
            code="too_large",
        )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _warning_note(message: warnings.WarningMessage) -> str:
    text = str(message.message).strip().splitlines()
    return f"decoder warning: {text[0] if text else message.category.__name__}"


@contextmanager
def decoding(what: str = "picture", notes: list[str] | None = None) -> Iterator[None]:
    """Run a decoder: its warnings go to ``notes``, its exceptions become :class:`DecodeError`.

    Parameters
    ----------
    what
        What is being decoded, for the message (``picture``, ``video``).
    notes
        Where warnings go (one line each, duplicates dropped); when None, to the
        innermost :func:`collecting` (dropped outside one).

    Raises
    ------
    DecodeError
        In place of any exception the decoder raised (a :class:`ProvenanceError` passes
        through unchanged).
    """
    # Pillow on first decode (start-up cost of every command)
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except ProvenanceError:
            raise
        except Image.DecompressionBombError as exc:
            raise DecodeError(
                f"the {what} was refused as a possible decompression bomb ({exc})",
                code="too_large",
            ) from None
        except UnidentifiedImageError:
            raise DecodeError(
                f"not a {what} format that can be decoded", code="unsupported_format"
            ) from None
        except MemoryError:
            raise DecodeError(f"the {what} needs more memory than is available") from None
        except (
            RuntimeError,
            OSError,
            SyntaxError,
            struct.error,
            ValueError,
            EOFError,
            zlib.error,
            LookupError,
            TypeError,
            ArithmeticError,
            AssertionError,
        ) as exc:
            raise DecodeError(f"the {what} could not be decoded ({_describe(exc)})") from None
        except Exception as exc:  # PyAV's FFmpegError family and other plugin errors
            raise DecodeError(f"the {what} could not be decoded ({_describe(exc)})") from None
        finally:
            for message in caught:
                _note(notes, _warning_note(message))


@contextmanager
def native_messages(notes: list[str] | None) -> Iterator[None]:
    """Collect what C libraries (libtiff) print on file descriptor 2 into ``notes``.

    File descriptor 2 is pointed at a temporary file for the duration (one caller at a
    time); its lines become ``decoder message: ...`` notes (dropped when ``notes`` is None).
    """
    with _NATIVE_LOCK, tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable stderr: nothing to protect
            yield
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(_MAX_NOTE_BYTES).decode("utf-8", errors="replace")
            for line in text.splitlines():
                if line.strip() and "\x1b" not in line:
                    _note(notes, f"decoder message: {line.strip()}")


def open_header(data: bytes) -> Any:
    """``Image.open`` without Pillow's own process-wide bomb limit (ours is checked next).

    Pillow refuses pictures over twice ``Image.MAX_IMAGE_PIXELS`` inside ``Image.open``,
    with a message naming neither the size nor our limit; the plugin that recognised the
    header is then called directly, as ``Image.open`` does, to read the declared size.
    """
    from PIL import Image  # Pillow on first decode (start-up cost)

    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        Image.init()
        for ident in Image.ID:
            factory, accept = Image.OPEN[ident]
            if accept is None or accept(data[:16]):
                try:
                    return factory(io.BytesIO(data), "")
                except (SyntaxError, IndexError, TypeError, struct.error, OSError, ValueError):
                    continue
        raise


def declared_size(data: bytes) -> tuple[int, int] | None:
    """Width and height a picture's header declares (nothing decoded); None if not a picture."""
    with decoding():
        try:
            with open_header(data) as im:
                return int(im.width), int(im.height)
        except Exception:  # not a picture Pillow knows, or a damaged header
            return None


def analysis_factor(width: int, height: int, min_short_side: int = ANALYSIS_SIDE) -> int:
    """The largest power of two that keeps the shorter side at least ``min_short_side``.

    The watermark detector block-averages its input by a power of two itself
    (``spec/watermark.md``), so reading a picture reduced by this factor gives it the same
    analysis image at a fraction of the memory.

    >>> analysis_factor(8000, 6000), analysis_factor(1000, 800), analysis_factor(4096, 2048)
    (4, 1, 2)
    """
    factor = 1
    while min(width, height) // (factor * 2) >= min_short_side:
        factor *= 2
    return factor


def open_picture(
    data: bytes,
    *,
    limit: int | None = None,
    max_side: int | None = None,
    min_short_side: int | None = None,
    notes: list[str] | None = None,
) -> Any:
    """Open and decode a picture within the budget; returns a loaded ``PIL.Image.Image``.

    Parameters
    ----------
    data
        The encoded picture.
    limit
        Refuse pictures whose header declares more pixels (checked before decoding);
        default :func:`max_pixels`.
    max_side
        Reduce to at most this many pixels on a side: JPEG at the DCT scale while
        decoding, other formats right after.
    min_short_side
        Reduce by :func:`analysis_factor` (a power of two keeping the shorter side at
        least this long), the same ways.
    notes
        Where decoder warnings go.

    Raises
    ------
    DecodeError
        ``too_large``, ``unsupported_format`` or ``corrupt``.
    """

    if not data:
        raise DecodeError("the file is empty", code="empty_file")
    with decoding("picture", notes):
        im: Any = open_header(data)
        check_pixels(int(im.width), int(im.height), limit)
        if min_short_side is not None:
            factor = analysis_factor(int(im.width), int(im.height), min_short_side)
            max_side = -(-max(im.size) // factor) if factor > 1 else max_side
        if max_side is not None and im.format == "JPEG":
            im.draft("RGB", (max_side, max_side))
        with native_messages(notes) if im.format in _NATIVE_FORMATS else nullcontext():
            im.load()
        if max_side is not None and max(im.size) > max_side:
            factor = max(1, max(im.size) // max_side)
            if factor > 1 and im.mode in _CODECS_AVAILABLE:
                im = im.reduce(factor)
        return im


def load_rgb(
    data: bytes,
    *,
    limit: int | None = None,
    max_side: int | None = None,
    min_short_side: int | None = None,
    notes: list[str] | None = None,
) -> npt.NDArray[np.uint8]:
    """Decode a picture to ``uint8 (H, W, 3)`` RGB within the budget (orientation as stored).

    With ``max_side`` the result has at most ``max_side`` pixels on a side; with
    ``min_short_side`` it is reduced by :func:`analysis_factor`.

    Raises
    ------
    DecodeError
        As :func:`open_picture`.
    """
    from PIL import Image  # Pillow on first decode (start-up cost)

    im = open_picture(
        data, limit=limit, max_side=max_side, min_short_side=min_short_side, notes=notes
    )
    with decoding("picture", notes):
        rgb = im.convert("RGB")
        if max_side is not None:
            rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8).copy()
