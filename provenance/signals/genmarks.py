"""Detect the default invisible watermarks of open image generators.

Stable Diffusion 1.x/2.x, SDXL and FLUX.1 reference code mark every output with
`invisible-watermark <https://github.com/ShieldMnt/invisible-watermark>`_ (``imwatermark``
0.2.0), method ``dwtDct``, and a fixed public payload. This module re-implements that
method's decoder in vectorised numpy, bit for bit:

1. The array is read as OpenCV BGR and converted to YUV as OpenCV does, which depends on
   the array's type. 8-bit arrays use fixed-point arithmetic
   (``Y = (4899 R + 9617 G + 1868 B + 2^13) >> 14``,
   ``U = ((B - Y) 8061 + 128·2^14 + 2^13) >> 14``); float32 arrays use
   ``Y = 0.114 B + 0.587 G + 0.299 R`` and ``U = 0.492 (B - Y) + 0.5``: the chroma offset
   is 0.5, not 128, because OpenCV assumes floats lie in [0, 1]. Only U carries the mark
   (the library's channel loop stops before V).
2. U is cropped to a multiple of 4 and transformed with a one-level Haar DWT computed in
   the same floating-point order as PyWavelets (rows first, then columns).
3. The LL band is cut into 4×4 blocks in raster order; block ``b`` carries payload bit
   ``b mod L``. Despite the method's name no DCT is applied: in each block the
   coefficient with the largest magnitude among the 15 non-[0, 0] positions is read, and
   it scores 1 when ``|v| mod 36 > 18`` (quantisation step 36).
4. A bit is 1 when the mean score of its blocks, times 255, exceeds 127.

Where the generators embed
--------------------------
The CompVis (SD 1.x) and Stability (SD 2.x) scripts hand 8-bit BGR pictures to the
encoder. The SDXL code (Stability ``generative-models`` and ``diffusers``) and the FLUX.1
reference code hand it float32 arrays holding 0-255 values, so the mark is embedded in
the *float* U domain (offset 0.5). The library's own decoder, run on the saved 8-bit
file, reads the 8-bit domain (offset 128): every LL value moves by 255, which shifts the
quantisation residual and, where U is negative, mirrors it, so the bits come out
partly or fully inverted. The decoder here therefore also reads each picture converted
to float32 (the "float" domain) for SDXL and FLUX.1; on 8-bit pictures it equals
``WatermarkDecoder.decode(picture.astype(np.float32))``.

Each payload is also tried on the array as given ("RGB" order: ``diffusers`` hands RGB to
OpenCV unchanged) and with its channels reversed ("BGR" order: CompVis, Stability AI and
Black Forest Labs convert to BGR first). That makes twelve tests per picture:
SD 1.x and 2.x × 2 orders × 8-bit; SDXL and FLUX.1 × 2 orders × {8-bit, float}.

Decision rule and false-alarm bound
-----------------------------------
If the decoded bits of an unmarked picture are independent fair coins, the number of
bits that agree with a fixed payload of ``L`` bits is Binomial(L, 1/2). A payload is
reported when at least ``k(L)`` bits agree, ``k(L)`` being the smallest count whose tail
probability is at most :data:`PER_TEST_LEVEL` (1.25e-7):

======================  ===  ====  =========================  =====
generator               L    k(L)  P[Bin(L, 1/2) >= k(L)]     tests
======================  ===  ====  =========================  =====
Stable Diffusion 1.x    136  99    5.1e-8                     2
Stable Diffusion 2.x    32   30    1.2e-7                     2
SDXL                    48   42    5.0e-8                     4
FLUX.1                  46   41    2.2e-8                     4
======================  ===  ====  =========================  =====

By the union bound the chance that an unmarked picture yields any report is at most the
sum over the twelve tests, 6.4e-7 (:data:`FAMILY_BOUND`), below ``1e-6``.
:data:`THRESHOLDS` computes ``k(L)`` at import time; a test checks it against this
table. The bound assumes fair, independent decoded bits on unmarked pictures. Flat
pictures break that assumption in a harmless way: they decode to constant bits, and a
constant word agrees with at most 27/48 (SDXL), 28/46 (FLUX.1), 19/32 (SD 2.x) and
68/136 (SD 1.x) payload bits. On 39 unmarked test pictures (468 tests) the mean agreement
was 0.49 and the largest 33/48.

The mark is fragile. Even without any attack the encoder leaves it unreadable on some
pictures (saturated or flat chroma, few blocks per bit), and JPEG quality 90 erased it on
all 20 test photos. A negative result therefore means almost nothing, while a positive
one is strong evidence that the picture left one of these generators.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from provenance.report import AiLabel, AiSignal, WatermarkFinding

__all__ = [
    "FAMILY_BOUND",
    "FAMILY_FALSE_ALARM",
    "GENERATOR_PAYLOADS",
    "PER_TEST_LEVEL",
    "THRESHOLDS",
    "GeneratorMark",
    "GeneratorPayload",
    "binomial_tail",
    "decode_dwtdct_bits",
    "detect_generator_marks",
    "marks_to_findings",
    "marks_to_signals",
    "scan_generator_marks",
]

FAMILY_FALSE_ALARM = 1e-6
"""Bound on the probability that an unmarked picture yields any detection."""

_SCALE = 36.0
_BLOCK = 4
_HAAR = 0.7071067811865476  # pywt.Wavelet("haar").dec_lo[0]
_MIN_PIXELS = 256 * 256


@dataclass(frozen=True)
class GeneratorPayload:
    """A generator's fixed watermark payload."""

    key: str
    """Machine name (``SDXL``, ``SD1``, ``SD2``, ``FLUX1``)."""
    generator: str
    """Human name ("SDXL", "Stable Diffusion 1.x", ...)."""
    bits: tuple[int, ...]
    """The payload bits in embedding order."""
    origin: str
    """Which code embeds it."""
    domains: tuple[str, ...] = ("uint8",)
    """How that code hands pictures to the encoder: ``uint8`` and/or ``float`` (float32)."""


