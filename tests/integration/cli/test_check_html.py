"""`verify check --format html`: one self-contained page, options --thumbnails and --lang."""

from __future__ import annotations

from pathlib import Path

import _cli_reports as _reports
import pytest
from typer.testing import CliRunner

from provenance.render import MESSAGES, Lang
from verify_cli.app import app
from verify_cli.exit_codes import ExitCode

REPORTS = {
    "edit.jpg": _reports.trusted_report(),
    "forged.jpg": _reports.invalid_report(),
    "plain.png": _reports.no_credentials_report(),
    "broken.jpg": _reports.error_report(),
}


def _files(tmp_path: Path, *names: str) -> list[str]:
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    return [str(tmp_path / name) for name in names]


def test_html_report_to_a_file(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    out = tmp_path / "report.html"
    args = ["check", *_files(tmp_path, *REPORTS), "--format", "html", "--output", str(out)]
    result = runner.invoke(app, [*args, "--lang", "en"])
    # broken.jpg could not be checked: exit code 3, and the page still lists it.
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for verdict in ("TRUSTED", "INVALID", "NO_CREDENTIALS", "ERROR"):
        assert f'<tr data-verdict="{verdict}"' in page
    assert page.count('<section class="file') == 4


def test_html_is_chosen_from_the_output_suffix(
    runner: CliRunner, fake_check, tmp_path: Path
) -> None:
    fake_check(REPORTS)
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["check", *_files(tmp_path, "edit.jpg"), "--output", str(out)])
    assert result.exit_code == ExitCode.OK, result.output
    assert "Content-Security-Policy" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(("lang", "title"), [("ko", "콘텐츠 자격 증명 보고서"), ("EN", "Content")])
def test_lang_option(runner: CliRunner, fake_check, tmp_path: Path, lang: str, title: str) -> None:
    fake_check(REPORTS)
    result = runner.invoke(
        app, ["check", *_files(tmp_path, "edit.jpg"), "--format", "html", "--lang", lang]
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert f"<h1>{title}" in result.stdout


def test_lang_defaults_to_the_locale(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    args = ["check", *_files(tmp_path, "edit.jpg"), "--format", "html"]
    ko = runner.invoke(app, args, env={"LC_ALL": "", "LC_MESSAGES": "", "LANG": "ko_KR.UTF-8"})
    en = runner.invoke(app, args, env={"LC_ALL": "", "LC_MESSAGES": "", "LANG": "en_US.UTF-8"})
    assert MESSAGES[Lang.KO]["title.check"] in ko.stdout
    assert MESSAGES[Lang.EN]["title.check"] in en.stdout


def test_thumbnails_none_has_no_picture(runner: CliRunner, fake_check, tmp_path: Path) -> None:
    fake_check(REPORTS)
    result = runner.invoke(
        app,
        ["check", *_files(tmp_path, "edit.jpg"), "--format", "html", "--thumbnails", "none"],
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert "<img" not in result.stdout
    assert MESSAGES[Lang.EN]["thumb.none"] in result.stdout or "--thumbnails none" in result.stdout


@pytest.mark.parametrize("bad", [["--lang", "fr"], ["--thumbnails", "small"]])
def test_bad_html_options_are_usage_errors(
    runner: CliRunner, fake_check, tmp_path: Path, bad: list[str]
) -> None:
    fake_check(REPORTS)
    result = runner.invoke(app, ["check", *_files(tmp_path, "edit.jpg"), "--format", "html", *bad])
    assert result.exit_code == ExitCode.USAGE
