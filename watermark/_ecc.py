"""Payload coding (spec section 5): header, CRC-24, keyed whitening, convolutional code.

Info word (96 bits, most significant bit first): 4-bit version (1), 4-bit payload length in
bytes (0-8), 64 data bits (payload left-aligned, zero padded), CRC-24/OpenPGP of the first 72
bits. The info word is XORed with 96 keyed bits (label ``"whiten"``), followed by 6 zero tail
bits, and encoded with the rate-1/2, constraint-length-7 convolutional code (171, 133 octal)
into 204 coded bits. Decoding is a soft-input Viterbi search (loops over the 102 trellis steps
only; each step is vectorised over the 64 states).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "VERSION",
    "INFO_BITS",
    "CODED_BITS",
    "MAX_PAYLOAD_BYTES",
    "crc24",
    "info_bits",
    "parse_info",
    "conv_encode",
    "viterbi",
    "list_viterbi",
]

VERSION = 1
MAX_PAYLOAD_BYTES = 8
HEADER_BITS = 8
DATA_BITS = 64
CRC_BITS = 24
INFO_BITS = HEADER_BITS + DATA_BITS + CRC_BITS
TAIL_BITS = 6
CODED_BITS = 2 * (INFO_BITS + TAIL_BITS)
_G1 = 0o171
_G2 = 0o133
_CRC_POLY = 0x864CFB
_CRC_INIT = 0xB704CE


def crc24(bits: NDArray[np.uint8]) -> int:
    """CRC-24/OpenPGP (poly 0x864CFB, init 0xB704CE, no reflection) of a bit string."""
    reg = _CRC_INIT
    for b in bits.tolist():
        top = ((reg >> 23) & 1) ^ int(b)
        reg = (reg << 1) & 0xFFFFFF
        if top:
            reg ^= _CRC_POLY
    return reg


def _int_bits(value: int, n: int) -> NDArray[np.uint8]:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.uint8)


def info_bits(payload: bytes) -> NDArray[np.uint8]:
    """Return the 96-bit info word for ``payload`` (at most 8 bytes)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES} fit")
    data = np.unpackbits(np.frombuffer(payload.ljust(MAX_PAYLOAD_BYTES, b"\0"), dtype=np.uint8))
    head = np.concatenate([_int_bits(VERSION, 4), _int_bits(len(payload), 4), data])
    return np.concatenate([head, _int_bits(crc24(head), CRC_BITS)]).astype(np.uint8)


def parse_info(bits: NDArray[np.uint8]) -> bytes | None:
    """Return the payload of a 96-bit info word, or ``None`` if the CRC, version or length fail."""
    head = bits[: HEADER_BITS + DATA_BITS]
    crc = int("".join(str(int(b)) for b in bits[HEADER_BITS + DATA_BITS :]), 2)
    if crc24(head) != crc:
        return None
    version = int("".join(str(int(b)) for b in head[:4]), 2)
    length = int("".join(str(int(b)) for b in head[4:8]), 2)
    if version != VERSION or length > MAX_PAYLOAD_BYTES:
        return None
    data = np.packbits(head[8:]).tobytes()
    if any(data[length:]):
        return None
    return data[:length]


def _parity(x: NDArray[np.int64]) -> NDArray[np.int64]:
    x = x ^ (x >> 4)
    x = x ^ (x >> 2)
    x = x ^ (x >> 1)
    return x & 1


# Trellis tables. State s holds the 6 previous inputs, u[t-1] in bit 5. The shift register is
# reg = (u[t] << 6) | s; outputs parity(reg & G1), parity(reg & G2); next state reg >> 1.
_NEXT = np.arange(64, dtype=np.int64)
_PRED0 = (_NEXT << 1) & 63  # predecessor whose dropped bit (u[t-6]) was 0
_PRED1 = _PRED0 | 1
_INPUT = _NEXT >> 5


