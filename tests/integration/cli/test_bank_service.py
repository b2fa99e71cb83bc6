"""``verify bank serve`` on loopback, driven by a client written from HMA 2.x's blueprints.

The client below makes the calls an existing Hasher-Matcher-Actioner 2.x client makes
(OpenMediaMatch ``blueprints/matching.py``, ``hashing.py``, ``curation.py``): the same
routes, query parameters, multipart field names and JSON shapes. Only writes add an
``Authorization`` header, which this service requires.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from skimage import data

from provenance.matching.bank import Bank
from provenance.matching.pdq import hash_bytes

pytestmark = [pytest.mark.network]

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "bank-service-token-0123456789"


class _Http:
    """One connection per call (nothing left open between tests)."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers=self.headers, timeout=60, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self._call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self._call("POST", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self._call("DELETE", path, **kw)


class HMAClient:
    """HMA 2.x client calls (shapes from the OpenMediaMatch blueprints)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.http = _Http(base, {"Authorization": f"Bearer {token}"} if token else {})

    def raw_lookup(self, signal: str, *, include_distance: bool = False, banks: str | None = None):
        params: dict[str, Any] = {"signal_type": "pdq", "signal": signal}
        if include_distance:
            params["include_distance"] = "true"
        if banks:
            params["banks"] = banks
        return self.http.get("/m/raw_lookup", params=params)

    def lookup_signal(self, signal: str, **extra: str):
        return self.http.get("/m/lookup", params={"signal_type": "pdq", "signal": signal, **extra})

    def lookup_file(self, content: bytes, content_type: str = "photo"):
        return self.http.post("/m/lookup", files={content_type: ("upload", content)})

    def hash_file(self, content: bytes, content_type: str = "photo"):
        return self.http.post("/h/hash", files={content_type: ("upload", content)})

    def banks(self):
        return self.http.get("/c/banks")

    def bank(self, name: str):
        return self.http.get(f"/c/bank/{name}")

    def content(self, bank: str, content_id: int, include_signals: bool = True):
        params = {"include_signals": "true" if include_signals else "false"}
        return self.http.get(f"/c/bank/{bank}/content/{content_id}", params=params)

    def add_content(self, bank: str, content: bytes, metadata: str | None = None):
        form = {"metadata": metadata} if metadata else None
        return self.http.post(
            f"/c/bank/{bank}/content", files={"photo": ("upload", content)}, data=form
        )

    def add_signal(self, bank: str, pdq: str, note: str | None = None):
        body: dict[str, Any] = {"pdq": pdq}
        if note:
            body["note"] = note
        return self.http.post(f"/c/bank/{bank}/signal", json=body)

    def delete_content(self, bank: str, content_id: int):
        return self.http.delete(f"/c/bank/{bank}/content/{content_id}")


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(array: np.ndarray, quality: int = 50) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(banks: list[Path], tmp: Path, *options: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    token_file = tmp / "token"
    token_file.write_text(TOKEN + "\n")
    cmd = [sys.executable, "-m", "verify_cli", "bank", "serve", *map(str, banks)]
    cmd += ["--port", str(port), "--token-file", str(token_file), "--max-upload-mb", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [*cmd, *options], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/c/banks", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"verify bank serve did not start: {err}")
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("service")
    known, stock = tmp / "known.db", tmp / "stock.db"
    with Bank.open(known, create=True, name="KNOWN") as bank:
        (tmp / "astronaut.png").write_bytes(_png(data.astronaut()))
        bank.add_file(tmp / "astronaut.png", entry_id="astro", label="case 1")
    with Bank.open(stock, create=True, name="STOCK") as bank:
        (tmp / "coffee.png").write_bytes(_png(data.coffee()))
        bank.add_file(tmp / "coffee.png", entry_id="coffee")
    proc, url = _serve([known, stock], tmp, "--allow-writes")
    yield {"url": url, "tmp": tmp, "known": known}
    _stop(proc)


def test_banks_are_listed_and_shown_as_hma_does(served: dict[str, Any]) -> None:
    c = HMAClient(served["url"])
    assert c.banks().json() == [
        {"name": "KNOWN", "matching_enabled_ratio": 1.0},
        {"name": "STOCK", "matching_enabled_ratio": 1.0},
    ]
    assert c.bank("STOCK").json() == {"name": "STOCK", "matching_enabled_ratio": 1.0}
    missing = c.bank("NOPE")
    assert missing.status_code == 404 and missing.json() == {"message": "bank 'NOPE' not found"}


def test_hash_returns_the_pdq_of_the_upload(served: dict[str, Any]) -> None:
    content = _jpeg(data.chelsea())
    got = HMAClient(served["url"]).hash_file(content)
    assert got.status_code == 200
    expected = hash_bytes(content)
    assert got.json() == {"pdq": expected.hash.hex}  # type: ignore[union-attr]


def test_raw_lookup_ids_and_distances(served: dict[str, Any]) -> None:
    c = HMAClient(served["url"])
    astro = hash_bytes(_png(data.astronaut())).hash.hex  # type: ignore[union-attr]
    ids = c.raw_lookup(astro).json()["matches"]
    assert ids == [1]  # the first bank's row id
    near = format(int(astro, 16) ^ 0b11111, "064x")
    assert c.raw_lookup(near, include_distance=True).json() == {
        "matches": [{"bank_content_id": 1, "distance": "5"}]
    }
    far = format(int(astro, 16) ^ (2**40 - 1), "064x")
    assert c.raw_lookup(far).json() == {"matches": []}
    assert c.raw_lookup(astro, banks="STOCK").json() == {"matches": []}
    coffee = hash_bytes(_png(data.coffee())).hash.hex  # type: ignore[union-attr]
    assert c.raw_lookup(coffee).json() == {"matches": [(1 << 40) + 1]}  # the second bank
    bad = c.raw_lookup("xyz")
    assert bad.status_code == 400 and "invalid signal" in bad.json()["message"]
    other = c.http.get("/m/raw_lookup", params={"signal_type": "vmd5", "signal": astro})
    assert other.status_code == 400 and other.json() == {"message": "No such SignalType 'vmd5'"}


def test_lookup_by_signal_and_by_uploaded_file(served: dict[str, Any]) -> None:
    c = HMAClient(served["url"])
    astro = hash_bytes(_png(data.astronaut())).hash.hex  # type: ignore[union-attr]
    assert c.lookup_signal(astro).json() == {"KNOWN": [{"bank_content_id": 1, "distance": "0"}]}
    # An edited copy (mirrored, JPEG 50) is found through its rotations/flips.
    found = c.lookup_file(_jpeg(data.astronaut()[:, ::-1])).json()
    assert list(found) == ["pdq"] and list(found["pdq"]) == ["KNOWN"]
    (match,) = found["pdq"]["KNOWN"]
    assert match["bank_content_id"] == 1 and int(match["distance"]) <= 31
    assert c.lookup_file(_jpeg(data.rocket())).json() == {"pdq": {}}
    refused = c.lookup_signal(astro, url="http://127.0.0.1:9/x.jpg")
    assert refused.status_code == 400 or refused.status_code == 403
    refused = c.http.get("/m/lookup", params={"url": "http://127.0.0.1:9/x.jpg"})
    assert refused.status_code == 403 and "--allow-network" in refused.json()["message"]


def test_uploads_are_bounded_and_checked(served: dict[str, Any]) -> None:
    c = HMAClient(served["url"])
    big = c.hash_file(os.urandom(2 * 1024 * 1024))
    assert big.status_code == 413
    two = c.http.post("/h/hash", files={"photo": ("a", b"x"), "video": ("b", b"y")})
    assert two.status_code == 400 and two.json() == {"message": "Only one file allowed per request"}
    none = c.http.post("/h/hash", data={"a": "b"})
    assert none.status_code == 400
    junk = c.hash_file(b"not a picture")
    assert junk.status_code == 400 and "cannot hash" in junk.json()["message"]
    kind = c.hash_file(_jpeg(data.chelsea()), content_type="text")
    assert kind.status_code == 400 and kind.json() == {"message": "no such content_type: 'text'"}


def test_writes_need_the_token(served: dict[str, Any]) -> None:
    anonymous = HMAClient(served["url"])
    refused = anonymous.add_signal("KNOWN", "ab" * 32)
    assert refused.status_code == 401
    wrong = HMAClient(served["url"], token="x" * 20).add_signal("KNOWN", "ab" * 32)
    assert wrong.status_code == 401


def test_add_content_then_find_show_and_delete_it(served: dict[str, Any]) -> None:
    c = HMAClient(served["url"], token=TOKEN)
    content = _png(data.camera())
    added = c.add_content("KNOWN", content, metadata='{"content_id": "cam-1"}')
    assert added.status_code == 200, added.text
    body = added.json()
    pdq = hash_bytes(content).hash.hex  # type: ignore[union-attr]
    assert body["signals"] == {"pdq": pdq} and isinstance(body["id"], int)
    assert c.raw_lookup(pdq).json() == {"matches": [body["id"]]}
    shown = c.content("KNOWN", body["id"]).json()
    assert shown["id"] == body["id"] and shown["signals"] == {"pdq": pdq}
    assert shown["bank"] == {"name": "KNOWN", "matching_enabled_ratio": 1.0}
    assert shown["metadata"] == {"content_id": "cam-1"}
    signal_added = c.add_signal("KNOWN", "5" * 64, note="from a partner").json()
    assert c.raw_lookup("5" * 64).json() == {"matches": [signal_added["id"]]}
    assert c.delete_content("KNOWN", body["id"]).json() == {"deleted": 1}
    assert c.raw_lookup(pdq).json() == {"matches": []}
    assert c.content("KNOWN", body["id"]).status_code == 404
    assert c.add_signal("NOPE", "5" * 64).status_code == 404
    assert c.add_signal("KNOWN", "zz").status_code == 400
    # The bank file itself holds what the service added (another process reads it).
    with Bank.open(served["known"]) as bank:
        assert {e.entry_id for e in bank.entries()} == {"astro", "5" * 64}


def test_read_only_service_refuses_writes(tmp_path: Path) -> None:
    bank_path = tmp_path / "ro.db"
    with Bank.open(bank_path, create=True, name="RO") as bank:
        bank.add_hash(hash_bytes(_png(data.astronaut())).hash)  # type: ignore[union-attr]
    proc, url = _serve([bank_path], tmp_path)
    try:
        c = HMAClient(url, token=TOKEN)
        refused = c.add_signal("RO", "ab" * 32)
        assert refused.status_code == 403 and "--allow-writes" in refused.json()["message"]
        assert c.delete_content("RO", 1).status_code == 403
    finally:
        _stop(proc)


def test_serve_refuses_writes_without_a_token_and_bad_banks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from verify_cli.app import app

    bank_path = tmp_path / "b.db"
    Bank.open(bank_path, create=True).close()
    env = {"JINJJA_SERVER_TOKEN": ""}
    result = CliRunner().invoke(app, ["bank", "serve", str(bank_path), "--allow-writes"], env=env)
    assert result.exit_code == 2 and "token" in result.output
    result = CliRunner().invoke(app, ["bank", "serve", str(tmp_path / "missing.db")], env=env)
    assert result.exit_code == 2 and "no such bank" in result.output


def test_allow_network_fetches_a_url_for_lookup(tmp_path: Path) -> None:
    import http.server
    import threading

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "copy.jpg").write_bytes(_jpeg(data.astronaut()))
    bank_path = tmp_path / "n.db"
    with Bank.open(bank_path, create=True, name="NET") as bank:
        bank.add_hash(hash_bytes(_png(data.astronaut())).hash)  # type: ignore[union-attr]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(tmp_path / "site"), **kw)

        def log_message(self, *args: Any) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    proc, url = _serve([bank_path], tmp_path, "--allow-network")
    try:
        page = f"http://127.0.0.1:{site.server_address[1]}/copy.jpg"
        found = HMAClient(url).http.get("/m/lookup", params={"url": page}).json()
        (match,) = found["pdq"]["NET"]
        assert match["bank_content_id"] == 1 and int(match["distance"]) <= 31
        gone = HMAClient(url).http.get("/m/lookup", params={"url": page + "x"})
        assert gone.status_code == 400 and "Failed to fetch URL" in gone.json()["message"]
        scheme = HMAClient(url).http.get("/m/lookup", params={"url": "file:///etc/passwd"})
        assert scheme.status_code == 400
    finally:
        _stop(proc)
        site.shutdown()
        site.server_close()


def _clip(path: Path, names: tuple[str, ...], skip_s: float = 0.0) -> Path:
    """Shots of photos held 2 s each at 4 fps (640x360), optionally trimmed at the start."""
    av = pytest.importorskip("av")
    frames = []
    for name in names:
        photo = np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB").resize((640, 360)))
        frames += [photo] * 8
    frames = frames[int(skip_s * 4) :]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.options = {"crf": "30" if skip_s else "18", "preset": "veryfast"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.video
def test_video_hash_and_lookup_answer_with_vpdq_and_md5(tmp_path: Path) -> None:
    original = _clip(tmp_path / "o.mp4", ("astronaut", "coffee", "chelsea"))
    trimmed = _clip(tmp_path / "t.mp4", ("astronaut", "coffee", "chelsea"), skip_s=1.5)
    bank_path = tmp_path / "v.db"
    with Bank.open(bank_path, create=True, name="VIDEOS") as bank:
        assert bank.add_file(original, entry_id="v1").vpdq  # type: ignore[union-attr]
    proc, url = _serve([bank_path], tmp_path)
    try:
        c = HMAClient(url)
        hashed = c.hash_file(original.read_bytes(), content_type="video").json()
        assert set(hashed) == {"video_md5", "vpdq"} and len(hashed["video_md5"]) == 32
        same = c.lookup_file(original.read_bytes(), content_type="video").json()
        assert list(same["video_md5"]) == ["VIDEOS"]
        found = c.lookup_file(trimmed.read_bytes(), content_type="video").json()
        assert found["video_md5"] == {}
        (match,) = found["vpdq"]["VIDEOS"]
        assert match["bank_content_id"] == (1 << 39) + 1
        query_pct = int(match["distance"].split("%")[0])
        assert query_pct >= 80 and match["distance"].endswith("%]")
        raw = c.http.get(
            "/m/raw_lookup", params={"signal_type": "video_md5", "signal": hashed["video_md5"]}
        )
        assert raw.json() == {"matches": [(1 << 39) + 1]}
        shown = c.content("VIDEOS", (1 << 39) + 1).json()
        assert shown["metadata"] == {"content_id": "v1"}
        assert shown["signals"]["video_md5"] == hashed["video_md5"]
        assert shown["signals"]["vpdq"] == hashed["vpdq"]
    finally:
        _stop(proc)
