"""The trust lists shipped in the package: used until `verify trust update` has run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from provenance.credentials.trust import (
    STALE_DAYS,
    bundled,
    list_age_days,
    load,
    load_pem_bundle,
)


def test_a_fresh_data_dir_falls_back_to_the_shipped_snapshots(tmp_path: Path) -> None:
    store = load(tmp_path / "never-updated")
    assert store.bundled and not store.empty
    assert [(s.name, s.role) for s in store.lists] == [
        ("C2PA Trust List", "signers"),
        ("C2PA TSA Trust List", "tsa"),
        ("CAI interim trust anchors", "signers"),
    ]
    assert [s.name for s in store.anchor_lists("tsa")] == ["C2PA TSA Trust List"]
    for stored in store.lists:
        data = stored.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == stored.sha256
        assert len(load_pem_bundle(data, origin=stored.name)) == stored.certificates
        assert stored.issued is not None and stored.source.startswith("github.com/")
    names = [s.name for s in store.sources()]
    assert names[0] == "C2PA Trust List (bundled snapshot)"
    assert "BEGIN CERTIFICATE" in store.anchors_pem()


def test_an_explicitly_empty_store_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "trust.json").write_text('{"schema": "jinjja.trust/v1", "lists": []}')
    store = load(tmp_path)
    assert store.empty and not store.bundled


def test_list_age() -> None:
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    ages = {s.name: list_age_days(s.issued, now) for s in bundled().lists}
    assert ages["C2PA Trust List"] == 122 and ages["C2PA Trust List"] > STALE_DAYS
    assert list_age_days("2026-12-01", now) == 5
    assert list_age_days("garbage", now) is None


def test_snapshots_are_the_public_lists(shared_dir: Path) -> None:
    """Each shipped file is byte-identical to the public list it records as its origin."""
    origin = {
        "C2PA-TRUST-LIST.pem": "c2pa-conformance-public/C2PA-TRUST-LIST.pem",
        "C2PA-TSA-TRUST-LIST.pem": "c2pa-conformance-public/C2PA-TSA-TRUST-LIST.pem",
        "interim-anchors.pem": "cai-verify-site/anchors.pem",
    }
    for stored in bundled().lists:
        public = shared_dir / "c2pa" / "trust" / origin[stored.path.name]
        assert stored.path.read_bytes() == public.read_bytes()
    lote = json.loads(
        (shared_dir / "c2pa/trust/c2pa-conformance-public/C2PA-TRUST-LIST.json").read_text()
    )
    issued = lote["LoTE"]["ListAndSchemeInformation"]["ListIssueDateTime"]
    assert bundled().lists[0].issued == issued


@pytest.mark.parametrize("name", ["C2PA-TRUST-LIST.pem"])
def test_a_damaged_installation_is_named(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import provenance.credentials.trust as trust

    real = bundled().lists[0].path.parent
    fake = tmp_path / "data" / "trust"
    fake.mkdir(parents=True)
    for f in real.iterdir():
        (fake / f.name).write_bytes(f.read_bytes())
    (fake / name).write_bytes(b"changed")

    class _Files:
        def joinpath(self, rel: str) -> Path:
            return tmp_path / rel

    monkeypatch.setattr(trust.resources, "files", lambda _pkg: _Files())
    with pytest.raises(trust.TrustStoreError) as info:
        bundled()
    assert info.value.code == "trust_store_damaged" and name in info.value.message
