"""Monitoring runs against a loopback site that changes between runs."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from monitorsite import Route, Site, edited_copy, jpeg, picture, refused_url, serve_site

from provenance.monitor import (
    EvidenceOptions,
    MonitorStore,
    RunOptions,
    Status,
    Visit,
    fingerprint_bytes,
    run,
)
from provenance.monitor.match import Matcher, Reference

pytestmark = pytest.mark.network

ORIGINAL = picture(1)
UNRELATED = picture(2)


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as s:
        yield s


def _run(store: MonitorStore, **kw: object) -> dict[str, Visit]:
    seen: list[Visit] = []
    options = RunOptions(delay=0.0, timeout=kw.pop("timeout", 5.0), **kw)  # type: ignore[arg-type]
    summary = run(store, options, seen.append)
    assert summary.visits == len(seen)
    return {v.url.rsplit("/", 1)[-1] or v.url: v for v in seen}


def _build(site: Site) -> None:
    site.file("/orig.jpg", jpeg(ORIGINAL, 85))
    site.file("/flipped.jpg", edited_copy(ORIGINAL))
    site.file("/unrelated.jpg", jpeg(UNRELATED))
    site.page("/taken", "/orig.jpg")
    site.page("/replaced", "/orig.jpg", extra='<img src="/missing.jpg">')
    site.page("/edited", "/unrelated.jpg", "/flipped.jpg")
    site.page("/clean", "/unrelated.jpg")
    site.routes["/r1"] = Route(302, headers={"Location": "/r2"})
    site.routes["/r2"] = Route(301, headers={"Location": site.url("/edited")})
    site.routes["/loop"] = Route(302, headers={"Location": "/loop"})
    site.routes["/gone410"] = Route(410, b"gone")
    site.routes["/legal451"] = Route(451, b"unavailable for legal reasons")
    site.routes["/err500"] = Route(500, b"oops")
    site.routes["/busy"] = Route(429, b"slow down")
    site.routes["/slow"] = Route(body=b"<html>late</html>", delay=8.0)


PATHS = [
    "/taken",
    "/replaced",
    "/edited",
    "/clean",
    "/orig.jpg",
    "/r1",
    "/loop",
    "/gone410",
    "/legal451",
    "/err500",
    "/busy",
    "/slow",
    "/never",
]


def test_statuses_across_runs(site: Site, tmp_path: Path) -> None:
    _build(site)
    evidence = EvidenceOptions(tmp_path / "evidence")
    refused = refused_url()
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        ref = fingerprint_bytes(jpeg(ORIGINAL), "original.jpg")
        store.add("case-1", [site.url(p) for p in PATHS] + [refused], [ref])
        first = _run(store, evidence=evidence, timeout=3.0)

        assert {k: v.status for k, v in first.items()} == {
            "taken": Status.MATCH,
            "replaced": Status.MATCH,
            "edited": Status.MATCH,
            "clean": Status.NO_MATCH,
            "orig.jpg": Status.MATCH,
            "r1": Status.MATCH,
            "loop": Status.UNREACHABLE,
            "gone410": Status.GONE,
            "legal451": Status.GONE,
            "err500": Status.UNREACHABLE,
            "busy": Status.UNREACHABLE,
            "slow": Status.UNREACHABLE,
            "never": Status.GONE,
            "post": Status.UNREACHABLE,
        }
        assert all(v.previous_status is None and not v.changed for v in first.values())
        edited = first["edited"].matches
        assert [(m.media_url, m.method, m.ref) for m in edited] == [
            (site.url("/flipped.jpg"), "pdq", "original.jpg")
        ]
        assert 0 < (edited[0].distance or 0) <= 31
        assert first["r1"].final_url == site.url("/edited")
        assert first["orig.jpg"].matches[0].media_url == site.url("/orig.jpg")
        assert first["loop"].error == "more than 5 redirects"
        assert first["err500"].http_status == 500 and first["err500"].error == "HTTP 500"
        assert first["busy"].error == "HTTP 429"
        assert first["slow"].error == "timed out after 3 s"
        assert first["post"].http_status is None and "connection" in (first["post"].error or "")
        assert any("missing.jpg" in n for n in first["replaced"].notes)
        for name, visit in first.items():
            assert (visit.evidence is not None) == (visit.status is Status.MATCH), name
            assert visit.checked_at.endswith("Z")

        # The site changes: one post is taken down, one gets an unrelated picture.
        del site.routes["/taken"]
        site.page("/replaced", "/unrelated.jpg")
        second = _run(store, evidence=evidence, timeout=3.0)
        assert second["taken"].status is Status.GONE and second["taken"].http_status == 404
        assert second["taken"].previous_status is Status.MATCH and second["taken"].changed
        assert second["replaced"].status is Status.NO_MATCH and second["replaced"].changed
        assert second["taken"].evidence is not None and second["replaced"].evidence is not None
        assert second["edited"].evidence is not None and not second["edited"].changed
        assert second["gone410"].evidence is None and not second["gone410"].changed

        third = _run(store, evidence=evidence, timeout=3.0)
        assert third["taken"].status is Status.GONE and not third["taken"].changed
        assert third["taken"].evidence is None and third["replaced"].evidence is None

        rows = {r.url.rsplit("/", 1)[-1]: r for r in store.status("case-1")}
        assert rows["taken"].gone_since == second["taken"].checked_at
        assert rows["taken"].last_match_at == first["taken"].checked_at
        assert rows["taken"].checks == 3 and len(rows["taken"].timeline) == 3
        assert rows["edited"].gone_since is None and rows["edited"].last_status is Status.MATCH
        assert rows["clean"].last_match_at is None and rows["clean"].gone_since is None
        assert [v.status for v in rows["taken"].timeline] == [
            Status.MATCH,
            Status.GONE,
            Status.GONE,
        ]


def _verify_wacz(path: Path, sha256: str) -> list[tuple[str, str]]:
    from warcio.archiveiterator import ArchiveIterator

    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha256
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        package = json.loads(z.read("datapackage.json"))
        names = set(z.namelist())
        for res in package["resources"]:
            algo, _, digest = res["hash"].partition(":")
            assert algo == "sha256"
            assert hashlib.sha256(z.read(res["path"])).hexdigest() == digest, res["path"]
        assert any(n.startswith("indexes/") for n in names)
        pages = z.read("pages/pages.jsonl").decode().splitlines()
        assert json.loads(pages[0])["format"] == "json-pages-1.0"
        [warc] = [n for n in names if n.startswith("archive/")]
        records = []
        for rec in ArchiveIterator(io.BytesIO(z.read(warc))):
            records.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI") or ""))
            rec.content_stream().read()
    return records


def test_evidence_is_a_valid_wacz_with_every_exchange(site: Site, tmp_path: Path) -> None:
    site.file("/orig.jpg", jpeg(ORIGINAL, 85))
    site.routes["/start"] = Route(302, headers={"Location": "/post"})
    site.page("/post", "/orig.jpg", "/nothing.jpg")
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.url("/start")], [fingerprint_bytes(jpeg(ORIGINAL), "o.jpg")])
        visit = _run(store, evidence=EvidenceOptions(tmp_path / "ev"))["start"]
    assert visit.status is Status.MATCH and visit.evidence is not None
    path = Path(visit.evidence.path)
    assert path.parent == tmp_path / "ev" / "c" and path.suffix == ".wacz"
    records = _verify_wacz(path, visit.evidence.sha256)
    for p in ("/start", "/post", "/orig.jpg", "/nothing.jpg"):
        assert ("request", site.url(p)) in records
        assert ("response", site.url(p)) in records
    assert records[0][0] == "warcinfo"
    assert ("metadata", site.url("/start")) in records

    # py-wacz's own validator, in a child process (it leaves files open).
    done = subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "is valid" in done.stdout


def test_timestamped_evidence(site: Site, tmp_path: Path) -> None:
    from provenance.testing.pki import make_pki
    from provenance.testing.tsa import TimeStampAuthority, serve

    site.file("/orig.jpg", jpeg(ORIGINAL))
    authority = TimeStampAuthority.from_pki(make_pki("Monitor", algs=("es256",), seed=b"mon"))
    with serve(authority) as tsa_url, MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.url("/orig.jpg")], [fingerprint_bytes(jpeg(ORIGINAL), "o.jpg")])
        visit = _run(store, evidence=EvidenceOptions(tmp_path / "ev", tsa=tsa_url))["orig.jpg"]
    ev = visit.evidence
    assert ev is not None and ev.timestamp is not None and ev.timestamp.endswith("Z")
    assert ev.tsa == tsa_url and ev.timestamp_token is not None
    import rfc3161_client

    token = rfc3161_client.decode_timestamp_response(Path(ev.timestamp_token).read_bytes())
    assert token.tst_info.message_imprint.message.hex() == ev.sha256
    assert visit.matches[0].method == "sha256"


def test_politeness_user_agent_cookies_and_size(site: Site, tmp_path: Path) -> None:
    site.routes["/login"] = Route(
        body=b"<html>hi</html>", headers={"Set-Cookie": "sid=abc; Path=/"}
    )
    site.page("/other", "/big.jpg")
    site.file("/big.jpg", b"\xff\xd8\xff" + bytes(5000))
    site.routes["/huge"] = Route(body=b"<html>" + b" " * 5000 + b"</html>")
    ref = fingerprint_bytes(jpeg(ORIGINAL), "o.jpg")
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("a", [site.url("/login")], [ref])
        store.add("b", [site.url("/other"), site.url("/huge")], [ref])
        seen = _run(store, max_bytes=1000)
    assert site.cookies_seen == []  # the cookie of case a never reaches case b
    assert {ua for _, ua in site.hits} == {seen["login"].to_dict()["url"] and _ua()}
    assert seen["huge"].status is Status.UNREACHABLE and "limit" in (seen["huge"].error or "")
    assert seen["other"].status is Status.NO_MATCH
    assert any("big.jpg" in n and "limit" in n for n in seen["other"].notes)


def _ua() -> str:
    from provenance.monitor import user_agent

    return user_agent()


def test_per_host_concurrency_is_bounded(site: Site, tmp_path: Path) -> None:
    import threading

    active = [0, 0]
    lock = threading.Lock()
    original = site.routes.get

    class Counting(dict[str, Route]):
        def get(self, key: str, default: Route | None = None) -> Route:  # type: ignore[override]
            with lock:
                active[0] += 1
                active[1] = max(active[1], active[0])
            import time

            time.sleep(0.05)
            with lock:
                active[0] -= 1
            return original(key, default) or Route(404)

    for i in range(8):
        site.page(f"/p{i}")
    site.routes = Counting(site.routes)
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add(
            "c", [site.url(f"/p{i}") for i in range(8)], [fingerprint_bytes(jpeg(ORIGINAL), "o")]
        )
        _run(store)
    assert active[1] <= 2


def test_watermark_payload_matches(tmp_path: Path) -> None:
    import watermark

    big = np.asarray(
        __import__("PIL.Image", fromlist=["Image"]).fromarray(picture(3, 64)).resize((512, 512))
    )
    marked = watermark.embed(big, b"CASE0001", "k3y")
    ref = fingerprint_bytes(jpeg(marked, 95), "marked.jpg", wm_key="k3y")
    assert ref.watermark == b"CASE0001".hex()
    # A reference known by its payload only (no usable PDQ hash): the mark alone matches.
    only_mark = Reference("marked.jpg", "picture", "00" * 32, None, ref.watermark)
    found, note = Matcher([only_mark], wm_key="k3y").match(jpeg(marked, 80), "http://h/x.jpg")
    assert note is None and found is not None and found.method == "watermark"
    missing, _ = Matcher([only_mark], wm_key="k3y").match(jpeg(big, 80), "http://h/y.jpg")
    assert missing is None


def _mp4(frames: list[np.ndarray], bit_rate: int = 4_000_000) -> bytes:
    av = pytest.importorskip("av")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=2)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


@pytest.mark.video
def test_video_frames_match(site: Site, tmp_path: Path) -> None:
    frames = [picture(10 + i // 2, 320) for i in range(6)]
    ref = fingerprint_bytes(_mp4(frames), "clip.mp4")
    assert ref.kind == "video" and ref.frames
    site.file("/copy.mp4", _mp4([f[:, ::-1].copy() for f in frames]), "video/mp4")
    site.page("/watch", extra='<video><source src="/copy.mp4"></video>')
    site.file("/still.jpg", jpeg(frames[2]))
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.url("/watch"), site.url("/still.jpg")], [ref])
        seen = _run(store)
    assert seen["watch"].status is Status.MATCH
    assert seen["watch"].matches[0].method == "video_pdq"
    assert seen["still.jpg"].status is Status.MATCH and seen["still.jpg"].matches[0].method == "pdq"


@pytest.mark.slow
def test_screenshot_goes_into_the_evidence(site: Site, tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    site.file("/orig.jpg", jpeg(ORIGINAL))
    site.page("/post", "/orig.jpg")
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.url("/post")], [fingerprint_bytes(jpeg(ORIGINAL), "o.jpg")])
        options = EvidenceOptions(tmp_path / "ev", screenshot=True)
        visit = _run(store, evidence=options, timeout=20.0)["post"]
    assert visit.evidence is not None and visit.evidence.screenshot is not None, visit.notes
    png = Path(visit.evidence.screenshot).read_bytes()
    assert png.startswith(b"\x89PNG")
    with zipfile.ZipFile(visit.evidence.path) as z:
        [warc] = [n for n in z.namelist() if n.startswith("archive/")]
        kinds = [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
            for r in ArchiveIterator(io.BytesIO(z.read(warc)))
        ]
    assert ("resource", f"urn:screenshot:{site.url('/post')}") in kinds


def test_screenshot_without_chromium_is_a_note(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("provenance.monitor.evidence.find_chromium", lambda: None)
    site.file("/orig.jpg", jpeg(ORIGINAL))
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.url("/orig.jpg")], [fingerprint_bytes(jpeg(ORIGINAL), "o.jpg")])
        options = EvidenceOptions(tmp_path / "ev", screenshot=True)
        visit = _run(store, evidence=options)["orig.jpg"]
    assert visit.evidence is not None and visit.evidence.screenshot is None
    assert "screenshot skipped: Chromium is not installed" in visit.notes


def test_evidence_for_a_site_root_without_a_path(site: Site, tmp_path: Path) -> None:
    site.file("/", jpeg(ORIGINAL))
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.base], [fingerprint_bytes(jpeg(ORIGINAL), "o.jpg")])
        [visit] = _run(store, evidence=EvidenceOptions(tmp_path / "ev")).values()
    assert visit.url == site.base + "/" and visit.evidence is not None, visit.notes
    assert ("response", site.base + "/") in _verify_wacz(
        Path(visit.evidence.path), visit.evidence.sha256
    )


def test_delay_spaces_requests_to_one_host(site: Site, tmp_path: Path) -> None:
    import time

    starts: list[float] = []
    original = site.routes.get

    class Timed(dict[str, Route]):
        def get(self, key: str, default: Route | None = None) -> Route:  # type: ignore[override]
            starts.append(time.monotonic())
            return original(key, default) or Route(404)

    for i in range(4):
        site.page(f"/p{i}")
    site.routes = Timed(site.routes)
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add(
            "c", [site.url(f"/p{i}") for i in range(4)], [fingerprint_bytes(jpeg(ORIGINAL), "o")]
        )
        run(store, RunOptions(delay=0.25, timeout=5.0))
    gaps = np.diff(sorted(starts))
    assert len(starts) == 4 and gaps.min() >= 0.2  # a lower bound: sleeping never shortens it


def test_tls_failure_is_unreachable(tmp_path: Path) -> None:
    import datetime as dt
    import http.server
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/post"
        with MonitorStore.open(tmp_path / "m.db", create=True) as store:
            store.add("c", [url], [fingerprint_bytes(jpeg(ORIGINAL), "o")])
            [visit] = _run(store).values()
    finally:
        server.shutdown()
        server.server_close()
    assert visit.status is Status.UNREACHABLE and visit.http_status is None
    assert (visit.error or "").startswith("TLS error"), visit.error


def test_evidence_that_cannot_be_written_is_a_note(site: Site, tmp_path: Path) -> None:
    site.file("/orig.jpg", jpeg(ORIGINAL))
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.url("/orig.jpg")], [fingerprint_bytes(jpeg(ORIGINAL), "o")])
        visit = _run(store, evidence=EvidenceOptions(blocker))["orig.jpg"]
        [row] = store.status("c")
    assert visit.status is Status.MATCH and visit.evidence is None
    assert any(n.startswith("evidence not written") for n in visit.notes)
    assert row.checks == 1


def test_encoded_bodies_are_stored_decoded(site: Site, tmp_path: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    picture_bytes = jpeg(ORIGINAL)
    page = b"<!doctype html><html><body><img src='/orig.jpg'></body></html>"
    site.routes["/post"] = Route(body=gzip.compress(page), headers={"Content-Encoding": "gzip"})
    site.routes["/orig.jpg"] = Route(
        body=gzip.compress(picture_bytes), content_type="image/jpeg",
        headers={"Content-Encoding": "gzip"},
    )  # fmt: skip
    with MonitorStore.open(tmp_path / "m.db", create=True) as store:
        store.add("c", [site.url("/post")], [fingerprint_bytes(picture_bytes, "o.jpg")])
        visit = _run(store, evidence=EvidenceOptions(tmp_path / "ev"))["post"]
    assert visit.status is Status.MATCH and visit.matches[0].method == "sha256"
    assert visit.evidence is not None
    with zipfile.ZipFile(visit.evidence.path) as z:
        [warc] = [n for n in z.namelist() if n.startswith("archive/")]
        for rec in ArchiveIterator(io.BytesIO(z.read(warc))):
            if rec.rec_type == "response" and rec.rec_headers["WARC-Target-URI"].endswith(".jpg"):
                assert rec.http_headers["X-Archive-Orig-Content-Encoding"] == "gzip"
                assert rec.http_headers["Content-Length"] == str(len(picture_bytes))
                assert rec.content_stream().read() == picture_bytes
                break
        else:
            raise AssertionError("no response record for the picture")
