"""The resolver server on loopback: API shapes, input validation, limits, writes, OpenAPI."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from provenance.credentials.sign import SignerSpec
from provenance.durable.client import ResolverClient, ResolverError
from provenance.durable.publishing import publish
from provenance.durable.repository import Repository, RepositoryError
from provenance.durable.server import create_app
from provenance.durable.softbinding import FINGERPRINT_ALG, WATERMARK_ALG
from provenance.errors import ProvenanceError
from provenance.testing.pki import make_pki

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[4]
TOKEN = "s3cret-token-for-tests-0123456789"
LIMIT = 256 * 1024


def natural(seed: int, h: int = 384, w: int = 512) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for c in range(3):
        for _ in range(6):
            fx, fy = rng.uniform(0.005, 0.06, 2)
            img[..., c] += rng.uniform(10, 40) * np.sin(fx * x + fy * y + rng.uniform(0, 6.28))
    for _ in range(12):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(20, 100)
        img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] += rng.uniform(-60, 60, 3)
    img += 128 + rng.normal(0, 6, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def jpeg(pixels: np.ndarray, quality: int = 75) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class Served:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.app = app
        config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        status, headers, raw = self.request(method, path, **kw)
        assert headers["content-type"].startswith("application/json"), (status, raw[:200])
        return status, json.loads(raw)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
        self.app.state.repository.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    d = tmp_path_factory.mktemp("server")
    pki = make_pki("Server Test", algs=("es256",), seed=b"server-tests")
    root = d / "root.pem"
    root.write_bytes(pki.root_pem)
    signer = SignerSpec.from_pem(pki.chain_pem("es256"), pki.key_pem("es256"))
    Image.fromarray(natural(1)).save(d / "a.jpg", quality=92)
    Image.fromarray(natural(2)).save(d / "b.jpg", quality=92)
    with Repository.open(d / "repo.db", create=True) as repo:
        a = publish(
            d / "a.jpg",
            d / "pa.jpg",
            signer=signer,
            repository=repo,
            source_type="digitalCapture",
            trust_anchors=[root],
        )
    with Repository.open(d / "other.db", create=True) as other:
        b = publish(
            d / "b.jpg",
            d / "pb.jpg",
            signer=signer,
            repository=other,
            source_type="digitalCapture",
            trust_anchors=[root],
        )
        b_store = other.get(b.manifest_id)
    read_only = Served(create_app(d / "repo.db", max_upload=LIMIT))
    writable = Served(
        create_app(d / "writable.db", allow_writes=True, token=TOKEN, max_upload=LIMIT)
    )
    with Image.open(a.path) as im:
        small = np.asarray(im.convert("RGB").resize((256, 192), Image.Resampling.LANCZOS))
    yield {
        "ro": read_only,
        "rw": writable,
        "a": a,
        "b": b,
        "b_store": b_store,
        "copy": jpeg(small),
        "dir": d,
    }
    read_only.stop()
    writable.stop()


def test_supported_algorithms(world: dict[str, Any]) -> None:
    status, doc = world["ro"].json("GET", "/services/supportedAlgorithms")
    assert status == 200
    assert doc == {
        "watermarks": [{"alg": WATERMARK_ALG}],
        "fingerprints": [{"alg": FINGERPRINT_ALG}],
    }
    assert ResolverClient(world["ro"].url).supported_algorithms() == {
        "watermarks": [WATERMARK_ALG],
        "fingerprints": [FINGERPRINT_ALG],
    }


def test_by_binding_get_and_post(world: dict[str, Any]) -> None:
    a = world["a"]
    value = base64.b64encode(bytes.fromhex(a.manifest_id)).decode()
    q = f"/matches/byBinding?alg={WATERMARK_ALG}&value={value.replace('+', '%2B')}"
    status, doc = world["ro"].json("GET", q)
    assert status == 200 and doc == {
        "matches": [{"manifestId": a.manifest_id, "similarityScore": 100}]
    }
    body = json.dumps({"alg": WATERMARK_ALG, "value": value}).encode()
    status, doc = world["ro"].json(
        "POST",
        "/matches/byBinding?maxResults=3",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert status == 200 and doc["matches"][0]["manifestId"] == a.manifest_id
    client = ResolverClient(world["ro"].url)
    [m] = client.matches(FINGERPRINT_ALG, bytes.fromhex(a.fingerprint))
    assert m.manifest_id == a.manifest_id and m.similarity == 100
    assert client.matches(WATERMARK_ALG, bytes(8)) == []


@pytest.mark.parametrize(
    "query,code",
    [
        ("", "bad_request"),
        (f"?alg={WATERMARK_ALG}", "bad_request"),
        (f"?alg={WATERMARK_ALG}&value=!!!", "bad_value"),
        (f"?alg={WATERMARK_ALG}&value=AAEC", "bad_value"),
        ("?alg=com.example.other&value=AAECAwQFBgc%3D", "unsupported_alg"),
        (f"?alg={WATERMARK_ALG}&value=AAECAwQFBgc%3D&maxResults=0", "bad_max_results"),
        (f"?alg={WATERMARK_ALG}&value=AAECAwQFBgc%3D&maxResults=abc", "bad_request"),
    ],
)
def test_by_binding_rejects_bad_queries(world: dict[str, Any], query: str, code: str) -> None:
    status, doc = world["ro"].json("GET", "/matches/byBinding" + query)
    assert status == 400 and doc["code"] == code and doc["error"]


@pytest.mark.parametrize(
    "body,status,code",
    [
        (b"{not json", 400, "bad_json"),
        (b"\xff\xfe\x00garbage", 400, "bad_json"),
        (b"[1, 2]", 400, "bad_request"),
        (b'{"alg": 1, "value": "x"}', 400, "bad_request"),
        (b"", 400, "bad_json"),
        (b'{"alg": "x", "value": "' + b"A" * 70000 + b'"}', 413, "too_large"),
    ],
)
def test_by_binding_post_rejects_bad_bodies(
    world: dict[str, Any], body: bytes, status: int, code: str
) -> None:
    got, doc = world["ro"].json(
        "POST", "/matches/byBinding", body=body, headers={"Content-Type": "application/json"}
    )
    assert (got, doc["code"]) == (status, code)


def test_by_content(world: dict[str, Any]) -> None:
    a = world["a"]
    status, doc = world["ro"].json(
        "POST", "/matches/byContent", body=world["copy"], headers={"Content-Type": "image/jpeg"}
    )
    assert status == 200 and doc["matches"][0]["manifestId"] == a.manifest_id
    client = ResolverClient(world["ro"].url)
    assert client.matches_by_content(world["copy"], "image/jpeg")[0].manifest_id == a.manifest_id
    unrelated = jpeg(natural(7))
    assert client.matches_by_content(unrelated, "image/jpeg") == []
    only_fp = world["ro"].json(
        "POST",
        f"/matches/byContent?alg={FINGERPRINT_ALG}",
        body=world["copy"],
        headers={"Content-Type": "image/jpeg"},
    )[1]
    assert only_fp["matches"][0]["manifestId"] == a.manifest_id


@pytest.mark.parametrize(
    "body,ctype,status,code",
    [
        (b"garbage bytes", "image/jpeg", 415, "unsupported_media_type"),
        (b"", "image/jpeg", 400, "empty_body"),
        (b"hello", "text/plain", 415, "unsupported_media_type"),
        (b"\xff\xd8\xff" + b"\x00" * (LIMIT + 10), "image/jpeg", 413, "too_large"),
    ],
)
def test_by_content_rejects_bad_uploads(
    world: dict[str, Any], body: bytes, ctype: str, status: int, code: str
) -> None:
    got, doc = world["ro"].json(
        "POST", "/matches/byContent", body=body, headers={"Content-Type": ctype}
    )
    assert (got, doc["code"]) == (status, code)


def test_huge_chunked_upload_is_cut_off(world: dict[str, Any]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", world["ro"].port, timeout=30)

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"\x00" * 8192

    try:
        conn.request(
            "POST",
            "/matches/byContent",
            body=chunks(),
            headers={"Content-Type": "image/jpeg"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        doc = json.loads(resp.read())
    except (BrokenPipeError, ConnectionResetError):
        doc = None  # the server may close before the client finished sending
    finally:
        conn.close()
    if doc is not None:
        assert resp.status == 413 and doc["code"] == "too_large"
    assert world["ro"].request("GET", "/services/supportedAlgorithms")[0] == 200


def test_manifests(world: dict[str, Any]) -> None:
    a = world["a"]
    status, headers, raw = world["ro"].request("GET", f"/manifests/{a.manifest_id}")
    assert status == 200 and headers["content-type"] == "application/c2pa"
    with Repository.open(world["dir"] / "repo.db") as repo:
        assert raw == repo.get(a.manifest_id)
    assert world["ro"].request("GET", f"/manifests/{a.manifest_label}")[2] == raw
    assert (
        world["ro"].request("GET", f"/manifests/{a.manifest_id}?returnActiveManifest=true")[0]
        == 200
    )
    status, doc = world["ro"].json("GET", "/manifests/ffffffffffffffff")
    assert status == 404 and doc["code"] == "not_found"
    status, doc = world["ro"].json("GET", "/manifests/" + "x" * 300)
    assert status == 400
    assert ResolverClient(world["ro"].url).fetch("ffffffffffffffff") is None
    status, doc = world["ro"].json("DELETE", f"/manifests/{a.manifest_id}")
    assert status == 403 and doc["code"] == "read_only"
    status, doc = world["ro"].json("PATCH", f"/manifests/{a.manifest_id}")
    assert status == 405 and doc["code"] == "method_not_allowed"
    status, doc = world["ro"].json("GET", "/no/such/route")
    assert status == 404


def test_writes(world: dict[str, Any]) -> None:
    ro, rw, b = world["ro"], world["rw"], world["b"]
    store = world["b_store"]
    ctype = {"Content-Type": "application/c2pa"}
    status, doc = ro.json(
        "POST", "/manifests", body=store, headers={**ctype, "Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 403 and doc["code"] == "read_only"
    assert rw.json("POST", "/manifests", body=store, headers=ctype)[0] == 401
    wrong = {**ctype, "Authorization": "Bearer wrong-token-wrong-token"}
    assert rw.json("POST", "/manifests", body=store, headers=wrong)[0] == 401
    auth = {**ctype, "Authorization": f"Bearer {TOKEN}"}
    status, doc = rw.json("POST", "/manifests", body=b"garbage", headers=auth)
    assert status == 400 and doc["code"] == "bad_store"
    status, doc = rw.json("POST", "/manifests", body=b"\x00" * (LIMIT + 1), headers=auth)
    assert status == 413
    status, doc = rw.json("POST", "/manifests?width=512&height=384", body=store, headers=auth)
    assert status == 200 and doc == {"manifestId": b.manifest_id}
    # The same bytes again: the same identifier (a retried upload is harmless).
    assert rw.json("POST", "/manifests", body=store, headers=auth) == (200, doc)
    client = ResolverClient(rw.url)
    assert [m.manifest_id for m in client.matches(WATERMARK_ALG, bytes.fromhex(b.manifest_id))] == [
        b.manifest_id
    ]
    assert client.fetch(b.manifest_id) == store
    with pytest.raises(ResolverError) as e:
        ResolverClient(rw.url, token="nope-nope-nope-nope").post_manifest(store)
    assert "401" in e.value.message
    # Still serving after all the bad requests above.
    assert ro.request("GET", "/services/supportedAlgorithms")[0] == 200
    assert rw.request("GET", "/services/supportedAlgorithms")[0] == 200


def test_create_app_errors(tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError) as e:
        create_app(tmp_path / "r.db", allow_writes=True)
    assert e.value.code == "bad_config"
    with pytest.raises(ProvenanceError) as e:
        create_app(tmp_path / "r.db", allow_writes=True, token="short")
    assert e.value.code == "bad_config"
    with pytest.raises(RepositoryError) as e:
        create_app(tmp_path / "missing.db")
    assert e.value.code == "not_found"
    with pytest.raises(ResolverError):
        ResolverClient("ftp://example.org")
    with pytest.raises(ResolverError) as e:
        ResolverClient("http://127.0.0.1:9", timeout=2).supported_algorithms()
    assert e.value.code == "unreachable"


def test_openapi_document_is_current(world: dict[str, Any]) -> None:
    sys.path.insert(0, str(ROOT / "spec"))
    try:
        import gen_openapi
    finally:
        sys.path.remove(str(ROOT / "spec"))
    saved = (ROOT / "spec" / "openapi.json").read_text(encoding="utf-8")
    assert gen_openapi.render() == saved, "run: python spec/gen_openapi.py"
    status, served = world["ro"].json("GET", "/openapi.json")
    assert status == 200 and served == json.loads(saved)
    ops = {(p, m) for p, item in served["paths"].items() for m in item}
    assert {
        ("/matches/byBinding", "get"),
        ("/matches/byBinding", "post"),
        ("/matches/byContent", "post"),
        ("/matches/byReference", "post"),
        ("/manifests", "post"),
        ("/manifests/{manifestId}", "get"),
        ("/manifests/{manifestId}", "delete"),
        ("/manifests/{manifestId}/receipts", "get"),
        ("/manifests/{manifestId}/receipts", "post"),
        ("/bindings", "post"),
        ("/bindings", "put"),
        ("/services/supportedAlgorithms", "get"),
        ("/services/capabilities", "get"),
        ("/services/status", "get"),
        ("/.well-known/c2pa-soft-binding-resolution", "get"),
    } == ops
    assert served["info"]["version"] == "2.4.0"


_ROUTES = [
    ("POST", "/matches/byBinding", "application/json"),
    ("POST", "/matches/byContent", "image/jpeg"),
    ("POST", "/matches/byContent", "video/mp4"),
    ("POST", "/manifests", "application/c2pa"),
    ("POST", "/matches/byReference", "application/json"),
    ("POST", "/bindings", "application/json"),
    ("PUT", "/bindings", "application/json"),
    ("POST", "/manifests/ffffffffffffffff/receipts", "application/json"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=4096), route=st.sampled_from(_ROUTES))
def test_arbitrary_bodies_get_a_json_4xx(
    world: dict[str, Any], body: bytes, route: tuple[str, str, str]
) -> None:
    method, path, ctype = route
    for served in (world["ro"], world["rw"]):
        headers = {"Content-Type": ctype, "Authorization": f"Bearer {TOKEN}"}
        status, headers_out, raw = served.request(method, path, body=body, headers=headers)
        assert headers_out["content-type"].startswith("application/json")
        doc = json.loads(raw)
        if status == 200:  # a JSON body that happens to be a valid query
            assert "matches" in doc
        else:
            assert 400 <= status < 500 and doc["code"], (status, doc)


@settings(max_examples=60, deadline=None)
@given(
    alg=st.text(max_size=40),
    value=st.text(max_size=80),
    max_results=st.integers(-5, 500),
)
def test_arbitrary_queries_get_json(
    world: dict[str, Any], alg: str, value: str, max_results: int
) -> None:
    from urllib.parse import urlencode

    query = urlencode({"alg": alg, "value": value, "maxResults": max_results})
    status, headers, raw = world["ro"].request("GET", "/matches/byBinding?" + query)
    assert headers["content-type"].startswith("application/json")
    assert status in (200, 400)
    assert ("matches" if status == 200 else "error") in json.loads(raw)


@pytest.mark.video
def test_by_content_finds_a_video(world: dict[str, Any]) -> None:
    import av

    d = world["dir"]
    clip = d / "clip.mp4"
    base = natural(5, 384, 512).astype(np.int16)
    with av.open(str(clip), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.height, stream.width = 384, 512
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for t in range(8):
            frame = np.clip(np.roll(base, 3 * t, axis=1), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    pki = make_pki("Server Test", algs=("es256",), seed=b"server-tests")
    signer = SignerSpec.from_pem(pki.chain_pem("es256"), pki.key_pem("es256"))
    with Repository.open(d / "repo.db") as repo:
        done = publish(
            clip, d / "pclip.mp4", signer=signer, repository=repo, source_type="digitalCapture",
            trust_anchors=[pki.root_pem],
        )  # fmt: skip
    assert done.fingerprint is None and done.media_type == "video/mp4"
    found = ResolverClient(world["ro"].url).matches_by_content(done.path.read_bytes(), "video/mp4")
    assert [m.manifest_id for m in found] == [done.manifest_id]


# ------------------------------------------------------------------ API 2.4.0 routes


def test_discovery(world: dict[str, Any]) -> None:
    ro, rw = world["ro"], world["rw"]
    version = ro.json("GET", "/openapi.json")[1]["info"]["version"]
    assert version == "2.4.0"
    assert ro.json("GET", "/services/capabilities") == (
        200,
        {
            "c2paSpecificationVersion": version,
            "supportedCapabilities": ["queryByContent", "queryByReference"],
        },
    )
    status, caps = rw.json("GET", "/services/capabilities")
    assert caps["supportedCapabilities"] == [
        "queryByContent",
        "queryByReference",
        "storeManifests",
        "storeBindings",
    ]
    status, doc = ro.json("GET", "/services/status")
    assert status == 200 and doc["status"] == "ok" and doc["timestamp"].endswith("Z")
    status, known = rw.json("GET", "/.well-known/c2pa-soft-binding-resolution")
    assert status == 200
    assert known["apiEndpoint"] == rw.url and known["c2paSpecificationVersion"] == version
    assert known["capabilitiesEndpoint"] == rw.url + "/services/capabilities"
    assert known["statusEndpoint"] == rw.url + "/services/status"
    assert [k["crv"] for k in known["receiptKeys"]] == ["Ed25519"]
    assert "receiptKeys" not in ro.json("GET", "/.well-known/c2pa-soft-binding-resolution")[1]
    info = ResolverClient(rw.url).discover()
    assert info.version == version and info.well_known and len(info.receipt_keys) == 1
    assert info.supports("storeBindings") and info.answers(WATERMARK_ALG)
    ro_info = ResolverClient(ro.url).discover()
    assert not ro_info.supports("storeManifests") and ro_info.answers(FINGERPRINT_ALG)
    assert not ro_info.answers("com.example.other")


def _store_of(world: dict[str, Any], seed: int) -> tuple[Any, bytes]:
    """A freshly published picture's result and manifest store (never stored on rw yet)."""
    d = world["dir"]
    pki = make_pki("Server Test", algs=("es256",), seed=b"server-tests")
    signer = SignerSpec.from_pem(pki.chain_pem("es256"), pki.key_pem("es256"))
    Image.fromarray(natural(seed)).save(d / f"s{seed}.jpg", quality=92)
    with Repository.open(d / f"s{seed}.db", create=True) as repo:
        done = publish(
            d / f"s{seed}.jpg", d / f"ps{seed}.jpg", signer=signer, repository=repo,
            source_type="digitalCapture", trust_anchors=[pki.root_pem],
        )  # fmt: skip
        store = repo.get(done.manifest_id)
    assert store is not None
    return done, store