def _outputs(pred: NDArray[np.int64]) -> NDArray[np.float64]:
    reg = (_INPUT << 6) | pred
    o1 = _parity(reg & _G1)
    o2 = _parity(reg & _G2)
    return np.stack([2.0 * o1 - 1.0, 2.0 * o2 - 1.0])


_OUT0 = _outputs(_PRED0)
_OUT1 = _outputs(_PRED1)


def conv_encode(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Encode with the (171, 133) K=7 code after appending 6 zero tail bits."""
    u = np.concatenate([bits.astype(np.int64), np.zeros(TAIL_BITS, dtype=np.int64)])
    n = u.size
    # reg[t] = sum_i u[t-i] << (6-i); vectorised over t with shifted copies.
    padded = np.concatenate([np.zeros(6, dtype=np.int64), u])
    reg = np.zeros(n, dtype=np.int64)
    for i in range(7):
        reg |= padded[6 - i : 6 - i + n] << (6 - i)
    out = np.stack([_parity(reg & _G1), _parity(reg & _G2)], axis=1)
    return out.reshape(-1).astype(np.uint8)


def viterbi(soft: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Maximum-likelihood decoding of soft coded values (positive means bit 1).

    Parameters
    ----------
    soft : ndarray, shape (CODED_BITS,)
        Soft value per coded bit; the metric is the correlation, so any positive scale works.

    Returns
    -------
    ndarray of uint8, shape (INFO_BITS,)
        The decoded info bits (tail removed), starting and ending in state 0.
    """
    steps = soft.size // 2
    y = soft.reshape(steps, 2).astype(np.float64)
    metric = np.full(64, -np.inf)
    metric[0] = 0.0
    choice = np.empty((steps, 64), dtype=bool)
    for t in range(steps):
        m0 = metric[_PRED0] + y[t] @ _OUT0
        m1 = metric[_PRED1] + y[t] @ _OUT1
        pick = m1 > m0
        choice[t] = pick
        metric = np.where(pick, m1, m0)
    state = 0
    bits = np.empty(steps, dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        bits[t] = state >> 5
        state = int(_PRED1[state] if choice[t, state] else _PRED0[state])
    return bits[: steps - TAIL_BITS]


def list_viterbi(soft: NDArray[np.float64], size: int) -> list[NDArray[np.uint8]]:
    """Parallel list Viterbi: the ``size`` best distinct paths ending in state 0, best first.

    Each state keeps its ``size`` best partial paths; a step merges the ``2 * size``
    candidates of the two predecessors (vectorised over the 64 states).
    """
    steps = soft.size // 2
    y = soft.reshape(steps, 2).astype(np.float64)
    gain0, gain1 = y @ _OUT0, y @ _OUT1  # (steps, 64) branch metrics
    cost = np.full((64, size), np.inf)  # negated path metrics, each row ascending
    cost[0, 0] = 0.0
    back = np.empty((steps, 64, size), dtype=np.int16)  # index into the 2*size candidates
    for t in range(steps):
        cand = np.concatenate(
            [cost[_PRED0] - gain0[t][:, None], cost[_PRED1] - gain1[t][:, None]], axis=1
        )
        order = np.argsort(cand, axis=1, kind="stable")[:, :size]
        back[t] = order
        cost = np.take_along_axis(cand, order, axis=1)
    metric = -cost
    ranks = np.flatnonzero(np.isfinite(metric[0]))  # metric[0] is sorted: a prefix
    state = np.zeros(ranks.size, dtype=np.int64)
    r = ranks.astype(np.int64)
    bits = np.empty((ranks.size, steps), dtype=np.uint8)
    for t in range(steps - 1, -1, -1):  # trace every path back at once
        bits[:, t] = state >> 5
        k = back[t, state, r].astype(np.int64)
        state = np.where(k >= size, _PRED1[state], _PRED0[state])
        r = k % size
    return [bits[i, : steps - TAIL_BITS] for i in range(ranks.size)]
