"""Mark video files and read the mark back: PyAV adapters over :mod:`watermark._video`.

:func:`embed_video` decodes any video FFmpeg reads, adds the watermark (video profile v2,
``jinjja.watermark/v2-video``: the pattern moves with the picture's translation, so the
encoder predicts it with the content) to the luma (Y) plane of every frame in display order
(no RGB conversion), and encodes H.264 (``libx264``) into MP4, or the codec the
output extension calls for (``.webm``: VP9; ``.mkv``/``.mov``: H.264). Audio packets are copied
untouched (remuxed, never re-encoded); frame timestamps, time base, frame rate, rotation
(display matrix), colour tags and stream metadata are kept. The result is written to a
temporary file in the destination folder and renamed into place, so a failure never leaves a
half-written output. Decoding, marking and encoding run in three threads joined by bounded
queues (FFmpeg and numpy release the GIL), so marking hides behind the encoder when there
are cores to spare.

:func:`detect_video` decodes the whole file or a segment in a thread of its own, analyses
every ``stride``-th frame's luma plane (read in place; the other frames are only decoded)
and accumulates the evidence (:class:`watermark._video.LumaEvidence`) into one decision; it
reads v2 files and files marked with the fixed pattern of video profile revision 2.

PyAV (extra ``video``) is imported lazily; every FFmpeg failure is reported as
:class:`VideoError` with a sentence a user can act on.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from provenance._atomic import atomic_path
from provenance.errors import VideoError
from provenance.media import budget
from watermark._video import LumaEvidence, LumaMarker, VideoDetection, luma_psnr

if TYPE_CHECKING:  # pragma: no cover
    from av.container import InputContainer

__all__ = [
    "PRESETS",
    "FrameSelector",
    "VideoEmbedResult",
    "VideoError",
    "detect_video",
    "embed_video",
    "is_video",
    "parse_segment",
]

PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)
"""Encoder speed presets (x264 names; mapped to ``cpu-used`` for VP9)."""

_CONTAINERS = {
    ".mp4": ("mp4", "libx264"),
    ".m4v": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
}
_VP9_CPU_USED = dict(zip(PRESETS, ("8", "7", "6", "5", "4", "3", "2", "1", "0"), strict=True))
_WEBM_AUDIO = {"opus", "vorbis"}
_PSNR_EVERY = 15
"""Measure the exact PSNR of every this many frames (and the first)."""
_ANALYSED_PER_SECOND = 6.0
"""Default analysis rate of :func:`detect_video` in frames per second of video."""
_QUEUE_DEPTH = 6
"""Frames in flight between the decoding thread and the marking/analysing thread."""
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_HEIF_BRANDS |= {b"avif", b"avis", b"avio"}


@dataclass(frozen=True)
class VideoEmbedResult:
    """What :func:`embed_video` wrote."""

    path: Path
    """The output file."""
    frames: int
    """Number of video frames marked and encoded."""
    width: int
    """Frame width in pixels (as coded, before any display rotation)."""
    height: int
    """Frame height in pixels (as coded)."""
    codec: str
    """The video encoder used (``libx264``, ``libvpx-vp9``, ...)."""
    audio_streams: int
    """Number of audio streams copied untouched."""
    psnr_min: float
    """Lowest PSNR (dB) of the mark over the frames measured (every 15th and the first),
    before encoding."""
    psnr_mean: float
    """Mean PSNR (dB) over the same frames."""


def is_video(path: Path) -> bool:
    """Whether ``path`` starts like a video container (MP4/MOV, Matroska/WebM, AVI, MPEG-TS,
    FLV, MPEG-PS or Ogg); HEIF/AVIF still pictures are not videos.

    Returns ``False`` for unreadable paths (the picture reader will report why).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return head[8:12] not in _HEIF_BRANDS
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska / WebM
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return True
    if head.startswith((b"FLV\x01", b"\x00\x00\x01\xba", b"OggS")):
        return True
    if len(head) >= 377 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return True
    return False