def test_store_receipt_delete(world: dict[str, Any]) -> None:
    from provenance.durable.receipts import verify_receipt

    rw = world["rw"]
    done, store = _store_of(world, 21)
    auth = {"Content-Type": "application/c2pa", "Authorization": f"Bearer {TOKEN}"}
    status, doc = rw.json("POST", "/manifests?returnReceipt=true", body=store, headers=auth)
    mid = done.manifest_id
    assert status == 200 and doc["manifestId"] == mid
    receipt = doc["receipt"]
    assert receipt["@type"] == "org.c2pa.manifest-receipt"
    assert receipt["repository"] == {"uri": rw.url, "manifestId": mid}
    assert receipt["anchor"]["uri"] == f"{rw.url}/manifests/{mid}/receipts"
    keys = ResolverClient(rw.url).discover().receipt_keys
    assert verify_receipt(receipt, trusted=keys, store=store, manifest_id=mid).verified
    # Retrievable, and verified by the server.
    status, kept = rw.json("GET", f"/manifests/{mid}/receipts")
    assert status == 200 and kept == {**receipt, "verified": True}
    assert rw.json("GET", f"/manifests/{done.manifest_label}/receipts")[1] == kept
    body = json.dumps(receipt).encode()
    assert rw.json("POST", f"/manifests/{mid}/receipts", body=body)[1]["verified"] is True
    forged = json.loads(body)
    forged["anchor"]["parameters"]["manifestSha256"] = "0" * 64
    status, doc = rw.json("POST", f"/manifests/{mid}/receipts", body=json.dumps(forged).encode())
    assert status == 200 and doc["verified"] is False and "signature" in doc["error"]
    status, doc = rw.json("POST", f"/manifests/{mid}/receipts", body=b'{"@type": "x"}')
    assert status == 400 and doc["code"] == "bad_receipt"
    assert rw.json("POST", "/manifests/ffffffffffffffff/receipts", body=body)[0] == 404
    assert rw.json("GET", f"/manifests/{world['a'].manifest_id}/receipts")[0] == 404
    # Delete: token needed; the store, its bindings and its receipt go.
    assert rw.json("DELETE", f"/manifests/{mid}")[0] == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, _, raw = rw.request("DELETE", f"/manifests/{mid}", headers=bearer)
    assert (status, raw) == (204, b"")
    assert rw.json("GET", f"/manifests/{mid}")[0] == 404
    assert rw.json("GET", f"/manifests/{mid}/receipts")[0] == 404
    assert ResolverClient(rw.url).matches(WATERMARK_ALG, bytes.fromhex(mid)) == []
    assert rw.json("DELETE", f"/manifests/{mid}", headers=bearer)[0] == 404


