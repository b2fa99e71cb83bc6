"""Planning a signing run (outputs of files and folders) and the record of each job."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.credentials.plan import SignJob, plan_outputs, sign_record
from provenance.credentials.sign import SignResult
from provenance.errors import SigningError, TrustStoreError

SUFFIXES = frozenset({".jpg", ".png"})


def test_one_file_to_one_file(tmp_path: Path) -> None:
    src = tmp_path / "a.jpg"
    src.write_bytes(b"x")
    out = tmp_path / "signed.jpg"
    assert plan_outputs([src], str(out), force=False, suffixes=SUFFIXES) == [SignJob(src, out)]
    for bad in (str(src), ""):
        with pytest.raises(SigningError) as info:
            plan_outputs([src], bad, force=True if bad else False, suffixes=SUFFIXES)
        assert info.value.code == "bad_output"
    out.write_bytes(b"old")
    with pytest.raises(SigningError, match="exists; add --force"):
        plan_outputs([src], str(out), force=False, suffixes=SUFFIXES)


def test_folders_keep_their_layout_and_clashes_are_jobs(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.jpg", "a.png", "sub/c.jpg", ".hidden.jpg", "notes.txt"):
        (folder / name).write_bytes(b"x")
    other = tmp_path / "b.jpg"
    other.write_bytes(b"x")
    out = tmp_path / "out"
    jobs = plan_outputs(
        [folder, other, tmp_path / "missing.jpg"], str(out), force=False, suffixes=SUFFIXES
    )
    assert [(j.src.relative_to(tmp_path), j.problem is None) for j in jobs] == [
        (Path("in/a.png"), True),
        (Path("in/b.jpg"), True),
        (Path("in/sub/c.jpg"), True),
        (Path("b.jpg"), False),  # same output name as in/b.jpg
        (Path("missing.jpg"), False),
    ]
    assert jobs[2].dst == out / "sub" / "c.jpg"
    assert out.is_dir()


def test_sign_record(tmp_path: Path) -> None:
    job = SignJob(tmp_path / "a.jpg", tmp_path / "out" / "a.jpg")
    result = SignResult(path=job.dst, manifest_bytes=1234, media_type="image/jpeg", alg="es256")
    record = sign_record(job, result)
    assert record["status"] == "signed" and record["output"] == str(job.dst)
    assert record["manifest_bytes"] == 1234 and record["warnings"] == []
    failed = sign_record(job, error=TrustStoreError("no anchors", code="bad"))
    assert failed["error"] == {"code": "bad", "message": "no anchors"}
    missing = sign_record(SignJob(tmp_path / "m.jpg", None, "no such file or folder"))
    assert missing == {
        "input": str(tmp_path / "m.jpg"),
        "output": None,
        "status": "error",
        "error": {"code": "unreadable", "message": "no such file or folder"},
    }
