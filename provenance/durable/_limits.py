"""Request limits of the resolver server: pixels per upload, concurrent decodes, field ranges.

Kept apart from the routes so that every route uses the same checks:

* an uploaded picture or video whose header declares more pixels than the server's limit
  (:data:`provenance.media.budget.SERVER_MAX_PIXELS`, ``verify serve --max-pixels``) gets
  413 before anything is decoded;
* at most :data:`DEFAULT_DECODES` uploads are decoded at once (:class:`DecodeGate`); the
  others wait their turn, so memory is bounded by the limit times the gate's width;
* numeric and text fields are ranged (:func:`check_int`, :func:`check_text`): a bad value
  is a 400, never a 500 from the database.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Final, TypeVar

from starlette.concurrency import run_in_threadpool

from provenance.errors import LimitError, ProvenanceError
from provenance.media import budget
from provenance.media.inspect import _bmff_video_size

__all__ = [
    "DEFAULT_DECODES",
    "MAX_DIMENSION",
    "MAX_TEXT",
    "DecodeGate",
    "LimitError",
    "check_facts",
    "check_int",
    "check_text",
    "log_disconnect",
    "refuse_large",
]

DEFAULT_DECODES: Final = budget.SERVER_DECODES
"""Uploads decoded at the same time (the others wait)."""
MAX_DIMENSION: Final = 1_000_000
"""Largest ``width``/``height`` a stored manifest's facts may name."""
MAX_TEXT: Final = 1024
"""Longest text field (``title``, ``mediaType``, hint values) in characters."""

_LOG = logging.getLogger("jinjja.server")
_T = TypeVar("_T")


def _declared(data: bytes, media_type: str) -> tuple[int, int] | None:
    if media_type.startswith("video/"):
        return _bmff_video_size(data)
    return budget.declared_size(data)


def refuse_large(data: bytes, media_type: str, max_pixels: int) -> None:
    """Refuse (413) an upload whose header declares more than ``max_pixels`` pixels.

    Raises
    ------
    LimitError
        413 ``too_large``.
    """
    size = _declared(data, media_type)
    if size is not None and size[0] * size[1] > max_pixels:
        raise LimitError(
            413,
            "too_large",
            f"the upload declares {size[0]}x{size[1]} pixels; this server decodes at most "
            f"{max_pixels:,}",
        )


def check_int(name: str, value: int | None, low: int, high: int) -> int | None:
    """``value`` when None or within ``low..high``; else a 400 naming the field."""
    if value is not None and not low <= value <= high:
        raise LimitError(400, f"bad_{name.lower()}", f"{name} must be {low}..{high}")
    return value


def check_text(name: str, value: str | None, longest: int = MAX_TEXT) -> str | None:
    """``value`` when None or at most ``longest`` characters without control characters."""
    if value is None:
        return None
    if len(value) > longest or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise LimitError(
            400,
            f"bad_{name.lower()}",
            f"{name} must be at most {longest} printable characters",
        )
    return value


_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")


def check_facts(
    *,
    mediaType: str | None,  # noqa: N803 - the API's field names
    title: str | None,
    sha256: str | None,
    width: int | None,
    height: int | None,
) -> None:
    """Range the optional facts of a stored manifest; a 400 naming the first bad one."""
    check_int("width", width, 1, MAX_DIMENSION)
    check_int("height", height, 1, MAX_DIMENSION)
    check_text("title", title)
    check_text("mediaType", mediaType, 255)
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise LimitError(400, "bad_sha256", "sha256 must be 64 hexadecimal digits")


def log_disconnect(path: str) -> None:
    """One log line for a client that went away while sending its request."""
    _LOG.warning("client disconnected while sending %s", path)


class DecodeGate:
    """At most ``width`` decodes at once, each under the server's pixel limit."""

    def __init__(self, width: int = DEFAULT_DECODES, max_pixels: int = budget.SERVER_MAX_PIXELS):
        if width < 1:
            raise ProvenanceError("the decode gate needs a width of at least 1", code="bad_config")
        self.width = width
        self.max_pixels = max_pixels
        self._semaphore: asyncio.Semaphore | None = None

    async def run(self, function: Callable[[], _T]) -> _T:
        """Run ``function`` in a worker thread once a decode slot is free."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.width)

        def limited() -> _T:
            with budget.pixel_limit(self.max_pixels):
                return function()

        async with self._semaphore:
            return await run_in_threadpool(limited)
