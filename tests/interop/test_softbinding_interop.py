"""Our client against a second, independent Soft Binding Resolution API 2.4 server.

The server is Cognitive-Proof/c2pa-soft-binding-server (Node, Express, its SQLite default)
at commit 22017c196a5695ff32333ec2d574ef08605335b7. It is not on the npm registry and its
code is never committed here: point ``JINJJA_SBR_NODE_SERVER`` at a checkout of it (a work
tree or a git directory). The test copies it to a temporary directory, installs its
runtime dependencies from the npm registry with its lockfile (``npm ci --omit=dev``; one
development dependency, ``c2pa-rs-javascript-library``, is not on the registry), compiles
it with TypeScript without type checks (the type packages are development dependencies),
and runs ``createServer().listen(port, "127.0.0.1")`` with no authentication configured.

Then ``verify sign --watermark --resolver`` publishes a picture into it (discovery,
``POST /v1/manifests?returnReceipt=true``, ``POST /v1/bindings``; the receipt is kept
beside the output) and ``verify check --resolver`` recovers a stripped copy through it.

It runs apart from the unit suite, with ``make interop JINJJA_SBR_NODE_SERVER=DIR``: the
server's code cannot be had from the package registries that CI reaches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from provenance.durable.client import ResolverClient
from provenance.testing.pki import make_pki
from tests.integration.cli._served import free_port
from tests.integration.cli.test_serve import natural, strip_picture
from verify_cli.app import app

pytestmark = pytest.mark.network

COMMIT = "22017c196a5695ff32333ec2d574ef08605335b7"


def _checkout(dst: Path) -> None:
    src = Path(os.environ["JINJJA_SBR_NODE_SERVER"])
    if (src / "package.json").is_file():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("node_modules", ".git"))
        return
    archive = dst.parent / "server.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", f"--git-dir={src}", "archive", COMMIT], stdout=fh, check=True)
    dst.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(dst, filter="data")


def _build(root: Path) -> None:
    def run(*cmd: str, cwd: Path = root) -> None:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, f"{' '.join(cmd)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    run("npm", "ci", "--omit=dev", "--no-audit", "--no-fund")
    tsc = str(root / "node_modules" / ".bin" / "tsc")
    for sub in ("plugins/types", "plugins/sqlite", "."):
        run(tsc, "-p", "tsconfig.json", "--noCheck", cwd=root / sub)


@pytest.fixture(scope="module")
def node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert os.environ.get("JINJJA_SBR_NODE_SERVER"), (
        "set JINJJA_SBR_NODE_SERVER to a checkout of the Node 2.4 server (make interop)"
    )
    assert shutil.which("node") and shutil.which("npm"), "node and npm are needed"
    base = tmp_path_factory.mktemp("node-server")
    root = base / "server"
    _checkout(root)
    _build(root)
    port = free_port()
    script = f"require('./dist/index.js').createServer().listen({port}, '127.0.0.1')"
    env = {**os.environ, "SQLITE_DB_PATH": str(base / "softbinding.sqlite")}
    proc = subprocess.Popen(
        ["node", "-e", script], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/v1/services/status", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Node server did not start: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(15)
    if proc.stderr:
        proc.stderr.close()


def test_discovery_of_the_node_server(node_server: str) -> None:
    client = ResolverClient(node_server)
    info = client.discover()
    assert info.version == "2.4.0" and info.well_known
    assert client.base_url == node_server + "/v1"
    assert {"storeManifests", "storeBindings"} <= set(info.capabilities or ())
    assert info.watermarks == () and info.fingerprints == ()
    assert info.answers("org.jinjja.watermark.1")  # it stores bindings of any algorithm


def test_publish_into_and_recover_from_the_node_server(tmp_path: Path, node_server: str) -> None:
    runner = CliRunner()
    pki = make_pki("Interop Newsroom", algs=("es256",), seed=b"interop")
    paths = pki.write_to(tmp_path / "pki")
    root = paths["root"]
    src = tmp_path / "photo.jpg"
    Image.fromarray(natural(7, 480, 640)).save(src, quality=92)
    out = tmp_path / "published"
    out.mkdir()
    result = runner.invoke(
        app,
        [
            "sign", str(src), "-o", str(out), "--cert", str(paths["es256.chain"]),
            "--key", str(paths["es256.key"]), "--trust-anchors", str(root),
            "--source-type", "digitalCapture", "--watermark", "--resolver", node_server,
            "--repo-token", "unused-by-this-server-0123", "--format", "jsonl",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    mark = record["watermark"]
    assert mark["stored_as"] != mark["manifest_id"]  # the Node server names it its own way
    receipt = json.loads(Path(mark["receipt"]).read_text())
    assert receipt["@type"] == "org.c2pa.manifest-receipt"
    assert receipt["repository"]["manifestId"] == mark["stored_as"]
    client = ResolverClient(node_server)
    client.discover()  # the API lives under the well-known document's apiEndpoint (/v1)
    assert client.verify_receipt(mark["stored_as"], receipt)["verified"] is True

    copy = tmp_path / "copy.jpg"
    strip_picture(Path(record["output"]), copy)
    result = runner.invoke(
        app,
        ["check", str(copy), "--resolver", node_server, "--trust-anchors", str(root),
         "--format", "jsonl"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert report["verdict"] == "RECOVERED", report["summary"]
    assert report["recovery"]["manifest_id"] == mark["stored_as"]
    assert report["recovery"]["method"] == "watermark"
    assert report["chain"]["issuer"]["organization"] == "Interop Newsroom"
