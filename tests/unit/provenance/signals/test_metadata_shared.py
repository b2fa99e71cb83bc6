"""Metadata facts on real camera and editor files (``$JINJJA_SHARED``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.signals.metadata import estimate_jpeg_quality, metadata_facts

pytestmark = pytest.mark.shared


def facts_of(path: Path, **kw) -> dict:
    out: dict = {}
    for f in metadata_facts(path.read_bytes(), None, **kw):
        out.setdefault(f.kind, f)
    return out


def test_nikon_camera_file(shared_dir: Path) -> None:
    path = shared_dir / "c2pa" / "fixtures" / "public-testfiles" / "nikon-20221019-building.jpeg"
    k = facts_of(path, signing_time="2022-10-19T10:00:00Z")
    assert k["exif.Camera"].value == {"make": "NIKON CORPORATION", "model": "NIKON Z 9"}
    assert k["xmp.CreatorTool"].value == "NIKON Z 9 Ver.T2.10.gb"
    # 160x120 thumbnail with black bars around a 3:2 picture: trimmed, then it matches.
    thumb = k["exif.thumbnail"].value
    assert thumb["letterbox_trimmed"] is True and thumb["band"] == "MATCH"
    # The MPF preview JPEG after the main image, behind zero padding.
    trailing = k["trailing_data"].value
    assert trailing["bytes"] == 314084 and "another JPEG image" in trailing["looks_like"]
    assert "MPF" in trailing["looks_like"]
    assert k["gps"].value == {"present": True, "redacted": True}
    assert "dates.signing_vs_original" in k


@pytest.mark.parametrize(
    ("name", "quality", "standard"),
    [
        ("public-testfiles/adobe-20220124-C.jpg", 75, True),
        ("public-testfiles/truepic-20230212-camera.jpg", 95, True),
        ("c2pa-rs/cawg/adobe_connected_identities.jpg", 88, True),
        ("public-testfiles/adobe-20220124-A.jpg", 94, False),  # Lightroom's own tables
    ],
)
def test_quality_of_real_files(shared_dir: Path, name: str, quality: int, standard: bool) -> None:
    est = estimate_jpeg_quality((shared_dir / "c2pa" / "fixtures" / name).read_bytes())
    assert est is not None and est.standard is standard and abs(est.quality - quality) <= 1


def test_real_thumbnails_match_their_pictures(shared_dir: Path) -> None:
    fixtures = shared_dir / "c2pa" / "fixtures"
    names = [
        "public-testfiles/truepic-20230212-camera.jpg",
        "c2pa-python/A.jpg",
        "c2pa-rs/cloud.jpg",
        "c2pa-rs/no_alg.jpg",
        "c2pa-node/testv2.jpg",
        "c2pa-rs/sample1.png",
    ]
    for name in names:
        assert facts_of(fixtures / name)["exif.thumbnail"].value["band"] == "MATCH", name


def test_every_fixture_is_read_without_error(shared_dir: Path) -> None:
    files = [p for p in sorted((shared_dir / "c2pa" / "fixtures").rglob("*")) if p.is_file()]
    assert len(files) > 100
    for path in files:
        if path.stat().st_size < 20_000_000:
            metadata_facts(path.read_bytes(), None, signing_time="2024-01-01T00:00:00Z")