def test_bindings(world: dict[str, Any]) -> None:
    rw, ro = world["rw"], world["ro"]
    done, store = _store_of(world, 22)
    mid = done.manifest_id
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    client = ResolverClient(rw.url, token=TOKEN)
    assert client.store_manifest(store).manifest_id == mid
    wm, fp = bytes.fromhex(mid), bytes.fromhex(done.fingerprint)

    def bind(method: str, doc: dict[str, Any], headers: dict[str, str] = auth) -> tuple[int, Any]:
        status, _, raw = rw.request(
            method, "/bindings", body=json.dumps(doc).encode(), headers=headers
        )
        return status, (json.loads(raw) if raw else None)

    b64 = lambda v: base64.b64encode(v).decode()  # noqa: E731
    assert bind("POST", {"bindingValue": b64(wm), "manifestId": mid}) == (204, None)
    assert (
        bind("POST", {"bindingValue": b64(fp), "manifestId": mid, "alg": FINGERPRINT_ALG})[0] == 204
    )
    assert bind("PUT", {"bindingValue": b64(wm), "manifestId": mid}) == (204, None)
    assert [m.manifest_id for m in client.matches(FINGERPRINT_ALG, fp)] == [mid]
    status, doc = bind("POST", {"bindingValue": b64(b"\x01" * 8), "manifestId": mid})
    assert status == 400 and doc["code"] == "binding_not_declared"
    status, doc = bind("POST", {"bindingValue": b64(b"\x01" * 5), "manifestId": mid})
    assert status == 400 and doc["code"] == "bad_value"
    status, doc = bind("POST", {"bindingValue": b64(wm), "manifestId": mid, "alg": "x.y"})
    assert status == 400 and doc["code"] == "unsupported_alg"
    status, doc = bind("POST", {"bindingValue": "x", "manifestId": "urn:c2pa:none"})
    assert status == 404 and doc["code"] == "not_found"
    status, doc = bind("PUT", {"bindingValue": b64(wm), "manifestId": world["b"].manifest_id})
    assert status == 400 and doc["code"] == "binding_not_declared"
    assert bind("POST", {"manifestId": mid})[0] == 400
    assert bind("POST", {"bindingValue": b64(wm), "manifestId": mid}, {})[0] == 401
    status, _, raw = ro.request("POST", "/bindings", body=b"{}", headers=auth)
    assert status == 403
    client.put_binding(WATERMARK_ALG, wm, mid, replace=True)
    assert client.delete_manifest(mid) is True and client.delete_manifest(mid) is False


