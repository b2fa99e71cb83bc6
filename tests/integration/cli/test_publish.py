"""``verify sign --watermark --repo PATH`` and ``verify check --repo``: the local publisher flow,
and the usage errors of the new options."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from provenance.durable.repository import Repository
from provenance.testing.pki import make_pki
from verify_cli.app import app
from verify_cli.exit_codes import ExitCode


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


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    pki = make_pki("Publish CLI", algs=("es256",), seed=b"publish-cli")
    paths = pki.write_to(tmp_path / "pki")
    Image.fromarray(natural(3)).save(tmp_path / "in.jpg", quality=92)
    return {
        "chain": paths["es256.chain"],
        "key": paths["es256.key"],
        "root": paths["root"],
        "in": tmp_path / "in.jpg",
        "dir": tmp_path,
    }


def _sign_args(s: dict[str, Path], out: Path) -> list[str]:
    return [
        "sign", str(s["in"]), "-o", str(out), "--cert", str(s["chain"]), "--key", str(s["key"]),
        "--trust-anchors", str(s["root"]), "--source-type", "digitalCapture",
    ]  # fmt: skip


def test_sign_watermark_repo_then_check_repo(setup: dict[str, Path]) -> None:
    runner = CliRunner()
    d = setup["dir"]
    repo = d / "repo.db"
    result = runner.invoke(
        app, [*_sign_args(setup, d / "out.jpg"), "--watermark", "--repo", str(repo)]
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert "watermark" in result.stdout and str(repo) in result.stdout
    with Repository.open(repo) as r:
        [mid] = r.ids()
    assert mid in result.stdout

    with Image.open(d / "out.jpg") as im:
        im.convert("RGB").resize((256, 192), Image.Resampling.LANCZOS).save(
            d / "copy.jpg", quality=75
        )
    root = str(setup["root"])
    result = runner.invoke(
        app,
        [
            "check",
            str(d / "copy.jpg"),
            "--repo",
            str(repo),
            "--trust-anchors",
            root,
            "--format",
            "json",
        ],
    )
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "RECOVERED"
    assert report["recovery"]["manifest_id"] == mid
    assert report["recovery"]["source"] == str(repo)
    text = runner.invoke(
        app, ["check", str(d / "copy.jpg"), "--repo", str(repo), "--format", "text"]
    )
    assert text.exit_code == ExitCode.OK and mid in text.stdout
    # Without --repo nothing is recovered.
    plain = runner.invoke(app, ["check", str(d / "copy.jpg"), "--format", "json"])
    assert json.loads(plain.stdout)["verdict"] == "NO_CREDENTIALS"


def test_private_key(setup: dict[str, Path]) -> None:
    runner = CliRunner()
    d = setup["dir"]
    repo = d / "repo.db"
    args = [
        *_sign_args(setup, d / "out.jpg"),
        "--watermark",
        "--wm-key",
        "desk key",
        "--repo",
        str(repo),
    ]
    assert runner.invoke(app, args).exit_code == ExitCode.OK
    with Image.open(d / "out.jpg") as im:
        w, h = im.size
        im.convert("RGB").crop((40, 30, w - 40, h - 30)).save(d / "crop.jpg", quality=80)
    check = ["check", str(d / "crop.jpg"), "--repo", str(repo), "--format", "json"]
    without = json.loads(runner.invoke(app, check).stdout)
    assert without["verdict"] == "NO_CREDENTIALS"
    with_key = json.loads(runner.invoke(app, [*check, "--wm-key", "desk key"]).stdout)
    assert with_key["verdict"] == "RECOVERED"
    assert with_key["recovery"]["detail"]["key"] == "extra key 1"


def test_subtle_profile_is_recovered_and_changes_flat_areas_less(
    setup: dict[str, Path],
) -> None:
    runner = CliRunner()
    d = setup["dir"]
    flat = np.full((384, 512, 3), (90, 140, 200), np.uint8)  # a clear sky over a scene
    flat[192:] = natural(5)[192:]
    Image.fromarray(flat).save(d / "sky.png")
    changed = {}
    for profile in ("robust", "subtle"):
        out = d / f"{profile}.png"
        args = [*_sign_args({**setup, "in": d / "sky.png"}, out), "--watermark"]
        args += ["--repo", str(d / "repo.db"), "--wm-profile", profile]
        assert runner.invoke(app, args).exit_code == ExitCode.OK
        with Image.open(out) as im:
            marked = np.asarray(im.convert("RGB"), dtype=np.float64)
        changed[profile] = float(np.abs(marked[16:176, 16:-16] - flat[16:176, 16:-16]).mean())
        copy = d / f"{profile}-copy.jpg"  # a re-encoded copy without the credentials
        Image.fromarray(marked.astype(np.uint8)).save(copy, quality=85)
        check = ["check", str(copy), "--repo", str(d / "repo.db"), "--format", "json"]
        assert json.loads(runner.invoke(app, check).stdout)["verdict"] == "RECOVERED"
    assert changed["subtle"] < 0.5 * changed["robust"]


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--watermark"], "--repo PATH or --repo-url URL"),
        (["--repo", "r.db"], "--repo needs --watermark"),
        (["--wm-key", "k"], "--wm-key needs --watermark"),
        (["--watermark", "--repo", "r.db", "--repo-url", "http://x"], "--repo PATH or --repo-url"),
        (["--watermark", "--repo-url", "ftp://x"], "http:// or https://"),
        (["--wm-profile", "subtle"], "--wm-profile needs --watermark"),
        (["--watermark", "--repo", "r.db", "--wm-profile", "loud"], "is not 'robust' or"),
    ],
)
def test_sign_usage_errors(setup: dict[str, Path], extra: list[str], message: str) -> None:
    result = CliRunner().invoke(app, [*_sign_args(setup, setup["dir"] / "o.jpg"), *extra])
    assert result.exit_code == ExitCode.USAGE
    assert message in result.output
    assert not (setup["dir"] / "o.jpg").exists()


def test_check_usage_errors(setup: dict[str, Path]) -> None:
    runner = CliRunner()
    bad_url = runner.invoke(app, ["check", str(setup["in"]), "--resolver", "ftp://example"])
    assert bad_url.exit_code == ExitCode.USAGE
    key_alone = runner.invoke(app, ["check", str(setup["in"]), "--wm-key", "k"])
    assert key_alone.exit_code == ExitCode.USAGE
    missing = runner.invoke(
        app, ["check", str(setup["in"]), "--repo", str(setup["dir"] / "nope.db")]
    )
    assert missing.exit_code == ExitCode.USAGE


def _free_port() -> int:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_resolver_is_visible(setup: dict[str, Path]) -> None:
    """An unreachable resolver: a stderr line, recovery.error in the record, exit 3;
    credentials in its URL are never shown."""
    url = f"http://ann:hunter2-SECRET@127.0.0.1:{_free_port()}/?token=hunter2-SECRET"
    result = CliRunner().invoke(
        app, ["check", str(setup["in"]), "--resolver", url, "--format", "json"]
    )
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "NO_CREDENTIALS"
    assert report["recovery"]["error"]["code"] == "unreachable"
    assert report["recovery"]["method"] is None
    assert any("could not be reached" in s for s in report["summary"])
    assert result.stderr.startswith(f"verify: {setup['in']}: recovery: resolver http://")
    assert "could not be reached" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_resolver_http_error_is_visible(setup: dict[str, Path]) -> None:
    import http.server
    import threading

    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server API
            self.send_error(503, "down for maintenance")

        do_POST = do_GET  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = CliRunner().invoke(
            app, ["check", str(setup["in"]), "--resolver", url, "--format", "json"]
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert result.exit_code == ExitCode.INPUT_ERROR, result.output
    report = json.loads(result.stdout)
    assert report["recovery"]["error"]["code"] == "resolver_refused"
    assert "503" in report["recovery"]["error"]["message"]
    assert f"verify: {setup['in']}: recovery: " in result.stderr


def test_no_match_is_not_an_error(setup: dict[str, Path]) -> None:
    repo = setup["dir"] / "empty.db"
    Repository.open(repo, create=True).close()
    result = CliRunner().invoke(
        app, ["check", str(setup["in"]), "--repo", str(repo), "--format", "json"]
    )
    assert result.exit_code == ExitCode.OK, result.output
    report = json.loads(result.stdout)
    assert "recovery" not in report and result.stderr == ""


def test_repo_that_is_not_a_repository_is_a_usage_error(setup: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, ["check", str(setup["in"]), "--repo", str(setup["in"]), "--format", "json"]
    )
    assert result.exit_code == ExitCode.USAGE, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"verify: {setup['in']}: ")


def test_serve_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    no_token = runner.invoke(app, ["serve", "--repo", str(tmp_path / "r.db"), "--allow-writes"])
    assert no_token.exit_code == ExitCode.USAGE and "--token" in no_token.output
    missing = runner.invoke(app, ["serve", "--repo", str(tmp_path / "missing.db")])
    assert missing.exit_code == ExitCode.USAGE and "no such manifest repository" in missing.output
    short = runner.invoke(
        app, ["serve", "--repo", str(tmp_path / "r.db"), "--allow-writes", "--token", "short"]
    )
    assert short.exit_code == ExitCode.USAGE and "16 characters" in short.output
    token_file = tmp_path / "token"
    token_file.write_text("short\n")
    from_file = runner.invoke(
        app,
        [
            "serve",
            "--repo",
            str(tmp_path / "r.db"),
            "--allow-writes",
            "--token-file",
            str(token_file),
        ],
    )
    assert from_file.exit_code == ExitCode.USAGE and "16 characters" in from_file.output
    token_file.write_text("\n")
    empty = runner.invoke(
        app,
        [
            "serve",
            "--repo",
            str(tmp_path / "r.db"),
            "--allow-writes",
            "--token-file",
            str(token_file),
        ],
    )
    assert empty.exit_code == ExitCode.USAGE and "token file is empty" in empty.output
    helped = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert "--token-file" in helped.output and "--token " not in helped.output
    assert not (tmp_path / "r.db.receipt-key.pem").exists()
    token = ["--allow-writes", "--token", "t" * 20]
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    for key, message in ((bad, "not a readable PEM"), (tmp_path / "none.pem", "no receipt key")):
        result = runner.invoke(
            app, ["serve", "--repo", str(tmp_path / "r.db"), *token, "--receipt-key", str(key)]
        )
        assert result.exit_code == ExitCode.USAGE and message in result.output, result.output


def test_serve_port_in_use(tmp_path: Path) -> None:
    import socket

    Repository.open(tmp_path / "r.db", create=True).close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            app, ["serve", "--repo", str(tmp_path / "r.db"), "--port", str(port)]
        )
    assert result.exit_code == ExitCode.USAGE
    assert "could not serve" in result.output
