"""Trust lists: update from a directory or a URL prefix, validation, atomic storage, load."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance import check
from provenance.credentials.trust import default_data_dir, load, update
from provenance.errors import TrustStoreError
from provenance.report import Verdict
from provenance.testing.pki import make_pki


def _layout(root: Path, anchors: bytes, tsa: bytes, *, interim: bool = False) -> Path:
    official = root / "c2pa-conformance-public"
    official.mkdir(parents=True)
    (official / "C2PA-TRUST-LIST.pem").write_bytes(anchors)
    (official / "C2PA-TSA-TRUST-LIST.pem").write_bytes(tsa)
    (official / "C2PA-TRUST-LIST.json").write_text(
        json.dumps(
            {"LoTE": {"ListAndSchemeInformation": {"ListIssueDateTime": "2026-08-05T00:11:39Z"}}}
        )
    )
    if interim:
        cai = root / "cai-verify-site"
        cai.mkdir()
        (cai / "anchors.pem").write_bytes(anchors)
        (cai / "allowed.pem").write_bytes(b"# O=Example\n" + tsa)
        (cai / "store.cfg").write_text("// emailProtection\n1.3.6.1.5.5.7.3.4\n")
    return root


@pytest.fixture(scope="module")
def roots():
    a = make_pki("Trust A", algs=("es256",), seed=b"a")
    b = make_pki("Trust B", algs=("es256",), seed=b"b")
    return a, b


def test_update_from_directory_and_load(tmp_path, roots):
    a, b = roots
    src = _layout(tmp_path / "src", a.root_pem + b"\n# comment\n" + b.root_pem, b.root_pem)
    store = update(str(src), data_dir=tmp_path / "data")
    names = [s.name for s in store.lists]
    assert names == ["C2PA Trust List", "C2PA TSA Trust List"]
    main, tsa = store.lists
    assert (main.certificates, tsa.certificates) == (2, 1)
    assert main.issued == "2026-08-05T00:11:39Z" and tsa.issued is None
    assert main.source.endswith("C2PA-TRUST-LIST.pem")
    assert main.fetched_at.endswith("Z") and len(main.sha256) == 64
    manifest = json.loads((tmp_path / "data" / "trust.json").read_text())
    assert manifest["schema"] == "jinjja.trust/v1" and len(manifest["lists"]) == 2
    loaded = load(tmp_path / "data")
    assert loaded == store
    sources = loaded.sources()
    assert [s.certificates for s in sources] == [2, 1]
    assert sources[0].issued == "2026-08-05T00:11:39Z"


def test_update_with_interim(tmp_path, roots):
    a, b = roots
    src = _layout(tmp_path / "src", a.root_pem, b.root_pem, interim=True)
    store = update(str(src), interim=True, data_dir=tmp_path / "data")
    kinds = [(s.name, s.kind, s.certificates) for s in store.lists]
    assert kinds[2:] == [
        ("CAI interim trust anchors", "anchors", 1),
        ("CAI interim allowed list", "allowed", 1),
        ("CAI interim EKU configuration", "eku", 0),
    ]
    assert len(store.sources()) == 3  # anchors only


def test_invalid_list_writes_nothing(tmp_path, roots):
    a, _ = roots
    good = _layout(tmp_path / "good", a.root_pem, a.root_pem)
    data = tmp_path / "data"
    before = update(str(good), data_dir=data)
    bad = _layout(
        tmp_path / "bad",
        a.root_pem,
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    with pytest.raises(TrustStoreError) as info:
        update(str(bad), data_dir=data)
    assert info.value.code == "trust_list_invalid"
    assert load(data) == before
    junk = _layout(tmp_path / "junk", b"<html>not found</html>", a.root_pem)
    with pytest.raises(TrustStoreError, match="no PEM certificate"):
        update(str(junk), data_dir=tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in data.iterdir()) == [
        "C2PA-TRUST-LIST.pem",
        "C2PA-TSA-TRUST-LIST.pem",
        "trust.json",
    ]


def test_bad_sources(tmp_path):
    with pytest.raises(TrustStoreError, match="neither an http"):
        update(str(tmp_path / "nope"), data_dir=tmp_path / "d")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TrustStoreError) as info:
        update(str(empty), data_dir=tmp_path / "d")
    assert info.value.code == "trust_download_failed"


def test_load_detects_damage(tmp_path, roots):
    a, _ = roots
    data = tmp_path / "data"
    assert load(data).bundled  # nothing stored yet: the shipped snapshots
    update(str(_layout(tmp_path / "src", a.root_pem, a.root_pem)), data_dir=data)
    (data / "C2PA-TSA-TRUST-LIST.pem").write_bytes(a.root_pem + b"\n")
    with pytest.raises(TrustStoreError, match="changed since it was stored"):
        load(data)
    (data / "trust.json").write_text("{")
    with pytest.raises(TrustStoreError, match="damaged"):
        load(data)


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("JINJJA_DATA_DIR", str(tmp_path / "x"))
    assert default_data_dir() == tmp_path / "x"
    monkeypatch.delenv("JINJJA_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "jinjja"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "jinjja"


def test_check_uses_stored_lists(tmp_path, signed):
    other = make_pki("Unrelated", algs=("es256",), seed=b"u")
    src = _layout(tmp_path / "src", other.root_pem + signed.pki.root_pem, other.root_pem)
    data = tmp_path / "data"
    update(str(src), data_dir=data)
    report = check(signed.jpeg_es256, data_dir=data)
    assert report.verdict is Verdict.TRUSTED
    names = [t.name for t in report.tool.trust_sources]
    assert names == ["C2PA Trust List", "C2PA TSA Trust List", "EKU configuration (built in)"]
    assert report.tool.trust_sources[0].issued == "2026-08-05T00:11:39Z"


@pytest.fixture()
def served(shared_dir: Path) -> Iterator[str]:
    """An http.server on 127.0.0.1 serving ``$JINJJA_SHARED/c2pa/trust``."""
    root = shared_dir / "c2pa" / "trust"
    assert root.is_dir(), f"{root} is missing"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.shared
@pytest.mark.network
def test_update_over_http_from_the_shared_lists(served, tmp_path):
    store = update(served, interim=True, data_dir=tmp_path / "data")
    by_name = {s.name: s for s in store.lists}
    official = by_name["C2PA Trust List"]
    assert official.certificates == 30
    assert official.issued == "2026-08-05T00:11:39Z"
    assert official.source == served + "c2pa-conformance-public/C2PA-TRUST-LIST.pem"
    assert by_name["C2PA TSA Trust List"].certificates == 22
    assert by_name["CAI interim trust anchors"].certificates == 18
    assert by_name["CAI interim allowed list"].certificates == 86
    assert load(tmp_path / "data") == store


@pytest.mark.network
def test_update_over_http_404(tmp_path):
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(TrustStoreError, match="HTTP 404") as info:
            update(f"http://127.0.0.1:{server.server_address[1]}", data_dir=tmp_path / "d")
        assert info.value.code == "trust_download_failed"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert not (tmp_path / "d").exists()