class _Assets:
    """A loopback HTTP server handing out one asset (for /matches/byReference)."""

    def __init__(self, data: bytes) -> None:
        import http.server

        body = data

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/asset")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_by_reference(world: dict[str, Any]) -> None:
    copy = world["copy"]
    assets = _Assets(copy)
    private = Served(
        create_app(world["dir"] / "repo.db", max_upload=LIMIT, private_references=True)
    )
    try:
        ref = {"referenceUrl": assets.url + "/asset", "assetLength": len(copy)}
        status, doc = private.json("POST", "/matches/byReference", body=json.dumps(ref).encode())
        assert status == 200, doc
        assert world["a"].manifest_id in [m["manifestId"] for m in doc["matches"]]
        # The default server refuses loopback and private addresses.
        status, doc = world["ro"].json(
            "POST", "/matches/byReference", body=json.dumps(ref).encode()
        )
        assert status == 400 and doc["code"] == "reference_not_public"
        cases = [
            ({**ref, "referenceUrl": assets.url + "/moved"}, 502, "reference_failed"),
            ({**ref, "referenceUrl": "http://127.0.0.1:9/x"}, 502, "reference_unreachable"),
            ({**ref, "referenceUrl": "file:///etc/passwd"}, 400, "bad_reference"),
            ({**ref, "assetLength": 10}, 413, "too_large"),
            ({**ref, "assetLength": LIMIT + 1}, 413, "too_large"),
            ({**ref, "region": [{"type": "spatial"}]}, 400, "region_not_supported"),
            ({"referenceUrl": assets.url}, 400, "bad_request"),
        ]
        for body, want, code in cases:
            status, doc = private.json(
                "POST", "/matches/byReference", body=json.dumps(body).encode()
            )
            assert (status, doc["code"]) == (want, code), body
    finally:
        private.stop()
        assets.close()


