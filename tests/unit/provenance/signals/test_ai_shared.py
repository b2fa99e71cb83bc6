"""AI signals on real third-party C2PA files (``$JINJJA_SHARED``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.check import check
from provenance.report import AiLabel
from provenance.signals.ai import assess_ai

pytestmark = pytest.mark.shared


@pytest.mark.parametrize(
    ("name", "label", "kinds"),
    [
        # Adobe Firefly: c2pa.created + trainedAlgorithmicMedia, softwareAgent "Adobe Firefly".
        (
            "c2pa-node/ingredient-with-data-types.jpg",
            AiLabel.AI_GENERATED,
            {"c2pa.digitalSourceType", "c2pa.softwareAgent", "c2pa.claimGenerator"},
        ),
        # Photoshop generative fill: compositeWithTrainedAlgorithmicMedia on the active
        # manifest, a Firefly-generated componentOf ingredient.
        (
            "c2pa-rs/ocsp.jpg",
            AiLabel.AI_EDITED,
            {"c2pa.digitalSourceType", "c2pa.softwareAgent", "c2pa.claimGenerator"},
        ),
        # A capture declaration in an intact manifest from a signer on no trust list: the
        # manifest validated, so the declaration is signed (the issuer is unknown).
        ("c2pa-rs/C_with_CAWG_data.jpg", AiLabel.CAPTURED, {"c2pa.digitalSourceType"}),
    ],
)
def test_real_files(shared_dir: Path, name: str, label: AiLabel, kinds: set[str]) -> None:
    report = check(shared_dir / "c2pa" / "fixtures" / name)
    assert report.ai.label is label
    assert {s.kind for s in report.ai.signals} == kinds
    if label is AiLabel.AI_EDITED:
        component = [s for s in report.ai.signals if "componentOf" in s.source]
        assert component and all(s.implies is AiLabel.AI_EDITED for s in component)


def test_every_fixture_is_read_without_error(shared_dir: Path) -> None:
    files = [
        p
        for p in sorted((shared_dir / "c2pa" / "fixtures").rglob("*"))
        if p.is_file() and p.stat().st_size < 20_000_000
    ]
    assert len(files) > 100
    for path in files:
        result = assess_ai(path.read_bytes(), None, None)
        # None of these third-party files carries unsigned generator metadata.
        assert result.label is AiLabel.UNKNOWN, path
