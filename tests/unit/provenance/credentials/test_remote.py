"""Remote (cloud) manifests: not fetched by default; fetched from loopback when allowed."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import CAPTURE, _signer, encode, picture, sign_bytes

from provenance import check_bytes
from provenance.media.inspect import remote_manifest_reference
from provenance.report import Verdict


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path))
    )
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/", tmp_path
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


@pytest.mark.network
def test_remote_manifest_fetched_only_when_allowed(signed, server):
    base, root = server
    url = base + "manifest.c2pa"
    asset, store = sign_bytes(
        CAPTURE,
        encode(picture(), "JPEG"),
        "image/jpeg",
        _signer(signed.pki, "es256"),
        no_embed=True,
        remote_url=url,
    )
    assert remote_manifest_reference(asset) == url
    (root / "manifest.c2pa").write_bytes(store)
    anchors = [signed.root]

    offline = check_bytes(asset, name="cloud.jpg", trust_anchors=anchors)
    assert offline.verdict is Verdict.NO_CREDENTIALS
    assert offline.error.code == "remote_manifest_not_fetched"
    assert offline.remote_manifest_url == url

    online = check_bytes(asset, name="cloud.jpg", trust_anchors=anchors, allow_network=True)
    assert online.verdict is Verdict.TRUSTED, online.summary
    assert online.remote_manifest_url == url
    assert any(url in line for line in online.summary)

    (root / "manifest.c2pa").unlink()
    gone = check_bytes(asset, name="cloud.jpg", trust_anchors=anchors, allow_network=True)
    assert gone.verdict is Verdict.ERROR
    assert gone.error.code == "remote_manifest_unavailable"
    assert gone.remote_manifest_url == url


def test_no_reference():
    assert remote_manifest_reference(b"\xff\xd8\xff\xe0 plain jpeg") is None
    element = b"<dcterms:provenance> https://e.org/x.c2pa </dcterms:provenance>"
    assert remote_manifest_reference(element) == "https://e.org/x.c2pa"
