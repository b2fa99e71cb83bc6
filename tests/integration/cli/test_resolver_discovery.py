"""``verify check --resolver`` and ``verify sign --resolver`` start from discovery: they ask a
server only what it says it supports, and say clearly when it cannot answer."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provenance.durable.client import ResolverClient, ResolverError
from tests.integration.cli.test_publish import _sign_args, setup  # noqa: F401
from verify_cli.app import app

pytestmark = pytest.mark.network

JINJJA = {
    "watermarks": [{"alg": "org.jinjja.watermark.1"}],
    "fingerprints": [{"alg": "org.jinjja.pdq.1"}],
}
OTHER = {"watermarks": [{"alg": "com.example.watermark.1"}], "fingerprints": []}


class Fake:
    """A stand-in resolver with configurable discovery documents; records every request."""

    def __init__(self, docs: dict[str, Any]) -> None:
        self.seen: list[str] = []
        seen, pages = self.seen, docs

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                path = self.path.split("?")[0]
                seen.append(f"{self.command} {path}")
                doc = pages.get(path)
                body = json.dumps(doc if doc is not None else {"error": "Not found"}).encode()
                self.send_response(200 if doc is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stripped(setup: dict[str, Path]) -> dict[str, Path]:  # noqa: F811
    """A watermarked picture (published into a local repository) and its credential-free copy."""
    from PIL import Image

    out = setup["dir"] / "out.jpg"
    args = [*_sign_args(setup, out), "--watermark", "--repo", str(setup["dir"] / "r.db")]
    assert CliRunner().invoke(app, args).exit_code == 0
    copy = setup["dir"] / "copy.jpg"
    with Image.open(out) as im:
        im.convert("RGB").save(copy, "JPEG", quality=90)
    return {**setup, "copy": copy}


def _check(copy: Path, url: str, *, exit_code: int = 0) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["check", str(copy), "--resolver", url, "--format", "json"])
    assert result.exit_code == exit_code, result.output
    doc = json.loads(result.stdout)
    return doc[0] if isinstance(doc, list) else doc


@pytest.fixture
def fakes() -> Iterator[list[Fake]]:
    made: list[Fake] = []
    yield made
    for f in made:
        f.close()


def test_a_server_that_cannot_answer_is_named(stripped: dict[str, Path], fakes: list[Fake]) -> None:
    fake = Fake(
        {
            "/services/capabilities": {
                "c2paSpecificationVersion": "2.4.0",
                "supportedCapabilities": [],
            },
            "/services/supportedAlgorithms": OTHER,
        }
    )
    fakes.append(fake)
    report = _check(stripped["copy"], fake.url)
    assert report["verdict"] == "NO_CREDENTIALS"
    said = " ".join(report["summary"])
    assert f"Resolver {fake.url} cannot answer org.jinjja.watermark.1 or org.jinjja.pdq.1" in said
    assert "offers no queryByContent" in said and "API 2.4.0" in said
    assert not any(s.startswith("GET /matches") or s.startswith("POST /matches") for s in fake.seen)


def test_content_query_when_the_server_extracts_itself(
    stripped: dict[str, Path], fakes: list[Fake]
) -> None:
    fake = Fake(
        {
            "/.well-known/c2pa-soft-binding-resolution": {
                "apiEndpoint": "/api", "c2paSpecificationVersion": "2.4.0"
            },
            "/api/services/capabilities": {
                "c2paSpecificationVersion": "2.4.0", "supportedCapabilities": ["queryByContent"]
            },
            "/api/services/supportedAlgorithms": OTHER,
            "/api/matches/byContent": {"matches": []},
        }
    )  # fmt: skip
    fakes.append(fake)
    _check(stripped["copy"], fake.url)
    assert "POST /api/matches/byContent" in fake.seen
    assert not any("byBinding" in s for s in fake.seen)


def test_a_22_server_is_asked_by_binding(stripped: dict[str, Path], fakes: list[Fake]) -> None:
    fake = Fake({"/services/supportedAlgorithms": JINJJA, "/matches/byBinding": {"matches": []}})
    fakes.append(fake)
    report = _check(stripped["copy"], fake.url)
    assert "GET /matches/byBinding" in fake.seen
    assert "no manifest was recovered" in " ".join(report["summary"])
    info = ResolverClient(fake.url).discover()
    assert info.capabilities is None and info.version is None and not info.well_known


def test_not_a_resolver(stripped: dict[str, Path], fakes: list[Fake]) -> None:
    fake = Fake({})
    fakes.append(fake)
    with pytest.raises(ResolverError) as e:
        ResolverClient(fake.url).discover()
    assert e.value.code == "not_a_resolver"
    # A recovery that failed is visible: recovery.error, and exit 3 (issue #12).
    record = _check(stripped["copy"], fake.url, exit_code=3)
    assert "is not a soft-binding resolution service" in " ".join(record["summary"])
    assert record["recovery"]["error"]["code"] == "not_a_resolver"


def test_publishing_needs_store_capabilities(setup: dict[str, Path], fakes: list[Fake]) -> None:  # noqa: F811
    fake = Fake(
        {
            "/services/capabilities": {
                "c2paSpecificationVersion": "2.4.0", "supportedCapabilities": ["storeManifests"]
            },
            "/services/supportedAlgorithms": JINJJA,
        }
    )  # fmt: skip
    fakes.append(fake)
    out = setup["dir"] / "out.jpg"
    args = [
        *_sign_args(setup, out),
        "--watermark",
        "--resolver",
        fake.url,
        "--repo-token",
        "x" * 20,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3
    assert "does not offer storeBindings" in result.output
    assert not out.exists() and "POST /manifests" not in fake.seen
