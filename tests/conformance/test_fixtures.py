"""Conformance: check() on every media file of the shared C2PA fixture corpus.

Each file's expected verdict, failure codes and error code live in ``expectations.json``
next to this file, with the outcome its source states and, where today's SDK or our verdict
rules disagree with that source, a ``why``. New files without an entry fail the run, so the
table stays complete. Needs ``$JINJJA_SHARED`` (skipped only when it is unset).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from provenance import check
from provenance.credentials.trust import update
from provenance.report import Verdict

HERE = Path(__file__).parent
EXPECTATIONS: dict[str, Any] = json.loads((HERE / "expectations.json").read_text())
NON_MEDIA = {".pem", ".json", ".pub", ".cfg", ".md", ".tsv", ".toml", ".mpd", ".key", ".txt"}

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def fixtures(shared_dir: Path) -> Path:
    path = shared_dir / "c2pa" / "fixtures"
    assert path.is_dir(), f"{path} is missing"
    return path


@pytest.fixture(scope="module")
def anchors(shared_dir: Path) -> list[Path]:
    paths = [shared_dir / "c2pa" / "trust" / p for p in EXPECTATIONS["trust_anchors"]]
    for p in paths:
        assert p.is_file(), f"{p} is missing"
    return paths


def _media_files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() not in NON_MEDIA
    )


def test_every_media_file_has_an_expectation(fixtures):
    found = set(_media_files(fixtures))
    listed = set(EXPECTATIONS["files"])
    assert found - listed == set(), "add these files to tests/conformance/expectations.json"
    assert listed - found == set(), "these expectations name files that no longer exist"


def _compatible(source: str, entry: dict[str, Any]) -> bool:
    """Does our outcome agree with what the file's source states (CATALOG.md)?"""
    kind = source.split(":", 1)[0].split("+", 1)[0].strip()
    verdict = entry["verdict"]
    if kind == "none":
        return verdict == "NO_CREDENTIALS" and "error" not in entry
    if kind in ("valid", "sidecar"):
        return verdict in ("TRUSTED", "VALID_UNTRUSTED")
    if kind == "ingredient":
        return verdict == "INVALID"
    if kind == "invalid":
        expected = source.split(":", 2)[1].split(" ", 1)[0].split("\\|")
        return verdict == "INVALID" and bool(set(expected) & set(entry["codes"]))
    if kind == "remote":
        return entry.get("error") == "remote_manifest_not_fetched"
    if kind in ("error", "fragment", "store-present"):
        return verdict == "ERROR"
    return False


@pytest.mark.parametrize("name", sorted(EXPECTATIONS["files"]))
def test_disagreements_with_the_source_are_explained(name):
    entry = EXPECTATIONS["files"][name]
    assert entry.get("source"), "state what the file's source expects"
    if not _compatible(entry["source"], entry):
        assert entry.get("why"), f"{name}: outcome differs from its source; add a 'why'"


@pytest.mark.parametrize("name", sorted(EXPECTATIONS["files"]))
def test_fixture(fixtures, anchors, name):
    entry = EXPECTATIONS["files"][name]
    kwargs: dict[str, Any] = {}
    target = fixtures / name
    if "asset" in entry:
        kwargs["manifest"] = target
        target = fixtures / entry["asset"]
    if "fragments" in entry:
        kwargs["fragments"] = [fixtures / f for f in entry["fragments"]]
    report = check(target, trust_anchors=anchors, **kwargs)
    got = {
        "verdict": report.verdict.value,
        "codes": sorted({f.code for f in report.failures}),
        "error": report.error.code if report.error else None,
    }
    want = {
        "verdict": entry["verdict"],
        "codes": entry["codes"],
        "error": entry.get("error"),
    }
    assert got == want, report.summary
    assert report.summary, "every report has at least one sentence"
    if report.verdict is Verdict.ERROR:
        assert report.chain is None and report.error is not None
    elif report.verdict is not Verdict.NO_CREDENTIALS:
        assert report.chain is not None
    for failure in report.failures:
        assert failure.message and failure.code


@pytest.fixture(scope="module")
def official_store(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("official-trust")
    update(str(shared_dir / "c2pa" / "trust"), interim=True, data_dir=data)
    return data


@pytest.mark.parametrize(
    ("name", "verdict", "decided_by"),
    [
        ("c2pa-rs/verify.jpeg", Verdict.INVALID, "CAI interim trust anchors"),
        ("c2pa-rs/ocsp.jpg", Verdict.INVALID, "CAI interim trust anchors"),
        ("c2pa-node/ingredient-with-data-types.jpg", Verdict.INVALID, "CAI interim trust anchors"),
        (
            "public-testfiles/adobe-20240110-single_manifest_store.pdf",
            Verdict.INVALID,
            "CAI interim trust anchors",
        ),
        ("c2pa-rs/C.jpg", Verdict.VALID_UNTRUSTED, None),
    ],
)
def test_official_trust_lists(fixtures, official_store, name, verdict, decided_by):
    """Real products' files chain to the stored interim list, and the report names it; test
    certs chain to none. The Adobe samples' certificates have expired and their timestamps
    come from TSAs that are not on the C2PA TSA Trust List, so nothing shows the certificate
    was valid when they were signed: INVALID, with the signer still shown as trusted."""
    report = check(fixtures / name, data_dir=official_store)
    assert report.verdict is verdict, report.summary
    names = [t.name for t in report.tool.trust_sources]
    assert names[:3] == ["C2PA Trust List", "C2PA TSA Trust List", "CAI interim trust anchors"]
    assert report.signature is not None
    used = report.signature.trust_list
    assert (used.name if used else None) == decided_by
    if decided_by is not None:
        assert report.chain is not None and report.chain.trusted is True
        assert report.signature.certificate_expiry == "expired_time_unknown"
        timestamp = report.signature.timestamp
        assert timestamp is not None and not timestamp.trusted
        assert "not on the TSA trust list" in (timestamp.reason or "")


def test_shipped_snapshots_out_of_the_box(fixtures, tmp_path):
    """No trust update ever ran: the shipped lists decide, the report names the interim list
    and its date, and warns that the lists in use are older than 90 days."""
    import datetime as dt

    fresh = tmp_path / "never-updated"
    when = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    report = check(fixtures / "c2pa-rs/verify.jpeg", data_dir=fresh, analyzed_at=when)
    names = [t.name for t in report.tool.trust_sources]
    assert names[:3] == [
        "C2PA Trust List (bundled snapshot)",
        "C2PA TSA Trust List (bundled snapshot)",
        "CAI interim trust anchors (bundled snapshot)",
    ]
    assert report.signature is not None and report.signature.trust_list is not None
    used = report.signature.trust_list
    assert (used.name, used.issued, used.bundled) == (
        "CAI interim trust anchors",
        "2025-08-28T00:00:00Z",
        True,
    )
    warning = [s for s in report.summary if s.startswith("Warning: trust lists in use")]
    assert warning and "CAI interim trust anchors (2025-08-28)" in warning[0]
    assert "C2PA Trust List (2026-08-05)" in warning[0]
    early = check(
        fixtures / "c2pa-rs/verify.jpeg", data_dir=fresh, analyzed_at=dt.datetime(2026, 9, 1)
    )
    assert not any("older than 90 days: C2PA Trust List" in s for s in early.summary)
