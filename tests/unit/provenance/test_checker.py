"""Checker(CheckOptions): one set of options, built once, reused for every file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from pathlib import Path

import pytest
from testkit import encode, picture

import provenance
from provenance import Checker, CheckOptions, check, check_bytes
from provenance.errors import TrustStoreError
from provenance.matching.bank import Bank, BankError
from provenance.report import Verdict

FIXED = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_options_are_frozen_and_normalised(tmp_path: Path) -> None:
    anchor = tmp_path / "a.pem"
    options = CheckOptions(trust_anchors=[anchor], fragments=anchor, wm_keys="k")
    assert options.trust_anchors == (anchor,)
    assert options.fragments == (anchor,)
    assert options.wm_keys == ("k",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.allow_network = True  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(options)) == options
    with pytest.raises(TypeError):
        CheckOptions(no_such_option=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        check(tmp_path / "x.jpg", no_such_option=True)


def test_one_checker_gives_the_same_reports_as_check(signed) -> None:
    checker = Checker(CheckOptions(trust_anchors=(signed.root,), analyzed_at=FIXED))
    assert checker.options.analyzed_at == FIXED
    for path in (signed.jpeg_es256, signed.png, signed.mp4, signed.jpeg_es256):
        expected = check(path, trust_anchors=[signed.root], analyzed_at=FIXED)
        assert checker.check(path).to_dict() == expected.to_dict()
    data = signed.png.read_bytes()
    from_bytes = checker.check(data, name="upload.png")
    assert from_bytes.subject.path == "upload.png"
    assert from_bytes.verdict is Verdict.TRUSTED
    assert (
        from_bytes.to_dict()
        == check_bytes(
            data, name="upload.png", trust_anchors=[signed.root], analyzed_at=FIXED
        ).to_dict()
    )
    assert checker.check(b"", name="empty").error.code == "empty_file"  # type: ignore[union-attr]


def test_bad_configuration_raises_when_built(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(TrustStoreError):
        Checker(CheckOptions(trust_anchors=(bad,)))
    with pytest.raises(BankError):
        Checker(CheckOptions(banks=(tmp_path / "missing.db",)))


def test_banks_are_opened_once_and_closed_with_the_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "known.png"
    target.write_bytes(encode(picture(128, 128, seed=3), "PNG"))
    bank_path = tmp_path / "bank.db"
    with Bank.open(bank_path, create=True, name="cases") as bank:
        bank.add_file(target, entry_id="case-1")
    opened: list[Bank] = []
    real_open = Bank.open

    def counting(*args: object, **kwargs: object) -> Bank:
        handle = real_open(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(handle)
        return handle

    monkeypatch.setattr(Bank, "open", counting)
    with Checker(CheckOptions(banks=[bank_path])) as checker:
        for _ in range(3):
            report = checker.check(target)
            assert [m.entry_id for m in report.matches] == ["case-1"]
    assert len(opened) == 1
    # A bank object handed in is used as it is and left open.
    with real_open(bank_path) as mine:
        with Checker(CheckOptions(banks=[mine])) as checker:
            assert checker.check(target).matches
        assert len(mine) == 1  # still open


def test_error_report_has_the_checkers_tool_section(signed, tmp_path: Path) -> None:
    path = tmp_path / "slow.png"
    path.write_bytes(encode(picture(), "PNG"))
    checker = Checker(CheckOptions(trust_anchors=(signed.root,), analyzed_at=FIXED))
    report = checker.error_report(path, "timeout", "It took too long.")
    assert report.verdict is Verdict.ERROR
    assert report.error is not None and report.error.code == "timeout"
    assert report.subject.media_type == "image/png"
    assert report.tool == checker.check(path).tool
    assert report.tool.version == provenance.__version__
