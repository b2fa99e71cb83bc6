"""Payload decoding at one hypothesis (spec section 9, detector revision 3)."""

from __future__ import annotations

import numpy as np
import pytest

from watermark import _detect, _ecc, _embed, _layout

KEY = b"decode-test-key"
PAYLOAD = b"DRIFTING"


def _misscaled_fold(noise: float, seed: int, error: float = 0.01) -> np.ndarray:
    """The fold of a mark read at a lattice ``error`` too large in scale (both axes): the
    cells drift by up to 1.3 bins across the tile, so no single offset fits every cell.
    White noise of standard deviation ``noise`` per bin is added."""
    n = _layout.FOLD
    cells = _embed.tile_cells(KEY, PAYLOAD).astype(np.float64)
    fine = np.kron(cells, np.ones((8, 8)))  # 4 samples per bin side
    pos = (np.arange(4 * n) + 0.5) / 4.0  # bin coordinates of the samples
    idx = np.floor(pos * (1.0 + error) * 4.0).astype(np.intp) % fine.shape[0]
    fold = fine[np.ix_(idx, idx)].reshape(n, 4, n, 4).mean(axis=(1, 3))
    return fold + np.random.default_rng(seed).normal(0.0, noise, fold.shape)


def _single_offset_decode(folded: np.ndarray, shift: tuple[int, int]) -> bytes | None:
    """Revision 2's decoder: the values of one offset only."""
    lay = _layout.layout(KEY)
    a = _detect.cell_sums(folded)
    r, c = np.divmod(lay.data_index, _layout.GRID)
    vals = a[(2 * r + shift[0]) % _layout.FOLD, (2 * c + shift[1]) % _layout.FOLD]
    vals = vals * lay.chips.reshape(-1)[lay.data_index]
    limit = 1.5 * float(np.std(vals))
    soft = np.bincount(lay.data_bit, weights=np.clip(vals, -limit, limit), minlength=204)
    for path in _ecc.list_viterbi(soft.astype(np.float64), _detect.LIST_SIZE):
        if (out := _ecc.parse_info(path ^ lay.whiten)) is not None:
            return out
    return None


@pytest.mark.parametrize("seed", range(10))
def test_drifting_cells_are_decoded_from_the_neighbouring_offsets(seed: int) -> None:
    folded = _misscaled_fold(noise=5.2, seed=seed)
    z, orientation, shift = _detect.best_sync(folded, KEY)
    assert orientation == 0
    assert _detect.decode(folded, KEY, orientation, shift) == PAYLOAD


def test_the_combination_recovers_what_one_offset_loses() -> None:
    """At this noise the single best offset loses most payloads; the combination none."""
    single = combined = 0
    for seed in range(10):
        folded = _misscaled_fold(noise=5.2, seed=seed)
        _, orientation, shift = _detect.best_sync(folded, KEY)
        single += _single_offset_decode(folded, shift) == PAYLOAD
        combined += _detect.decode(folded, KEY, orientation, shift) == PAYLOAD
    assert combined == 10
    assert single <= 4


def test_data_values_ignore_offsets_without_sync_evidence() -> None:
    """Offsets whose own sync statistic is not positive contribute nothing."""
    rng = np.random.default_rng(3)
    a = rng.normal(0.0, 1.0, (_layout.FOLD, _layout.FOLD))
    vals = _detect.data_values(a, KEY, (5, 7))
    assert vals.shape == (_layout.layout(KEY).data_index.size,)
    assert np.all(np.isfinite(vals))
