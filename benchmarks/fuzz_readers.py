"""Fuzz the container and JUMBF readers the project owns, for minutes (not part of CI).

Usage (from the repository root; ``make fuzz`` runs it for 5 minutes)::

    python benchmarks/fuzz_readers.py [--minutes 5]

Targets, each fed by hypothesis with inputs built around the seeded malformed-file corpus
(``tests/hostile_corpus.py``: real files of 14 formats, mutated) and raw bytes:

* ``provenance.media._imageio``: JPEG marker walk, PNG chunks and text chunks (zlib bombs),
  WebP RIFF chunks, XMP and EXIF extraction, trailing data;
* ``provenance.media.inspect``: the structural completeness checks and the MP4/MOV
  ``moov/trak/.../stsd`` size walk, and ``inspect_bytes`` as a whole;
* ``provenance.credentials._c2pa``: the JUMBF box walk and the signature-box lookup, and the
  small CBOR reader behind it;
* ``provenance.media.budget``: the header reader and the decode-budget error contract.

Contract checked: readers that promise never to raise return normally; the others raise
only their documented error types (``_ParseError``/``ValueError`` for the JUMBF reader,
``InputFileError`` for ``inspect_bytes``, ``DecodeError`` for the budget). Anything else is
a finding: the failing input is printed (and hypothesis shrinks it) and the exit code is 1.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from hostile_corpus import MUTATIONS, bmff_box, jumbf_box, seeds  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from provenance.credentials import _c2pa  # noqa: E402
from provenance.errors import InputFileError  # noqa: E402
from provenance.media import _imageio, budget, inspect  # noqa: E402

_SEEDS = seeds()
_EXTS = sorted(_SEEDS)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    """A corpus seed put through one to three mutations chosen by hypothesis."""
    ext = draw(st.sampled_from(_EXTS))
    data = _SEEDS[ext]
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    for kind in draw(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=3)):
        data = MUTATIONS[kind](data, ext.rsplit(".", 1)[-1], rng) or b"\x00"
    return data


@st.composite
def _jumbf(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A JUMBF tree with random labels, kinds and (sometimes lying) sizes."""
    children = []
    if depth < 4:
        for _ in range(draw(st.integers(0, 3))):
            children.append(draw(_jumbf(depth + 1)))
    content = b"".join(children) + bmff_box(
        draw(st.sampled_from([b"cbor", b"json", b"uuid", b"bidb"])), draw(st.binary(max_size=64))
    )
    label = draw(st.sampled_from(["c2pa", "c2pa.signature", "c2pa.claim", "m", ""]))
    lie = draw(st.one_of(st.none(), st.integers(0, 2**32 - 1)))
    return jumbf_box(label, content, lie=lie)


_INPUTS = st.one_of(_mutated(), st.binary(max_size=4096))


def _never_raise(data: bytes) -> None:
    _imageio.jpeg_segments(data)
    _imageio.png_chunks(data)
    _imageio.png_text_chunks(data)
    _imageio.webp_chunks(data)
    _imageio.xmp_packets(data)
    for _, blob in _imageio.exif_blobs(data):
        _imageio.load_exif(blob)
    _imageio.trailing_data(data)
    inspect._bmff_video_size(data)
    for check in (inspect._jpeg_complete, inspect._png_complete, inspect._webp_complete):
        check(data)
    inspect._gif_complete(data)
    inspect._bmff_complete(data)
    budget.declared_size(data)


def _documented_errors(data: bytes) -> None:
    try:
        inspect.inspect_bytes(data, name="fuzz")
    except InputFileError:
        pass
    try:
        budget.load_rgb(data, max_side=256)
    except budget.DecodeError:
        pass


def _jumbf_contract(store: bytes) -> None:
    try:
        _c2pa._signature_boxes(store)
    except ValueError:  # _ParseError: the documented refusal
        pass
    try:
        _c2pa._cbor(store)
    except (ValueError, IndexError, RecursionError):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.minutes * 60
    per_round = settings(
        max_examples=500,
        deadline=None,
        derandomize=False,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    targets = [
        ("readers never raise", per_round(given(_INPUTS)(_never_raise))),
        ("documented errors only", per_round(given(_INPUTS)(_documented_errors))),
        ("JUMBF walk", per_round(given(st.one_of(_jumbf(), _mutated()))(_jumbf_contract))),
    ]
    rounds = 0
    while time.monotonic() < deadline:
        for name, target in targets:
            try:
                target()
            except Exception as exc:  # a finding: report and stop
                print(f"fuzz_readers: {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
        rounds += 1
        print(f"fuzz_readers: round {rounds}: {3 * 500} inputs, no finding", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