def test_status_reports_an_unreadable_repository(tmp_path: Path) -> None:
    served = Served(create_app(tmp_path / "r.db", allow_writes=True, token=TOKEN))
    try:
        served.app.state.repository.close()
        status, doc = served.json("GET", "/services/status")
        assert status == 200 and doc["status"] == "down"
    finally:
        served.server.should_exit = True
        served.thread.join(10)
        served.sock.close()


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("width=99999999999999999999", "bad_width"),  # past 64 bits: once a 500 (OverflowError)
        ("width=-1", "bad_width"),
        ("height=0", "bad_height"),
        ("height=1000001", "bad_height"),
        ("title=" + "t" * 1025, "bad_title"),
        ("mediaType=image%2Fjpeg%0A", "bad_mediatype"),
        ("sha256=abc", "bad_sha256"),
    ],
)
def test_store_fields_are_ranged(world: dict[str, Any], query: str, code: str) -> None:
    auth = {"Content-Type": "application/c2pa", "Authorization": f"Bearer {TOKEN}"}
    status, doc = world["rw"].json("POST", f"/manifests?{query}", body=b"x", headers=auth)
    assert status == 400 and doc["code"] == code and doc["error"], doc
    # Without the token: 401 first, whatever the fields say.
    headers = {"Content-Type": "application/c2pa"}
    assert world["rw"].json("POST", f"/manifests?{query}", body=b"x", headers=headers)[0] == 401


