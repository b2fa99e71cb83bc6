"""A guided tour of ``verify check``: sign a few pictures, tamper with one, check them all.

Run it with ``make demo`` (or ``.venv/bin/python examples/demo.py``). Everything is
written to ``demo-out/`` next to the repository root:

* a demo certificate authority (``demo-out/ca/``), made with :mod:`provenance.testing.pki`;
* a camera capture signed as ``digitalCapture``;
* an edit of it (cropped) that keeps the capture as its ``parentOf`` ingredient;
* a published copy of the edit (a third manifest on top);
* a picture declared as made by a generative model (``trainedAlgorithmicMedia``);
* a tampered copy of the capture (pixels changed after signing);
* an unsigned picture;
* a 1080p clip marked with ``verify watermark embed``, re-encoded at 720p CRF 28, and read
  back from 2 s of it with ``verify watermark detect --segment``.

Then it runs ``verify check --trust-anchors demo-out/ca/root.pem`` on them, in text
format, so you can see each verdict, and checks that every verdict is the expected one.

The demo is a list of :class:`Step` objects: later features (watermarks, recovery of
stripped credentials) add steps to :data:`STEPS`.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "demo-out"


@dataclass
class Demo:
    """State shared by the steps."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    """Name -> file to check, in the order they are shown."""
    expected: dict[str, str] = field(default_factory=dict)
    """Name -> expected verdict."""
    notes: dict[str, str] = field(default_factory=dict)
    """Name -> one sentence about what the file is."""
    expected_ai: dict[str, str] = field(default_factory=dict)
    """Name -> expected AI label, where the demo makes a point of it."""
    signer: dict[str, bytes] = field(default_factory=dict)
    trust_anchors: list[Path] = field(default_factory=list)

    def add(self, name: str, path: Path, expected: str, note: str, ai: str | None = None) -> None:
        self.files[name] = path
        self.expected[name] = expected
        self.notes[name] = note
        if ai is not None:
            self.expected_ai[name] = ai


@dataclass(frozen=True)
class Step:
    """One step of the demo."""

    title: str
    run: Callable[[Demo], None]


def say(text: str = "") -> None:
    print(text, flush=True)


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it."""
    return os.path.relpath(path, ROOT) if path.is_relative_to(ROOT) else str(path)


# ------------------------------------------------------------------------------- steps


def make_ca(demo: Demo) -> None:
    from provenance.testing.pki import make_pki

    pki = make_pki("Jinjja Demo News", algs=("es256",), seed=b"jinjja-demo")
    written = pki.write_to(demo.out / "ca")
    demo.signer = {"chain": pki.chain_pem("es256"), "key": pki.key_pem("es256")}
    demo.trust_anchors.append(written["root"])
    say(f"  demo root CA written to {_shown(written['root'])}")


