"""Video watermark: :func:`embed_frames`, :func:`detect_frames` and their per-plane engines.

The video mark is the image mark of ``spec/watermark.md`` in its *video profile*: cells twice
as large (:func:`watermark._layout.video_cell_size`) and a flatter perceptual mask, applied
to every frame, built so that it costs a few milliseconds per 1080p frame and so that
evidence adds up over many frames (``spec/watermark-video.md``). Video profile **v2**
(``jinjja.watermark/v2-video``, the default) moves the pattern with the picture's global
translation, so that a video encoder predicts it along with the content; revision 2 of
format v1 kept it fixed in the frame, and is still read.

* **Embedding** (:class:`LumaMarker`). The pattern of a key, payload and frame size is
  precomputed once (:func:`watermark._embed.plan` with the video cell). Per frame the
  translation since the previous frame is tracked (:class:`watermark._motion.MotionTracker`)
  and the pattern is read at the accumulated offset; the perceptual mask is recomputed on
  blocks of 2 x 2 cells from a decimated luma (2 x 2 samples per block); the residual
  ``alpha * mask * pattern`` is added to the luma (Y) plane in place. A static scene gets
  the same residual in every frame (no flicker).
* **Detection** (:class:`LumaEvidence`). Every analysed frame is reduced to the analysis
  image of the image detector and prefiltered; the prefiltered images are *summed* over
  frames of the same size, in frame coordinates (a fixed mark: the content averages out as
  it moves) and aligned on the tracked translation (a v2 mark: the mark adds up in one
  place). The lattice search, sync test, payload decoding and decision then run once per
  sum, with the image detector's building blocks, so the geometric estimate is shared by all
  frames and the false-alarm bound of the image detector holds for each sum (it does not
  depend on the key); it is multiplied by the number of sums evaluated. The search starts
  from the video tile (:data:`VIDEO_TILE`) and looks for tiles up to
  :data:`VIDEO_MAX_SCALE` times the picture tile.

Y planes can be full range (0..255) or limited ("MPEG", 16..235) range; the strength is
always set in full-range RGB units, so the per-frame PSNR of the RGB picture is the target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from watermark import _api, _detect, _embed, _keys, _layout, _motion

__all__ = [
    "LumaEvidence",
    "LumaMarker",
    "VideoDetection",
    "detect_frames",
    "embed_frames",
    "luma_psnr",
]

_LIMITED_GAIN = 219.0 / 255.0
"""Limited-range luma units per full-range unit."""
_MASK_POWER = 0.4
"""Texture exponent of the perceptual mask (0.8 in :func:`watermark._embed.mask`: video puts
more of the mark into smooth areas, which codecs quantise finely)."""
_TRACK_EVERY = 1
"""The embedder tracks every plane while the picture moves (placing planes between tracked
ones by the last velocity made whole-pixel steps of 2, 1, 2 ... come out 1 px off)."""
_TRACK_STILL = 4
"""While the picture stands still, the embedder tracks every this many planes (a pan that
starts is followed from the next tracked plane on)."""
_STILL_SPEED = 0.02
"""Speed (px per plane, |dy| + |dx|) below which the picture counts as standing still."""
_REDRAW = 60
"""A marker that follows motion draws its whole residual anew at least every this many
planes (between, it moves the last one and draws only the strips entering the frame)."""
_MOVED_DB = (0.01, 0.45, 0.15)
"""A moved residual keeps the PSNR between 0.01 and 0.45 dB above the target (else the
whole residual is drawn anew, at 0.15 dB above the target)."""
_MASK_REUSE = 0.05
"""Largest change of the scaled mask, as a share of its mean, for which a marker reuses its
last residual (the pattern not having moved)."""
VIDEO_TILE = 2 * _layout.BASE_TILE
"""Tile side in analysis pixels of a frame at its marked size (cells twice the picture
profile's, :func:`watermark._layout.video_cell_size`)."""
VIDEO_MAX_SCALE = 4.5
"""Largest tile the video search looks for, in multiples of ``BASE_TILE``: a resized copy
shows the video tile at 1 to 4 times ``BASE_TILE`` (``spec/watermark-video.md`` section 3)."""


@dataclass(frozen=True)
class VideoDetection(_api.Detection):
    """The outcome of :func:`detect_frames`: a :class:`watermark.Detection` over a sequence."""

    frames_used: int = 0
    """Number of frames whose accumulated evidence gave this decision (all analysed frames of
    the most common size, or only their intra frames when those decide more surely)."""
    frames_analysed: int = 0
    """Number of frames analysed in all."""


def _check_luma(y: object, name: str = "luma plane") -> NDArray[np.uint8]:
    if not isinstance(y, np.ndarray) or y.dtype != np.uint8 or y.ndim != 2:
        shape = getattr(y, "shape", None)
        dtype = getattr(y, "dtype", type(y).__name__)
        raise ValueError(f"{name} must be a 2-D uint8 array, not {dtype} of shape {shape}")
    return y


class LumaMarker:
    """Adds the mark of one key and payload to luma planes of one size, in place.

    Parameters
    ----------
    key : bytes or str
        The marking key.
    payload : bytes
        At most 8 bytes.
    height, width : int
        Frame size in pixels (both >= ``watermark.MIN_SIDE``).
    psnr : float, optional
        Target PSNR of the RGB picture in dB (20-60).
    limited_range : bool, optional
        Whether the planes hold limited-range (16..235) luma, as most video does.
    follow_motion : bool, optional
        Video profile v2 (the default): the pattern moves with the global translation of the
        picture, estimated from plane to plane (:class:`watermark._motion.MotionTracker`), so
        that a video encoder predicts it along with the content. False gives the fixed
        pattern of the video profile revision 2 of format v1. A marker that follows motion
        is stateful: planes must be marked in display order.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[0:256, 0:320]
    >>> plane = np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)
    >>> marker = LumaMarker(b"k", b"hi", 256, 320, limited_range=False)
    >>> before = plane.copy()
    >>> marker.mark(plane)
    >>> bool(luma_psnr(before, plane, limited_range=False) >= 40.0)
    True
    """

    def __init__(
        self,
        key: bytes | str,
        payload: bytes,
        height: int,
        width: int,
        *,
        psnr: float = 40.0,
        limited_range: bool = True,
        follow_motion: bool = True,
    ) -> None:
        raw = _keys.key_bytes(key)
        data = _api._payload(payload)
        if not isinstance(psnr, int | float) or not 20.0 <= float(psnr) <= 60.0:
            raise ValueError(f"psnr must be a number between 20 and 60 dB, not {psnr!r}")
        if min(height, width) < _api.MIN_SIDE:
            raise ValueError(
                f"frames are {width}x{height}; both sides must be >= {_api.MIN_SIDE} px"
            )
        self.height = int(height)
        self.width = int(width)
        self.limited_range = bool(limited_range)
        self.follow_motion = bool(follow_motion)
        self._gain = _LIMITED_GAIN if limited_range else 1.0
        cell = _layout.video_cell_size(self.height, self.width)
        self._cell = cell
        # The mask is computed on blocks of 2 x 2 cells.
        c = cell * 2
        self._block = c
        hc, wc = -(-self.height // c), -(-self.width // c)
        self._tile = _layout.GRID * cell
        self._offset = (0, 0)
        self._tracker: _motion.MotionTracker | None = None
        if self.follow_motion:
            self._init_moving(raw, data)
        else:
            p = _embed.plan(raw, data, self.height, self.width, cell=cell)
            pat = np.zeros((hc * c, wc * c), dtype=np.float32)
            pat[: self.height, : self.width] = p.pattern
            self._pattern4 = pat.reshape(hc, c, wc, c)
            # Energy of the pattern inside each block: the residual energy is sum(m^2 e) / (H W).
            self._cell_energy = np.einsum("icjd,icjd->ij", self._pattern4, self._pattern4)
        self._init_budget(float(psnr))
        self._buf = np.empty((hc * c, wc * c), dtype=np.float32)
        self._r16 = np.zeros((self.height, self.width), dtype=np.int16)
        self._r16_spare = np.zeros_like(self._r16)
        self._t16 = np.empty_like(self._r16)
        self._out = np.empty((self.height, self.width), dtype=np.float32)
        self._last: tuple[tuple[int, int], NDArray[np.float32]] | None = None
        # Motion following: the unwrapped whole-pixel position of this plane, the one the
        # residual in _buf is drawn for, its energy, and the planes since it was drawn.
        self._pos = (0, 0)
        self._at: tuple[int, int] | None = None
        self._energy = 0.0
        self._since_draw = 0
        self._alpha = 1.0
        self._strip_scale: NDArray[np.float32] | None = None
        # Version of the residual in _buf (bumped on every change), the version mark last
        # used, and the uint8 parts of a residual used twice.
        self._version = 0
        self._seen = -1
        self._u8_version = -1
        self._u8: tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]] | None = None

    def _init_moving(self, raw: bytes, data: bytes) -> None:
        """State of a marker that follows motion: the pattern over the frame plus one tile
        (any offset modulo the tile is a slice), prefix sums of its square, the tracker."""
        c, t = self._block, self._tile
        hc, wc = -(-self.height // c), -(-self.width // c)
        tile = _embed.plan(raw, data, t, t, cell=self._cell).pattern
        big = np.tile(tile, (-(-hc * c // t) + 1, -(-wc * c // t) + 1))
        self._big = big
        sq = np.zeros((big.shape[0] + 1, big.shape[1] + 1), dtype=np.float64)
        np.cumsum(np.cumsum(big.astype(np.float64) ** 2, axis=0), axis=1, out=sq[1:, 1:])
        self._prefix = sq
        self._tracker = _motion.MotionTracker(self.height, self.width)
        self._set_offset(0, 0)
        self._frames = 0
        self._tracked = 0
        self._velocity = (0.0, 0.0)

    def _init_budget(self, psnr: float) -> None:
        """The residual's energy budget (and, when following motion, its allowed band)."""

        def budget(db: float) -> float:
            """Mean square residual (full-range units) for ``db`` above the target PSNR; the
            rounding noise of the uint8 plane is in plane units."""
            ms = 255.0**2 / 10.0 ** ((psnr + db) / 10.0)
            return float(max(ms - (1.0 / 12.0) / self._gain**2, 1e-6))

        # Drawn residuals sit 0.05 dB above the target (0.15 dB when they are then moved,
        # which keeps a moved residual's energy inside _MOVED_DB without redrawing often).
        self._budget = budget(_MOVED_DB[2] if self.follow_motion else 0.05)
        # Energy band of a moved (rounded) residual, in plane units summed over the plane.
        scale = self._gain**2 * self.height * self.width
        self._energy_band = tuple(
            255.0**2 / 10.0 ** ((psnr + db) / 10.0) * scale for db in _MOVED_DB[1::-1]
        )

    def _set_offset(self, oy: int, ox: int) -> None:
        """Use the pattern shifted by (oy, ox) px (modulo the tile): ``P(x + offset)``."""
        c, t = self._block, self._tile
        oy, ox = oy % t, ox % t
        hc, wc = -(-self.height // c), -(-self.width // c)
        view = self._big[oy : oy + hc * c, ox : ox + wc * c]
        self._pattern4 = view.reshape(hc, c, wc, c)
        self._offset = (oy, ox)
        self._energy_offset: tuple[int, int] | None = None

    def _block_energy(self) -> NDArray[np.float32]:
        """Energy of the pattern in every block inside the frame, at the current offset."""
        if self._tracker is None or self._energy_offset == self._offset:
            cached: NDArray[np.float32] = self._cell_energy
            return cached
        c = self._block
        oy, ox = self._offset
        hc, wc = -(-self.height // c), -(-self.width // c)
        # Exact, from the prefix sums of P^2.
        ry = oy + np.minimum(np.arange(hc + 1) * c, self.height)
        rx = ox + np.minimum(np.arange(wc + 1) * c, self.width)
        s = self._prefix
        energy: NDArray[np.float32] = (
            s[np.ix_(ry[1:], rx[1:])]
            - s[np.ix_(ry[:-1], rx[1:])]
            - s[np.ix_(ry[1:], rx[:-1])]
            + s[np.ix_(ry[:-1], rx[:-1])]
        ).astype(np.float32)
        self._cell_energy = energy
        self._energy_offset = self._offset
        return energy

    def follow(self, y: NDArray[np.uint8]) -> None:
        """Move the pattern with the global translation of ``y`` from the previous plane.

        :meth:`mark` calls it; a caller that marks with :meth:`residual` calls it first, once
        per frame, in display order. Nothing happens for a marker that does not follow
        motion.
        """
        if self._tracker is None:
            return
        self._frames += 1
        since = self._frames - self._tracked
        still = abs(self._velocity[0]) + abs(self._velocity[1]) < _STILL_SPEED
        if self._frames > 2 and since < (_TRACK_STILL if still else _TRACK_EVERY):
            # Between tracked planes the pattern keeps the last measured velocity.
            vy, vx = self._velocity
            py = self._tracker.position[0] + since * vy
            px = self._tracker.position[1] + since * vx
        else:
            before = self._tracker.position
            py, px = self._tracker.update(y)
            self._velocity = ((py - before[0]) / since, (px - before[1]) / since)
            self._tracked = self._frames
        self._pos = (round(py), round(px))
        oy, ox = self._pos[0] % self._tile, self._pos[1] % self._tile
        if (oy, ox) != self._offset:
            self._set_offset(oy, ox)

    def residual_scale(self, y: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Per-block amplitude ``alpha * mask`` in plane units for luma plane ``y``."""
        m = _fast_mask(y, self._cell, self._block, self.limited_range)
        energy = float(np.sum(m * m * self._block_energy())) / (self.height * self.width)
        alpha = math.sqrt(self._budget / max(energy, 1e-12)) * self._gain
        self._alpha = alpha
        m *= np.float32(alpha)
        return m

    def residual(self, y: NDArray[np.uint8]) -> NDArray[np.float32]:
        """The residual ``alpha * mask * pattern`` for luma plane ``y``, in plane units.

        When the pattern has not moved and the scaled mask differs from the last one by at
        most :data:`_MASK_REUSE` of its mean everywhere (a still scene, with or without
        sensor noise), the last residual is returned again: the same energy, so the same
        PSNR, no flicker, and no work. A marker that follows motion keeps its residual
        rounded to whole levels, moves it by the whole-pixel step of the picture and draws
        only the strips that enter the frame (:meth:`_shifted`), so that the encoder can
        predict the mark exactly. The result is a view of an internal buffer, overwritten
        by the next call.
        """
        if self._tracker is None:
            return self._draw(self.residual_scale(y))
        np.copyto(self._out, self._moving(y))
        return self._out

    def _moving(self, y: NDArray[np.uint8]) -> NDArray[np.int16]:
        """The rounded residual of a marker that follows motion (see :meth:`residual`)."""
        if self._at is not None:
            moved = self._shifted(y)
            if moved is not None:
                return moved
        self._strip_scale = None
        am = self.residual_scale(y)
        reuse = self._reusable(am)
        self._at, self._since_draw = self._pos, 0
        if not reuse:
            self._draw(am)
            tmp = self._out
            np.add(self._buf[: self.height, : self.width], np.float32(0.5), out=tmp)
            np.floor(tmp, out=tmp)
            np.copyto(self._r16, tmp, casting="unsafe")
            flat = tmp.reshape(-1)
            self._energy = float(np.dot(flat, flat))
        return self._r16

    def _reusable(self, am: NDArray[np.float32]) -> bool:
        last = self._last
        return (
            last is not None
            and last[0] == self._offset
            and float(np.max(np.abs(am - last[1]))) <= _MASK_REUSE * float(np.mean(last[1]))
        )

    def _draw(self, am: NDArray[np.float32]) -> NDArray[np.float32]:
        """The whole residual for the scaled mask ``am`` (or the last one, see above)."""
        if self._reusable(am):
            return self._buf[: self.height, : self.width]
        hc, b, wc, _ = self._pattern4.shape
        rows = np.repeat(am, b, axis=1)[:, None, :]
        # Equivalent to: buf = repeat(repeat(am, b, 0), b, 1) * pattern (as 3-D arrays with
        # a long last axis, which numpy multiplies twice as fast as the 4-D blocks)
        np.multiply(
            self._pattern4.reshape(hc, b, wc * b), rows, out=self._buf.reshape(hc, b, wc * b)
        )
        self._last = (self._offset, am)
        self._version += 1
        return self._buf[: self.height, : self.width]

    def _shifted(self, y: NDArray[np.uint8]) -> NDArray[np.int16] | None:
        """The last rounded residual moved by the step since it was drawn, with the strips
        that enter the frame drawn from the mask of ``y``; None when a whole residual must
        be drawn (every :data:`_REDRAW` planes, after a step of a quarter of the frame or
        more, or when the energy has left the band of :data:`_MOVED_DB`)."""
        h, w = self.height, self.width
        assert self._at is not None
        dy, dx = self._pos[0] - self._at[0], self._pos[1] - self._at[1]
        self._since_draw += 1
        if self._since_draw >= _REDRAW or abs(dy) >= h // 4 or abs(dx) >= w // 4:
            return None
        if dy == 0 and dx == 0:
            return self._r16
        # Only the strips entering the frame need the mask: every other plane, with the
        # strength of the last drawn residual.
        if self._strip_scale is None or self._frames % 2 == 0:
            m = _fast_mask(y, self._cell, self._block, self.limited_range)
            self._strip_scale = m * np.float32(self._alpha)
        am = self._strip_scale
        old, new = self._r16, self._r16_spare
        # new(x) = old(x + d) where x + d is inside the frame.
        ty0, ty1, tx0, tx1 = max(0, -dy), min(h, h - dy), max(0, -dx), min(w, w - dx)
        new[ty0:ty1, tx0:tx1] = old[ty0 + dy : ty1 + dy, tx0 + dx : tx1 + dx]
        lost = _sq(old[: ty0 + dy]) + _sq(old[ty1 + dy :])
        lost += _sq(old[ty0 + dy : ty1 + dy, : tx0 + dx]) + _sq(
            old[ty0 + dy : ty1 + dy, tx1 + dx :]
        )
        gained = 0.0
        for r0, r1, c0, c1 in (
            (0, ty0, 0, w),
            (ty1, h, 0, w),
            (ty0, ty1, 0, tx0),
            (ty0, ty1, tx1, w),
        ):
            if r1 > r0 and c1 > c0:
                new[r0:r1, c0:c1] = np.floor(self._fresh(am, r0, r1, c0, c1) + 0.5)
                gained += _sq(new[r0:r1, c0:c1])
        energy = self._energy - lost + gained
        if not self._energy_band[0] <= energy <= self._energy_band[1]:
            return None
        self._r16, self._r16_spare = new, old
        self._energy, self._at, self._last = energy, self._pos, None
        self._version += 1
        return self._r16

    def _fresh(self, am: NDArray[np.float32], r0: int, r1: int, c0: int, c1: int) -> Any:
        """``repeat(repeat(am, b, 0), b, 1) * P(x + offset)`` on rows r0:r1, columns c0:c1."""
        b = self._block
        rows = np.repeat(am[r0 // b : (r1 - 1) // b + 1], b, axis=0)[r0 % b : r0 % b + r1 - r0]
        full = np.repeat(rows[:, c0 // b : (c1 - 1) // b + 1], b, axis=1)
        oy, ox = self._offset
        return full[:, c0 % b : c0 % b + c1 - c0] * self._big[oy + r0 : oy + r1, ox + c0 : ox + c1]

    def mark(self, y: NDArray[np.uint8]) -> None:
        """Add the mark to the (height, width) uint8 luma plane ``y`` in place.

        ``y`` may be a strided view (for example a video plane with padding at line ends).
        """
        _check_luma(y)
        if y.shape != (self.height, self.width):
            raise ValueError(
                f"frame is {y.shape[1]}x{y.shape[0]}, but the marker is for "
                f"{self.width}x{self.height}"
            )
        self.follow(y)
        res: NDArray[np.float32] | NDArray[np.int16] = (
            self._draw(self.residual_scale(y)) if self._tracker is None else self._moving(y)
        )
        if self._u8 is not None and self._u8_version == self._version:
            # The residual was reused: add its rounded parts with uint8 saturation.
            up, down, ceiling = self._u8
            np.minimum(y, ceiling, out=y)
            y += up
            np.maximum(y, down, out=y)
            y -= down
            return
        if self._seen == self._version:
            self._u8 = _rounded_parts(res)
            self._u8_version = self._version
        self._seen = self._version
        if res.dtype == np.int16:
            t = self._t16
            np.add(y, res, out=t)
            np.clip(t, 0, 255, out=t)
            np.copyto(y, t, casting="unsafe")
            return
        out = self._out
        np.add(res, y, out=out)
        out += np.float32(0.5)
        np.clip(out, 0.0, 255.0, out=out)
        np.copyto(y, out, casting="unsafe")


def _sq(a: NDArray[np.int16]) -> float:
    """Sum of squares (float64) of a small array."""
    return float(np.sum(np.square(a, dtype=np.float64))) if a.size else 0.0


def _rounded_parts(
    res: NDArray[np.float32] | NDArray[np.int16],
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]:
    """(max(r, 0), max(-r, 0), 255 - max(r, 0)) as uint8 for ``r = floor(res + 0.5)``: for
    an integer plane ``y``, ``clip(y + r, 0, 255)`` is then four uint8 operations (and equals
    ``clip(floor(y + res + 0.5), 0, 255)``, the float path of :meth:`LumaMarker.mark`)."""
    r = np.clip(np.floor(res + np.float32(0.5)), -255.0, 255.0)
    up = np.maximum(r, 0.0).astype(np.uint8)
    down = np.maximum(-r, 0.0).astype(np.uint8)
    return up, down, np.uint8(255) - up


def _fast_mask(
    y: NDArray[np.uint8], cell: int, block: int, limited_range: bool
) -> NDArray[np.float32]:
    """The perceptual mask of :func:`watermark._embed.mask`, cheaply, on ``block``-px blocks.

    The luma is decimated by ``block / 2`` (no filtering) and the local mean and mean square
    of each block are taken over its 2 x 2 samples, so the cost does not depend on the frame
    size beyond the decimation. Limited-range luma is mapped to full range first. The
    Gaussian windows are those of the image mask (1.5 and 1 cells), in blocks.
    """
    from scipy.ndimage import gaussian_filter

    k = block // 2
    hb, wb = -(-y.shape[0] // block), -(-y.shape[1] // block)
    s = np.asarray(y[::k, ::k], dtype=np.float32)
    if s.shape != (2 * hb, 2 * wb):
        s = np.pad(s, ((0, 2 * hb - s.shape[0]), (0, 2 * wb - s.shape[1])), mode="edge")
    if limited_range:
        s -= np.float32(16.0)
        s *= np.float32(1.0 / _LIMITED_GAIN)
    a, b, c, d = s[0::2, 0::2], s[1::2, 0::2], s[0::2, 1::2], s[1::2, 1::2]
    mean = (a + b + c + d) * np.float32(0.25)
    sq = (a * a + b * b + c * c + d * d) * np.float32(0.25)
    cells = block / cell
    mu = gaussian_filter(mean, 1.5 / cells, mode="nearest", truncate=3.0)
    e2 = gaussian_filter(sq, 1.5 / cells, mode="nearest", truncate=3.0)
    sigma = np.sqrt(np.maximum(e2 - mu * mu, np.float32(0.0)))
    lum = np.clip(mu * np.float32(1 / 40.0), 0.3, 1.0) * np.clip(
        (np.float32(255.0) - mu) * np.float32(1 / 40.0), 0.3, 1.0
    )
    m = (sigma + np.float32(3.0)) ** np.float32(_MASK_POWER) * lum
    return np.asarray(gaussian_filter(m, 1.0 / cells, mode="nearest", truncate=3.0), np.float32)


def luma_psnr(
    before: NDArray[np.uint8], after: NDArray[np.uint8], *, limited_range: bool = True
) -> float:
    """PSNR in dB of a luma change, in full-range units (the PSNR of the RGB picture).

    Because the mark is added equally to R, G and B, a change of the Y plane alone is a
    change of the RGB picture by the same amount (scaled to full range).
    """
    d = np.subtract(before, after, dtype=np.int16).astype(np.float32).ravel()
    mse = float(np.dot(d, d)) / d.size / (_LIMITED_GAIN**2 if limited_range else 1.0)
    return math.inf if mse == 0.0 else 10.0 * math.log10(255.0**2 / mse)


class _AlignedSum:
    """Prefiltered analysis images of one frame size, summed after moving each back by the
    global translation tracked since the first one (the evidence of a v2 mark, which moves
    with the content). The sum lives on a canvas with a margin of half the longer side of
    the analysis image around the first frame; frames that moved further are left out."""

    def __init__(self, shape: tuple[int, int], f: int, analysis: tuple[int, int]) -> None:
        self.tracker = _motion.MotionTracker(*shape)
        self.f = f
        self.margin = max(analysis) // 2
        self.canvas = np.zeros(
            (analysis[0] + 2 * self.margin, analysis[1] + 2 * self.margin), dtype=np.float32
        )
        self.box = [self.canvas.shape[0], self.canvas.shape[1], 0, 0]
        self.frames = 0
        self.moved = False
        """Whether any frame was added at another place than the first (else the sum is
        the fixed one)."""

    def add(self, y: NDArray[np.generic], w_img: NDArray[np.float32]) -> None:
        py, px = self.tracker.update(y)
        oy = self.margin + round(py / self.f)
        ox = self.margin + round(px / self.f)
        h, w = w_img.shape
        if not (0 <= oy <= self.canvas.shape[0] - h and 0 <= ox <= self.canvas.shape[1] - w):
            return
        self.canvas[oy : oy + h, ox : ox + w] += w_img
        self.moved = self.moved or (oy, ox) != (self.margin, self.margin)
        b = self.box
        self.box = [min(b[0], oy), min(b[1], ox), max(b[2], oy + h), max(b[3], ox + w)]
        self.frames += 1

    def evidence(self) -> NDArray[np.float32]:
        """The summed image over the area any frame covered, divided by the frame count."""
        y0, x0, y1, x1 = self.box
        return self.canvas[y0:y1, x0:x1] / np.float32(max(self.frames, 1))


class LumaEvidence:
    """Accumulates watermark evidence from luma planes and decides once for all of them.

    Parameters
    ----------
    key : bytes or str
        The key to look for.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[0:256, 0:320]
    >>> plane = np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)
    >>> ev = LumaEvidence(b"k")
    >>> ev.add(plane)
    >>> ev.result().found
    False
    """

    def __init__(self, key: bytes | str) -> None:
        self._key = _keys.key_bytes(key)
        # (frame size, intra only) -> (sum of prefiltered analysis images, frames, factor)
        self._groups: dict[tuple[tuple[int, int], bool], tuple[NDArray[np.float32], int, int]] = {}
        # frame size -> the motion-aligned sum (video profile v2)
        self._aligned: dict[tuple[int, int], _AlignedSum] = {}
        self.frames = 0
        """Number of planes added so far."""

    def add(self, y: NDArray[np.generic], *, intra: bool = False) -> None:
        """Add the evidence of one luma plane (uint8 or float32 in 0..255, sides >= 128 px).

        ``intra`` marks a frame coded without reference to others (an I-frame): such frames
        are also accumulated on their own, because a re-encoder at a low bit rate keeps the
        mark in intra frames but lets predicted frames carry it along with the motion.
        """
        if not isinstance(y, np.ndarray) or y.ndim != 2 or y.dtype not in (np.uint8, np.float32):
            raise ValueError("a luma plane must be a 2-D uint8 or float32 array")
        if min(y.shape) < _api._MIN_DETECT_SIDE:
            raise ValueError(
                f"frame is {y.shape[1]}x{y.shape[0]}; both sides must be >= "
                f"{_api._MIN_DETECT_SIDE} px"
            )
        f = _layout.analysis_factor(*y.shape)
        w_img = _detect.prefilter(_reduce(y, f))
        shape = (int(y.shape[0]), int(y.shape[1]))
        for group in ((shape, False), (shape, True)) if intra else ((shape, False),):
            if group in self._groups:
                acc, n, _ = self._groups[group]
                acc += w_img
                self._groups[group] = (acc, n + 1, f)
            else:
                self._groups[group] = (w_img.copy(), 1, f)
        if shape not in self._aligned:
            self._aligned[shape] = _AlignedSum(shape, f, (w_img.shape[0], w_img.shape[1]))
        self._aligned[shape].add(y, w_img)
        self.frames += 1

    def result(self, key: bytes | str | None = None) -> VideoDetection:
        """Decide on the evidence accumulated so far.

        Parameters
        ----------
        key : bytes or str, optional
            Look for the mark of this key instead of the one given at construction. The
            accumulated evidence does not depend on the key, so one pass over a video can be
            searched for several keys (each search has its own false-alarm bound).

        Raises
        ------
        ValueError
            If no plane was added, or for a bad key.
        """
        if not self._groups:
            raise ValueError("no frames to analyse")
        raw = self._key if key is None else _keys.key_bytes(key)
        groups = []
        for (shape, intra), (acc, n, f) in self._groups.items():
            # An intra group holding every frame of its size is the same evidence again.
            if intra and n == self._groups[(shape, False)][1]:
                continue
            groups.append((acc / np.float32(n), n, f))
        for aligned in self._aligned.values():
            # Without any motion the aligned sum is the fixed one again.
            if aligned.moved:
                groups.append((aligned.evidence(), aligned.frames, aligned.f))
        groups.sort(key=lambda g: -g[1])
        best: VideoDetection | None = None
        for mean, n, f in groups:
            det = _search(mean, raw, f)
            if best is None or (det.payload is not None, -det.p_value) > (
                best.payload is not None,
                -best.p_value,
            ):
                best = VideoDetection(
                    found=det.found,
                    payload=det.payload,
                    score=det.score,
                    p_value=det.p_value,
                    geometry=det.geometry,
                    frames_used=n,
                    frames_analysed=self.frames,
                )
        assert best is not None
        if len(groups) > 1:
            p = min(1.0, best.p_value * len(groups))
            found = p <= _detect.ALPHA
            best = VideoDetection(
                found=found,
                payload=best.payload if found else None,
                score=best.score,
                p_value=p,
                geometry=best.geometry if found else None,
                frames_used=best.frames_used,
                frames_analysed=self.frames,
            )
        return best


def _reduce(y: NDArray[np.generic], f: int) -> NDArray[np.float32]:
    """Block mean by the power of two ``f`` (as :func:`watermark._detect.analysis_image`),
    with 2 x 2 strided sums, which numpy does much faster than a 4-D ``mean``."""
    h, w = (y.shape[0] // f) * f, (y.shape[1] // f) * f
    if f == 1:
        return np.ascontiguousarray(y[:h, :w], dtype=np.float32)
    rows = y[0:h:2, :w].astype(np.float32)
    np.add(rows, y[1:h:2, :w], out=rows)
    src = rows[:, 0::2] + rows[:, 1::2]
    k = f // 2
    while k > 1:
        rows = src[0::2] + src[1::2]
        src = rows[:, 0::2] + rows[:, 1::2]
        k //= 2
    src *= np.float32(1.0 / f**2)
    return np.ascontiguousarray(src)


def _search(w: NDArray[np.float32], key: bytes, f: int) -> _api.Detection:
    """The image detector's search and decision (:func:`watermark.detect`) on a prefiltered
    analysis image ``w`` (here: a sum over frames)."""
    return _api._search_and_decide(
        np.asarray(w - w.mean(), dtype=np.float32),
        key,
        f,
        tile=VIDEO_TILE,
        max_scale=VIDEO_MAX_SCALE,
    )


def _check_frame(frame: object, index: int) -> NDArray[np.uint8]:
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame {index} must be a numpy array, not {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(
            f"frame {index} must be a (H, W, 3) uint8 array, not {frame.dtype} {frame.shape}"
        )
    return frame


def embed_frames(
    frames: Iterable[NDArray[np.uint8]], payload: bytes, key: bytes | str, *, psnr: float = 40.0
) -> Iterator[NDArray[np.uint8]]:
    """Mark every frame of a sequence with a 64-bit ``payload`` under ``key``.

    The pattern is computed once per frame size; per frame only the perceptual mask is
    recomputed, so a static scene receives the same mark in every frame.

    Parameters
    ----------
    frames : iterable of ndarray
        (H, W, 3) uint8 RGB frames, sides >= 256 px (the size may change between frames).
    payload : bytes
        At most 8 bytes.
    key : bytes or str
        The marking key.
    psnr : float, optional
        Target PSNR of every frame in dB (20-60).

    Yields
    ------
    ndarray
        The marked frames, (H, W, 3) uint8, one per input frame.

    Raises
    ------
    ValueError
        For a bad payload, key, strength or frame (raised when that frame is reached).

    Examples
    --------
    >>> import numpy as np
    >>> import watermark
    >>> y, x = np.mgrid[0:256, 0:320]
    >>> grey = np.rint(128 + 60 * np.sin(x / 9) * np.cos(y / 13)).astype(np.uint8)
    >>> clip = [np.stack([np.roll(grey, 3 * t, axis=1)] * 3, axis=-1) for t in range(4)]
    >>> marked = list(watermark.embed_frames(clip, b"hi", "secret"))
    >>> len(marked), marked[0].shape
    (4, (256, 320, 3))
    >>> watermark.detect_frames(marked, "secret").payload
    b'hi'
    """
    raw = _keys.key_bytes(key)
    data = _api._payload(payload)
    if not isinstance(psnr, int | float) or not 20.0 <= float(psnr) <= 60.0:
        raise ValueError(f"psnr must be a number between 20 and 60 dB, not {psnr!r}")
    return _embed_iter(frames, data, raw, float(psnr))


def _embed_iter(
    frames: Iterable[NDArray[np.uint8]], data: bytes, raw: bytes, psnr: float
) -> Iterator[NDArray[np.uint8]]:
    marker: LumaMarker | None = None
    for i, frame in enumerate(frames):
        img = _check_frame(frame, i)
        h, w = img.shape[:2]
        if marker is None or (marker.height, marker.width) != (h, w):
            if min(h, w) < _api.MIN_SIDE:
                raise ValueError(f"frame {i} is {w}x{h}; both sides must be >= {_api.MIN_SIDE} px")
            marker = LumaMarker(raw, data, h, w, psnr=psnr, limited_range=False)
        x = img.astype(np.float32)
        y = _embed.luma(x)
        yq = np.clip(np.rint(y), 0, 255).astype(np.uint8)
        marker.follow(yq)
        d = marker.residual(yq)
        x += d[..., None]
        x += np.float32(0.5)
        np.clip(x, 0.0, 255.0, out=x)
        yield x.astype(np.uint8)


def detect_frames(
    frames: Iterable[NDArray[np.generic]], key: bytes | str, *, max_frames: int | None = None
) -> VideoDetection:
    """Look for the mark of ``key`` in a sequence of frames, accumulating evidence over them.

    Parameters
    ----------
    frames : iterable of ndarray
        (H, W, 3) RGB or (H, W) grey frames, uint8 or float32 in [0, 1], sides >= 128 px.
    key : bytes or str
        The key the mark was made with.
    max_frames : int, optional
        Analyse at most this many frames (the first ones); by default all of them.

    Returns
    -------
    VideoDetection
        A :class:`watermark.Detection` with ``frames_used``.

    Raises
    ------
    ValueError
        For a bad key or frame, or an empty sequence.
    """
    raw = _keys.key_bytes(key)
    if max_frames is not None and (
        isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1
    ):
        raise ValueError(f"max_frames must be a positive integer, not {max_frames!r}")
    ev = LumaEvidence(raw)
    for i, frame in enumerate(frames):
        if max_frames is not None and i >= max_frames:
            break
        img = _api._validate(frame, min_side=_api._MIN_DETECT_SIDE)
        x = img.astype(np.float32) * (np.float32(255.0) if img.dtype == np.float32 else 1)
        ev.add(_embed.luma(x))
    if ev.frames == 0:
        raise ValueError("no frames to analyse")
    return ev.result()
