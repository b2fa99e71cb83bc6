"""Hostile input: 2,000+ malformed files through every reader, each in a child process whose
peak memory is measured (``ru_maxrss``).

The corpus comes from :mod:`hostile_corpus` (seeded: the same files on every run) plus
mutations of signed files. Every command must give one record per file, no traceback, no
exit 4 (internal error), and stay under the documented memory budget.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hostile_corpus import make_corpus
from testkit import Signed

from provenance.media import budget

ROOT = Path(__file__).resolve().parents[3]
COUNT = 2100
"""Files in the corpus (at least 2,000)."""
MEMORY_BUDGET = 2 << 30
"""Documented ceiling of one command on one file at the default limits (README, spec)."""
SERVER_BUDGET = 1 << 30
"""Documented ceiling of the whole server (README, spec)."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, signed: Signed) -> list[Path]:
    extra = {
        "signed.jpg": signed.jpeg_es256.read_bytes(),
        "signed.png": signed.png.read_bytes(),
        "signed.mp4": signed.mp4.read_bytes(),
    }
    paths = make_corpus(tmp_path_factory.mktemp("hostile"), count=COUNT, seed=13, extra=extra)
    assert len(paths) >= 2000
    return paths


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, signed: Signed) -> dict[str, Path]:
    from provenance.durable.repository import Repository
    from provenance.matching.bank import Bank

    d = tmp_path_factory.mktemp("hostile-stores")
    with Bank.open(d / "bank.db", create=True) as bank:
        bank.add_file(signed.jpeg_es256)
    Repository.open(d / "repo.db", create=True).close()
    return {"bank": d / "bank.db", "repo": d / "repo.db"}


def _run(args: list[str], cwd: Path) -> tuple[int, str, str, int]:
    """Run ``verify ARGS`` in a child; returns (exit code, stdout, stderr, peak RSS bytes).

    The peak covers the child and the worker processes it waited for (``wait4``).
    """
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    with (cwd / "stdout").open("wb") as out, (cwd / "stderr").open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "verify_cli", *args], stdout=out, stderr=err, env=env, cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return (
        proc.returncode,
        (cwd / "stdout").read_text(),
        (cwd / "stderr").read_text(),
        usage.ru_maxrss * 1024,
    )


def _assert_clean(code: int, stderr: str, peak: int) -> None:
    assert code != 4, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]
    for line in stderr.splitlines():
        assert line.startswith("verify: "), line  # only `verify: <path>: <message>` lines
    assert peak < MEMORY_BUDGET, f"peak RSS {peak / 2**20:.0f} MiB"


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_check_with_every_option(
    corpus: list[Path], stores: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    args = ["check", "-r", str(corpus[0].parent), "--bank", str(stores["bank"])]
    args += ["--generator-marks", "--metadata", "--repo", str(stores["repo"]), "--jobs", "2"]
    args += ["--format", "jsonl", "--output", str(out), "--no-progress"]
    code, _, stderr, peak = _run(args, tmp_path)
    _assert_clean(code, stderr, peak)
    records = _records(out.read_text())
    paths = [r["subject"]["path"] for r in records]
    assert sorted(paths) == sorted(str(p.resolve()) for p in corpus)
    for record in records:
        if record["verdict"] == "ERROR":
            assert record["error"]["code"] and record["error"]["message"]
        assert all(isinstance(n, str) and n for n in record.get("notes", []))
    assert any(r.get("error", {}).get("code") == "too_large" for r in records)


def test_bank_add_and_match(corpus: list[Path], tmp_path: Path) -> None:
    bank = tmp_path / "b.db"
    files = [str(p) for p in corpus]
    for args in (["bank", "add", str(bank), *files], ["bank", "match", str(bank), *files]):
        code, stdout, stderr, peak = _run([*args, "--format", "jsonl"], tmp_path)
        _assert_clean(code, stderr, peak)
        records = _records(stdout)
        assert len(records) == len(corpus), args[:2]


def test_watermark_detect(corpus: list[Path], tmp_path: Path) -> None:
    code, stdout, stderr, peak = _run(
        ["watermark", "detect", *[str(p) for p in corpus], "--format", "jsonl"], tmp_path
    )
    _assert_clean(code, stderr, peak)
    assert len(_records(stdout)) == len(corpus)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, data: bytes) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST", "/matches/byContent", body=data, headers={"content-type": "image/jpeg"}
        )
        resp = conn.getresponse()
        assert resp.getheader("content-type", "").startswith("application/json")
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.network  # loopback only
def test_server_by_content(corpus: list[Path], tmp_path: Path, stores: dict[str, Path]) -> None:
    port = _free_port()
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    args = ["serve", "--repo", str(stores["repo"]), "--port", str(port)]
    with (tmp_path / "stderr").open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "verify_cli", *args], stderr=err, env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline and proc.poll() is None
                    time.sleep(0.1)
            statuses: dict[int, int] = {}
            for path in corpus:
                status, body = _post(port, path.read_bytes())
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    assert isinstance(body["matches"], list)
                else:
                    assert 400 <= status < 500, (path.name, body)
                    assert isinstance(body["error"], str) and body["code"], body
            # Eight hostile uploads at once: 413 before decoding, the server stays small.
            bomb = _huge_webp()
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: _post(port, bomb), range(8)))
            assert all(s == 413 and b["code"] == "too_large" for s, b in answers)
            # Not HTTP at all: still the API's JSON error shape.
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                raw.sendall(b"GARBAGE \x00\x01 NOT-HTTP\r\n\r\n")
                reply = b""
                while chunk := raw.recv(65536):  # the server closes after its 400
                    reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head, reply
            assert json.loads(body)["code"] == "bad_http"
            # A client that goes away in the middle of its upload: one log line.
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                raw.sendall(
                    b"POST /matches/byContent HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n" + b"\xff" * 10
                )
            deadline = time.monotonic() + 30
            while "client disconnected" not in (tmp_path / "stderr").read_text():
                assert time.monotonic() < deadline, "no log line for the disconnect"
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGINT)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
    assert statuses.get(413, 0) > 0, statuses  # huge declared dimensions refused
    assert usage.ru_maxrss * 1024 < SERVER_BUDGET, usage.ru_maxrss
    log = (tmp_path / "stderr").read_text()
    assert "Traceback" not in log
    assert log.count("client disconnected") == 1, log


