"""SQLite banks: format, add/import/export, matching edited copies, concurrency."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from provenance.errors import InputFileError
from provenance.matching import bank as bank_module
from provenance.matching.bank import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Added,
    Bank,
    BankError,
    Lookup,
    band,
    lookup_file,
    match_file,
    match_file_hashes,
)
from provenance.matching.pdq import (
    NotHashable,
    PdqError,
    Variant,
    hash_array,
    hash_video,
    parse_hex,
)
from provenance.matching.rescan import Rescanned, rescan
from provenance.matching.vpdq import VpdqHash, vpdq_available

BANKED = ("astronaut", "chelsea", "coffee", "camera")
"""Natural photos put in the bank."""


def _image(name: str) -> np.ndarray:
    return getattr(data, name)()


def _save(array: np.ndarray, path: Path, **options) -> Path:
    Image.fromarray(np.ascontiguousarray(array)).save(path, **options)
    return path


def _edits(array: np.ndarray, tmp: Path, stem: str) -> dict[str, Path]:
    """The edits a re-share applies: mirror, JPEG 50, half size, quarter turn."""
    pil = Image.fromarray(array)
    half = pil.resize((pil.width // 2, pil.height // 2), Image.Resampling.BILINEAR)
    return {
        "hflip": _save(array[:, ::-1], tmp / f"{stem}-hflip.png"),
        "jpeg50": _save(array, tmp / f"{stem}-q50.jpg", quality=50),
        "resize0.5": _save(np.asarray(half), tmp / f"{stem}-half.png"),
        "rot90": _save(np.rot90(array, -1), tmp / f"{stem}-rot90.png"),
        "hflip+jpeg50+resize0.5": _save(
            np.asarray(half)[:, ::-1], tmp / f"{stem}-all.jpg", quality=50
        ),
    }


@pytest.fixture(scope="module")
def banked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """A bank holding 4 photos; returns (bank path, entry id by name, work dir)."""
    tmp = tmp_path_factory.mktemp("bank")
    path = tmp / "known.db"
    ids = {}
    with Bank.open(path, create=True, name="known") as bank:
        for name in BANKED:
            added = bank.add_file(_save(_image(name), tmp / f"{name}.png"), label=name, case="K-1")
            assert isinstance(added, Added) and added.new == 1
            ids[name] = added.entry_ids[0]
    return path, ids, tmp


def test_new_bank_format(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Bank.open(path, create=True) as bank:
        assert bank.name == "b" and len(bank) == 0
        assert bank.journal_mode == "wal"
        assert bank._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):  # the schema itself refuses malformed hashes
        conn.execute("INSERT INTO entries (entry_id, hash, added_at) VALUES ('x', x'00', 'now')")
    conn.close()
    with Bank.open(path) as again:
        assert again.name == "b"


def test_opening_problems(tmp_path: Path) -> None:
    with pytest.raises(BankError, match="no such bank") as missing:
        Bank.open(tmp_path / "none.db")
    assert missing.value.code == "not_found"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BankError, match="not a bank") as not_sqlite:
        Bank.open(junk)
    assert not_sqlite.value.code == "not_a_bank"
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(BankError, match="not a bank"):
        Bank.open(other)
    newer = tmp_path / "newer.db"
    Bank.open(newer, create=True).close()
    conn = sqlite3.connect(newer)
    conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    conn.commit()
    conn.close()
    with pytest.raises(BankError, match="version 99") as too_new:
        Bank.open(newer)
    assert too_new.value.code == "unsupported_version"
    with sqlite3.connect(newer) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("PRAGMA application_id = 42")
    with pytest.raises(BankError, match="another application") as not_ours:
        Bank.open(foreign, create=True)
    assert not_ours.value.code == "not_a_bank"
    with pytest.raises(BankError, match="directory"):
        Bank.open(tmp_path / "no" / "dir.db", create=True)
    with pytest.raises(BankError, match="not a file"):
        Bank.open(tmp_path)


@pytest.mark.parametrize("name", BANKED)
def test_edited_copies_match(banked, tmp_path: Path, name: str) -> None:
    path, ids, _ = banked
    with Bank.open(path) as bank:
        for edit, copy in _edits(_image(name), tmp_path, name).items():
            matches = match_file(copy, [bank])
            assert matches, f"{name} {edit}: no match"
            best = matches[0]
            assert best.entry_id == ids[name], f"{name} {edit}"
            assert best.distance <= 31 and best.band == "MATCH", f"{name} {edit}: {best}"
            assert best.bank == "known" and best.label == name and best.case == "K-1"
            assert isinstance(best.distance, int)
            # Nothing else in the bank comes near.
            assert all(m.entry_id == ids[name] for m in matches if m.band == "MATCH")


def test_variants_name_the_transform(banked, tmp_path: Path) -> None:
    path, _, _ = banked
    with Bank.open(path) as bank:
        edits = _edits(_image("astronaut"), tmp_path, "a")
        assert match_file(edits["hflip"], [bank])[0].variant == Variant.FLIP_H.value
        assert match_file(edits["rot90"], [bank])[0].variant == Variant.ROT90.value
        assert match_file(edits["jpeg50"], [bank])[0].variant == Variant.IDENTITY.value


@pytest.mark.parametrize("name", ["moon", "page", "text", "coins", "rocket", "hubble_deep_field"])
def test_unrelated_pictures_do_not_match(banked, name: str) -> None:
    path, _, _ = banked
    result = hash_array(_image(name))
    with Bank.open(path) as bank:
        assert not [m for m in bank.match_hashes(result.variants) if m.band == "MATCH"]


def test_noise_does_not_match(banked) -> None:
    path, _, _ = banked
    rng = np.random.default_rng(11)
    with Bank.open(path) as bank:
        queries = [
            hash_array(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)) for _ in range(20)
        ]
        found = bank.match_batch([q.variants for q in queries])
        assert all(not any(m.band == "MATCH" for m in ms) for ms in found)


def test_flat_picture_is_reported_not_hashable(banked, tmp_path: Path) -> None:
    path, _, _ = banked
    flat = _save(np.full((300, 300, 3), 200, np.uint8), tmp_path / "flat.png")
    with Bank.open(path) as bank:
        result = lookup_file(flat, [bank])
        assert isinstance(result, NotHashable) and result.quality < 50
        assert "not hashable" in result.reason
        assert match_file(flat, [bank]) == ()
        added = bank.add_file(flat)
        assert isinstance(added, NotHashable)
        with pytest.raises(BankError, match="not hashable"):
            bank.add_hash(parse_hex("00" * 32, quality=10))


def test_lookup_reports_hash_and_quality(banked) -> None:
    path, _, tmp = banked
    with Bank.open(path) as bank:
        result = lookup_file((tmp / "coffee.png").read_bytes(), [bank], max_distance=31)
    assert isinstance(result, Lookup) and result.media == "picture"
    assert result.pdq is not None and result.quality == 100
    assert [m.distance for m in result.matches] == [0]


def test_match_file_is_free_without_banks(tmp_path: Path) -> None:
    assert match_file(tmp_path / "never-read.jpg", []) == ()


def test_unreadable_inputs_raise(banked, tmp_path: Path) -> None:
    path, _, _ = banked
    with Bank.open(path) as bank:
        with pytest.raises(InputFileError):
            match_file(tmp_path / "missing.jpg", [bank])
        (tmp_path / "notes.txt").write_text("hello")
        with pytest.raises(PdqError, match="neither a picture nor a video"):
            match_file(tmp_path / "notes.txt", [bank])


def test_add_twice_and_index_refresh(tmp_path: Path) -> None:
    src = _save(_image("chelsea"), tmp_path / "c.png")
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        assert match_file(src, [bank]) == ()
        first = bank.add_file(src, label="cat")
        assert isinstance(first, Added) and first.new == 1
        again = bank.add_file(src)
        assert isinstance(again, Added) and again.new == 0 and again.entry_ids == first.entry_ids
        assert len(bank) == 1
        assert [m.entry_id for m in match_file(src, [bank])] == list(first.entry_ids)
        assert bank.add_hash(parse_hex("ab" * 32, quality=99), entry_id="manual")
        assert not bank.add_hash(parse_hex("cd" * 32), entry_id="manual")
        assert [m.entry_id for m in bank.match_hashes([parse_hex("ab" * 32)])] == ["manual"]
        assert bank.remove(["manual", "unknown"]) == 1
        assert bank.match_hashes([parse_hex("ab" * 32)]) == ()


def test_bands(tmp_path: Path) -> None:
    base = parse_hex("0" * 64)
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        for bits in (0, 31, 32, 52, 53):
            value = (1 << bits) - 1
            bank.add_hash(parse_hex(f"{value:064x}", quality=100), entry_id=f"d{bits}")
        found = {m.entry_id: (m.distance, m.band) for m in bank.match_hashes([base])}
        assert found == {
            "d0": (0, "MATCH"),
            "d31": (31, "MATCH"),
            "d32": (32, "REVIEW"),
            "d52": (52, "REVIEW"),
        }
        assert {m.entry_id for m in bank.match_hashes([base], max_distance=31)} == {"d0", "d31"}
        with pytest.raises(ValueError):
            bank.match_hashes([base], max_distance=60)
    assert (band(0), band(31), band(32), band(52), band(53)) == (
        "MATCH",
        "MATCH",
        "REVIEW",
        "REVIEW",
        None,
    )


def _csv(text: str, tmp_path: Path, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_reports_every_invalid_row(tmp_path: Path) -> None:
    good = "ab" * 32
    rows = [
        "ID,PDQ,quality,label,case",  # header names are case-insensitive
        f"a1,{good},100,cat,C1",
        f"a2,{'cd' * 32},,,",  # quality and label optional
        "a3,xyz,90,,",  # line 4: bad hash
        f"a4,{'ef' * 32},20,,",  # line 5: quality below 50
        f"a5,{'ef' * 32},101,,",  # line 6: out of range
        f"a6,{'ef' * 32},high,,",  # line 7: not a number
        f"a1,{good},100,,",  # line 8: duplicate id in the file
        "",  # blank: ignored
        f"a7,{'12' * 32}",  # line 10: too few columns
        f",{'34' * 32},80,,",  # line 11: no id -> the hash is the id
        f"a8,{'AB' * 31}ab,77,dog,C2",  # line 12: upper-case hex is fine
    ]
    path = _csv("\n".join(rows) + "\n", tmp_path)
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        bank.add_hash(parse_hex("99" * 32), entry_id="a8")  # line 12 clashes with the bank
        result = bank.import_csv(path, case="DEFAULT")
        assert result.rows == 10
        assert result.imported == 3
        lines = {r.line: r.reason for r in result.invalid}
        assert sorted(lines) == [4, 5, 6, 7, 8, 10, 12]
        assert "64 hex digits" in lines[4]
        assert "below 50" in lines[5] and "not hashable" in lines[5]
        assert "0-100" in lines[6]
        assert "whole number" in lines[7]
        assert "duplicate id 'a1'" in lines[8] and "line 2" in lines[8]
        assert "columns" in lines[10]
        assert "already in the bank" in lines[12]
        entries = {e.entry_id: e for e in bank.entries()}
        assert entries["a1"].label == "cat" and entries["a1"].case == "C1"
        assert entries["a2"].quality is None and entries["a2"].case == "DEFAULT"
        assert "34" * 32 in entries
        assert entries["a1"].source == "list.csv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("id,label\n1,x\n", "no hash column"),
        ('pdq\n"' + "ab" * 32 + "\n", "not valid CSV"),
    ],
)
def test_unusable_import_files(tmp_path: Path, content: str, message: str) -> None:
    path = _csv(content, tmp_path)
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        with pytest.raises(BankError, match=message):
            bank.import_csv(path)
        assert len(bank) == 0


def test_import_file_problems(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"pdq,label\n" + ("ab" * 32 + ",caf\xe9\n").encode("latin-1"))
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        with pytest.raises(BankError, match="UTF-8"):
            bank.import_csv(latin)
        with pytest.raises(BankError, match="no such file"):
            bank.import_csv(tmp_path / "missing.csv")
        result = bank.import_csv(io.StringIO("hash_value,hash_id\n" + "ab" * 32 + ",x\n"))
        assert result.ok and result.imported == 1


def test_export_round_trip(banked, tmp_path: Path) -> None:
    path, _, _ = banked
    with Bank.open(path) as bank:
        out = io.StringIO()
        assert bank.export(out, format="csv") == len(bank)
        original = [(e.entry_id, e.pdq, e.quality, e.label, e.case) for e in bank.entries()]
        jsonl = io.StringIO()
        bank.export(jsonl, format="jsonl")
    records = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert [(r["id"], r["pdq"], r["quality"], r["label"], r["case"]) for r in records] == original
    copy_csv = _csv(out.getvalue(), tmp_path, "export.csv")
    with Bank.open(tmp_path / "copy.db", create=True) as copy:
        result = copy.import_csv(copy_csv)
        assert result.ok and result.imported == len(original)
        assert [(e.entry_id, e.pdq, e.quality, e.label, e.case) for e in copy.entries()] == original


def test_reader_works_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Bank.open(path, create=True) as bank:
        bank.add_hash(parse_hex("ab" * 32, quality=100), entry_id="old")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO entries (entry_id, hash, quality, added_at) VALUES ('new', ?, 100, 'now')",
        (bytes.fromhex("cd" * 32),),
    )
    with Bank.open(path) as reader:  # WAL: readers are not blocked by the open write
        assert [m.entry_id for m in reader.match_hashes([parse_hex("ab" * 32)])] == ["old"]
        assert reader.match_hashes([parse_hex("cd" * 32)]) == ()
        writer.execute("COMMIT")
        # The reader notices the other connection's commit and rebuilds its index.
        assert [m.entry_id for m in reader.match_hashes([parse_hex("cd" * 32)])] == ["new"]
    writer.close()


def test_a_failed_import_leaves_the_bank_unchanged(tmp_path: Path, monkeypatch) -> None:
    import provenance.matching.bank as bank_module

    path = tmp_path / "b.db"
    csv_path = _csv("pdq\n" + "\n".join(f"{i:064x}" for i in range(1, 1001)) + "\n", tmp_path)
    monkeypatch.setattr(bank_module, "_INSERT_BATCH", 100)
    with Bank.open(path, create=True) as bank:
        bank.add_hash(parse_hex("ab" * 32), entry_id="keep")
        calls = {"n": 0}
        real = bank._conn

        class FailsMidway:
            """The third batch of inserts hits a disk error."""

            def __getattr__(self, name):
                return getattr(real, name)

            def executemany(self, sql, rows):
                if sql.startswith("INSERT INTO entries"):
                    calls["n"] += 1
                    if calls["n"] == 3:
                        raise sqlite3.OperationalError("disk I/O error")
                return real.executemany(sql, rows)

        monkeypatch.setattr(bank, "_conn", FailsMidway())
        with pytest.raises(sqlite3.OperationalError):
            bank.import_csv(csv_path)
        monkeypatch.setattr(bank, "_conn", real)
        assert calls["n"] == 3  # two batches had been written inside the transaction
        assert [e.entry_id for e in bank.entries()] == ["keep"]
    with Bank.open(path) as reopened:
        assert len(reopened) == 1


def _write_video(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.video
def test_video_frames_match_with_their_share(tmp_path: Path) -> None:
    def scene(name: str, size: int) -> np.ndarray:
        return np.asarray(Image.fromarray(_image(name)).convert("RGB").resize((size, size)))

    names = ["astronaut", "chelsea", "coffee", "camera"]
    original = [scene(n, 160) for n in names for _ in range(5)]  # 4 s at 5 fps
    clip = _write_video(tmp_path / "orig.mp4", original, fps=5)
    # The re-share: smaller, mirrored, and only the first two scenes plus an unrelated one.
    reshared = [scene(n, 96)[:, ::-1].copy() for n in names[:2] for _ in range(5)]
    reshared += [scene("rocket", 96)] * 5
    copy = _write_video(tmp_path / "copy.mp4", reshared, fps=5)
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        added = bank.add_file(clip, entry_id="V1", label="clip")
        assert isinstance(added, Added) and added.new == 4
        assert added.entry_ids[0] == "V1#t=0.000"
        result = lookup_file(copy, [bank], max_distance=31)
        assert isinstance(result, Lookup) and result.media == "video" and result.frames == 3
        (match,) = result.matches
        assert match.entry_id == "V1" and match.band == "MATCH" and match.variant == "flip_h"
        assert match.detail is not None
        assert match.detail["frames_matched"] == 2 and match.detail["frame_share"] == 0.6667
        assert match.detail["first_match_time"] == 0.0
        assert bank.remove(["V1"]) == 4 and len(bank) == 0


@pytest.mark.video
def test_video_check_keeps_vpdq_and_md5_for_a_rescan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``check --bank`` keeps a video's vPDQ and MD5; a rescan matches them, undecoded."""
    frames = [
        np.asarray(Image.fromarray(_image(n)).convert("RGB").resize((128, 128)))
        for n in ("astronaut", "chelsea", "coffee")
        for _ in range(5)
    ]
    clip = _write_video(tmp_path / "clip.mp4", frames, fps=5).read_bytes()
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        bank.add_hash(parse_hex("ab" * 32, quality=100), entry_id="other")
        matches, hashes = match_file_hashes(clip, [bank])
        assert matches == () and hashes is not None and hashes.media == "video"
        assert hashes.md5 == hashlib.md5(clip).hexdigest() and hashes.frames == 3
        assert hashes.pdq is None and hashes.pdq_variants == ()
        if vpdq_available():
            assert hashes.vpdq is not None and VpdqHash.from_signal(hashes.vpdq).features
            bank.add_video("clip-vpdq", VpdqHash.from_signal(hashes.vpdq))
        bank.add_video("clip-md5", VpdqHash((), md5=hashes.md5))
        record = {"schema": "jinjja.report/v1", "subject": {"path": "/c.mp4"}}
        monkeypatch.setattr(bank_module, "hash_video", None)  # nothing is decoded again
        (found,) = rescan([bank], [(1, {**record, "hashes": hashes.to_dict()})])
        assert isinstance(found, Rescanned)
        expected = {"clip-md5", "clip-vpdq"} if vpdq_available() else {"clip-md5"}
        assert {m.entry_id for m in found.new} == expected
        # Without the vpdq package the MD5 is still kept (from the file's bytes).
        monkeypatch.setattr(bank_module, "hash_video", hash_video)
        monkeypatch.setattr(bank_module, "vpdq_available", lambda: False)
        _, plain = match_file_hashes(clip, [bank])
        assert plain is not None and plain.vpdq is None and plain.md5 == hashes.md5


def test_a_bank_can_be_shared_by_threads(banked) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path, ids, tmp = banked
    with Bank.open(path) as bank:
        names = list(BANKED) * 3
        with ThreadPoolExecutor(max_workers=4) as pool:
            found = list(pool.map(lambda n: match_file(tmp / f"{n}.png", [bank]), names))
    assert [m[0].entry_id for m in found] == [ids[n] for n in names]


def test_matches_stay_right_after_a_removal_leaves_a_gap(tmp_path: Path) -> None:
    hashes = {f"e{i}": parse_hex(f"{i:02x}" * 32, quality=100) for i in (1, 2, 3)}
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        for eid, h in hashes.items():
            bank.add_hash(h, entry_id=eid)
        assert [m.entry_id for m in bank.match_hashes([hashes["e3"]], max_distance=0)] == ["e3"]
        bank.remove(["e2"])  # row ids are now 1 and 3
        assert [m.entry_id for m in bank.match_hashes([hashes["e3"]], max_distance=0)] == ["e3"]
        assert [m.entry_id for m in bank.match_hashes([hashes["e1"]], max_distance=0)] == ["e1"]
