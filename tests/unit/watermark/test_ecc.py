from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watermark import _ecc


def test_crc24_check_value() -> None:
    bits = np.unpackbits(np.frombuffer(b"123456789", dtype=np.uint8))
    assert _ecc.crc24(bits) == 0x21CF02  # CRC-24/OpenPGP check value


@pytest.mark.parametrize("payload", [b"", b"\x00", b"hi", b"\xff" * 8, bytes(range(8))])
def test_info_round_trip(payload: bytes) -> None:
    info = _ecc.info_bits(payload)
    assert info.size == _ecc.INFO_BITS
    assert _ecc.parse_info(info) == payload


def test_parse_rejects_corruption() -> None:
    info = _ecc.info_bits(b"abc")
    info[20] ^= 1
    assert _ecc.parse_info(info) is None


def test_viterbi_corrects_noise() -> None:
    rng = np.random.default_rng(3)
    info = rng.integers(0, 2, _ecc.INFO_BITS).astype(np.uint8)
    coded = _ecc.conv_encode(info)
    assert coded.size == _ecc.CODED_BITS
    soft = (2.0 * coded - 1.0) + rng.normal(0.0, 0.8, coded.size)
    assert np.array_equal(_ecc.viterbi(soft), info)


def test_too_long_payload() -> None:
    with pytest.raises(ValueError, match="at most 8"):
        _ecc.info_bits(b"123456789")


def test_template_derivation_never_fails() -> None:
    """Every key yields a template (a fixed-length stream once made some keys fail)."""
    from watermark import _layout

    for i in range(3000):
        freqs, phases = _layout._template(i.to_bytes(4, "big"))
        assert freqs.shape == (12, 2) and phases.shape == (12,)
        assert np.all(np.abs(freqs) >= 3) and not np.any(np.abs(freqs) == 16)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.5))
def test_short_list_is_a_prefix_of_the_long_list(seed: int, signal: float) -> None:
    rng = np.random.default_rng(seed)
    coded = _ecc.conv_encode(rng.integers(0, 2, _ecc.INFO_BITS).astype(np.uint8))
    soft = signal * (2.0 * coded - 1.0) + rng.normal(size=coded.size)
    short = _ecc.list_viterbi(soft, 4)
    long = _ecc.list_viterbi(soft, 64)
    assert all(np.array_equal(a, b) for a, b in zip(short, long[:4], strict=True))
