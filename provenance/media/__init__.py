"""Reading media safely: sniffing and inspection, container walks, picture files and video files."""

from provenance.media.imagefile import (
    EmbedResult,
    ImageFileError,
    Loaded,
    detect_file,
    embed_file,
    read_image,
    write_image,
)
from provenance.media.inspect import (
    MAX_PIXELS,
    MediaInfo,
    inspect_bytes,
    read_file,
    remote_manifest_reference,
    sniff_media_type,
)
from provenance.media.video import (
    PRESETS,
    FrameSelector,
    VideoEmbedResult,
    VideoError,
    detect_video,
    embed_video,
    is_video,
    parse_segment,
)

__all__ = [
    "EmbedResult",
    "FrameSelector",
    "ImageFileError",
    "Loaded",
    "MAX_PIXELS",
    "MediaInfo",
    "PRESETS",
    "VideoEmbedResult",
    "VideoError",
    "detect_file",
    "detect_video",
    "embed_file",
    "embed_video",
    "inspect_bytes",
    "is_video",
    "parse_segment",
    "read_file",
    "read_image",
    "remote_manifest_reference",
    "sniff_media_type",
    "write_image",
]
