"""PDQ perceptual hashes of pictures and video frames, with the 8 rotations/flips.

PDQ (Meta, 256 bits) survives recompression, rescaling and tone changes, not crops,
small rotations, borders or overlays (numbers in ``spec/bank.md``). Hashes come from the
``pdqhash`` package (Meta's C++ code); a hash is written as 64 lowercase hex digits,
bit 0 of the ``pdqhash`` bit vector being the most significant bit of the first digit,
which is how ThreatExchange, HMA and StopNCII write it.

Pixel path (stated because PDQ implementations drift by a few bits on it): the picture
is decoded with Pillow, EXIF orientation is applied, it is converted to 8-bit RGB, and
a picture larger than :data:`DOWNSAMPLE` pixels on a side is first reduced to
``DOWNSAMPLE x DOWNSAMPLE`` (aspect ratio not kept, like the C++ reference tool, with
Pillow's antialiasing bilinear filter; JPEGs use DCT-domain draft decoding first). The
same path is applied to arrays, so an array and its encoded file hash alike.

The 8 dihedral variants are the hashes of the query transformed by each element of
:class:`Variant` (``pdqhash.compute_dihedral``). Matching every variant against a bank
finds rotated and mirrored copies; a plain lookup never does.

Video needs PyAV (extra ``video``), imported only when a video is hashed.
"""

from __future__ import annotations

import enum
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pdqhash
from PIL import Image, ImageOps

from provenance.errors import InputFileError, PdqError
from provenance.media import budget

__all__ = [
    "DOWNSAMPLE",
    "QUALITY_THRESHOLD",
    "FrameHash",
    "Hashed",
    "NotHashable",
    "PdqError",
    "PdqHash",
    "PdqResult",
    "Variant",
    "VideoHashes",
    "hash_array",
    "hash_bytes",
    "hash_file",
    "hash_video",
    "parse_hex",
]

QUALITY_THRESHOLD: Final = 50
"""Hashes with a quality below this are "not hashable" (ThreatExchange, ``pdq/README.md``)."""

DOWNSAMPLE: Final = 512
"""Pictures larger than this on a side are reduced to a square of this size first."""

HEX_DIGITS: Final = 64
"""Length of a PDQ hash in hex."""


class Variant(enum.StrEnum):
    """A rotation or flip applied to the query picture before hashing.

    Order and meaning follow ``pdqhash.compute_dihedral``. Rotations are counter-clockwise
    (as :func:`numpy.rot90`): a query that was rotated 90° clockwise matches its original
    through ``ROT90``.
    """

    IDENTITY = "identity"
    """The picture as it is."""
    ROT90 = "rot90"
    """Rotated 90° counter-clockwise."""
    ROT180 = "rot180"
    """Rotated 180°."""
    ROT270 = "rot270"
    """Rotated 270° counter-clockwise (90° clockwise)."""
    FLIP_V = "flip_v"
    """Mirrored top to bottom."""
    FLIP_H = "flip_h"
    """Mirrored left to right."""
    TRANSPOSE = "transpose"
    """Mirrored about the main diagonal."""
    TRANSVERSE = "transverse"
    """Mirrored about the anti-diagonal."""


VARIANTS: Final = tuple(Variant)
"""The 8 variants in ``pdqhash.compute_dihedral`` order."""


