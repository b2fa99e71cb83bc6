"""Run the Examples sections of the public API docstrings."""

from __future__ import annotations

import doctest

import watermark._api
import watermark._keys


def test_docstring_examples() -> None:
    for module in (watermark._api, watermark._keys):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0
        assert result.failed == 0
