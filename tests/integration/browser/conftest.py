"""Fixtures for the browser tests: a headless Chromium (with and without JavaScript) and
screenshots (helpers in ``browserkit.py``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import make_driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile (JavaScript on)."""
    driver = make_driver(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def browser_no_js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium with JavaScript switched off."""
    driver = make_driver(tmp_path_factory.mktemp("chromium-profile-nojs"), javascript=False)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """``screenshot(driver_or_element, name)``: save a PNG in the test's directory, and in
    ``$JINJJA_SCREENSHOTS`` too when it is set (how docs/img/ is refreshed)."""

    def take(target: Any, name: str) -> Path:
        path = tmp_path / name
        assert (
            target.screenshot(str(path))
            if hasattr(target, "tag_name")
            else (target.save_screenshot(str(path)))
        )
        out = os.environ.get("JINJJA_SCREENSHOTS")
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(out) / name)
        return path

    return take