def _huge_webp() -> bytes:
    """A few hundred bytes of lossy WebP whose VP8 key frame declares 12000x12000 pixels."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "WEBP", quality=50)
    data = bytearray(buf.getvalue())
    at = data.index(b"\x9d\x01\x2a") + 3  # VP8 start code, then 14-bit width and height
    data[at : at + 4] = (12000).to_bytes(2, "little") + (12000).to_bytes(2, "little")
    return bytes(data)


def test_limits_agree() -> None:
    """The CLI, the server and the library name one number of pixels."""
    from provenance.batch import DEFAULT_MAX_PIXELS
    from provenance.media.inspect import MAX_PIXELS

    assert DEFAULT_MAX_PIXELS == MAX_PIXELS == budget.DEFAULT_MAX_PIXELS
    assert budget.SERVER_MAX_PIXELS == 50_000_000
    assert budget.peak_bytes(budget.DEFAULT_MAX_PIXELS) < MEMORY_BUDGET


def test_watermark_embed(corpus: list[Path], tmp_path: Path) -> None:
    """Every tenth file marked in-process: a refusal or an error line, never exit 4."""
    from typer.testing import CliRunner

    from verify_cli.app import app

    runner = CliRunner()
    for i, path in enumerate(corpus[::10]):
        out = tmp_path / f"out{i}{path.suffix}"
        result = runner.invoke(
            app, ["watermark", "embed", str(path), "-o", str(out), "--payload", "01"]
        )
        assert result.exit_code in (0, 2, 3), (path.name, result.exit_code, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)


def _avif_raising_runtime_error() -> bytes:
    """A damaged AVIF on which Pillow's decoder raises RuntimeError (found by a seeded search)."""
    import io
    import random

    from hostile_corpus import MUTATIONS, seeds
    from PIL import Image

    base = seeds()["avif"]
    for n in range(500):
        data = MUTATIONS["flip"](base, "avif", random.Random(n))
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        except RuntimeError:
            return data
        except Exception:  # other damage: keep looking
            continue
    pytest.fail("no AVIF mutation raised RuntimeError")


def test_damaged_avif_and_huge_webp_in_process(
    tmp_path: Path, stores: dict[str, Path], signed: Signed
) -> None:
    """The two files of the report: a RuntimeError AVIF, a 66-byte 12000x12000 WebP."""
    from typer.testing import CliRunner

    from verify_cli.app import app

    avif = tmp_path / "damaged.avif"
    avif.write_bytes(_avif_raising_runtime_error())
    webp = tmp_path / "huge.webp"
    webp.write_bytes(_huge_webp())
    good = signed.jpeg_es256
    runner = CliRunner()
    args = ["check", str(avif), str(webp), str(good), "--bank", str(stores["bank"])]
    args += ["--generator-marks", "--metadata", "--format", "jsonl", "--jobs", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.stderr
    records = _records(result.stdout)
    assert [Path(r["subject"]["path"]).name for r in records] == [
        "damaged.avif",
        "huge.webp",
        good.name,
    ]
    assert records[1]["error"]["code"] == "too_large"
    assert "12000x12000" in records[1]["error"]["message"]
    assert records[2]["verdict"] != "ERROR"
    for command in (["watermark", "detect"], ["bank", "match", str(stores["bank"])]):
        for path in (avif, webp):
            out = runner.invoke(app, [*command, str(path)])
            assert out.exit_code == 3, (command, path.name, out.stderr)
            assert out.exception is None or isinstance(out.exception, SystemExit)
            lines = out.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"verify: {path}"), out.stderr
