"""`verify check` on a folder of 200 mixed files: workers, resume after kill -9, Dask,
--from-file, the decompression-bomb guard, banks, progress and summary."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from testkit import Signed, encode
from typer.testing import CliRunner

from verify_cli.app import app
from verify_cli.exit_codes import ExitCode

FIXED = "2026-11-21T10:00:00Z"
ROOT = Path(__file__).resolve().parents[3]


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def _blocks(seed: int, size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    cells = rng.integers(0, 256, size=(h // 8, w // 8, 3), dtype=np.uint8)
    return Image.fromarray(np.kron(cells, np.ones((8, 8, 1), dtype=np.uint8)))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, signed: Signed) -> Path:
    """200 files in two sub-folders: pictures, signed files, and 30 broken ones."""
    root = tmp_path_factory.mktemp("batch-folder")
    signed_files = [signed.jpeg_es256, signed.png, signed.webp, signed.publish, signed.edit]
    for i in range(200):
        sub = root / ("a" if i < 100 else "b")
        sub.mkdir(exist_ok=True)
        kind = i % 10
        if kind == 0:
            src = signed_files[(i // 10) % len(signed_files)]
            (sub / f"{i:03d}_signed{src.suffix}").write_bytes(src.read_bytes())
        elif kind == 1:
            (sub / f"{i:03d}_broken.jpg").write_bytes(signed.jpeg_es256.read_bytes()[:700])
        elif kind == 2 and i % 20 == 2:
            (sub / f"{i:03d}_empty.png").write_bytes(b"")
        elif kind in (2, 3):
            (sub / f"{i:03d}.png").write_bytes(encode(_blocks(i), "PNG"))
        elif kind == 4:
            (sub / f"{i:03d}.webp").write_bytes(encode(_blocks(i), "WEBP", quality=80))
        else:
            (sub / f"{i:03d}.jpg").write_bytes(encode(_blocks(i), "JPEG", quality=60 + kind))
    return root


def _args(folder: Path, signed: Signed, *extra: str) -> list[str]:
    return [
        "check",
        "-r",
        str(folder),
        "--fixed-time",
        FIXED,
        "--trust-anchors",
        str(signed.root),
        *extra,
    ]


@pytest.fixture(scope="module")
def reference(folder: Path, signed: Signed, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The JSON Lines of an in-process run (--jobs 1)."""
    out = tmp_path_factory.mktemp("batch-ref") / "ref.jsonl"
    result = CliRunner().invoke(app, _args(folder, signed, "--jobs", "1", "-o", str(out)))
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    return out.read_bytes()


def test_one_record_per_file_whatever_the_workers(
    runner: CliRunner, folder: Path, signed: Signed, reference: bytes, tmp_path: Path
) -> None:
    records = [json.loads(line) for line in reference.decode().splitlines()]
    assert len(records) == 200
    paths = [r["subject"]["path"] for r in records]
    assert paths == sorted(str(p) for p in folder.rglob("*") if p.is_file())
    verdicts = Counter(r["verdict"] for r in records)
    assert verdicts["ERROR"] == 30  # 20 truncated pictures, 10 empty files
    assert verdicts["TRUSTED"] == 20
    out = tmp_path / "two.jsonl"
    result = runner.invoke(app, _args(folder, signed, "--jobs", "2", "-o", str(out)))
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert out.read_bytes() == reference
    assert result.stderr.count("\n") == 30  # one line per bad input
    # CSV too, and the default (all cores: 200 inputs use the pool)
    csv1 = runner.invoke(app, _args(folder, signed, "--jobs", "1", "--format", "csv"))
    csv2 = runner.invoke(app, _args(folder, signed, "--format", "csv", "--timeout", "120"))
    assert csv1.stdout == csv2.stdout
    assert csv1.stdout.count("\n") == 201


