"""Every record `verify check` prints validates against spec/report.schema.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from typer.testing import CliRunner

from verify_cli.app import app
from verify_cli.exit_codes import ExitCode

SCHEMA = Path(__file__).resolve().parents[3] / "spec" / "report.schema.json"


def test_jsonl_and_json_records_validate(runner: CliRunner, signed: Any, tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    files = [
        signed.publish,
        signed.tampered_pixels,
        signed.tampered_manifest,
        signed.unsigned_jpeg,
        signed.ai_ingredient,
        signed.remote_asset,
        signed.mp4,
        empty,
        tmp_path / "missing.jpg",
        tmp_path,
    ]
    args = ["check", "--fixed-time", "2026-11-21T10:00:00Z", "--trust-anchors", str(signed.root)]
    args += [str(f) for f in files]
    jsonl = runner.invoke(app, args)
    assert jsonl.exit_code == ExitCode.INPUT_ERROR
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(records) == len(files)
    as_json = runner.invoke(app, [*args, "--format", "json"])
    assert json.loads(as_json.stdout) == records
    for record in records:
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, (record["subject"]["path"], [e.message for e in errors])
    assert {r["verdict"] for r in records} >= {"TRUSTED", "INCOMPLETE", "INVALID", "ERROR"}