def parse_segment(text: str) -> tuple[float, float]:
    """Parse ``START-END`` in seconds (``12-14``, ``1:02.5-1:05``); raises ValueError."""

    def seconds(part: str) -> float:
        fields = part.strip().split(":")
        if not 1 <= len(fields) <= 3 or not all(fields):
            raise ValueError
        value = 0.0
        for f in fields:
            v = float(f)
            if not math.isfinite(v) or v < 0:
                raise ValueError
            value = value * 60.0 + v
        return value

    start_text, sep, end_text = text.partition("-")
    try:
        if not sep:
            raise ValueError
        start, end = seconds(start_text), seconds(end_text)
    except ValueError:
        raise ValueError(
            f"segment {text!r} is not START-END in seconds (e.g. 12-14 or 1:02-1:04.5)"
        ) from None
    if end <= start:
        raise ValueError(f"segment {text!r} ends before it starts")
    return start, end


def _import_av() -> Any:
    try:
        import av  # optional extra: video (PyAV)
    except ImportError:  # pragma: no cover - av is in the video extra
        raise VideoError(
            "video support needs PyAV: pip install 'jinjja[video]'", code="missing_dependency"
        ) from None
    return av


def _open_input(av: Any, path: Path) -> InputContainer:
    if not path.exists():
        raise VideoError(f"{path}: no such file", code="not_found")
    if path.is_dir():
        raise VideoError(f"{path}: is a directory", code="not_found")
    try:
        container = av.open(str(path), mode="r", metadata_errors="replace")
    except av.EOFError:
        raise VideoError(
            f"{path}: has no frames (the file ends before any media data)", code="no_frames"
        ) from None
    except (av.FFmpegError, *_DECODER_ERRORS) as exc:
        raise VideoError(
            f"{path}: not a readable video ({_reason(exc)}); it may be truncated or not a "
            "video at all",
            code="corrupt",
        ) from None
    return cast("InputContainer", container)


_DECODER_ERRORS: Final = (OSError, ValueError, RuntimeError, EOFError, MemoryError)
"""What PyAV raises besides its FFmpegError family on hostile files."""


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".")


def _video_stream(av: Any, container: InputContainer, path: Path) -> Any:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        what = f"only {', '.join(kinds)}" if kinds else "no streams"
        raise VideoError(f"{path}: has no video stream ({what})", code="no_video")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    if ctx is None or not getattr(ctx, "name", None):
        raise VideoError(f"{path}: the video codec is not supported", code="unsupported_codec")
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width * height > budget.max_pixels():
        raise VideoError(
            f"{path}: the video's frames declare {width}x{height} pixels (over the limit of "
            f"{budget.max_pixels():,}); refused before decoding",
            code="too_large",
        )
    stream.thread_type = "AUTO"
    return stream


def _decoded(
    av: Any, container: InputContainer, streams: list[Any], path: Path
) -> Iterator[tuple[Any, Any]]:
    """Yield (packet, frames) from ``streams``, turning FFmpeg errors into VideoError."""
    video = streams[0]
    try:
        for packet in container.demux(streams):
            if packet.stream.index == video.index:
                yield packet, packet.decode()
            else:
                yield packet, None
    except (av.FFmpegError, *_DECODER_ERRORS) as exc:
        raise VideoError(
            f"{path}: cannot decode the video ({_reason(exc)}); the file may be truncated "
            "or use an unsupported codec",
            code="corrupt",
        ) from None


_T = TypeVar("_T")