def _bytes_bits(payload: bytes) -> tuple[int, ...]:
    return tuple(int(b) for b in np.unpackbits(np.frombuffer(payload, dtype=np.uint8)))


def _int_bits(value: int) -> tuple[int, ...]:
    # Same as the reference code: bin(value)[2:] drops leading zeros.
    return tuple(int(c) for c in bin(value)[2:])


GENERATOR_PAYLOADS: tuple[GeneratorPayload, ...] = (
    GeneratorPayload(
        "SDXL",
        "SDXL",
        _int_bits(0xB3EC907BB19E),
        "Stability AI generative-models and diffusers StableDiffusionXLWatermarker",
        ("float", "uint8"),
    ),
    GeneratorPayload(
        "FLUX1",
        "FLUX.1",
        _int_bits(0b001010101111111010000111100111001111010100101110),
        "black-forest-labs/flux reference code",
        ("float", "uint8"),
    ),
    GeneratorPayload(
        "SD2",
        "Stable Diffusion 2.x",
        _bytes_bits(b"SDV2"),
        "Stability-AI/stablediffusion scripts",
    ),
    GeneratorPayload(
        "SD1",
        "Stable Diffusion 1.x",
        _bytes_bits(b"StableDiffusionV1"),
        "CompVis stable-diffusion scripts/txt2img.py",
    ),
)
"""The payloads looked for, each tried in both channel orders and in its domains."""

_CHANNEL_ORDERS = ("BGR", "RGB")

PER_TEST_LEVEL = FAMILY_FALSE_ALARM / 8
"""Per-test false-alarm level used to choose each payload's threshold."""