def _scene(width: int, height: int, seed: int) -> object:
    """A synthetic 'photograph': sky gradient, ground, sun, some houses."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None]
    sky = np.stack([90 + 80 * y, 140 + 70 * y, 230 - 40 * y], axis=-1) * np.ones((1, width, 1))
    img = np.clip(sky + rng.normal(0, 4, sky.shape), 0, 255).astype(np.uint8)
    picture = Image.fromarray(img, "RGB")
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, int(height * 0.7), width, height), fill=(70, 120, 60))
    draw.ellipse((width - 140, 40, width - 60, 120), fill=(250, 220, 120))
    for i in range(5):
        x0 = 40 + i * (width // 5)
        top = int(height * 0.45) + int(rng.integers(0, 40))
        draw.rectangle((x0, top, x0 + 80, int(height * 0.72)), fill=(150 + 15 * i, 90, 70))
        draw.polygon([(x0 - 8, top), (x0 + 40, top - 40), (x0 + 88, top)], fill=(110, 50, 40))
    return picture


def make_capture(demo: Demo) -> None:
    from provenance.credentials.sign import capture_manifest, sign_file

    src = demo.out / "src" / "photo.jpg"
    src.parent.mkdir(parents=True, exist_ok=True)
    _scene(640, 427, seed=1).save(src, quality=92)  # type: ignore[attr-defined]
    dst = demo.out / "1-capture.jpg"
    sign_file(
        src,
        dst,
        cert_chain_pem=demo.signer["chain"],
        key_pem=demo.signer["key"],
        alg="es256",
        manifest=capture_manifest(
            "1-capture.jpg", software_agent="Jinjja Demo Camera", generator="Jinjja Demo Camera"
        ),
    )
    demo.add(
        "capture", dst, "TRUSTED", "a camera capture, signed by the demo news agency", "CAPTURED"
    )


def make_edit(demo: Demo) -> None:
    from PIL import Image

    from provenance.credentials.sign import sign_file

    capture = demo.files["capture"]
    cropped = demo.out / "src" / "cropped.jpg"
    with Image.open(capture) as im:
        im.crop((80, 40, 560, 400)).save(cropped, quality=90)
    dst = demo.out / "2-edit.jpg"
    manifest = {
        "claim_generator_info": [{"name": "Jinjja Demo Editor", "version": "1.0"}],
        "title": "2-edit.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
                        {"action": "c2pa.cropped", "description": "Cropped to the houses"},
                    ]
                },
            }
        ],
    }
    sign_file(
        cropped,
        dst,
        cert_chain_pem=demo.signer["chain"],
        key_pem=demo.signer["key"],
        alg="es256",
        manifest=manifest,
        parent=capture,
        trust_anchors_pem=demo.trust_anchors[0].read_bytes(),
    )
    demo.add("edit", dst, "TRUSTED", "a crop of the capture; the capture is its parent", "CAPTURED")


def make_published(demo: Demo) -> None:
    from provenance.credentials.sign import sign_file

    edit = demo.files["edit"]
    dst = demo.out / "3-published.jpg"
    manifest = {
        "claim_generator_info": [{"name": "Jinjja Demo CMS", "version": "2.3"}],
        "title": "3-published.jpg",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
                        {"action": "c2pa.published"},
                    ]
                },
            }
        ],
    }
    sign_file(
        edit,
        dst,
        cert_chain_pem=demo.signer["chain"],
        key_pem=demo.signer["key"],
        alg="es256",
        manifest=manifest,
        parent=edit,
        trust_anchors_pem=demo.trust_anchors[0].read_bytes(),
    )
    demo.add("published", dst, "TRUSTED", "the edit as published: three manifests deep")


def make_ai(demo: Demo) -> None:
    import numpy as np
    from PIL import Image

    from provenance.credentials.sign import capture_manifest, sign_file

    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:384, 0:512] / 64.0
    base = np.stack([np.sin(xx + yy), np.cos(xx * 1.3), np.sin(yy * 0.7 - xx)], axis=-1)
    pixels = ((base + 1.0) * 110 + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8)
    src = demo.out / "src" / "generated.jpg"
    Image.fromarray(pixels, "RGB").save(src, quality=90)
    dst = demo.out / "4-generated.jpg"
    sign_file(
        src,
        dst,
        cert_chain_pem=demo.signer["chain"],
        key_pem=demo.signer["key"],
        alg="es256",
        manifest=capture_manifest(
            "4-generated.jpg",
            source_type="trainedAlgorithmicMedia",
            software_agent="Example Diffusion 2.1",
            generator="Example Diffusion",
            generator_version="2.1",
        ),
    )
    demo.add("generated", dst, "TRUSTED", "declared as made by a generative model", "AI_GENERATED")


def make_tampered(demo: Demo) -> None:
    data = bytearray(demo.files["capture"].read_bytes())
    # Change bytes inside the last JPEG scan (the pixels), after the manifest, keeping the
    # file decodable: only bytes that are neither 0xFF nor next to one are touched.
    sos = data.rfind(b"\xff\xda")
    start = sos + (len(data) - sos) // 2
    changed = 0
    for i in range(start, len(data) - 2):
        if changed == 64:
            break
        if 0x10 < data[i] < 0xF0 and data[i - 1] != 0xFF and data[i + 1] != 0xFF:
            data[i] ^= 0x0F
            changed += 1
    dst = demo.out / "5-tampered.jpg"
    dst.write_bytes(bytes(data))
    demo.add("tampered", dst, "INCOMPLETE", "the capture with pixels changed after signing")


def make_unsigned(demo: Demo) -> None:
    dst = demo.out / "6-unsigned.jpg"
    _scene(480, 320, seed=3).save(dst, quality=88)  # type: ignore[attr-defined]
    demo.add("unsigned", dst, "NO_CREDENTIALS", "an ordinary picture without credentials")


def _check_args(demo: Demo, *extra: str) -> list[str]:
    args = ["check", *extra]
    for anchor in demo.trust_anchors:
        args += ["--trust-anchors", str(anchor)]
    return args + [str(p) for p in demo.files.values()]


def _run_verify(args: list[str]) -> int:
    from verify_cli.app import app

    try:
        app(args, prog_name="verify", standalone_mode=False)
    except SystemExit as exc:  # pragma: no cover - standalone_mode=False returns instead
        return int(exc.code or 0)
    except Exception as exc:  # click usage errors
        say(f"verify failed: {exc}")
        return 2
    return 0


def run_check(demo: Demo) -> None:
    say("  What each file is:")
    for name, path in demo.files.items():
        say(f"    {path.name:18} {demo.notes[name]}")
    args = _check_args(demo, "--format", "table")
    shown = " ".join(os.path.relpath(a, ROOT) if a.startswith(str(ROOT)) else a for a in args)
    say(f"\n  $ verify {shown}\n")
    _run_verify(args)


def compare_verdicts(demo: Demo) -> None:
    from typer.testing import CliRunner

    from verify_cli.app import app

    result = CliRunner().invoke(app, _check_args(demo, "--format", "jsonl"))
    got = [json.loads(line) for line in result.stdout.splitlines()]
    bad = 0
    for (name, expected), record in zip(demo.expected.items(), got, strict=True):
        verdict = record["verdict"]
        ai = record["ai"]["label"]
        wrong = verdict != expected or ai != demo.expected_ai.get(name, ai)
        mark = "✗" if wrong else "✓"
        bad += wrong
        say(f"  {mark} {demo.files[name].name:18} {verdict:16} AI: {ai}")
    (demo.out / "reports.jsonl").write_text(result.stdout, encoding="utf-8")
    say(f"\n  Machine-readable reports: {_shown(demo.out / 'reports.jsonl')}")
    say(f"  Try: verify check --format csv {_shown(demo.out)}/*.jpg")
    say(f"       verify check --fail-on invalid,ai {_shown(demo.out)}/*.jpg; echo $?")
    if bad:
        raise SystemExit(f"{bad} result(s) differ from what the demo expects")


def html_report(demo: Demo) -> None:
    report = demo.out / "report.html"
    args = _check_args(demo, "--format", "html", "--output", str(report))
    shown = " ".join(_shown(Path(a)) if a.startswith(str(ROOT)) else a for a in args)
    say(f"  $ verify {shown}\n")
    _run_verify(args)
    page = report.read_text(encoding="utf-8")
    missing = [v for v in set(demo.expected.values()) if v not in page]
    if missing:
        raise SystemExit(f"the HTML report lacks the verdicts {missing}")
    say(f"  One self-contained page for an editor (no network loads): {_shown(report)}")


def takedown_monitor(demo: Demo) -> None:
    import functools
    import http.server
    import threading

    from PIL import Image, ImageOps

    site = demo.out / "site"
    site.mkdir()
    with Image.open(demo.files["capture"]) as im:  # a reposted copy: mirrored, smaller, JPEG 70
        copy = ImageOps.mirror(im.convert("RGB")).resize((im.width * 3 // 4, im.height * 3 // 4))
    copy.save(site / "repost.jpg", quality=70)
    page = site / "post.html"
    page.write_text('<html><body><img src="repost.jpg" alt="post"></body></html>')
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/post.html"
    db, evidence = demo.out / "cases.db", demo.out / "evidence"
    ref = str(demo.files["capture"])
    try:
        for args in (
            ["monitor", "add", str(db), url, "--case", "demo", "--ref", ref],
            ["monitor", "run", str(db), "--evidence", str(evidence), "--format", "table"],
        ):
            _say_command(args)
            _run_verify(args)
        say("\n  The platform deletes the post; the next visit sees it gone:")
        page.unlink()
        run = ["monitor", "run", str(db), "--evidence", str(evidence), "--format", "table"]
        _say_command(run)
        _run_verify(run)
        status = ["monitor", "status", str(db), "--format", "table"]
        say()
        _say_command(status)
        _run_verify(status)
    finally:
        server.shutdown()
        server.server_close()
    if not any(evidence.glob("**/*.wacz")):
        raise SystemExit("the monitor wrote no WACZ evidence for the match")
    say(f"\n  Evidence (WACZ, SHA-256 in each record): {_shown(evidence)}/")


def _say_command(args: list[str]) -> None:
    say(f"  $ verify {' '.join(_shown(Path(a)) if a.startswith(str(ROOT)) else a for a in args)}")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return


def durable_credentials(demo: Demo) -> None:
    """Sign + watermark into a manifest repository, strip the copy, recover it."""
    from PIL import Image
    from typer.testing import CliRunner

    from verify_cli.app import app

    keys = demo.out / "publisher"
    keys.mkdir(exist_ok=True)
    (keys / "chain.pem").write_bytes(demo.signer["chain"])
    (keys / "key.pem").write_bytes(demo.signer["key"])
    (keys / "key.pem").chmod(0o600)
    src = demo.out / "src" / "market.jpg"
    _scene(800, 533, seed=5).save(src, quality=92)  # type: ignore[attr-defined]
    repo = demo.out / "repository.db"
    published = demo.out / "7-durable.jpg"
    anchors = [a for anchor in demo.trust_anchors for a in ("--trust-anchors", str(anchor))]
    sign = [
        "sign", str(src), "-o", str(published), "--cert", str(keys / "chain.pem"),
        "--key", str(keys / "key.pem"), *anchors, "--source-type", "digitalCapture",
        "--title", "Street market", "--watermark", "--repo", str(repo),
    ]  # fmt: skip
    say(f"  $ verify {' '.join(_shown(Path(a)) if a.startswith(str(ROOT)) else a for a in sign)}")
    if _run_verify(sign) != 0:
        raise SystemExit("signing with a watermark failed")
    stripped = demo.out / "8-stripped.jpg"
    with Image.open(published) as im:
        small = im.convert("RGB").resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)
    w, h = round(small.width * 0.8), round(small.height * 0.8)
    left, top = (small.width - w) // 2, (small.height - h) // 2
    small.crop((left, top, left + w, top + h)).save(stripped, "JPEG", quality=75)
    say(
        f"\n  A platform strips it: {_shown(stripped)} is re-encoded (JPEG 75) without "
        f"metadata, resized to 50 % and cropped to 80 % ({w}x{h})."
    )
    runner = CliRunner()
    plain = runner.invoke(app, ["check", *anchors, "--format", "json", str(stripped)])
    say(f"  Without the repository: {json.loads(plain.stdout)['verdict']}")
    check = ["check", *anchors, "--repo", str(repo), "--format", "text", str(stripped)]
    say(f"\n  $ verify check --repo {_shown(repo)} {_shown(stripped)}\n")
    _run_verify(check)
    result = runner.invoke(app, [*check[:-3], "--format", "json", str(stripped)])
    report = json.loads(result.stdout)
    recovery = report.get("recovery") or {}
    say(
        f"\n  → {report['verdict']} through the {recovery.get('method')} "
        f"(manifest {recovery.get('manifest_id')}); serve the repository to others with "
        f"`verify serve --repo {_shown(repo)}` and check with `--resolver URL`."
    )
    if report["verdict"] != "RECOVERED":
        raise SystemExit("the stripped copy's credentials were not recovered")


def video_watermark(demo: Demo) -> None:
    """Mark a 1080p clip, re-encode it at 720p CRF 28, read the mark from 2 s of it."""
    from fractions import Fraction

    import av
    import numpy as np
    from typer.testing import CliRunner

    from verify_cli.app import app

    fps, seconds = 30, 4
    src = demo.out / "src" / "harbour.mp4"
    scene = np.asarray(_scene(2400, 1350, seed=7))  # panned across, 1080p30, 4 s
    with av.open(str(src), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "16", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        for i in range(fps * seconds):
            x, y = round(4 * i), round(1.5 * i)
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(scene[y : y + 1080, x : x + 1920]), format="rgb24"
            )
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    marked = demo.out / "9-marked.mp4"
    embed = ["watermark", "embed", str(src), "-o", str(marked), "--text", "NEWS0001",
             "--wm-key", "demo-key", "--preset", "veryfast"]  # fmt: skip
    say(f"  $ verify {' '.join(_shown(Path(a)) if a.startswith(str(ROOT)) else a for a in embed)}")
    if _run_verify(embed) != 0:
        raise SystemExit("marking the clip failed")
    reposted = demo.out / "10-reposted.mp4"
    with av.open(str(marked)) as inp, av.open(str(reposted), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "28", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for frame in inp.decode(video=0):
            small = frame.reformat(width=1280, height=720, format="yuv420p")
            small.pts, small.time_base = frame.pts, frame.time_base
            out.mux(stream.encode(small))
        out.mux(stream.encode())
    say(f"\n  A platform re-encodes it: {_shown(reposted)} is 720p at CRF 28 (no audio).")
    detect = ["watermark", "detect", str(reposted), "--wm-key", "demo-key", "--segment", "2-4"]
    shown = " ".join(_shown(Path(a)) if a.startswith(str(ROOT)) else a for a in detect)
    say(f"\n  $ verify {shown}\n")
    _run_verify(detect)
    result = CliRunner().invoke(app, [*detect, "--format", "json"])
    (record,) = json.loads(result.stdout)  # --format json: an array, one record per input
    if not record.get("found") or record.get("payload_text") != "NEWS0001":
        raise SystemExit(f"the mark was not read from the re-encoded clip: {record}")


STEPS: list[Step] = [
    Step("Make a demo certificate authority", make_ca),
    Step("Sign a camera capture (digitalCapture)", make_capture),
    Step("Crop it and sign the edit, with the capture as parent", make_edit),
    Step("Publish the edit (a third manifest)", make_published),
    Step("Sign a picture declared as AI-generated", make_ai),
    Step("Tamper with the capture's pixels after signing", make_tampered),
    Step("Make an unsigned picture", make_unsigned),
    Step("Check them all with verify check", run_check),
    Step("Compare the verdicts with what we expect", compare_verdicts),
    Step("Write the same verdicts as an HTML report", html_report),
    Step("Watch a URL where a mirrored copy was posted, until it is taken down", takedown_monitor),
    Step("Durable credentials: watermark, strip the metadata, recover", durable_credentials),
    Step("Video: watermark a clip, re-encode it smaller, read 2 s of it", video_watermark),
]


def main(out: Path = OUT) -> Demo:
    """Run every step in order, writing into ``out`` (emptied first).

    Parameters
    ----------
    out
        The output directory; default ``demo-out/`` at the repository root.

    Returns
    -------
    Demo
        The demo state (files made, expected verdicts).
    """
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # Keep the demo hermetic: its own (empty) trust store, not the user's.
    os.environ["JINJJA_DATA_DIR"] = str(out / "data")
    demo = Demo(out=out)
    started = time.perf_counter()
    for number, step in enumerate(STEPS, start=1):
        say(f"\n[{number}/{len(STEPS)}] {step.title}")
        step.run(demo)
    say(f"\nDone in {time.perf_counter() - started:.1f} s. Files are in {_shown(out)}/")
    return demo


if __name__ == "__main__":
    main()