class _Failure:
    """An exception raised in the producing thread, handed over to the consumer."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def _threaded(source: Iterator[_T], depth: int = _QUEUE_DEPTH) -> Generator[_T, None, None]:
    """Iterate ``source`` in a thread of its own, ``depth`` items ahead of the consumer.

    FFmpeg decoding (PyAV) and numpy release the GIL, so decoding the next frames overlaps
    with marking or analysing this one. Exceptions of ``source`` are raised in the consumer;
    closing the returned iterator stops the thread and closes ``source``.
    """
    q: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))

    worker = threading.Thread(target=run, name="video-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield cast("_T", item)
    finally:
        stop.set()
        worker.join()
        close = getattr(source, "close", None)
        if close is not None:
            close()


def _luma(av: Any, frame: Any) -> tuple[Any, NDArray[np.uint8], bool]:
    """The frame to encode, a writable view of its Y plane, and whether it is limited range."""
    name = frame.format.name
    if name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
        name = "yuv420p"
    else:
        frame.make_writable()
    plane = frame.planes[0]
    view = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    limited = name == "yuv420p" and int(frame.color_range) != 2
    return frame, view[:, : plane.width], limited


def _display_matrix(frame: Any) -> list[int] | None:
    for sd in frame.side_data:
        if str(getattr(sd.type, "name", sd.type)).upper().endswith("DISPLAYMATRIX"):
            raw = bytes(sd)
            if len(raw) == 36:
                return [int(v) for v in np.frombuffer(raw, dtype="<i4")]
    return None


def embed_video(
    src: Path | str,
    dst: Path | str,
    payload: bytes,
    key: bytes | str,
    *,
    psnr: float = 40.0,
    crf: int = 23,
    preset: str = "medium",
    codec: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> VideoEmbedResult:
    """Mark every frame of the video ``src`` and write it to ``dst``.

    Parameters
    ----------
    src, dst : path
        Input video (anything FFmpeg reads) and output file; the output container follows
        the extension of ``dst`` (``.mp4``, ``.m4v``, ``.mov``, ``.mkv``, ``.webm``).
    payload : bytes
        At most 8 bytes.
    key : bytes or str
        The marking key.
    psnr : float, optional
        Target PSNR of every frame in dB (20-60).
    crf : int, optional
        Constant rate factor of the encoder (0-51 for H.264, 0-63 for VP9). The defaults,
        CRF 23 and preset ``medium``, are those of a plain ``ffmpeg -c:v libx264``
        transcode.
    preset : str, optional
        Encoder speed preset, one of :data:`PRESETS`.
    codec : str, optional
        FFmpeg video encoder name, overriding the one the extension implies.
    progress : callable, optional
        Called as ``progress(frames_done, frames_total_or_None)`` after every frame.

    Returns
    -------
    VideoEmbedResult

    Raises
    ------
    ValueError
        For a bad payload, key, strength, CRF, preset, codec or output extension.
    VideoError
        When the input cannot be read or decoded, or the output cannot be written; no output
        file is left behind.
    """
    src, dst = Path(src), Path(dst)
    fmt, default_codec = _container_for(dst)
    vcodec = codec or default_codec
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, not {preset!r}")
    top = 63 if "vp9" in vcodec else 51
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= top:
        raise ValueError(f"crf must be an integer from 0 to {top} for {vcodec}, not {crf!r}")
    # Validate payload, key and strength before touching any file.
    LumaMarker(key, payload, 256, 256, psnr=psnr)
    av = _import_av()
    try:
        av.codec.Codec(vcodec, "w")
    except (av.FFmpegError, ValueError):
        raise ValueError(f"no video encoder named {vcodec!r} in this FFmpeg build") from None
    if not dst.parent.is_dir():
        raise VideoError(f"{dst.parent}: the output folder does not exist", code="not_found")

    inp = _open_input(av, src)
    try:
        vs = _video_stream(av, inp, src)
        audio = list(inp.streams.audio)
        if fmt == "webm":
            bad = [a.codec_context.name for a in audio if a.codec_context.name not in _WEBM_AUDIO]
            if bad:
                raise VideoError(
                    f"WebM holds only Opus or Vorbis audio, but {src} has {', '.join(bad)}; "
                    "write .mkv or .mp4 instead",
                    code="unsupported_codec",
                )
        with atomic_path(dst) as tmp:
            result = _transcode(
                av, inp, vs, audio, src, tmp, fmt, vcodec, payload, key, psnr, crf, preset, progress
            )
    finally:
        inp.close()
    return VideoEmbedResult(
        path=dst,
        frames=result[0],
        width=result[1],
        height=result[2],
        codec=vcodec,
        audio_streams=len(audio),
        psnr_min=result[3],
        psnr_mean=result[4],
    )


def _container_for(dst: Path) -> tuple[str, str]:
    suffix = dst.suffix.lower()
    if suffix not in _CONTAINERS:
        names = ", ".join(_CONTAINERS)
        raise ValueError(f"cannot tell the video container from {dst.name!r}; use one of {names}")
    return _CONTAINERS[suffix]


def _open_video_stream(
    out: Any, vs: Any, frame: Any, audio: list[Any], vcodec: str, crf: int, preset: str
) -> tuple[Any, dict[int, Any]]:
    """The output video stream, shaped after the first decoded frame, and the audio streams
    copied from the input (by input stream index)."""
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate or Fraction(30)
    o = out.add_stream(vcodec, rate=rate)
    o.width, o.height = frame.width, frame.height
    o.pix_fmt = "yuv420p"
    o.time_base = vs.time_base
    o.codec_context.time_base = vs.time_base
    o.thread_type = "AUTO"
    if vs.sample_aspect_ratio:
        o.sample_aspect_ratio = vs.sample_aspect_ratio
    for attr in ("color_range", "color_primaries", "color_trc", "colorspace"):
        value = getattr(frame, attr, None)
        if value:
            setattr(o.codec_context, attr, value)
    if "vp9" in vcodec:
        o.options = {
            "crf": str(crf),
            "b": "0",
            "cpu-used": _VP9_CPU_USED[preset],
            "row-mt": "1",
            "deadline": "good",
        }
    elif vcodec in ("libx264", "libx265"):
        o.options = {"crf": str(crf), "preset": preset}
    o.metadata.update({k: v for k, v in vs.metadata.items() if k not in ("encoder", "vendor_id")})
    matrix = _display_matrix(frame)
    if matrix is not None:
        o.set_display_matrix(matrix)
    amap: dict[int, Any] = {}
    for a in audio:
        amap[a.index] = out.add_stream_from_template(a)
        amap[a.index].metadata.update(dict(a.metadata))
    return o, amap


def _demuxed(
    av: Any, inp: InputContainer, vs: Any, audio: list[Any], src: Path
) -> Generator[tuple[Any, Any], None, None]:
    """(audio packet, None) and (None, decoded video frame) in file order."""
    for packet, decoded in _decoded(av, inp, [vs, *audio], src):
        if decoded is None:
            if packet.dts is not None:
                yield packet, None
            continue
        for frame in decoded:
            yield None, frame
    try:
        for frame in vs.codec_context.decode(None):
            yield None, frame
    except av.FFmpegError:
        pass


class _Marking:
    """The marking stage: every video frame marked on its Y plane (U, V untouched)."""

    def __init__(
        self, av: Any, vs: Any, src: Path, key: bytes | str, payload: bytes, psnr: float
    ) -> None:
        self.av, self.vs, self.src = av, vs, src
        self.key, self.payload, self.psnr = key, payload, psnr
        self.marker: LumaMarker | None = None
        self.first: Any = None
        """The first frame as decoded: side data and colour tags intact."""
        self.count = 0
        self.psnrs: list[float] = []

    def _marker_for(self, h: int, w: int, limited: bool) -> LumaMarker:
        if self.marker is None:
            try:
                self.marker = LumaMarker(
                    self.key, self.payload, h, w, psnr=self.psnr, limited_range=limited
                )
            except ValueError as exc:
                raise VideoError(f"{self.src}: {exc}", code="too_small") from None
        elif (self.marker.height, self.marker.width) != (h, w):
            raise VideoError(
                f"{self.src}: the frame size changes mid-stream ({self.marker.width}x"
                f"{self.marker.height} to {w}x{h}); cut the video where it changes",
                code="unsupported",
            )
        return self.marker

    def __call__(
        self, items: Generator[tuple[Any, Any], None, None]
    ) -> Generator[tuple[Any, Any], None, None]:
        with contextlib.closing(items):
            for packet, frame in items:
                if frame is None:
                    yield packet, None
                    continue
                if self.first is None:
                    self.first = frame
                frame, y, limited = _luma(self.av, frame)
                h, w = y.shape
                marker = self._marker_for(h, w, limited)
                if self.count % _PSNR_EVERY == 0:
                    before = y.copy()
                    marker.mark(y)
                    self.psnrs.append(luma_psnr(before, y, limited_range=limited))
                else:
                    marker.mark(y)
                self.count += 1
                frame.pict_type = self.av.video.frame.PictureType.NONE
                frame.time_base = self.vs.time_base
                yield None, frame


def _transcode(
    av: Any,
    inp: InputContainer,
    vs: Any,
    audio: list[Any],
    src: Path,
    tmp: Path,
    fmt: str,
    vcodec: str,
    payload: bytes,
    key: bytes | str,
    psnr: float,
    crf: int,
    preset: str,
    progress: Callable[[int, int | None], None] | None,
) -> tuple[int, int, int, float, float]:
    total = _frame_count(vs)
    try:
        out = av.open(str(tmp), mode="w", format=fmt)
    except av.FFmpegError as exc:
        raise VideoError(f"cannot write {tmp.parent}: {_reason(exc)}", code="write") from None
    try:
        out.metadata.update({k: v for k, v in inp.metadata.items() if k != "encoder"})
        ovs: Any = None
        amap: dict[int, Any] = {}
        pending: list[Any] = []
        frames = 0
        marking = _Marking(av, vs, src, key, payload, psnr)
        # Three stages in three threads: decode | mark | encode (x264 adds its own threads).
        with contextlib.closing(
            _threaded(marking(_threaded(_demuxed(av, inp, vs, audio, src))))
        ) as items:
            for packet, frame in items:
                if frame is None:
                    if ovs is None:
                        pending.append(packet)
                    else:
                        packet.stream = amap[packet.stream.index]
                        out.mux(packet)
                    continue
                if ovs is None:
                    ovs, amap = _open_video_stream(
                        out, vs, marking.first, audio, vcodec, crf, preset
                    )
                    for p in pending:
                        p.stream = amap[p.stream.index]
                        out.mux(p)
                    pending.clear()
                for packet in ovs.encode(frame):
                    out.mux(packet)
                frames += 1
                if progress is not None:
                    progress(frames, total)
        _finish(out, ovs, vs, src, frames)
    except av.FFmpegError as exc:
        raise VideoError(f"cannot encode {src}: {_reason(exc)}", code="encode") from None
    finally:
        try:
            out.close()
        except av.FFmpegError:
            pass
    psnrs = marking.psnrs
    first = marking.first
    width, height = (first.width, first.height) if first is not None else (0, 0)
    return (
        frames,
        width,
        height,
        min(psnrs) if psnrs else math.inf,
        float(np.mean(psnrs)) if psnrs else math.inf,
    )


def _finish(out: Any, ovs: Any, vs: Any, src: Path, frames: int) -> None:
    """Check that every frame was read, then flush the encoder."""
    if ovs is None:
        raise VideoError(f"{src}: the video stream has no frames", code="no_frames")
    if vs.frames and frames < vs.frames:
        raise VideoError(
            f"{src}: the video ends after {frames} of its {vs.frames} frames; the file is "
            "truncated",
            code="truncated",
        )
    for packet in ovs.encode(None):
        out.mux(packet)


def _frame_count(vs: Any) -> int | None:
    if vs.frames:
        return int(vs.frames)
    if vs.duration and vs.time_base and vs.average_rate:
        return int(round(float(vs.duration * vs.time_base * vs.average_rate)))
    return None


def detect_video(
    path: Path | str,
    key: bytes | str,
    *,
    max_frames: int | None = None,
    segment: tuple[float, float] | None = None,
    stride: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> VideoDetection:
    """Look for the mark of ``key`` in a video file, accumulating evidence over its frames.

    Parameters
    ----------
    path : path
        The video (anything FFmpeg reads).
    key : bytes or str
        The key the mark was made with.
    max_frames : int, optional
        Analyse at most this many frames.
    segment : (float, float), optional
        Only frames shown from ``start`` to ``end`` seconds (see :func:`parse_segment`).
    stride : int, optional
        Analyse about one frame in ``stride`` (preferring P to B frames, see
        :class:`FrameSelector`) and every intra (I) frame; by default about 6 frames per second
        of video (``stride`` 5 at 30 fps); 1 analyses every frame.
    progress : callable, optional
        Called as ``progress(frames_decoded, frames_total_or_None)``.

    Returns
    -------
    VideoDetection
        A :class:`watermark.Detection` with ``frames_used``.

    Raises
    ------
    ValueError
        For a bad key, ``max_frames``, ``segment`` or ``stride``.
    VideoError
        When the file cannot be read or decoded, or has no frames (in the segment).
    """
    path = Path(path)
    ev = LumaEvidence(key)
    _check_detect_options(max_frames, stride, segment)
    av = _import_av()
    inp = _open_input(av, path)
    try:
        vs = _video_stream(av, inp, path)
        rate = float(vs.average_rate or vs.guessed_rate or 30)
        step = stride or max(1, round(rate / _ANALYSED_PER_SECOND))
        total = _frame_count(vs)
        tb = vs.time_base
        if segment is not None:
            total = _seek_segment(av, inp, vs, segment, rate, total)
        select = FrameSelector(step)
        start_pts = vs.start_time or 0

        def planes() -> Generator[tuple[NDArray[np.uint8] | None, bool, int], None, None]:
            """(Y plane of a frame to analyse or None, intra, frames decoded so far), decoded
            in a thread of its own; only the selected frames' luma planes are touched."""
            n = 0
            for _, frames in _decoded(av, inp, [vs], path):
                assert frames is not None
                for frame in frames:
                    if segment is not None and frame.pts is not None and tb:
                        t = float((frame.pts - start_pts) * tb)
                        if t < segment[0] - 1e-6:
                            continue
                        if t >= segment[1] - 1e-6:
                            return
                    n += 1
                    take, intra = select.take(frame)
                    yield (_plane(frame)[1] if take else None), intra, n

        duration = (inp.duration or 0) / 1e6  # microseconds; 0 if the container does not say
        decoded = 0
        seen = 0
        with contextlib.closing(_threaded(planes())) as items:
            for y, intra, decoded in items:
                if y is not None:
                    try:
                        ev.add(y, intra=intra)
                    except ValueError as exc:
                        raise VideoError(f"{path}: {exc}", code="too_small") from None
                    seen += 1
                    if max_frames is not None and seen >= max_frames:
                        break
                if progress is not None:
                    progress(decoded, total)
    finally:
        inp.close()
    if ev.frames == 0:
        raise _no_frames(path, segment, duration)
    if segment is None and max_frames is None and vs.frames and decoded < vs.frames:
        raise VideoError(
            f"{path}: the video ends after {decoded} of its {vs.frames} frames; the file is "
            "truncated",
            code="truncated",
        )
    return ev.result()


