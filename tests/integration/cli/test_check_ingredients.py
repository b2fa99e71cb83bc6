"""`verify check`: a validated active manifest over a broken ingredient never reads as clean.

The verdict judges the active manifest; an ingredient whose own validation failed (for
example ``claimSignature.mismatch`` recorded when it was added) is shown on the verdict
line as a warning, and the first summary sentence says so.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import _cli_reports as _reports
import pytest
from typer.testing import CliRunner

from provenance.report import Failure, Report, Verdict
from verify_cli.app import app
from verify_cli.exit_codes import ExitCode

WIDE = {"COLUMNS": "200"}
QUALIFIER = "— but an ingredient failed validation"
MISMATCH = Failure(
    "claimSignature.mismatch",
    "The signature does not match the credentials.",
    manifest="urn:c2pa:1111",
    origin="ingredient_record",
)


def _with_broken_ingredient(report: Report, *, count: int = 1) -> Report:
    """The report with its (first) ingredient failing validation, ``count`` levels deep."""
    assert report.chain is not None
    node = _reports.capture_node(failures=(MISMATCH,))
    for _ in range(count - 1):
        node = dataclasses.replace(_reports.capture_node(failures=(MISMATCH,)), ingredients=(node,))
    chain = dataclasses.replace(report.chain, ingredients=(node,))
    return dataclasses.replace(report, chain=chain, failures=(MISMATCH,))


def _headline(stdout: str) -> str:
    """The verdict line of the first panel (second line of the output)."""
    return stdout.splitlines()[1]


def _files(tmp_path: Path, *names: str) -> list[str]:
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    return [str(tmp_path / name) for name in names]


def test_report_lists_unreliable_ingredients_at_any_depth() -> None:
    clean = _reports.trusted_report()
    assert clean.unreliable_ingredients == ()
    one = _with_broken_ingredient(clean)
    assert [n.title for n in one.unreliable_ingredients] == ["capture.jpg"]
    two = _with_broken_ingredient(clean, count=2)
    assert len(two.unreliable_ingredients) == 2
    # Additive: the JSON record does not change shape.
    assert set(one.to_dict()) == set(clean.to_dict())
    no_chain = _reports.no_credentials_report()
    assert no_chain.unreliable_ingredients == ()


@pytest.mark.parametrize("verdict", [Verdict.TRUSTED, Verdict.VALID_UNTRUSTED])
def test_text_headline_warns_about_a_broken_ingredient(
    runner: CliRunner, fake_check, tmp_path: Path, verdict: Verdict
) -> None:
    report = dataclasses.replace(
        _with_broken_ingredient(_reports.trusted_report()), verdict=verdict
    )
    fake_check({"edit.jpg": report})
    result = runner.invoke(
        app, ["check", "--format", "text", *_files(tmp_path, "edit.jpg")], env=WIDE
    )
    assert result.exit_code == ExitCode.OK, result.output
    headline = _headline(result.stdout)
    assert verdict.value in headline
    assert QUALIFIER in headline


def test_text_headline_counts_several_broken_ingredients(
    runner: CliRunner, fake_check, tmp_path: Path
) -> None:
    fake_check({"edit.jpg": _with_broken_ingredient(_reports.trusted_report(), count=2)})
    result = runner.invoke(
        app, ["check", "--format", "text", *_files(tmp_path, "edit.jpg")], env=WIDE
    )
    assert "— but 2 ingredients failed validation" in _headline(result.stdout)


def test_text_headline_without_broken_ingredient_has_no_warning(
    runner: CliRunner, fake_check, tmp_path: Path
) -> None:
    invalid = _with_broken_ingredient(_reports.trusted_report())
    invalid = dataclasses.replace(invalid, verdict=Verdict.INVALID)
    fake_check({"edit.jpg": _reports.trusted_report(), "bad.jpg": invalid})
    result = runner.invoke(
        app, ["check", "--format", "text", *_files(tmp_path, "edit.jpg", "bad.jpg")], env=WIDE
    )
    # Clean: no warning. INVALID already says not to rely on the file: no extra warning.
    assert "— but" not in result.stdout
    assert "Trusted Content Credentials" in _headline(result.stdout)


@pytest.mark.shared
def test_shared_ingredient_with_bad_signature(runner: CliRunner, shared_dir: Path) -> None:
    path = shared_dir / "c2pa" / "fixtures" / "c2pa-rs" / "CIE-sig-CA.jpg"
    roots = shared_dir / "c2pa" / "trust" / "c2pa-rs-test" / "test_cert_root_bundle.pem"
    for extra, verdict in (([], "VALID_UNTRUSTED"), (["--trust-anchors", str(roots)], "TRUSTED")):
        as_json = runner.invoke(app, ["check", "--format", "jsonl", *extra, str(path)])
        assert as_json.exit_code == ExitCode.OK, as_json.output
        record = json.loads(as_json.stdout)
        assert record["verdict"] == verdict
        first = record["summary"][0]
        assert "an ingredient failed validation" in first
        assert not first.startswith("Content Credentials are intact")
        text = runner.invoke(app, ["check", "--format", "text", *extra, str(path)], env=WIDE)
        assert text.exit_code == ExitCode.OK, text.output
        headline = _headline(text.stdout)
        assert verdict in headline
        assert QUALIFIER in headline


def test_fail_on_ingredient(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    broken = _with_broken_ingredient(_reports.trusted_report())
    fake_check({"edit.jpg": broken, "clean.jpg": _reports.trusted_report()})
    met = runner.invoke(
        app,
        ["check", "--format", "jsonl", "--fail-on", "ingredient", *_files(tmp_path, "edit.jpg")],
    )
    assert met.exit_code == ExitCode.CONDITION_MET, met.output
    assert json.loads(met.stdout)["chain"]["ingredient_failures"] == 1
    clean = runner.invoke(
        app,
        ["check", "--format", "jsonl", "--fail-on", "ingredient", *_files(tmp_path, "clean.jpg")],
    )
    assert clean.exit_code == ExitCode.OK, clean.output
    assert json.loads(clean.stdout)["chain"]["ingredient_failures"] == 0
    without = runner.invoke(app, ["check", "--format", "jsonl", *_files(tmp_path, "edit.jpg")])
    assert without.exit_code == ExitCode.OK  # no --fail-on: a broken ingredient is not exit 1


def test_fail_on_ingredient_on_a_file_made_here(runner: CliRunner, signed, tmp_path: Path) -> None:
    """An edit whose parent's manifest was altered after signing: the parent is recorded as
    failed inside the ingredient assertion; the edit itself is intact and trusted."""
    from provenance.credentials.sign import SignerSpec, sign_file

    out = tmp_path / "edit-of-tampered.jpg"
    sign_file(
        signed.tampered_manifest,
        out,
        signer=SignerSpec.from_pem(signed.pki.chain_pem(), signed.pki.key_pem()),
        action="c2pa.color_adjustments",
    )
    result = runner.invoke(
        app,
        ["check", "--format", "jsonl", "--trust-anchors", str(signed.root),
         "--fail-on", "ingredient", str(out)],
    )  # fmt: skip
    assert result.exit_code == ExitCode.CONDITION_MET, result.output
    record = json.loads(result.stdout)
    assert record["verdict"] == "TRUSTED"
    assert record["chain"]["ingredient_failures"] == 1
    text = runner.invoke(
        app, ["check", "--format", "text", "--trust-anchors", str(signed.root), str(out)], env=WIDE
    )
    assert "TRUSTED — but an ingredient failed validation" in _headline(text.stdout)


@pytest.mark.shared
def test_shared_fail_on_ingredient(runner: CliRunner, shared_dir: Path) -> None:
    """CIE-sig-CA: the 1.x status recorded in the ingredient assertion counts."""
    path = shared_dir / "c2pa" / "fixtures" / "c2pa-rs" / "CIE-sig-CA.jpg"
    roots = shared_dir / "c2pa" / "trust" / "c2pa-rs-test" / "test_cert_root_bundle.pem"
    result = runner.invoke(
        app,
        ["check", "--format", "jsonl", "--trust-anchors", str(roots), "--fail-on", "ingredient",
         str(path)],
    )  # fmt: skip
    assert result.exit_code == ExitCode.CONDITION_MET, result.output
    record = json.loads(result.stdout)
    assert record["verdict"] == "TRUSTED" and record["chain"]["ingredient_failures"] == 1