@dataclass(frozen=True)
class PdqHash:
    """One 256-bit PDQ hash and its quality."""

    digest: bytes
    """The 32 bytes of the hash (bit 0 is the most significant bit of byte 0)."""
    quality: int | None
    """PDQ quality 0-100 (how much structure the picture has); None when unknown."""

    def __post_init__(self) -> None:
        if len(self.digest) != HEX_DIGITS // 2:
            raise ValueError(f"a PDQ hash has 32 bytes, got {len(self.digest)}")

    @property
    def hex(self) -> str:
        """The hash as 64 lowercase hex digits."""
        return self.digest.hex()

    @property
    def hashable(self) -> bool:
        """False when the quality is known and below :data:`QUALITY_THRESHOLD`."""
        return self.quality is None or self.quality >= QUALITY_THRESHOLD

    def distance(self, other: PdqHash) -> int:
        """Return the Hamming distance (0-256) to another hash.

        Parameters
        ----------
        other
            The hash to compare with.

        Returns
        -------
        int
            Number of differing bits.

        Examples
        --------
        >>> a = parse_hex("0" * 64)
        >>> b = parse_hex("f" + "0" * 63)
        >>> a.distance(b)
        4
        """
        x = int.from_bytes(self.digest, "big") ^ int.from_bytes(other.digest, "big")
        return x.bit_count()


@dataclass(frozen=True)
class Hashed:
    """A picture that was hashed, with its 8 dihedral variants."""

    hash: PdqHash
    """Hash of the picture as it is (``variants[0]``)."""
    variants: tuple[PdqHash, ...]
    """Hashes of the 8 variants, in :class:`Variant` order."""

    @property
    def quality(self) -> int:
        """PDQ quality of the picture (0-100)."""
        return self.hash.quality if self.hash.quality is not None else 100


@dataclass(frozen=True)
class NotHashable:
    """A picture decoded fine but has too little structure for a reliable PDQ hash."""

    quality: int
    """PDQ quality, below :data:`QUALITY_THRESHOLD`."""
    hash: PdqHash
    """The unreliable hash, for the record; never matched."""

    @property
    def reason(self) -> str:
        """A plain sentence saying why."""
        return (
            f"not hashable: PDQ quality {self.quality} is below {QUALITY_THRESHOLD} "
            "(too flat or featureless to match reliably)"
        )


PdqResult = Hashed | NotHashable
"""What hashing a picture gives."""


@dataclass(frozen=True)
class FrameHash:
    """The PDQ hash of one sampled video frame."""

    time: float
    """Presentation time of the frame, in seconds."""
    result: PdqResult
    """The frame's hash (or why it is not hashable)."""


@dataclass(frozen=True)
class VideoHashes:
    """Frame-sampled PDQ hashes of a video."""

    frames: tuple[FrameHash, ...]
    """Sampled frames in time order."""
    fps: float
    """Sampling rate asked for (frames per second)."""

    @property
    def hashable(self) -> tuple[FrameHash, ...]:
        """The frames whose hash is reliable enough to match."""
        return tuple(f for f in self.frames if isinstance(f.result, Hashed))


def parse_hex(text: str, *, quality: int | None = None) -> PdqHash:
    """Parse a PDQ hash written as 64 hex digits.

    Parameters
    ----------
    text
        The hash; surrounding spaces are ignored, upper case is accepted.
    quality
        Its quality, when known.

    Returns
    -------
    PdqHash
        The parsed hash.

    Raises
    ------
    PdqError
        When the text is not 64 hex digits.

    Examples
    --------
    >>> parse_hex("F" * 64).hex == "f" * 64
    True
    """
    s = text.strip()
    if len(s) != HEX_DIGITS:
        raise PdqError(f"a PDQ hash has 64 hex digits, got {len(s)}", code="bad_hash")
    try:
        digest = bytes.fromhex(s)
    except ValueError:
        raise PdqError("a PDQ hash has only hex digits 0-9 a-f", code="bad_hash") from None
    if len(digest) != HEX_DIGITS // 2:  # fromhex skips inner spaces
        raise PdqError("a PDQ hash has only hex digits 0-9 a-f", code="bad_hash")
    return PdqHash(digest, quality)