def binomial_tail(n: int, k: int) -> float:
    """Return ``P[Bin(n, 1/2) ≥ k]`` exactly (as a float).

    Parameters
    ----------
    n : int
        Number of bits.
    k : int
        Number of agreeing bits.

    Returns
    -------
    float

    Examples
    --------
    >>> binomial_tail(32, 30) == 529 / 2**32
    True
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    total: int = sum(math.comb(n, i) for i in range(k, n + 1))
    return total / (1 << n)


def _threshold(n: int, alpha: float) -> int:
    k = n // 2
    while binomial_tail(n, k) > alpha:
        k += 1
    return k


THRESHOLDS: dict[str, int] = {
    p.key: _threshold(len(p.bits), PER_TEST_LEVEL) for p in GENERATOR_PAYLOADS
}
"""Agreeing bits needed per payload: smallest k with ``P[Bin(L, 1/2) ≥ k] ≤ 1.25e-7``."""

FAMILY_BOUND: float = sum(
    len(_CHANNEL_ORDERS) * len(p.domains) * binomial_tail(len(p.bits), THRESHOLDS[p.key])
    for p in GENERATOR_PAYLOADS
)
"""Union bound on the chance that an unmarked picture yields any report (about 6.4e-7)."""


@dataclass(frozen=True)
class GeneratorMark:
    """The outcome of testing one generator payload in one channel order."""

    key: str
    """Machine name of the payload (``SDXL``, ``SD1``, ``SD2``, ``FLUX1``)."""
    generator: str
    """The generator ("SDXL", "Stable Diffusion 1.x", "Stable Diffusion 2.x", "FLUX.1")."""
    channel_order: str
    """``BGR`` (channels reversed before decoding) or ``RGB`` (as given)."""
    bits_matched: int
    """Decoded bits that agree with the payload."""
    bits_total: int
    """Payload length in bits."""
    threshold: int
    """Agreeing bits needed to report the mark."""
    p_value: float
    """``P[Bin(bits_total, 1/2) ≥ bits_matched]``: chance of this agreement by luck."""
    domain: str = "uint8"
    """``uint8`` (OpenCV 8-bit YUV, as the library's own decoder reads a file) or
    ``float`` (float32 YUV, as the SDXL and FLUX.1 pipelines embed)."""

    @property
    def detected(self) -> bool:
        """True when the agreement reaches the threshold."""
        return self.bits_matched >= self.threshold

    @property
    def false_alarm_bound(self) -> float:
        """Per-test false-alarm probability of the threshold (``P[Bin ≥ threshold]``)."""
        return binomial_tail(self.bits_total, self.threshold)

    def detail(self) -> dict[str, Any]:
        """Machine fields for a report."""
        return {
            "generator": self.generator,
            "channel_order": self.channel_order,
            "domain": self.domain,
            "bits_matched": self.bits_matched,
            "bits_total": self.bits_total,
            "threshold": self.threshold,
            "p_value": self.p_value,
            "false_alarm_bound": self.false_alarm_bound,
            "family_false_alarm_bound": FAMILY_BOUND,
            "method": "imwatermark dwtDct",
        }


def _validate(rgb: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected dtype uint8, got {arr.dtype}")
    return arr


def _u_fixed(px: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """U of OpenCV ``COLOR_BGR2YUV`` on 8-bit pixels (fixed point, shift 14, rounding)."""
    b = px[..., 0].astype(np.int32)
    y = px[..., 2].astype(np.int32) * 4899
    y += px[..., 1].astype(np.int32) * 9617
    y += b * 1868
    y += 1 << 13
    y >>= 14
    b -= y
    b *= 8061
    b += (128 << 14) + (1 << 13)
    b >>= 14  # never saturates: |B - Y| * 0.492 < 112
    return b.astype(np.float64)


def _u_float(px: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """U of OpenCV ``COLOR_BGR2YUV`` on float32 pixels (chroma offset 0.5)."""
    b, g, r = px[..., 0], px[..., 1], px[..., 2]
    y = b * np.float32(0.114) + g * np.float32(0.587) + r * np.float32(0.299)
    u: npt.NDArray[np.float32] = (b - y) * np.float32(0.492) + np.float32(0.5)
    return u


def _block_scores(bgr: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """Per-block scores (0.0 or 1.0) in raster order, as ``EmbedMaxDct.decode_frame``.

    ``bgr`` is uint8 (8-bit domain) or float32 (float domain), like OpenCV's input.
    """
    # The reference crops to a multiple of 4, halves with the DWT and ignores LL rows and
    # columns that do not fill a 4x4 block: only the top-left multiple of 8 pixels counts.
    nbi, nbj = bgr.shape[0] // 4 * 4 // 2 // _BLOCK, bgr.shape[1] // 4 * 4 // 2 // _BLOCK
    px = bgr[: nbi * 2 * _BLOCK, : nbj * 2 * _BLOCK]
    if px.dtype == np.uint8:
        u: npt.NDArray[np.floating[Any]] = _u_fixed(px)
        h: np.floating[Any] = np.float64(_HAAR)
    else:
        u = _u_float(px)
        h = np.float32(_HAAR)  # PyWavelets keeps float32 input in float32
    # One-level Haar LL band, same operations as PyWavelets (axis 0, then axis 1):
    # each output is x0*h + x1*h.
    t = u[0::2] * h
    t += u[1::2] * h
    ca = t[:, 0::2] * h
    ca += t[:, 1::2] * h
    blocks = ca.reshape(nbi, _BLOCK, nbj, _BLOCK).transpose(0, 2, 1, 3).reshape(nbi * nbj, -1)
    mags = np.abs(blocks[:, 1:])
    pos = np.argmax(mags, axis=1)
    val = np.take_along_axis(mags, pos[:, None], axis=1)[:, 0]
    scores: npt.NDArray[np.float64] = (np.mod(val, _SCALE) > 0.5 * _SCALE).astype(np.float64)
    return scores


def _bits_from_scores(scores: npt.NDArray[np.float64], n_bits: int) -> npt.NDArray[np.bool_]:
    idx = np.arange(scores.size) % n_bits
    # Equivalent to: [scores[idx == k].mean() for k in range(n_bits)]
    sums = np.bincount(idx, weights=scores, minlength=n_bits)
    counts = np.bincount(idx, minlength=n_bits)
    means = sums / counts
    return np.asarray(means * 255 > 127, dtype=np.bool_)


def decode_dwtdct_bits(bgr: npt.NDArray[Any], n_bits: int) -> npt.NDArray[np.bool_]:
    """Decode ``n_bits`` with the ``imwatermark`` ``dwtDct`` method.

    Equivalent to ``WatermarkDecoder("bits", n_bits).decode(bgr, "dwtDct")``. As with
    OpenCV, the array type picks the YUV arithmetic: uint8 reads the 8-bit domain,
    float32 the float domain (see the module docstring).

    Parameters
    ----------
    bgr : numpy.ndarray
        ``uint8`` or ``float32`` ``(H, W, 3)`` array in the channel order OpenCV would see
        (BGR).
    n_bits : int
        Payload length.

    Returns
    -------
    numpy.ndarray
        Boolean array of ``n_bits`` decoded bits.

    Raises
    ------
    ValueError
        Wrong shape or dtype, picture smaller than 256×256 pixels (the library's own
        limit), or too few blocks to carry ``n_bits`` bits.

    Examples
    --------
    >>> import numpy as np
    >>> decode_dwtdct_bits(np.zeros((256, 256, 3), np.uint8), 8).astype(int).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0]
    """
    arr = np.asarray(bgr)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {arr.shape}")
    if arr.dtype not in (np.uint8, np.float32):
        raise ValueError(f"expected dtype uint8 or float32, got {arr.dtype}")
    if n_bits < 1:
        raise ValueError("n_bits must be positive")
    if arr.shape[0] * arr.shape[1] < _MIN_PIXELS:
        raise ValueError("picture smaller than 256x256 pixels")
    scores = _block_scores(arr)
    if scores.size < n_bits:
        raise ValueError(f"picture has {scores.size} blocks, fewer than {n_bits} bits")
    return _bits_from_scores(scores, n_bits)


def scan_generator_marks(rgb: npt.NDArray[np.uint8]) -> tuple[GeneratorMark, ...]:
    """Test every generator payload in both channel orders and in its domains.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``uint8 (H, W, 3)`` RGB picture.

    Returns
    -------
    tuple of GeneratorMark
        One result per (payload, channel order, domain) that could be tested, detected
        or not (twelve for a large enough picture); empty when the picture is smaller
        than 256×256 pixels.

    Raises
    ------
    ValueError
        Wrong shape or dtype.
    """
    arr = _validate(rgb)
    if arr.shape[0] * arr.shape[1] < _MIN_PIXELS:
        return ()
    out: list[GeneratorMark] = []
    for order in _CHANNEL_ORDERS:
        view = arr[..., ::-1] if order == "BGR" else arr
        scores = {
            domain: _block_scores(view if domain == "uint8" else view.astype(np.float32))
            for domain in ("uint8", "float")
            if any(domain in p.domains for p in GENERATOR_PAYLOADS)
        }
        for payload in GENERATOR_PAYLOADS:
            n = len(payload.bits)
            for domain in payload.domains:
                if scores[domain].size < n:
                    continue
                bits = _bits_from_scores(scores[domain], n)
                expected = np.asarray(payload.bits, dtype=np.bool_)
                matched = int(np.count_nonzero(bits == expected))
                out.append(
                    GeneratorMark(
                        key=payload.key,
                        generator=payload.generator,
                        channel_order=order,
                        bits_matched=matched,
                        bits_total=n,
                        threshold=THRESHOLDS[payload.key],
                        p_value=binomial_tail(n, matched),
                        domain=domain,
                    )
                )
    return tuple(out)


def detect_generator_marks(rgb: npt.NDArray[np.uint8]) -> tuple[GeneratorMark, ...]:
    """Return the generator watermarks found in a picture (only the detected ones).

    Parameters
    ----------
    rgb : numpy.ndarray
        ``uint8 (H, W, 3)`` RGB picture.

    Returns
    -------
    tuple of GeneratorMark
        Detected marks, most significant (smallest p-value) first; empty when none.

    Raises
    ------
    ValueError
        Wrong shape or dtype.

    Examples
    --------
    >>> import numpy as np
    >>> detect_generator_marks(np.zeros((300, 300, 3), np.uint8))
    ()
    """
    found = [m for m in scan_generator_marks(rgb) if m.detected]
    return tuple(sorted(found, key=lambda m: m.p_value))


def marks_to_signals(marks: Sequence[GeneratorMark]) -> tuple[AiSignal, ...]:
    """Turn detected generator marks into AI signals.

    Parameters
    ----------
    marks : sequence of GeneratorMark
        Results of :func:`detect_generator_marks`; undetected entries are ignored.

    Returns
    -------
    tuple of AiSignal
        Kind ``watermark.<key>``, strength ``strong``, unsigned, implying AI_GENERATED.
    """
    out: list[AiSignal] = []
    for m in marks:
        if not m.detected:
            continue
        out.append(
            AiSignal(
                kind=f"watermark.{m.key}",
                value=(
                    f"{m.generator} default invisible watermark: {m.bits_matched}/"
                    f"{m.bits_total} bits agree (p = {m.p_value:.1e})"
                ),
                source=(
                    f"pixels (imwatermark dwtDct, {m.channel_order} channel order, "
                    f"{'float' if m.domain == 'float' else '8-bit'} YUV)"
                ),
                signed=False,
                strength="strong",
                implies=AiLabel.AI_GENERATED,
                detail=m.detail(),
            )
        )
    return tuple(out)


def marks_to_findings(marks: Sequence[GeneratorMark]) -> tuple[WatermarkFinding, ...]:
    """Turn scan results (detected or not) into report watermark findings.

    Parameters
    ----------
    marks : sequence of GeneratorMark
        Results of :func:`scan_generator_marks` or :func:`detect_generator_marks`.

    Returns
    -------
    tuple of WatermarkFinding
        Algorithm ``<key>.imwatermark.dwtDct``; score is the fraction of agreeing bits.
    """
    return tuple(
        WatermarkFinding(
            algorithm=f"{m.key.lower()}.imwatermark.dwtDct",
            found=m.detected,
            payload_hex=None,
            score=m.bits_matched / m.bits_total,
            p_value=m.p_value,
            detail=m.detail(),
        )
        for m in marks
    )
