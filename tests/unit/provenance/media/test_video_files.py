"""File-level video helpers (PyAV): embed_video / detect_video on clips generated here."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "benchmarks"))

from video_clips import audio_packets, make_clip, moving_frames, transcode

from provenance.errors import ProvenanceError
from provenance.media.video import (
    VideoError,
    detect_video,
    embed_video,
    is_video,
    parse_segment,
)
from watermark._video import LumaMarker

pytestmark = pytest.mark.video

KEY = "video-file-key"
PAYLOAD = b"\xde\xad\xbe\xef\x00\x01\x02\x03"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video")


@pytest.fixture(scope="module")
def source(work: Path, photo: Callable[..., np.ndarray]) -> Path:
    """1.5 s of 960x736 at 30 fps panning over a photo, AAC audio, displayed rotated 90 deg."""
    frames = moving_frames(photo("coffee", 512), 960, 736, 45, motion="pan")
    return make_clip(work / "source.mp4", frames, audio="aac", rotation=90)


@pytest.fixture(scope="module")
def marked(work: Path, source: Path) -> tuple[Path, object]:
    out = work / "marked.mp4"
    calls: list[tuple[int, int | None]] = []
    result = embed_video(
        source, out, PAYLOAD, KEY, preset="veryfast", progress=lambda d, t: calls.append((d, t))
    )
    assert calls[-1] == (45, 45) and len(calls) == 45
    return out, result


def test_embed_keeps_timing_rotation_and_audio(source: Path, marked: tuple[Path, object]) -> None:
    out, result = marked
    assert result.frames == 45 and (result.width, result.height) == (960, 736)  # type: ignore[attr-defined]
    assert result.codec == "libx264" and result.audio_streams == 1  # type: ignore[attr-defined]
    assert 40.0 <= result.psnr_min < 41.0  # type: ignore[attr-defined]
    with av.open(str(source)) as a, av.open(str(out)) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert vb.codec_context.name == "h264"
        assert vb.time_base == va.time_base and vb.average_rate == va.average_rate == 30
        assert vb.frames == va.frames == 45
        assert abs(b.duration - a.duration) <= 25_000  # microseconds
        fa, fb = next(a.decode(video=0)), next(b.decode(video=0))
        assert fb.rotation == fa.rotation == 90
    assert audio_packets(out) == audio_packets(source)


def test_round_trip_through_crf28(work: Path, marked: tuple[Path, object]) -> None:
    attacked = transcode(marked[0], work / "crf28.mp4", crf=28)
    result = detect_video(attacked, KEY)
    assert result.found and result.payload == PAYLOAD


def test_a_segment_without_an_intra_frame_is_read_after_crf28(
    work: Path, photo: Callable[..., np.ndarray]
) -> None:
    # x264 puts one intra frame at the start of this 2.5 s clip; the 2 s segment from 0.5 s
    # holds predicted frames only. The v2 mark moves with the pan, so the re-encoder
    # predicts it along with the content and keeps it; the detector sums the frames aligned
    # on the tracked motion.
    frames = moving_frames(photo("astronaut", 512), 960, 736, 75, motion="pan")
    src = make_clip(work / "astronaut.mp4", frames, audio=None)
    marked = embed_video(src, work / "astronaut-marked.mp4", PAYLOAD, KEY, preset="veryfast")
    attacked = transcode(marked.path, work / "astronaut-crf28.mp4", crf=28)
    with av.open(str(attacked)) as c:
        intra = [f.time for f in c.decode(video=0) if f.key_frame]
    assert intra == [0.0]
    result = detect_video(attacked, KEY, segment=(0.5, 2.5))
    assert result.found and result.payload == PAYLOAD


def test_the_encoder_spends_almost_nothing_on_the_mark(
    work: Path, source: Path, marked: tuple[Path, object]
) -> None:
    # The fixed mark of revision 2 made this pan's file 3-4 times larger than a plain
    # transcode at the same settings; the v2 mark moves with the content.
    plain = transcode(source, work / "plain.mp4", crf=23, preset="veryfast")
    assert _video_bytes(marked[0]) <= 1.3 * _video_bytes(plain)


def _video_bytes(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(p.size for p in c.demux(c.streams.video[0]))


def test_a_crop_to_90_percent_keeps_the_mark(work: Path, marked: tuple[Path, object]) -> None:
    attacked = transcode(marked[0], work / "crop90.mp4", crop=0.9, crf=23)
    result = detect_video(attacked, KEY)
    assert result.found and result.payload == PAYLOAD


def test_files_marked_with_the_fixed_revision_2_pattern_are_still_read(
    work: Path, source: Path
) -> None:
    # A file marked before v2: the fixed pattern of video profile revision 2 (format v1).
    marker = LumaMarker(KEY, PAYLOAD, 736, 960, limited_range=False, follow_motion=False)

    def fixed() -> Iterator[np.ndarray]:
        with av.open(str(source)) as c:
            for frame in c.decode(video=0):
                x = frame.to_ndarray(format="rgb24").astype(np.float32)
                y = np.clip(np.rint(x @ np.float32([0.299, 0.587, 0.114])), 0, 255)
                x += marker.residual(y.astype(np.uint8))[..., None] + 0.5
                yield np.clip(x, 0, 255).astype(np.uint8)

    old = make_clip(work / "revision2.mp4", fixed(), audio=None, crf=18)
    attacked = transcode(old, work / "revision2-crf28.mp4", crf=28)
    result = detect_video(attacked, KEY)
    assert result.found and result.payload == PAYLOAD


def test_round_trip_through_half_size(work: Path, marked: tuple[Path, object]) -> None:
    attacked = transcode(marked[0], work / "half.mp4", scale=0.5, crf=23)
    with av.open(str(attacked)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (480, 368)
    result = detect_video(attacked, KEY)
    assert result.found and result.payload == PAYLOAD
    assert result.geometry is not None and abs(result.geometry.scale - 1.0) < 0.02


def test_segment_and_frame_limit(marked: tuple[Path, object]) -> None:
    result = detect_video(marked[0], KEY, segment=(0.5, 1.0))
    # 15 frames shown in [0.5, 1.0): about one in 5 (P frames preferred), so 3 or 4.
    assert result.found and result.payload == PAYLOAD and 3 <= result.frames_analysed <= 4
    assert detect_video(marked[0], KEY, max_frames=2, stride=1).frames_analysed == 2
    past_the_end = r"no frames in the segment 5-6 s \(the video is 1.5 s long\)"
    with pytest.raises(VideoError, match=past_the_end):
        detect_video(marked[0], KEY, segment=(5.0, 6.0))


def test_unmarked_clip_and_wrong_key_are_not_detected(
    source: Path, marked: tuple[Path, object]
) -> None:
    for path, key in ((source, KEY), (marked[0], "other")):
        result = detect_video(path, key)
        assert not result.found and result.payload is None and result.p_value > 1e-6


def test_other_containers_pcm_audio_and_vp9(work: Path, photo: Callable[..., np.ndarray]) -> None:
    frames = list(moving_frames(photo("astronaut", 512), 512, 384, 15, motion="zoom"))
    mov = make_clip(work / "pcm.mov", frames, audio="pcm_s16le")
    out = embed_video(mov, work / "pcm-marked.mkv", PAYLOAD, KEY, preset="ultrafast")
    assert out.audio_streams == 1 and audio_packets(out.path) == audio_packets(mov)
    assert detect_video(out.path, KEY, stride=1).payload == PAYLOAD
    silent = make_clip(work / "silent.mp4", frames, audio=None)
    webm = embed_video(silent, work / "marked.webm", PAYLOAD, KEY, crf=20, preset="ultrafast")
    with av.open(str(webm.path)) as c:
        assert c.streams.video[0].codec_context.name == "vp9"
    assert detect_video(webm.path, KEY, stride=1).payload == PAYLOAD
    with pytest.raises(VideoError, match="WebM holds only Opus or Vorbis"):
        embed_video(mov, work / "x.webm", PAYLOAD, KEY)
    assert not (work / "x.webm").exists()


def _no_leftovers(folder: Path) -> bool:
    return not any(p.name.startswith(".verify-") for p in folder.iterdir())


@pytest.fixture(scope="module")
def bad_inputs(work: Path, source: Path) -> dict[str, Path]:
    data = source.read_bytes()
    bad = work / "bad"
    bad.mkdir()
    (bad / "head-only.mp4").write_bytes(data[: len(data) // 3])
    # A fast-start copy (index first) cut in the middle of the frame data.
    faststart = bad / "faststart.mp4"
    with (
        av.open(str(source)) as i,
        av.open(str(faststart), "w", options={"movflags": "faststart"}) as o,
    ):
        m = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for p in i.demux():
            if p.dts is not None:
                p.stream = m[p.stream.index]
                o.mux(p)
    full = faststart.read_bytes()
    (bad / "cut.mp4").write_bytes(full[: len(full) * 6 // 10])
    faststart.unlink()
    audio_only = bad / "audio.m4a"
    with av.open(str(source)) as i, av.open(str(audio_only), "w", format="mp4") as o:
        a = o.add_stream_from_template(i.streams.audio[0])
        for p in i.demux(i.streams.audio[0]):
            if p.dts is not None:
                p.stream = a
                o.mux(p)
    empty = bad / "empty.mkv"
    with av.open(str(empty), "w") as o:
        s = o.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 320, 256, "yuv420p"
        o.start_encoding()
    # Unknown codec: the Matroska codec ID of H.264 renamed to one FFmpeg does not know.
    mkv = make_clip(work / "h264.mkv", moving_frames(np.zeros((64, 64, 3), np.uint8), 320, 256, 3))
    raw = mkv.read_bytes()
    assert raw.count(b"V_MPEG4/ISO/AVC") == 1
    (bad / "unknown-codec.mkv").write_bytes(raw.replace(b"V_MPEG4/ISO/AVC", b"V_JINJJA/NO/AVC"))
    (bad / "text.mp4").write_bytes(b"not a video at all\n" * 10)
    return {p.stem: p for p in bad.iterdir()}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("head-only", "not a readable video"),
        ("cut", "truncated"),
        ("audio", r"has no video stream \(only audio\)"),
        ("empty", "no frames"),
        ("unknown-codec", "codec is not supported"),
        ("text", "not a readable video"),
    ],
)
def test_bad_inputs_raise_a_clear_error_and_write_nothing(
    work: Path, bad_inputs: dict[str, Path], name: str, message: str
) -> None:
    out_dir = work / f"out-{name}"
    out_dir.mkdir()
    with pytest.raises(VideoError, match=message) as info:
        embed_video(bad_inputs[name], out_dir / "out.mp4", PAYLOAD, KEY, preset="ultrafast")
    assert isinstance(info.value, ProvenanceError) and "\n" not in info.value.message
    assert list(out_dir.iterdir()) == []
    with pytest.raises(VideoError, match=message):
        detect_video(bad_inputs[name], KEY)


def test_bad_options(source: Path, work: Path) -> None:
    with pytest.raises(ValueError, match="video container"):
        embed_video(source, work / "out.gif", PAYLOAD, KEY)
    with pytest.raises(ValueError, match="preset"):
        embed_video(source, work / "out.mp4", PAYLOAD, KEY, preset="warp")
    with pytest.raises(ValueError, match="crf"):
        embed_video(source, work / "out.mp4", PAYLOAD, KEY, crf=52)
    with pytest.raises(ValueError, match="no video encoder"):
        embed_video(source, work / "out.mp4", PAYLOAD, KEY, codec="nonesuch")
    with pytest.raises(ValueError, match="at most 8 bytes"):
        embed_video(source, work / "out.mp4", b"123456789", KEY)
    with pytest.raises(VideoError, match="no such file"):
        embed_video(work / "missing.mp4", work / "out.mp4", PAYLOAD, KEY)
    with pytest.raises(ValueError, match="stride"):
        detect_video(source, KEY, stride=0)
    assert _no_leftovers(work) and not (work / "out.mp4").exists()


def test_is_video_and_parse_segment(source: Path, work: Path) -> None:
    assert is_video(source)
    (work / "pic.heic").write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic")
    (work / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    assert not is_video(work / "pic.heic") and not is_video(work / "pic.png")
    assert not is_video(work / "missing")
    assert parse_segment("12-14") == (12.0, 14.0)
    assert parse_segment("1:02.5-1:05") == (62.5, 65.0)
    for bad in ("12", "14-12", "a-b", "-3", "1:2:3:4-5"):
        with pytest.raises(ValueError, match="segment"):
            parse_segment(bad)


def test_frame_rate_conversion_keeps_the_mark(work: Path, marked: tuple[Path, object]) -> None:
    attacked = transcode(marked[0], work / "25fps.mp4", fps=25, crf=23)
    with av.open(str(attacked)) as c:
        assert c.streams.video[0].average_rate == Fraction(25)
    assert detect_video(attacked, KEY).payload == PAYLOAD


def test_frame_selector_prefers_p_frames_and_keeps_every_intra_frame() -> None:
    from types import SimpleNamespace

    from provenance.media.video import FrameSelector

    # Display order of a GOP with 3 B frames between P frames, then a new intra frame.
    kinds = [1, 3, 3, 3, 2, 3, 3, 3, 2, 3, 3, 3, 2, 3, 1, 3, 3, 3, 2]
    frames = [SimpleNamespace(pict_type=k, key_frame=k == 1) for k in kinds]
    select = FrameSelector(5)
    taken = [i for i, f in enumerate(frames) if select.take(f)[0]]
    assert taken == [0, 4, 8, 12, 14, 18]
    every = FrameSelector(1)
    assert all(every.take(f)[0] for f in frames)
    # Without P frames, B frames are taken at twice the spacing.
    only_b = FrameSelector(5)
    picks = [i for i in range(20) if only_b.take(SimpleNamespace(pict_type=3, key_frame=False))[0]]
    assert picks == [0, 8, 16]


def test_decoding_thread_hands_over_items_errors_and_stops_early() -> None:
    import threading

    from provenance.media.video import _threaded

    assert list(_threaded(iter(range(50)), depth=2)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise VideoError("broken input", code="corrupt")

    got: list[int] = []
    with pytest.raises(VideoError, match="broken input"):
        for item in _threaded(failing()):
            got.append(item)
    assert got == [1]

    produced: list[int] = []
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            for i in range(10**9):
                produced.append(i)
                yield i
        finally:
            closed.set()

    before = threading.active_count()
    items = _threaded(endless(), depth=3)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()
    # The producer stops a few items ahead (bounded queue), is closed and its thread ends.
    assert closed.is_set() and len(produced) <= 5 + 3 + 2
    assert threading.active_count() == before


def test_detect_stops_decoding_at_the_frame_limit_and_leaves_no_thread(
    marked: tuple[Path, object],
) -> None:
    import threading

    before = threading.active_count()
    calls: list[int] = []
    result = detect_video(
        marked[0], KEY, max_frames=3, stride=1, progress=lambda d, t: calls.append(d)
    )
    assert result.frames_analysed == 3 and calls == [1, 2]
    assert threading.active_count() == before