def _huge_webp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "WEBP", quality=50)
    data = bytearray(buf.getvalue())
    at = data.index(b"\x9d\x01\x2a") + 3  # the VP8 key frame's width and height
    data[at : at + 4] = (12000).to_bytes(2, "little") + (12000).to_bytes(2, "little")
    return bytes(data)


def test_upload_over_the_pixel_limit_is_413_before_decoding(world: dict[str, Any]) -> None:
    status, doc = world["ro"].json(
        "POST", "/matches/byContent", body=_huge_webp(), headers={"Content-Type": "image/webp"}
    )
    assert status == 413 and doc["code"] == "too_large"
    assert "12000x12000" in doc["error"]


def test_server_limits_configurable(tmp_path: Path) -> None:
    Repository.open(tmp_path / "r.db", create=True).close()
    with pytest.raises(ProvenanceError):
        create_app(tmp_path / "r.db", max_decodes=0)
    with pytest.raises(ProvenanceError):
        create_app(tmp_path / "r.db", max_pixels=0)
    served = Served(create_app(tmp_path / "r.db", max_pixels=1000))
    try:
        status, doc = served.json(
            "POST",
            "/matches/byContent",
            body=jpeg(natural(3)),
            headers={"Content-Type": "image/jpeg"},
        )
        assert status == 413 and "1,000" in doc["error"]
    finally:
        served.stop()
