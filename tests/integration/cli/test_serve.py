"""End to end on loopback: ``verify sign --watermark --repo-url`` into a real ``verify serve``,
strip the metadata (re-encode, resize 0.5, JPEG 75, crop to 80 %), then
``verify check --resolver`` recovers the credentials of every copy."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from provenance.durable.client import ResolverClient
from provenance.durable.receipts import verify_receipt
from provenance.durable.repository import Repository
from provenance.testing.pki import make_pki
from verify_cli.app import app

pytestmark = [pytest.mark.network, pytest.mark.video]

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "end-to-end-token-0123456789abcdef"


def natural(seed: int, h: int, w: int) -> np.ndarray:
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


def write_mp4(path: Path, frames: list[np.ndarray], *, crf: int = 18) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def read_mp4(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def strip_picture(src: Path, dst: Path) -> None:
    """Pillow re-encode without metadata, resize 0.5, crop to 80 %, JPEG 75."""
    with Image.open(src) as im:
        rgb = im.convert("RGB")
    rgb = rgb.resize((rgb.width // 2, rgb.height // 2), Image.Resampling.LANCZOS)
    cw, ch = round(rgb.width * 0.8), round(rgb.height * 0.8)
    left, top = (rgb.width - cw) // 2, (rgb.height - ch) // 2
    rgb.crop((left, top, left + cw, top + ch)).save(dst, "JPEG", quality=75)


def strip_video(src: Path, dst: Path) -> None:
    """The same for video: decode, resize 0.5, crop to 80 %, re-encode (H.264 CRF 23)."""
    out = []
    for frame in read_mp4(src):
        im = Image.fromarray(frame)
        im = im.resize((im.width // 2, im.height // 2), Image.Resampling.BILINEAR)
        cw, ch = round(im.width * 0.8) // 2 * 2, round(im.height * 0.8) // 2 * 2
        left, top = (im.width - cw) // 2, (im.height - ch) // 2
        out.append(np.asarray(im.crop((left, top, left + cw, top + ch))))
    write_mp4(dst, out, crf=23)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = free_port()
    repo = tmp_path / "served.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JINJJA_SERVER_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "verify_cli",
            "serve",
            "--repo",
            str(repo),
            "--port",
            str(port),
            "--allow-writes",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/services/supportedAlgorithms", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"verify serve did not start: {err}")
            time.sleep(0.1)
    yield {"url": url, "repo": repo, "proc": proc}
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


def test_publish_strip_recover_through_resolver(tmp_path: Path, server: dict[str, Any]) -> None:
    runner = CliRunner()
    pki = make_pki("E2E Newsroom", algs=("es256",), seed=b"e2e")
    paths = pki.write_to(tmp_path / "pki")
    chain, key, root = paths["es256.chain"], paths["es256.key"], paths["root"]
    src = tmp_path / "outgoing"
    src.mkdir()
    sizes = [(384, 512), (512, 384), (600, 800), (420, 560), (768, 1024)]
    for i, (h, w) in enumerate(sizes):
        fmt = ["JPEG", "PNG", "JPEG", "WEBP", "JPEG"][i]
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
        Image.fromarray(natural(i, h, w)).save(src / f"photo{i}.{ext}", fmt, quality=92)
    base = natural(10, 768, 1024).astype(np.int16)
    write_mp4(
        src / "clip.mp4",
        [np.clip(np.roll(base, 2 * t, axis=1), 0, 255).astype(np.uint8) for t in range(12)],
    )
    out = tmp_path / "published"
    result = runner.invoke(
        app,
        [
            "sign",
            str(src),
            "-o",
            str(out),
            "--cert",
            str(chain),
            "--key",
            str(key),
            "--trust-anchors",
            str(root),
            "--source-type",
            "digitalCapture",
            "--title",
            "Flood",
            "--watermark",
            "--repo-url",
            server["url"],
            "--repo-token",
            TOKEN,
            "--format",
            "jsonl",
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 6 and all(r["status"] == "signed" for r in records)
    published = {Path(r["output"]).name: r for r in records}
    # Each output has the server's receipt beside it, signed with the key it publishes.
    keys = ResolverClient(server["url"]).discover().receipt_keys
    with Repository.open(server["repo"]) as repo:
        for r in records:
            mark = r["watermark"]
            assert mark["stored_as"] == mark["manifest_id"]
            receipt = json.loads(Path(mark["receipt"]).read_text())
            assert Path(mark["receipt"]).name == Path(r["output"]).name + ".receipt.json"
            store = repo.get(mark["manifest_id"])
            check = verify_receipt(
                receipt, trusted=keys, store=store, manifest_id=mark["stored_as"]
            )
            assert check.verified, check.reason

    stripped = tmp_path / "stripped"
    stripped.mkdir()
    copies = []
    for name in sorted(published):
        copy = stripped / (Path(name).stem + (".mp4" if name.endswith(".mp4") else ".jpg"))
        (strip_video if name.endswith(".mp4") else strip_picture)(out / name, copy)
        copies.append((name, copy))
    unrelated = stripped / "unrelated.jpg"
    Image.fromarray(natural(99, 400, 500)).save(unrelated, quality=80)

    result = runner.invoke(
        app,
        [
            "check",
            *(str(c) for _, c in copies),
            str(unrelated),
            "--resolver",
            server["url"],
            "--trust-anchors",
            str(root),
            "--format",
            "jsonl",
        ],
    )
    assert result.exit_code == 0, result.output
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 7
    for (name, copy), report in zip(copies, reports, strict=False):
        rec = published[name]
        assert report["subject"]["path"] == str(copy.resolve())
        assert report["verdict"] == "RECOVERED", (name, report["summary"])
        assert report["recovery"]["manifest_id"] == rec["watermark"]["manifest_id"]
        assert report["recovery"]["method"] == "watermark"
        assert report["recovery"]["source"] == server["url"]
        assert report["recovery"]["detail"]["p_value"] < 1e-6
        assert report["recovery"]["detail"]["trusted"] is True
        assert report["chain"]["label"] == rec["manifest"]
        assert report["chain"]["title"] == "Flood"
        assert [a["action"] for a in report["chain"]["actions"]] == [
            "c2pa.created",
            "c2pa.watermarked",
        ]
        assert report["chain"]["issuer"]["organization"] == "E2E Newsroom"
        assert any("hard binding" in s for s in report["summary"])
    assert reports[-1]["verdict"] == "NO_CREDENTIALS" and "recovery" not in reports[-1]
    assert server["proc"].poll() is None
