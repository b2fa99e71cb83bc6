"""``verify watermark embed`` / ``detect`` on video files (recognised by their container)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from verify_cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from video_clips import audio_packets, make_clip, moving_frames  # noqa: E402

pytestmark = pytest.mark.video

IMAGE_FIELDS = {"found", "payload_hex", "payload_text", "score", "p_value", "geometry", "subject"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of 800x736 at 30 fps zooming into a photo, with AAC audio."""
    import skimage.data

    folder = tmp_path_factory.mktemp("cli-video")
    frames = moving_frames(skimage.data.astronaut(), 800, 736, 30, motion="zoom")
    return make_clip(folder / "clip.mp4", frames, audio="aac")


@pytest.fixture(scope="module")
def marked(clip: Path) -> Path:
    out = clip.parent / "marked.mov"
    res = CliRunner().invoke(
        app,
        ["watermark", "embed", str(clip), "-o", str(out), "--text", "vid1", "--crf", "20"]
        + ["--preset", "veryfast"],
    )
    assert res.exit_code == 0, res.output
    assert "marked 30 frames with payload 76696431" in res.stdout and "libx264" in res.stdout
    return out


def test_embed_writes_the_container_the_extension_names(clip: Path, marked: Path) -> None:
    with av.open(str(marked)) as c:
        assert c.format.name.startswith("mov")
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].frames == 30
    assert audio_packets(marked) == audio_packets(clip)
    assert not any(p.name.startswith(".verify-") for p in marked.parent.iterdir())


def test_detect_json_record_has_the_image_fields_plus_frames(
    clip: Path, marked: Path, runner: CliRunner
) -> None:
    res = runner.invoke(app, ["watermark", "detect", str(marked), str(clip), "--format", "json"])
    assert res.exit_code == 1, res.output  # the unmarked clip has no mark
    hit, miss = json.loads(res.stdout)
    assert set(hit) == IMAGE_FIELDS | {"frames_used", "frames_analysed"}
    assert hit["found"] is True and hit["payload_text"] == "vid1" and hit["p_value"] <= 1e-6
    # 30 frames, about one in 5 (P frames preferred, every intra frame): 6 to 8 of them.
    assert 6 <= hit["frames_analysed"] <= 8 and 1 <= hit["frames_used"] <= hit["frames_analysed"]
    assert miss["found"] is False and miss["payload_hex"] is None
    res = runner.invoke(app, ["watermark", "detect", str(marked), "--segment", "0.2-0.9"])
    assert res.exit_code == 0, res.output
    assert "watermark found, payload 76696431 ('vid1')" in res.stdout
    res = runner.invoke(
        app, ["watermark", "detect", str(marked), "--segment", "0:00.3-0:00.7", "--format", "jsonl"]
    )
    rec = json.loads(res.stdout)
    assert rec["segment"] == [0.3, 0.7] and 2 <= rec["frames_analysed"] <= 4  # of 12 frames


def test_video_usage_errors(clip: Path, tmp_path: Path, runner: CliRunner) -> None:
    out = tmp_path / "o.mp4"
    cases = [
        (["embed", str(clip), "-o", str(out), "--text", "x", "--preset", "warp"], "--preset"),
        (["embed", str(clip), "-o", str(out), "--text", "x", "--crf", "60"], "--crf"),
        (["embed", str(clip), "-o", str(out), "--text", "x", "--quality", "90"], "--crf"),
        (["embed", str(clip), "-o", str(tmp_path / "o.gif"), "--text", "x"], "video container"),
        (["detect", str(clip), "--segment", "3-1"], "--segment"),
        (["detect", str(clip), "--segment", "soon"], "--segment"),
    ]
    for args, hint in cases:
        res = runner.invoke(app, ["watermark", *args])
        assert res.exit_code == 2, (args, res.output)
        assert hint in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_picture_options_do_not_mix_with_video_ones(tmp_path: Path, runner: CliRunner) -> None:
    pic = tmp_path / "p.png"
    Image.fromarray(np.full((300, 300, 3), 120, np.uint8)).save(pic)
    res = runner.invoke(
        app,
        ["watermark", "embed", str(pic), "-o", str(tmp_path / "o.png"), "--text", "x"]
        + ["--crf", "20"],
    )
    assert res.exit_code == 2 and "apply to videos only" in res.output
    res = runner.invoke(app, ["watermark", "detect", str(pic), "--segment", "1-2"])
    assert res.exit_code == 3 and "--segment applies to videos only" in res.stderr


def test_bad_videos_exit_3_and_write_nothing(clip: Path, tmp_path: Path, runner: CliRunner) -> None:
    data = clip.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    audio_only = tmp_path / "audio.mp4"
    with av.open(str(clip)) as i, av.open(str(audio_only), "w") as o:
        a = o.add_stream_from_template(i.streams.audio[0])
        for p in i.demux(i.streams.audio[0]):
            if p.dts is not None:
                p.stream = a
                o.mux(p)
    outdir = tmp_path / "out"
    outdir.mkdir()
    for bad, why in ((truncated, "not a readable video"), (audio_only, "no video stream")):
        out = outdir / "o.mp4"
        res = runner.invoke(app, ["watermark", "embed", str(bad), "-o", str(out), "--text", "x"])
        assert res.exit_code == 3, res.output
        assert why in res.stderr and "Traceback" not in res.output
        assert list(outdir.iterdir()) == []
        res = runner.invoke(app, ["watermark", "detect", str(bad)])
        assert res.exit_code == 3 and why in res.stderr