def test_resume_after_kill_minus_9(
    folder: Path, signed: Signed, reference: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "resumed.jsonl"
    command = [sys.executable, "-m", "verify_cli", *_args(folder, signed, "--jobs", "2")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(
        [*command, "--resume", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 40:
            break
        time.sleep(0.05)
    assert first.poll() is None, "the run ended before it could be killed"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    done = out.read_bytes()
    assert 40 <= done.count(b"\n") < 200
    if done.endswith(b"\n"):  # simulate a write torn by the kill
        out.write_bytes(done + b'{"schema":"jinjja.report/v1","subj')
    second = subprocess.run(
        [*command, "--resume", str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == ExitCode.INPUT_ERROR, second.stderr
    assert "cut off a torn last line" in second.stderr
    final = out.read_bytes()
    lines = final.decode().splitlines()
    assert all(json.loads(line)["schema"] == "jinjja.report/v1" for line in lines)
    assert Counter(json.loads(line)["subject"]["path"] for line in lines).most_common(1)[0][1] == 1
    assert final == reference  # every input once, in input order
    # resuming a finished run checks nothing and appends nothing
    third = subprocess.run(
        [*command, "--resume", str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert third.returncode == ExitCode.OK
    assert out.read_bytes() == reference


def test_dask_local_cluster_gives_the_same_output(
    runner: CliRunner, folder: Path, signed: Signed, reference: bytes, tmp_path: Path
) -> None:
    out = tmp_path / "dask.jsonl"
    result = runner.invoke(app, _args(folder, signed, "--dask", "local:2", "-o", str(out)))
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    assert out.read_bytes() == reference


def test_from_file_lists(runner: CliRunner, folder: Path, tmp_path: Path) -> None:
    files = sorted(p for p in folder.rglob("*.jpg"))[:3]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(p) for p in files) + "\n\n")
    result = runner.invoke(app, ["check", "--from-file", str(listing)])
    assert [json.loads(x)["subject"]["path"] for x in result.stdout.splitlines()] == [
        str(p) for p in files
    ]
    nul = b"\0".join(os.fsencode(p) for p in files[:2])
    piped = runner.invoke(app, ["check", str(files[2]), "--from-file", "-"], input=nul)
    assert [json.loads(x)["subject"]["path"] for x in piped.stdout.splitlines()] == [
        str(files[2]),
        str(files[0]),
        str(files[1]),
    ]
    # a listed directory is walked with -r
    walked = runner.invoke(
        app, ["check", "-r", "--jobs", "1", "--from-file", "-"], input=str(folder / "a")
    )
    assert len(walked.stdout.splitlines()) == 100
    missing = runner.invoke(app, ["check", "--from-file", str(tmp_path / "nope.txt")])
    assert missing.exit_code == ExitCode.USAGE
    assert "cannot read the list of files" in missing.stderr


def test_decompression_bomb_guard(runner: CliRunner, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(20000, 20000))
    ok = tmp_path / "ok.png"
    ok.write_bytes(encode(_blocks(1), "PNG"))
    result = runner.invoke(app, ["check", str(bomb), str(ok)])
    assert result.exit_code == ExitCode.INPUT_ERROR
    first, second = (json.loads(x) for x in result.stdout.splitlines())
    assert first["error"]["code"] == "too_large"
    assert second["verdict"] == "NO_CREDENTIALS"
    assert "20000x20000" in result.stderr
    strict = runner.invoke(app, ["check", "--max-pixels", "1000", str(ok)])
    assert strict.exit_code == ExitCode.INPUT_ERROR
    assert json.loads(strict.stdout)["error"]["code"] == "too_large"


def test_banks_metadata_and_summary(runner: CliRunner, tmp_path: Path) -> None:
    from provenance.matching.bank import Bank

    known = tmp_path / "known.jpg"
    known.write_bytes(encode(_blocks(7, (320, 240)), "JPEG", quality=90))
    other = tmp_path / "other.png"
    other.write_bytes(encode(_blocks(8, (320, 240)), "PNG"))
    bank = tmp_path / "cases.db"
    with Bank.open(bank, create=True) as b:
        b.add_file(known, entry_id="case-7")
    result = runner.invoke(
        app,
        ["check", "--bank", str(bank), "--metadata", "--summary", str(known), str(other)],
    )
    assert result.exit_code == ExitCode.OK, result.output
    first, second = (json.loads(x) for x in result.stdout.splitlines())
    assert [m["entry_id"] for m in first["matches"]] == ["case-7"]
    assert "matches" not in second
    assert any(f["kind"] == "jpeg.quality" for f in first["metadata"])
    assert "summary" in result.stderr
    assert "NO_CREDENTIALS" in result.stderr and "MATCH" in result.stderr
    not_a_bank = tmp_path / "not.db"
    not_a_bank.write_bytes(b"hello")
    bad = runner.invoke(app, ["check", "--bank", str(not_a_bank), str(known)])
    assert bad.exit_code == ExitCode.USAGE
    assert bad.stdout == ""


def test_progress_bar_on_request(runner: CliRunner, folder: Path) -> None:
    args = ["check", "-r", str(folder / "a"), "--jobs", "1", "--progress", "-o", os.devnull]
    result = runner.invoke(app, args)
    assert "files/s" in result.stderr and "errors" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--resume", "{tmp}/r.jsonl", "--format", "csv"],
        ["--resume", "{tmp}/r.jsonl", "--output", "{tmp}/other.jsonl"],
        ["--jobs", "2", "--dask", "local:2"],
        ["--dask", "local:0"],
        ["--jobs", "0"],
        ["--timeout", "0"],
        ["--max-pixels", "0"],
    ],
)
def test_usage_errors(runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(encode(_blocks(1), "PNG"))
    result = runner.invoke(app, ["check", *(a.format(tmp=tmp_path) for a in args), str(target)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.stdout == ""


def test_no_input_at_all_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "--jobs", "2"])
    assert result.exit_code == ExitCode.USAGE
    assert "PATH" in result.stderr


def test_damaged_resume_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(encode(_blocks(1), "PNG"))
    resume = tmp_path / "r.jsonl"
    resume.write_text("not json\n{}\n")
    result = runner.invoke(app, ["check", "--resume", str(resume), str(target)])
    assert result.exit_code == ExitCode.USAGE
    assert "line 1 is not a JSON record" in result.stderr
    assert resume.read_text() == "not json\n{}\n"


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_resume_skips_only_unchanged_files(runner: CliRunner, tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    b = tmp_path / "b.png"
    a.write_bytes(encode(_blocks(1), "PNG"))
    b.write_bytes(encode(_blocks(2), "PNG"))
    out = tmp_path / "out.jsonl"
    first = runner.invoke(app, ["check", "--resume", str(out), str(a), str(b)])
    assert first.exit_code == ExitCode.OK
    assert len(_records(out.read_text())) == 2
    b.write_bytes(encode(_blocks(3), "PNG"))  # changed since: checked again, appended
    missing = tmp_path / "missing.png"
    again = runner.invoke(app, ["check", "--resume", str(out), str(a), str(b), str(missing)])
    assert again.exit_code == ExitCode.INPUT_ERROR
    records = _records(out.read_text())
    names = [Path(r["subject"]["path"]).name for r in records]
    assert names == ["a.png", "b.png", "b.png", "missing.png"]
    assert records[1]["subject"]["sha256"] != records[2]["subject"]["sha256"]
    # still missing: recorded already, nothing appended; once it exists it is checked
    third = runner.invoke(app, ["check", "--resume", str(out), str(a), str(b), str(missing)])
    assert third.exit_code == ExitCode.OK
    assert len(_records(out.read_text())) == 4
    missing.write_bytes(encode(_blocks(4), "PNG"))
    fourth = runner.invoke(app, ["check", "--resume", str(out), str(missing)])
    assert fourth.exit_code == ExitCode.OK
    assert _records(out.read_text())[-1]["verdict"] == "NO_CREDENTIALS"


def test_resume_retries_crashed_and_timed_out_files(runner: CliRunner, tmp_path: Path) -> None:
    files = [tmp_path / f"{n}.png" for n in "abc"]
    for i, f in enumerate(files):
        f.write_bytes(encode(_blocks(i + 1), "PNG"))
    broken = tmp_path / "d.png"
    broken.write_bytes(encode(_blocks(4), "PNG")[:60])
    out = tmp_path / "out.jsonl"
    args = ["check", "--resume", str(out), *map(str, files), str(broken)]
    assert runner.invoke(app, args).exit_code == ExitCode.INPUT_ERROR
    records = _records(out.read_text())
    for record, code in zip(records[1:3], ("worker_crashed", "timeout"), strict=True):
        record.update(verdict="ERROR", chain=None, error={"code": code, "message": "x"})
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    again = runner.invoke(app, args)
    assert again.exit_code == ExitCode.OK  # b.png and c.png checked again, and passed
    after = _records(out.read_text())
    names = sorted(Path(r["subject"]["path"]).name for r in after)
    assert names == ["a.png", "b.png", "c.png", "d.png"]  # one record per file
    assert [r["verdict"] for r in after if r["verdict"] == "ERROR"] == ["ERROR"]  # d.png only
    corrupt_before = next(r for r in after if r["subject"]["path"].endswith("d.png"))
    retried = runner.invoke(app, [*args[:3], "--retry-errors", *args[3:]])
    assert retried.exit_code == ExitCode.INPUT_ERROR
    final = _records(out.read_text())
    assert len(final) == 4
    assert final[-1]["subject"]["path"] == corrupt_before["subject"]["path"]  # checked again
    bad = runner.invoke(app, ["check", "--retry-errors", str(files[0])])
    assert bad.exit_code == ExitCode.USAGE
