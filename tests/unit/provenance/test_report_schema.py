"""Reports validate against spec/report.schema.json; one golden report is compared exactly.

The golden file is deterministic although the signed file is not: c2pa signs with random
manifest UUIDs and ECDSA nonces and the test root CA is generated per session. Before the
comparison :func:`normalise` replaces what depends on that randomness (subject SHA-256,
size and temp path, manifest labels, the generated root's SHA-256 and location, the SDK version)
with stable placeholders. Everything else (verdict, sentences, chain, issuers, certificate
serial numbers derived from the fixed PKI seed, actions, failures, AI section, EKU
configuration hash) must match byte for byte. Regenerate with ``JINJJA_REGEN_GOLDEN=1``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from provenance import check
from provenance.batch import report_from_dict
from provenance.report import (
    SCHEMA,
    AiAssessment,
    AiLabel,
    AiSignal,
    BankMatch,
    ContentHashes,
    MetadataFact,
    Recovery,
    Report,
    Subject,
    ToolInfo,
    Verdict,
    WatermarkFinding,
)

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = ROOT / "spec" / "report.schema.json"
GOLDEN = ROOT / "tests" / "assets" / "golden" / "chain3_published.report.json"
FIXED = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
_LABEL = re.compile(r"urn:c2pa:[0-9a-f-]{36}(?::[^/\s\"]*)?")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _valid(validator: jsonschema.Draft202012Validator, record: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def normalise(record: dict[str, Any], signed_dir: Path) -> dict[str, Any]:
    """Replace values that depend on random key material or temp paths (see module doc)."""
    text = json.dumps(record, sort_keys=True)
    labels: dict[str, str] = {}
    for match in _LABEL.findall(text):
        labels.setdefault(match, f"urn:c2pa:manifest-{len(labels) + 1}")
    for raw, stable in labels.items():
        text = text.replace(raw, stable)
    out = json.loads(text.replace(str(signed_dir), "<signed>"))
    out["subject"]["sha256"] = "0" * 64
    assert out["subject"]["size"] > 0
    out["subject"]["size"] = 0  # embedded ingredient signatures vary by a few bytes
    out["tool"]["c2pa_sdk"] = "<c2pa-sdk>"
    if out.get("signature") and out["signature"]["not_after"]:
        out["signature"]["not_after"] = "<not-after>"  # the test PKI is made for each run
    for source in out["tool"]["trust_sources"]:
        if source["location"].startswith("<signed>"):
            source["sha256"] = "0" * 64
    return out


def test_golden_report(signed, validator):
    report = check(signed.publish, trust_anchors=[signed.root], analyzed_at=FIXED)
    record = report.to_dict()
    _valid(validator, record)
    got = normalise(record, signed.dir)
    _valid(validator, got)
    if os.environ.get("JINJJA_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert got == expected


@pytest.mark.parametrize(
    "attr",
    [
        "unsigned_jpeg",
        "jpeg_es256",
        "png",
        "webp",
        "mp4",
        "tampered_pixels",
        "tampered_manifest",
        "expired",
        "ai_ingredient",
        "remote_asset",
    ],
)
def test_reports_validate(signed, validator, attr):
    report = check(getattr(signed, attr), trust_anchors=[signed.root])
    _valid(validator, report.to_dict())


def test_error_reports_validate(validator, tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    for path in (tmp_path / "missing.jpg", tmp_path, empty, text):
        record = check(path).to_dict()
        assert record["verdict"] == "ERROR"
        _valid(validator, record)


def test_schema_rejects_bad_records(signed, validator):
    record = check(signed.jpeg_es256, trust_anchors=[signed.root]).to_dict()
    for mutate in (
        lambda r: r.update(schema="jinjja.report/v2"),
        lambda r: r.update(verdict="MAYBE"),
        lambda r: r["subject"].update(sha256="XYZ"),
        lambda r: r.update(extra=1),
        lambda r: r["tool"].update(analyzed_at="yesterday"),
        lambda r: r.update(verdict="ERROR"),
    ):
        bad = json.loads(json.dumps(record))
        mutate(bad)
        assert not validator.is_valid(bad)


def test_optional_sections_validate(validator):
    """The sections other components fill (watermarks, matches, metadata, recovery)."""
    report = Report(
        subject=Subject(path="/x.jpg", size=10, sha256="a" * 64, media_type="image/jpeg"),
        verdict=Verdict.RECOVERED,
        summary=("Recovered.",),
        chain=None,
        failures=(),
        ai=AiAssessment(
            AiLabel.AI_GENERATED,
            (
                AiSignal(
                    kind="c2pa.digitalSourceType",
                    value="trainedAlgorithmicMedia",
                    source="manifest",
                    signed=True,
                    strength="strong",
                    implies=AiLabel.AI_GENERATED,
                    detail={"manifest": "urn:c2pa:x"},
                ),
            ),
        ),
        tool=ToolInfo("0.1.0", None, (), "2026-01-01T00:00:00Z"),
        watermarks=(WatermarkFinding("jinjja.ss.v1", True, "00ff", 7.5, 1e-9, key_name="demo"),),
        matches=(BankMatch("bank", "42", 6, "MATCH", "identity", label="x", case="c"),),
        metadata=(MetadataFact("exif.software", "Edited with X.", value={"Software": "X"}),),
        recovery=Recovery("watermark", "urn:c2pa:x", "/repo", {"similarity": 0.9}),
        hashes=ContentHashes("picture", 88, "0" * 64, tuple(f"{i:064x}" for i in range(8))),
    )
    record = report.to_dict()
    assert record["schema"] == SCHEMA
    _valid(validator, record)


def test_stored_hashes_validate(validator):
    """``hashes`` (kept by ``check --bank`` for ``bank rescan``): pictures and videos."""
    base = Report(
        subject=Subject(path="/x.mp4", size=10, sha256="a" * 64, media_type="video/mp4"),
        verdict=Verdict.NO_CREDENTIALS,
        summary=("No credentials.",),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN, ()),
        tool=ToolInfo("0.1.0", None, (), "2026-01-01T00:00:00Z"),
    )
    assert "hashes" not in base.to_dict()
    video = ContentHashes("video", 90, vpdq='["' + "f" * 64 + ',90,0.0"]', md5="e" * 32, frames=3)
    record = dataclasses.replace(base, hashes=video).to_dict()
    assert record["hashes"] == {
        "media": "video",
        "quality": 90,
        "vpdq": video.vpdq,
        "md5": "e" * 32,
        "frames": 3,
    }
    _valid(validator, record)
    assert report_from_dict(record).hashes == video  # survives worker processes
    picture = ContentHashes("picture", 70, "1" * 64, ("1" * 64,) * 8)
    good = dataclasses.replace(base, hashes=picture).to_dict()
    assert len(good["hashes"]["pdq_variants"]) == 8
    _valid(validator, good)
    for mutate in (
        lambda h: h.update(pdq_variants=h["pdq_variants"][:7]),
        lambda h: h.update(pdq="XYZ"),
        lambda h: h.pop("pdq_variants"),
        lambda h: h.update(media="audio"),
        lambda h: h.update(extra=1),
        lambda h: h.update(media="video"),  # a video keeps its MD5
    ):
        bad = json.loads(json.dumps(good))
        mutate(bad["hashes"])
        assert not validator.is_valid(bad)
