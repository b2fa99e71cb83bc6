"""`verify check` formats, exit codes and options, on hand-built reports.

``provenance.check`` is replaced by a lookup so these tests pin the command's own
behaviour (rendering, streaming, exit codes) independently of the SDK.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import _cli_reports as _reports
import pytest
from typer.testing import CliRunner

from provenance.check import Checker
from provenance.errors import TrustStoreError
from provenance.report import AiAssessment, AiLabel, Verdict
from verify_cli.app import app
from verify_cli.exit_codes import ExitCode
from verify_cli.render import CSV_COLUMNS, dumps_record

REPORTS = {
    "edit.jpg": _reports.trusted_report(),
    "forged.jpg": _reports.invalid_report(),
    "plain.png": _reports.no_credentials_report(),
    "broken.jpg": _reports.error_report(),
}


def _plain(text: str) -> str:
    """Usage errors come in a Rich box: drop the frame and re-flow the words."""
    return " ".join(text.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def _files(tmp_path: Path, *names: str) -> list[str]:
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    return [str(tmp_path / name) for name in names]


def test_jsonl_is_default_off_terminal(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    result = runner.invoke(app, ["check", *_files(tmp_path, "edit.jpg", "forged.jpg")])
    assert result.exit_code == ExitCode.OK, result.output
    lines = result.stdout.splitlines()
    assert [json.loads(line)["verdict"] for line in lines] == ["TRUSTED", "INVALID"]
    # sorted keys, compact, numbers as numbers
    assert lines[0] == dumps_record(REPORTS["edit.jpg"].to_dict())
    record = json.loads(lines[0])
    assert list(record) == sorted(record)
    assert record["subject"]["width"] == 640
    assert result.stderr == ""


def test_json_single_object_and_array(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    one = runner.invoke(app, ["check", "--format", "json", *_files(tmp_path, "edit.jpg")])
    assert one.exit_code == 0
    assert json.loads(one.stdout)["verdict"] == "TRUSTED"
    several = runner.invoke(
        app, ["check", "--format", "json", *_files(tmp_path, "edit.jpg", "plain.png")]
    )
    assert several.exit_code == 0
    data = json.loads(several.stdout)
    assert [r["verdict"] for r in data] == ["TRUSTED", "NO_CREDENTIALS"]


def test_csv_flattening(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    result = runner.invoke(
        app, ["check", "--format", "csv", *_files(tmp_path, "edit.jpg", "forged.jpg")]
    )
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["verdict"] for r in table] == ["TRUSTED", "INVALID"]
    edit, forged = table
    assert edit["issuer"] == "Example News"
    assert edit["issuer_common_name"] == "Desk; editor"
    assert edit["actions"] == "c2pa.opened;c2pa.cropped"
    assert edit["ingredients"] == "1"
    assert edit["width"] == "640"
    assert edit["claim_generator"] == "'=Editor 2.1"  # formula guard
    assert forged["failure_codes"] == "claimSignature.mismatch"
    assert forged["ai_label"] == "AI_GENERATED"
    assert forged["schema"] == "jinjja.report/v1"


def test_text_panels(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    paths = _files(tmp_path, "edit.jpg", "forged.jpg", "plain.png")
    wide = {"COLUMNS": "200"}
    result = runner.invoke(app, ["check", "--format", "text", *paths], env=wide)
    assert result.exit_code == 0
    out = result.stdout
    for words in ("TRUSTED", "INVALID", "NO_CREDENTIALS", "issued by Example", "Camera-captured"):
        assert words in out
    assert "not to be relied on" in out
    assert "parentOf: capture.jpg" in out
    assert "claimSignature.mismatch" not in out
    verbose = runner.invoke(app, ["check", "--format", "text", "-v", *paths], env=wide)
    assert verbose.exit_code == 0
    assert "[claimSignature.mismatch]" in verbose.stdout
    assert "issuing CA Example News CA" in verbose.stdout
    assert "--trust-anchors demo-root.pem" in verbose.stdout


@pytest.mark.parametrize(
    ("name", "fail_on", "expected"),
    [
        ("edit.jpg", "invalid,untrusted,no-credentials,ai", ExitCode.OK),
        ("forged.jpg", "invalid", ExitCode.CONDITION_MET),
        ("forged.jpg", "ai", ExitCode.CONDITION_MET),
        ("forged.jpg", "untrusted,no-credentials", ExitCode.OK),
        ("plain.png", "no-credentials", ExitCode.CONDITION_MET),
        ("plain.png", "invalid", ExitCode.OK),
        ("broken.jpg", "invalid", ExitCode.INPUT_ERROR),
    ],
)
def test_fail_on(
    runner: CliRunner, fake_check, tmp_path: Path, name: str, fail_on: str, expected: int
) -> None:
    fake_check(REPORTS)
    result = runner.invoke(app, ["check", "--fail-on", fail_on, *_files(tmp_path, name)])
    assert result.exit_code == expected, result.output


@pytest.mark.parametrize(
    ("verdict", "ai", "fail_on", "expected"),
    [
        (Verdict.INCOMPLETE, AiLabel.UNKNOWN, "invalid", ExitCode.CONDITION_MET),
        (Verdict.VALID_UNTRUSTED, AiLabel.UNKNOWN, "untrusted", ExitCode.CONDITION_MET),
        (Verdict.VALID_UNTRUSTED, AiLabel.UNKNOWN, "invalid", ExitCode.OK),
        (Verdict.RECOVERED, AiLabel.AI_EDITED, "invalid,untrusted", ExitCode.OK),
        (Verdict.RECOVERED, AiLabel.AI_EDITED, "ai", ExitCode.CONDITION_MET),
        (Verdict.TRUSTED, AiLabel.CAPTURED, "ai", ExitCode.OK),
    ],
)
def test_fail_on_every_verdict(
    runner: CliRunner,
    fake_check,
    tmp_path: Path,
    verdict: Verdict,
    ai: AiLabel,
    fail_on: str,
    expected: int,
) -> None:
    import dataclasses

    report = dataclasses.replace(
        _reports.trusted_report("x.jpg"), verdict=verdict, ai=AiAssessment(ai)
    )
    fake_check({"x.jpg": report})
    result = runner.invoke(app, ["check", "--fail-on", fail_on, *_files(tmp_path, "x.jpg")])
    assert result.exit_code == expected


def test_fail_on_repeatable_and_unknown(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    path = _files(tmp_path, "plain.png")
    ok = runner.invoke(app, ["check", "--fail-on", "ai", "--fail-on", "no-credentials", *path])
    assert ok.exit_code == ExitCode.CONDITION_MET
    bad = runner.invoke(app, ["check", "--fail-on", "invalid,fake", *path])
    assert bad.exit_code == ExitCode.USAGE
    assert "unknown condition 'fake'" in _plain(bad.stderr)
    assert bad.stdout == ""


def test_input_error_takes_precedence_over_condition(
    runner: CliRunner, fake_check, tmp_path: Path
) -> None:
    fake_check(REPORTS)
    paths = _files(tmp_path, "forged.jpg", "broken.jpg", "edit.jpg")
    result = runner.invoke(app, ["check", "--fail-on", "invalid", *paths])
    assert result.exit_code == ExitCode.INPUT_ERROR
    verdicts = [json.loads(line)["verdict"] for line in result.stdout.splitlines()]
    assert verdicts == ["INVALID", "ERROR", "TRUSTED"]  # one bad file stops nothing
    assert result.stderr == f"verify: {paths[1]}: the file is empty (0 bytes)\n"


def test_output_file_and_format_from_suffix(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    paths = _files(tmp_path, "edit.jpg", "plain.png")
    out = tmp_path / "reports.csv"
    result = runner.invoke(app, ["check", "--output", str(out), *paths])
    assert result.exit_code == 0
    assert result.stdout == ""
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["verdict"] for r in rows] == ["TRUSTED", "NO_CREDENTIALS"]
    out_json = tmp_path / "reports.json"
    result = runner.invoke(app, ["check", "-o", str(out_json), "--format", "jsonl", *paths])
    assert len(out_json.read_text(encoding="utf-8").splitlines()) == 2


def test_output_file_not_writable(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    target = tmp_path / "missing-dir" / "out.jsonl"
    result = runner.invoke(app, ["check", "-o", str(target), *_files(tmp_path, "edit.jpg")])
    assert result.exit_code == ExitCode.USAGE
    assert "cannot write the output file" in result.stderr


def test_options_reach_the_library(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    calls = fake_check(REPORTS)
    anchors = tmp_path / "anchors.pem"
    from provenance.testing.pki import make_pki

    anchors.write_bytes(make_pki("Options", algs=("es256",), seed=b"options").root_pem)
    result = runner.invoke(
        app,
        [
            "check",
            "--trust-anchors",
            str(anchors),
            "--allow-network",
            "--show-prompts",
            "--fixed-time",
            "2026-01-02T03:04:05+09:00",
            *_files(tmp_path, "edit.jpg"),
        ],
    )
    assert result.exit_code == 0, result.output
    (path, kwargs), *_ = calls
    assert path == tmp_path / "edit.jpg"
    assert kwargs["trust_anchors"] == (anchors,)
    assert kwargs["allow_network"] is True
    assert kwargs["show_prompts"] is True
    assert kwargs["analyzed_at"] == dt.datetime(2026, 1, 1, 18, 4, 5, tzinfo=dt.UTC)
    assert kwargs["manifest"] is None
    assert kwargs["fragments"] == ()


@pytest.mark.parametrize(
    "args",
    [
        ["--fixed-time", "yesterday"],
        ["--fixed-time", "2026-01-01T00:00:00"],  # no zone
        ["--fixed-time", "2026-01-01"],
        ["--trust-anchors", "/nonexistent/anchors.pem"],
        ["--manifest", "/nonexistent/store.c2pa"],
        ["--format", "xml"],
        ["--fragments", "/nonexistent/*.m4s"],
    ],
)
def test_usage_errors(runner: CliRunner, fake_check, tmp_path: Path, args: list[str]) -> None:
    fake_check(REPORTS)
    result = runner.invoke(app, ["check", *args, *_files(tmp_path, "edit.jpg")])
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""


def test_manifest_needs_exactly_one_path(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    store = tmp_path / "store.c2pa"
    store.write_bytes(b"x")
    paths = _files(tmp_path, "edit.jpg", "plain.png")
    result = runner.invoke(app, ["check", "--manifest", str(store), *paths])
    assert result.exit_code == ExitCode.USAGE
    assert "exactly one PATH" in _plain(result.stderr)


def test_internal_error_is_one_line(runner: CliRunner, monkeypatch, tmp_path: Path) -> None:
    def boom(self: object, path: Path, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(Checker, "check", boom)
    paths = _files(tmp_path, "edit.jpg")
    result = runner.invoke(app, ["check", *paths])
    assert result.exit_code == ExitCode.INTERNAL
    assert result.stderr.count("\n") == 1
    assert "internal error: RuntimeError: kaboom" in result.stderr
    assert "re-run with -v" in result.stderr
    verbose = runner.invoke(app, ["check", "-v", *paths])
    assert verbose.exit_code == ExitCode.INTERNAL
    assert "Traceback (most recent call last)" in verbose.stderr


def test_configuration_error_is_usage(runner: CliRunner, monkeypatch, tmp_path: Path) -> None:
    def bad_anchors(self: object, path: Path, **kwargs: object) -> None:
        raise TrustStoreError("anchors.pem contains no PEM certificate")

    monkeypatch.setattr(Checker, "check", bad_anchors)
    result = runner.invoke(app, ["check", *_files(tmp_path, "edit.jpg")])
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == "verify: anchors.pem contains no PEM certificate\n"


def test_ctrl_c_closes_the_json_array(runner: CliRunner, monkeypatch, tmp_path: Path) -> None:
    def interrupted(self: object, path: Path, **kwargs: object) -> object:
        if Path(path).name == "plain.png":
            raise KeyboardInterrupt
        return REPORTS[Path(path).name]

    monkeypatch.setattr(Checker, "check", interrupted)
    paths = _files(tmp_path, "edit.jpg", "plain.png", "forged.jpg")
    result = runner.invoke(app, ["check", "--format", "json", *paths])
    assert result.exit_code == ExitCode.INTERRUPTED
    assert [r["verdict"] for r in json.loads(result.stdout)] == ["TRUSTED"]
    assert "interrupted" in result.stderr


def test_records_stream_one_at_a_time(runner: CliRunner, monkeypatch, tmp_path: Path) -> None:
    """Each JSONL record is written before the next input is checked."""
    from verify_cli import check as check_module

    seen: list[int] = []
    stream_holder: dict[str, io.StringIO] = {}

    class Spy(io.StringIO):
        pass

    def spying(self: object, path: Path, **kwargs: object) -> object:
        out = stream_holder.get("s")
        seen.append(len(out.getvalue().splitlines()) if out is not None else -1)
        return REPORTS[Path(path).name]

    monkeypatch.setattr(Checker, "check", spying)
    real_open = check_module._open_output

    from contextlib import contextmanager

    @contextmanager
    def spy_open(output: Path | None):  # type: ignore[no-untyped-def]
        stream_holder["s"] = Spy()
        yield stream_holder["s"]

    monkeypatch.setattr(check_module, "_open_output", spy_open)
    paths = _files(tmp_path, "edit.jpg", "plain.png", "forged.jpg")
    result = runner.invoke(app, ["check", *paths])
    assert result.exit_code == 0
    assert seen == [0, 1, 2]
    assert real_open is not None


def test_default_format_follows_the_destination(tmp_path: Path) -> None:
    from verify_cli.check import _default_format
    from verify_cli.render import OutputFormat

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert _default_format(None, Terminal()) is OutputFormat.TABLE
    assert _default_format(None, io.StringIO()) is OutputFormat.JSONL
    assert _default_format(tmp_path / "r.csv", Terminal()) is OutputFormat.CSV
    assert _default_format(tmp_path / "r.JSON", Terminal()) is OutputFormat.JSON
    assert _default_format(tmp_path / "r.txt", io.StringIO()) is OutputFormat.TABLE
    assert _default_format(tmp_path / "r.out", Terminal()) is OutputFormat.JSONL


def test_text_to_a_file_has_no_colour_codes(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    out = tmp_path / "report.txt"
    result = runner.invoke(app, ["check", "-o", str(out), *_files(tmp_path, "forged.jpg")])
    assert result.exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "INVALID" in text
    assert "\x1b[" not in text


def test_closed_pipe_stops_quietly(
    runner: CliRunner, fake_check, monkeypatch, tmp_path: Path
) -> None:
    """`verify check ... | head -1`: stop at the broken pipe, no traceback, no error line."""
    from contextlib import contextmanager

    from verify_cli import check as check_module

    calls = fake_check(REPORTS)

    class ClosedAfterOneLine(io.StringIO):
        def write(self, text: str) -> int:
            if self.getvalue().count("\n") >= 1:
                raise BrokenPipeError(32, "Broken pipe")
            return super().write(text)

    @contextmanager
    def closing_pipe(output: Path | None):  # type: ignore[no-untyped-def]
        yield ClosedAfterOneLine()

    monkeypatch.setattr(check_module, "_open_output", closing_pipe)
    paths = _files(tmp_path, "edit.jpg", "plain.png", "forged.jpg")
    result = runner.invoke(app, ["check", *paths])
    assert result.exit_code == ExitCode.OK
    assert result.stderr == ""
    assert len(calls) == 2  # the third input was never checked
