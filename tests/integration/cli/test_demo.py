"""`make demo` keeps working: run every step of examples/demo.py into a temporary directory."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo.py"


def test_demo_runs_and_every_verdict_is_as_expected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("jinjja_demo", DEMO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "jinjja_demo", module)  # dataclasses need it
    spec.loader.exec_module(module)
    demo = module.main(tmp_path / "demo-out")  # raises SystemExit on a wrong verdict
    out = capsys.readouterr().out
    compared = [line for line in out.splitlines() if line.startswith(("  ✓ ", "  ✗ "))]
    assert len(compared) == len(demo.files)
    assert all(line.startswith("  ✓ ") for line in compared)
    records = [
        json.loads(line)
        for line in (tmp_path / "demo-out" / "reports.jsonl").read_text().splitlines()
    ]
    assert [r["verdict"] for r in records] == list(demo.expected.values())
    assert {"TRUSTED", "INCOMPLETE", "NO_CREDENTIALS"} <= {r["verdict"] for r in records}
    published = records[2]["chain"]
    assert published["ingredients"][0]["ingredients"][0]["relationship"] == "parentOf"
