"""vPDQ video matching with HMA's semantics: a re-encoded (CRF 30, 720p), trimmed copy
matches; an unrelated video does not. Clips are made here with PyAV."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from provenance.matching.bank import Bank, lookup_file
from provenance.matching.exchange import export_hma_csv, import_hma_csv
from provenance.matching.vpdq import VpdqFeature, VpdqHash, compare, hash_video_vpdq

av = pytest.importorskip("av")
pytestmark = [pytest.mark.video]

FPS = 4


def _shots(names: tuple[str, ...], seconds_each: float, seed: int) -> list[np.ndarray]:
    """One shot per photo, each held ``seconds_each`` with a slow zoom and sensor noise (as
    footage is: shots that change now and then, not every frame)."""
    rng = np.random.default_rng(seed)
    frames = []
    n = int(seconds_each * FPS)
    for name in names:
        photo = np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize((640, 360)))
        for i in range(n):
            m = int(i / n * 12)  # up to 12 px per side: a slow zoom
            crop = photo[m // 2 : 360 - m // 2, m : 640 - m]
            noisy = crop.astype(np.int16) + rng.normal(0, 3, crop.shape).astype(np.int16)
            frames.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return frames


def _write(path: Path, frames: list[np.ndarray], size: tuple[int, int], crf: int) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            rgb = np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR))
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("vpdq")
    original = _write(
        tmp / "original.mp4",
        _shots(("astronaut", "coffee", "chelsea", "rocket"), 2, seed=1),
        (1920, 1080),
        18,
    )
    # Re-encoded at 720p, CRF 30, trimmed to 1.5 s .. 6.5 s.
    frames = _decode(original)[int(1.5 * FPS) : int(6.5 * FPS)]
    copy = _write(tmp / "copy.mp4", frames, (1280, 720), 30)
    other = _write(
        tmp / "other.mp4",
        _shots(("camera", "immunohistochemistry", "hubble_deep_field"), 2, seed=2),
        (1280, 720),
        23,
    )
    return {"original": original, "copy": copy, "other": other, "tmp": tmp}


def test_trimmed_reencoded_copy_matches_and_unrelated_does_not(clips: dict[str, Path]) -> None:
    bank_path = clips["tmp"] / "videos.db"
    with Bank.open(bank_path, create=True) as bank:
        added = bank.add_file(clips["original"], entry_id="vid-1", label="case video")
        assert added.vpdq  # type: ignore[union-attr]
    with Bank.open(bank_path) as bank:
        found = lookup_file(clips["copy"], [bank], max_distance=31)
        vp = [m for m in found.matches if (m.detail or {}).get("signal") == "vpdq"]  # type: ignore[union-attr]
        assert [m.entry_id for m in vp] == ["vid-1"]
        detail = vp[0].detail
        assert detail["query_match_percent"] >= 80.0
        assert detail["compared_match_percent"] < 100.0  # the copy is shorter
        assert vp[0].band == "MATCH" and vp[0].label == "case video"
        # One result per banked video: its frames are not matched a second time.
        assert [m.entry_id for m in found.matches] == ["vid-1"]  # type: ignore[union-attr]
        unrelated = lookup_file(clips["other"], [bank], max_distance=31)
        assert unrelated.matches == ()  # type: ignore[union-attr]
        same = lookup_file(clips["original"], [bank], max_distance=31)
        signals = {(m.detail or {}).get("signal") for m in same.matches}  # type: ignore[union-attr]
        assert signals == {"video_md5"}  # the identical file is found by its MD5


def test_percentages_follow_hma(clips: dict[str, Path]) -> None:
    a = hash_video_vpdq(clips["original"])
    b = hash_video_vpdq(clips["copy"].read_bytes())
    q, c = compare(b, a)
    assert q >= 80.0 and 0 < c < 100.0
    q2, c2 = compare(a, b)
    assert q2 == pytest.approx(c, abs=25) and c2 == pytest.approx(q, abs=25)
    assert compare(hash_video_vpdq(clips["other"]), a)[0] < 20.0


def test_signal_string_is_pytx_format() -> None:
    h = VpdqHash(
        (
            VpdqFeature("ab" * 32, 100, 0.0),
            VpdqFeature("cd" * 32, 49, 1.0),
            VpdqFeature("ab" * 32, 90, 12.25),
        )
    )
    signal = h.to_signal()
    assert json.loads(signal) == [
        f"{'ab' * 32},100,0.0",
        f"{'cd' * 32},49,1.0",
        f"{'ab' * 32},90,12.2",
    ]
    assert VpdqHash.from_signal(signal).to_signal() == signal
    assert [f.pdq_hex for f in h.prepared()] == ["ab" * 32]  # deduplicated, quality >= 50
    for bad in ('{"a": 1}', '["xyz,1,0"]', f'["{"ab" * 32},101,0"]', f'["{"ab" * 32},50,-1"]'):
        with pytest.raises(ValueError):
            VpdqHash.from_signal(bad)


def test_vpdq_exchanged_through_hma_csv(clips: dict[str, Path], tmp_path: Path) -> None:
    signal = hash_video_vpdq(clips["original"]).to_signal()
    out = io.StringIO()
    import csv

    w = csv.writer(out)
    w.writerow(["signal_type", "signal_str", "collab", "category", "tags"])
    w.writerow(["vpdq", signal, "partner", "TRUE_POSITIVE", "video"])
    text = out.getvalue()
    with Bank.open(tmp_path / "b.db", create=True) as bank:
        result = import_hma_csv(bank, io.StringIO(text))
        assert (result.imported, result.invalid) == (1, ())
        again = io.StringIO()
        export_hma_csv(bank, again)
        assert again.getvalue() == text
        (m,) = bank.match_video(hash_video_vpdq(clips["copy"]))
        assert m.entry_id.startswith("partner/vpdq-") and m.detail["signal"] == "vpdq"


def test_missing_vpdq_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from provenance.matching.pdq import PdqError
    from provenance.matching.vpdq import vpdq_available

    monkeypatch.setitem(sys.modules, "vpdq", None)  # as if the package were not installed
    assert not vpdq_available()
    with pytest.raises(PdqError) as err:
        hash_video_vpdq(b"\x00" * 100)
    assert err.value.code == "missing_dependency"
    assert "libavcodec-dev" in err.value.message and "pip install vpdq" in err.value.message
