"""provenance.batch.runner: per-file records, input order, isolation, resume, Dask.

The crash and hang functions below are module-level so that worker processes (spawned,
or Dask's) can import them by name: they stand in for a decoder that dies or never
returns on one particular file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from testkit import Signed, encode, picture

import provenance
import provenance.batch.runner as batch_module
from provenance.batch.runner import (
    BatchError,
    BatchOptions,
    FileChecker,
    Record,
    check_one,
    file_sha256,
    load_resume,
    parse_executor,
    report_from_dict,
    run_batch,
)
from provenance.check import CheckOptions
from provenance.errors import TrustStoreError

FIXED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def crash_on_marker(path: str, checker: FileChecker) -> dict[str, Any]:
    """Die like a segfaulting decoder on files whose name contains 'crash'."""
    if "crash" in Path(path).name:
        os._exit(11)
    return check_one(path, checker)


def hang_on_marker(path: str, checker: FileChecker) -> dict[str, Any]:
    """Never return on files whose name contains 'hang'."""
    if "hang" in Path(path).name:
        time.sleep(3600)
    return check_one(path, checker)


def raise_on_marker(path: str, checker: FileChecker) -> dict[str, Any]:
    if "boom" in Path(path).name:
        raise RuntimeError("kaboom")
    if "config" in Path(path).name:
        raise TrustStoreError("anchors.pem contains no PEM certificate")
    return check_one(path, checker)


def blocks(seed: int = 9) -> Image.Image:
    """A 320x240 picture of random 20-pixel blocks: enough detail for a PDQ hash."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    return Image.fromarray(np.kron(cells, np.ones((20, 20, 1), dtype=np.uint8)))


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` (the pixel data is tiny)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, signed: Signed) -> list[Path]:
    """Twelve files: signed, unsigned, PNG/WebP, broken, empty, text, missing."""
    d = tmp_path_factory.mktemp("batch-mixed")
    files: list[Path] = []

    def put(name: str, data: bytes) -> None:
        (d / name).write_bytes(data)
        files.append(d / name)

    put("a_signed.jpg", signed.jpeg_es256.read_bytes())
    put("b_plain.png", encode(picture(seed=2), "PNG"))
    put("c_plain.webp", encode(picture(seed=3), "WEBP"))
    put("d_truncated.jpg", signed.jpeg_es256.read_bytes()[:900])
    put("e_empty.jpg", b"")
    put("f_text.jpg", b"not a picture at all\n")
    put("g_signed.png", signed.png.read_bytes())
    put("h_plain.jpg", encode(picture(seed=4), "JPEG", quality=80))
    put("i_bomb.png", png_header(30000, 30000))
    files.append(d / "j_missing.jpg")
    put("k_signed.webp", signed.webp.read_bytes())
    put("l_plain.jpg", encode(picture(seed=5), "JPEG", quality=70))
    return files


def _options(signed: Signed, *, max_pixels: int | None = None, **kw: Any) -> BatchOptions:
    check = CheckOptions(trust_anchors=(signed.root,), analyzed_at=FIXED, **kw)
    if max_pixels is None:
        return BatchOptions(check)
    return BatchOptions(check, max_pixels=max_pixels)


def _check_one(path: str, options: BatchOptions) -> dict[str, Any]:
    checker = FileChecker(options)
    try:
        return check_one(path, checker)
    finally:
        checker.close()


def _records(records: list[Record]) -> list[dict[str, Any]]:
    return [r.data for r in records]


def test_inline_records_follow_check(mixed: list[Path], signed: Signed) -> None:
    records = list(run_batch(mixed, _options(signed)))
    assert [r.index for r in records] == list(range(len(mixed)))
    assert [r.path for r in records] == [str(p) for p in mixed]
    for path, record in zip(mixed, records, strict=True):
        if path.name == "i_bomb.png":
            continue
        expected = provenance.check(path, trust_anchors=(signed.root,), analyzed_at=FIXED)
        assert record.data == expected.to_dict()
    verdicts = {Path(r.path).name: r.verdict for r in records}
    assert verdicts["a_signed.jpg"] == "TRUSTED"
    assert verdicts["b_plain.png"] == "NO_CREDENTIALS"
    assert {Path(r.path).name: r.error_code for r in records if r.error_code} == {
        "d_truncated.jpg": "corrupt",
        "e_empty.jpg": "empty_file",
        "f_text.jpg": "unsupported_format",
        "i_bomb.png": "too_large",
        "j_missing.jpg": "not_found",
    }


def test_pool_gives_the_same_records_in_input_order(mixed: list[Path], signed: Signed) -> None:
    inline = _records(list(run_batch(mixed, _options(signed))))
    pooled = list(run_batch(mixed, _options(signed), jobs=2, timeout=60))
    assert [r.index for r in pooled] == list(range(len(mixed)))
    assert _records(pooled) == inline


def test_fan_out_starts_in_process_and_hands_the_rest_to_workers(
    mixed: list[Path], signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = _records(list(run_batch(mixed, _options(signed))))
    # Fan out after the first file whatever the estimate.
    monkeypatch.setattr(batch_module, "FAN_OUT_AFTER", 0.0)
    monkeypatch.setattr(batch_module, "FAN_OUT_MIN_SECONDS", 0.0)
    records = list(run_batch(mixed, _options(signed), jobs=2, timeout=60, fan_out=True))
    assert [r.index for r in records] == list(range(len(mixed)))
    assert _records(records) == inline
    # The first file was checked here (its Report came along), the rest on workers.
    assert records[0].report is not None
    assert all(r.report is None for r in records[1:])
    assert report_from_dict(records[0].data) == records[0].report


def test_fan_out_stays_in_process_for_a_short_batch(
    mixed: list[Path], signed: Signed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("no worker may start for a short batch")

    monkeypatch.setattr(batch_module, "_LocalPool", no_pool)
    # Past the first second at once, but the files left never take an hour.
    monkeypatch.setattr(batch_module, "FAN_OUT_AFTER", 0.0)
    monkeypatch.setattr(batch_module, "FAN_OUT_MIN_SECONDS", 3600.0)
    records = list(run_batch(mixed, _options(signed), jobs=2, timeout=60, fan_out=True))
    assert all(r.report is not None for r in records)
    assert _records(records) == _records(list(run_batch(mixed, _options(signed))))


def test_decompression_bomb_refused_before_decoding(tmp_path: Path, signed: Signed) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(20000, 20000))
    record = _check_one(str(bomb), _options(signed))
    assert record["verdict"] == "ERROR"
    assert record["error"]["code"] == "too_large"
    assert "20000x20000" in record["error"]["message"]
    assert record["subject"]["width"] == 20000
    assert record["subject"]["sha256"] == file_sha256(bomb)
    assert record["subject"]["media_type"] == "image/png"
    # a lower limit refuses an ordinary picture too; a higher one lets the header through
    small = tmp_path / "small.png"
    small.write_bytes(encode(picture(), "PNG"))
    assert _check_one(str(small), _options(signed, max_pixels=1000))["error"]["code"] == "too_large"
    assert _check_one(str(small), _options(signed))["verdict"] == "NO_CREDENTIALS"


def test_crashing_worker_gives_an_error_record_and_the_batch_goes_on(
    tmp_path: Path, signed: Signed
) -> None:
    files = []
    for i, name in enumerate(["a.jpg", "b_crash.jpg", "c.jpg", "d_crash.jpg", "e.jpg"]):
        (tmp_path / name).write_bytes(encode(picture(seed=i), "JPEG"))
        files.append(tmp_path / name)
    records = list(run_batch(files, _options(signed), jobs=2, timeout=60, function=crash_on_marker))
    assert [r.index for r in records] == [0, 1, 2, 3, 4]
    assert [r.error_code for r in records] == [
        None,
        "worker_crashed",
        None,
        "worker_crashed",
        None,
    ]
    crashed = records[1].data
    assert crashed["subject"]["sha256"] == file_sha256(files[1])
    assert "died" in crashed["error"]["message"]
    assert crashed["tool"]["analyzed_at"] == "2026-01-02T03:04:05Z"


def test_hung_worker_is_killed_after_the_timeout(tmp_path: Path, signed: Signed) -> None:
    files = []
    for i, name in enumerate(["a.jpg", "b_hang.jpg", "c.jpg", "d.jpg"]):
        (tmp_path / name).write_bytes(encode(picture(seed=i), "JPEG"))
        files.append(tmp_path / name)
    started = time.monotonic()
    records = list(run_batch(files, _options(signed), jobs=2, timeout=1.5, function=hang_on_marker))
    assert time.monotonic() - started < 30
    assert [r.error_code for r in records] == [None, "timeout", None, None]
    assert "longer than 1.5 s" in records[1].data["error"]["message"]


def test_single_job_with_timeout_uses_an_isolated_worker(tmp_path: Path, signed: Signed) -> None:
    files = [tmp_path / "x_hang.jpg", tmp_path / "y.jpg"]
    for f in files:
        f.write_bytes(encode(picture(), "JPEG"))
    records = list(run_batch(files, _options(signed), timeout=1.0, function=hang_on_marker))
    assert [r.error_code for r in records] == ["timeout", None]


def test_exceptions_end_the_run(tmp_path: Path, signed: Signed) -> None:
    files = [tmp_path / "a.jpg", tmp_path / "b_boom.jpg", tmp_path / "c_config.jpg"]
    for f in files:
        f.write_bytes(encode(picture(), "JPEG"))
    with pytest.raises(RuntimeError, match="kaboom"):  # in-process: the original error
        list(run_batch(files[:2], _options(signed), function=raise_on_marker))
    with pytest.raises(BatchError, match="kaboom") as info:
        list(run_batch(files[:2], _options(signed), jobs=2, timeout=60, function=raise_on_marker))
    assert info.value.code == "internal_error"
    assert "Traceback" in info.value.detail["traceback"]
    with pytest.raises(BatchError, match="no PEM certificate") as config:
        list(
            run_batch(
                [files[0], files[2]], _options(signed), jobs=2, timeout=60, function=raise_on_marker
            )
        )
    assert config.value.code == "trust_store_error"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="jobs"):
        run_batch([], BatchOptions(), jobs=0)
    with pytest.raises(ValueError, match="timeout"):
        run_batch([], BatchOptions(), timeout=0)
    with pytest.raises(ValueError, match="unknown executor"):
        run_batch([], BatchOptions(), executor="threads")
    with pytest.raises(ValueError, match="worker count"):
        parse_executor("local:0")
    assert parse_executor("local") == ("local", None)
    assert parse_executor("dask:local:3") == ("dask", "local:3")
    assert parse_executor("dask:tcp://h:8786") == ("dask", "tcp://h:8786")
    assert list(run_batch([], BatchOptions(), jobs=2, timeout=5)) == []


def test_report_round_trip(signed: Signed, mixed: list[Path]) -> None:
    paths = [*mixed, signed.publish, signed.mp4, signed.ai_ingredient, signed.tampered_manifest]
    for path in paths:
        report = provenance.check(
            path,
            trust_anchors=(signed.root,),
            analyzed_at=FIXED,
            metadata=True,
            generator_marks=True,
        )
        d = report.to_dict()
        again = report_from_dict(json.loads(json.dumps(d)))
        assert again.to_dict() == d
        assert again.verdict is report.verdict


def test_options_reach_check(tmp_path: Path, signed: Signed) -> None:
    from provenance.matching.bank import Bank

    target = tmp_path / "known.jpg"
    target.write_bytes(encode(blocks(), "JPEG", quality=90))
    bank_path = tmp_path / "bank.db"
    with Bank.open(bank_path, create=True, name="cases") as bank:
        bank.add_file(target, entry_id="case-1")
    options = _options(signed, banks=(str(bank_path),), metadata=True)
    record = _check_one(str(target), options)
    assert [(m["bank"], m["entry_id"], m["band"]) for m in record["matches"]] == [
        ("cases", "case-1", "MATCH")
    ]
    assert any(f["kind"] == "jpeg.quality" for f in record["metadata"])
    assert record["hashes"]["media"] == "picture" and len(record["hashes"]["pdq_variants"]) == 8
    plain = _check_one(str(target), _options(signed))
    assert "matches" not in plain and "metadata" not in plain and "hashes" not in plain


def test_load_resume(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert load_resume(out).records == 0  # missing: start afresh
    good = [
        {"subject": {"path": "/a.jpg", "sha256": "aa"}, "verdict": "TRUSTED"},
        {"subject": {"path": "/b.jpg", "sha256": None}, "verdict": "ERROR"},
    ]
    text = "".join(json.dumps(r) + "\n" for r in good)
    out.write_text(text + '{"subject": {"path": "/c.jp')
    state = load_resume(out)
    assert state.records == 2
    assert state.recorded == frozenset({("/a.jpg", "aa"), ("/b.jpg", "")})
    assert state.truncated == len('{"subject": {"path": "/c.jp')
    assert out.read_text() == text
    # a complete but damaged last line is dropped too
    out.write_text(text + "garbage\n")
    assert load_resume(out).truncated == len("garbage\n")
    assert out.read_text() == text
    # damage before the last line: not our output, refuse
    out.write_text("garbage\n" + text)
    with pytest.raises(BatchError, match="line 1"):
        load_resume(out)


def test_dask_local_cluster_same_records(mixed: list[Path], signed: Signed, tmp_path: Path) -> None:
    import dask
    from distributed import LocalCluster

    inline = _records(list(run_batch(mixed, _options(signed))))
    hang = tmp_path / "b_hang.jpg"
    crash = tmp_path / "c_crash.jpg"
    crash2 = tmp_path / "d_crash.jpg"
    ok = tmp_path / "a_ok.jpg"
    for path in (hang, crash, crash2, ok):
        path.write_bytes(encode(picture(), "JPEG"))
    # No retry of a task whose worker died (default: 3 retries), to keep the test short.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
    ):
        executor = f"dask:{cluster.scheduler_address}"
        records = list(run_batch(mixed, _options(signed), executor=executor, chunk=3))
        assert [r.index for r in records] == list(range(len(mixed)))
        assert _records(records) == inline
        # A chunk whose worker died is split into one task per file; each crashing file
        # then gets its own record (two crashers, so co-located tasks cannot mislead).
        crashed = list(
            run_batch(
                [crash, crash2],
                _options(signed),
                executor=executor,
                chunk=2,
                function=hang_and_crash,
            )
        )
        assert [r.error_code for r in crashed] == ["worker_crashed", "worker_crashed"]
        assert crashed[1].data["subject"]["sha256"] == file_sha256(crash2)
        hung = list(
            run_batch(
                [hang, ok], _options(signed), executor=executor, timeout=2, function=hang_and_crash
            )
        )
        assert [r.error_code for r in hung] == ["timeout", None]


def hang_and_crash(path: str, checker: FileChecker) -> dict[str, Any]:
    if "crash" in Path(path).name:
        return crash_on_marker(path, checker)
    return hang_on_marker(path, checker)
