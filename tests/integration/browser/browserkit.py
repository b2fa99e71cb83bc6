"""Headless Chromium for the HTML report tests: Debian's chromium through chromium-driver.

A plain module with a unique name (``from conftest import`` resolves to whichever conftest
was imported first); the fixtures that use it are in this folder's ``conftest.py``.

Nothing is downloaded: the browser and its driver come from the system packages
``chromium`` and ``chromium-driver`` (``make test`` installs them when missing). Each
browser gets a fresh profile directory and every background service switched off, so the
only requests it makes are the ones the page asks for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--window-size=1280,1500",
    "--lang=en-US",
)


@dataclass
class Loaded:
    """What happened while a page loaded."""

    console: list[dict[str, Any]]
    """The browser log (console messages, CSP violations, script errors)."""
    requests: list[str]
    """Every URL the page requested (from the DevTools Network events)."""


def make_driver(profile: Path, *, javascript: bool = True) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: apt-get install -y chromium chromium-driver "
            "fonts-noto-cjk (make test does this)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    # Start from a blank page so the new-tab page's own chrome:// loads are not counted.
    driver.get("about:blank")
    return driver


def load(driver: Any, page: Path) -> Loaded:
    """Open ``page``; return its console messages and the URLs it requested."""
    driver.get("about:blank")
    driver.get_log("browser")  # drain what an earlier page left
    driver.get_log("performance")
    driver.get(page.resolve().as_uri())
    driver.execute_script("return document.readyState")
    console = driver.get_log("browser")
    requests: list[str] = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            requests.append(message["params"]["url"])
    return Loaded(console=console, requests=requests)
