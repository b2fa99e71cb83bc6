"""Key handling and the keyed pseudo-random streams of the watermark format (spec section 2).

Every keyed quantity of the format is derived from the key with

``seed(key, label) = HMAC-SHA256(key, b"jinjja.watermark.v1/" + label)``

and expanded with ``SHAKE-256(seed)`` into a byte stream, read as little-endian unsigned
64-bit words. This is simple to reimplement in any language. :func:`generator` wraps the same
seed in a :class:`numpy.random.Generator` (PCG64) for callers that want numpy's samplers
(benchmarks, per-frame salts of a video embedder); the format itself never depends on numpy's
sampling algorithms.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
from numpy.typing import NDArray

__all__ = ["PUBLIC_KEY", "key_bytes", "seed", "stream_u64", "stream_bits", "generator"]

PUBLIC_KEY: bytes = b"jinjja.watermark.public-key.v1"
"""The published default key: anyone can detect (and, by design, forge) marks made with it."""

_DOMAIN = b"jinjja.watermark.v1/"


def key_bytes(key: bytes | str) -> bytes:
    """Return ``key`` as bytes (``str`` keys are UTF-8 encoded).

    Raises
    ------
    ValueError
        If ``key`` is neither ``bytes`` nor ``str``, or is empty.
    """
    if isinstance(key, str):
        raw = key.encode("utf-8")
    elif isinstance(key, bytes | bytearray | memoryview):
        raw = bytes(key)
    else:
        raise ValueError(f"key must be bytes or str, not {type(key).__name__}")
    if not raw:
        raise ValueError("key must not be empty")
    return raw


def seed(key: bytes | str, label: str) -> bytes:
    """Return the 32-byte seed ``HMAC-SHA256(key, b"jinjja.watermark.v1/" + label)``."""
    return hmac.new(key_bytes(key), _DOMAIN + label.encode("ascii"), hashlib.sha256).digest()


def stream_u64(key: bytes | str, label: str, n: int) -> NDArray[np.uint64]:
    """Return ``n`` keyed 64-bit words: ``SHAKE-256(seed(key, label))`` read little-endian."""
    data = hashlib.shake_256(seed(key, label)).digest(8 * n)
    return np.frombuffer(data, dtype="<u8").astype(np.uint64)


def stream_bits(key: bytes | str, label: str, n: int) -> NDArray[np.uint8]:
    """Return ``n`` keyed bits: the SHAKE-256 stream, most significant bit of each byte first."""
    data = hashlib.shake_256(seed(key, label)).digest((n + 7) // 8)
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:n]


def generator(key: bytes | str, label: str) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` (PCG64) seeded from ``seed(key, label)``.

    Examples
    --------
    >>> g = generator(b"k", "demo")
    >>> bool(g.integers(0, 10) == generator(b"k", "demo").integers(0, 10))
    True
    """
    return np.random.Generator(np.random.PCG64(int.from_bytes(seed(key, label), "big")))