def _to_rgb_array(image: Any) -> npt.NDArray[np.uint8]:
    """Pillow image -> RGB uint8 array, downsampled like the reference tool."""

    if image.mode.startswith(("I", "F")):
        # 16/32-bit integer or float greyscale: Pillow's own conversion clips at 255.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if image.mode == "F" and values.max(initial=0) <= 1.0:
            top = 1.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, mode="L")
    if image.mode != "RGB":
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            # Composite over white so transparent areas hash as a viewer shows them.
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        image = image.convert("RGB")
    if max(image.size) > DOWNSAMPLE:
        image = image.resize((DOWNSAMPLE, DOWNSAMPLE), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def _normalise_array(array: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """Validate an array and bring it to contiguous (H, W, 3) uint8 at most 512 px."""

    a = np.asarray(array)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        alpha = a[:, :, 3:4].astype(np.float64) / (255.0 if a.dtype == np.uint8 else 1.0)
        white = 255.0 if a.dtype == np.uint8 else 1.0
        a = (a[:, :, :3] * alpha + white * (1.0 - alpha)).astype(a.dtype)
    elif not (a.ndim == 3 and a.shape[2] == 3):
        raise PdqError(
            f"expected a picture of shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}",
            code="bad_array",
        )
    if a.shape[0] < 2 or a.shape[1] < 2:
        raise PdqError(f"picture too small to hash: {a.shape[1]}x{a.shape[0]}", code="bad_array")
    if a.dtype == np.uint8:
        rgb = a
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise PdqError("picture has NaN or infinite values", code="bad_array")
        rgb = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        if a.dtype == np.bool_:
            rgb = a.astype(np.uint8) * np.uint8(255)
        else:
            rgb = np.clip(a, 0, 255).astype(np.uint8)
    else:
        raise PdqError(f"unsupported pixel type {a.dtype}", code="bad_array")
    if max(rgb.shape[:2]) > DOWNSAMPLE:
        rgb = _to_rgb_array(Image.fromarray(np.ascontiguousarray(rgb), mode="RGB"))
    return np.ascontiguousarray(rgb)


def _hash_rgb(rgb: npt.NDArray[np.uint8]) -> PdqResult:

    vectors, quality = pdqhash.compute_dihedral(rgb)
    q = int(quality)
    bits = np.asarray(vectors, dtype=np.uint8).reshape(8, 256)
    packed = np.packbits(bits, axis=1)
    variants = tuple(PdqHash(bytes(row), q) for row in packed)
    if q < QUALITY_THRESHOLD:
        return NotHashable(quality=q, hash=variants[0])
    return Hashed(hash=variants[0], variants=variants)


def hash_array(array: npt.ArrayLike) -> PdqResult:
    """Hash a decoded picture and its 8 rotations/flips.

    Parameters
    ----------
    array
        Pixels as ``(H, W)``, ``(H, W, 3)`` (RGB) or ``(H, W, 4)`` (RGBA). ``uint8``
        values are 0-255; floats are 0-1 (scikit-image convention).

    Returns
    -------
    Hashed | NotHashable
        The hashes, or :class:`NotHashable` when the quality is below 50.

    Raises
    ------
    PdqError
        When the array is not a picture.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> result = hash_array(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    >>> isinstance(result, Hashed), len(result.variants)
    (True, 8)
    >>> isinstance(hash_array(np.zeros((64, 64), np.uint8)), NotHashable)
    True
    """
    return _hash_rgb(_normalise_array(array))


def _open_picture(data: bytes) -> Any:
    """Decode within the decode budget, reduced to about twice the hashing size."""

    try:
        image = budget.open_picture(data, max_side=budget.REDUCED_SIDE)
        with budget.decoding("picture"):
            return ImageOps.exif_transpose(image)
    except budget.DecodeError as exc:
        code = "unsupported_format" if exc.code == "unsupported_format" else exc.code
        raise PdqError(f"the picture could not be read: {exc.message}", code=code) from None


def hash_bytes(data: bytes) -> PdqResult:
    """Hash an encoded picture (JPEG, PNG, WebP, ...).

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    Hashed | NotHashable
        See :func:`hash_array`.

    Raises
    ------
    PdqError
        When the bytes are empty or not a decodable picture.
    """
    if not data:
        raise PdqError("the file is empty", code="empty_file")
    return _hash_rgb(_to_rgb_array(_open_picture(data)))


def read_input(path: str | Path) -> bytes:
    """A picture or video file's bytes; :class:`InputFileError` when it cannot be read."""
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"no such file: {p}", code="not_found") from None
    except IsADirectoryError:
        raise InputFileError(f"is a directory: {p}", code="is_directory") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {p}: {exc.strerror or exc}") from None


def hash_file(path: str | Path) -> PdqResult:
    """Hash a picture file.

    Parameters
    ----------
    path
        Path of the picture.

    Returns
    -------
    Hashed | NotHashable
        See :func:`hash_array`.

    Raises
    ------
    InputFileError
        When the file cannot be read.
    PdqError
        When it is not a decodable picture.
    """
    return hash_bytes(read_input(path))


def _iter_video_frames(
    source: str | Path | bytes, fps: float, max_frames: int
) -> Iterator[tuple[float, npt.NDArray[np.uint8]]]:
    try:
        import av  # optional extra: video (PyAV)
    except ImportError:
        raise PdqError(
            "hashing video needs PyAV: pip install 'jinjja[video]'", code="missing_dependency"
        ) from None
    stream_source: Any = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        with budget.decoding("video"):
            container = av.open(stream_source)
    except budget.DecodeError as exc:
        raise PdqError(f"the video could not be opened: {exc.message}", code=exc.code) from None
    with container:
        if not container.streams.video:
            raise PdqError("the file has no video stream", code="unsupported_format")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None:
            raise PdqError("the video codec is not supported", code="unsupported_format")
        try:
            budget.check_pixels(int(ctx.width or 1), int(ctx.height or 1))
        except budget.DecodeError as exc:
            raise PdqError(
                f"the video's frames are too large: {exc.message}", code=exc.code
            ) from None
        stream.thread_type = "AUTO"
        step = 1.0 / fps
        next_time = 0.0
        taken = 0
        try:
            with budget.decoding("video"):
                for frame in container.decode(stream):
                    if frame.pts is None or frame.time_base is None:
                        t = next_time
                    else:
                        t = float(frame.pts * frame.time_base)
                    if t + 1e-9 < next_time:
                        continue
                    budget.check_pixels(frame.width, frame.height)
                    image = frame.to_image()
                    yield t, _to_rgb_array(image)
                    taken += 1
                    if taken >= max_frames:
                        return
                    next_time = (math.floor(t / step + 1e-9) + 1) * step
        except budget.DecodeError as exc:
            if taken == 0:
                raise PdqError(
                    f"the video could not be decoded: {exc.message}", code=exc.code
                ) from None
            # A truncated tail: keep the frames decoded so far.


def hash_video(
    source: str | Path | bytes, *, fps: float = 1.0, max_frames: int = 3600
) -> VideoHashes:
    """Hash a video by sampling frames (vPDQ-style: one PDQ per sampled frame).

    Parameters
    ----------
    source
        Path of the video, or its bytes.
    fps
        Frames sampled per second of video (the first frame at or after each step).
    max_frames
        Stop after this many sampled frames.

    Returns
    -------
    VideoHashes
        One :class:`FrameHash` per sampled frame.

    Raises
    ------
    PdqError
        When PyAV is missing or the video cannot be decoded.
    InputFileError
        When the path cannot be read.
    """
    if not (fps > 0 and math.isfinite(fps)):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    if not isinstance(source, bytes):
        p = Path(source)
        if not p.is_file():
            raise InputFileError(f"no such file: {p}", code="not_found")
    frames = tuple(
        FrameHash(time=t, result=_hash_rgb(rgb))
        for t, rgb in _iter_video_frames(source, fps, max_frames)
    )
    if not frames:
        raise PdqError("the video has no decodable frames", code="corrupt")
    return VideoHashes(frames=frames, fps=fps)