def _seek_segment(
    av: Any, inp: Any, vs: Any, segment: tuple[float, float], rate: float, total: int | None
) -> int | None:
    """Seek to the segment's start (from the start when the container cannot seek there);
    the number of frames the segment holds, when the video's count is known."""
    tb = vs.time_base
    if segment[0] > 0 and tb:
        try:
            inp.seek(int(segment[0] / tb) + (vs.start_time or 0), stream=vs)
        except av.FFmpegError:
            inp.seek(0, stream=vs)
    return None if total is None else int(round((segment[1] - segment[0]) * rate))


def _check_detect_options(
    max_frames: int | None, stride: int | None, segment: tuple[float, float] | None
) -> None:
    for name, value in (("max_frames", max_frames), ("stride", stride)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if segment is not None:
        start_s, end_s = float(segment[0]), float(segment[1])
        if not (0.0 <= start_s < end_s) or not math.isfinite(end_s):
            raise ValueError(f"segment must satisfy 0 <= start < end, not {segment!r}")


def _no_frames(path: Path, segment: tuple[float, float] | None, duration: float) -> VideoError:
    where = ""
    if segment is not None:
        where = f" in the segment {segment[0]:g}-{segment[1]:g} s"
        if duration:
            where += f" (the video is {duration:.1f} s long)"
    return VideoError(f"{path}: the video stream has no frames{where}", code="no_frames")


_PICT_I = 1
_PICT_B = (3, 7)


class FrameSelector:
    """The frames :func:`detect_video` analyses: every intra (I) frame, and about one frame in
    ``step`` otherwise, preferring predicted (P) frames to bi-predicted (B) ones, which
    encoders quantise more coarsely (so they keep less of the mark).

    Parameters
    ----------
    step : int
        Analyse about one frame in ``step``; 1 analyses every frame.
    """

    def __init__(self, step: int) -> None:
        self.spacing = max(1, step - 1) if step > 1 else 0
        self.gap = 1 << 30

    def take(self, frame: Any) -> tuple[bool, bool]:
        """Return (analyse it, is intra) for the next decoded frame, in decoding order."""
        kind = int(frame.pict_type or 0)  # FFmpeg AVPictureType: 1 I, 2 P, 3 B, 7 BI
        intra = bool(frame.key_frame) or kind == _PICT_I
        self.gap += 1
        bi = kind in _PICT_B
        due = self.gap >= self.spacing and (not bi or self.gap >= 2 * self.spacing)
        if intra or due:
            self.gap = 0
            return True, intra
        return False, intra


def _plane(frame: Any) -> tuple[Any, NDArray[np.uint8], bool]:
    """A read-only view of the Y plane (8-bit YUV and grey formats) or a converted copy."""
    name = frame.format.name
    if not (name.startswith(("yuv", "yuvj", "nv12", "nv21")) or name == "gray") or (
        name.endswith(("le", "be"))
    ):
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    view = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return frame, view[:, : plane.width], True
