"""Hypothesis properties: any payload of at most 8 bytes round-trips; a wrong key never finds."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import watermark

_Y, _X = np.mgrid[0:256, 0:256]
_GREY = np.rint(128 + 60 * np.sin(_X / 9) * np.cos(_Y / 13)).astype(np.uint8)
HOST = np.stack([_GREY, _GREY[::-1], _GREY.T], axis=-1)
_SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(payload=st.binary(min_size=0, max_size=8), key=st.binary(min_size=1, max_size=32))
def test_any_payload_round_trips(payload: bytes, key: bytes) -> None:
    marked = watermark.embed(HOST, payload, key)
    result = watermark.detect(marked, key)
    assert result.found and result.payload == payload


@_SETTINGS
@given(key=st.text(min_size=1, max_size=16), other=st.text(min_size=1, max_size=16))
def test_wrong_key_never_finds(key: str, other: str) -> None:
    if key.encode() == other.encode():
        return
    marked = watermark.embed(HOST, b"secret!", key)
    result = watermark.detect(marked, other)
    assert not result.found and result.payload is None
