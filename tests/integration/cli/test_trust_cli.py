"""`verify trust update` (from a directory and from a local HTTP server) and `verify trust show`."""

from __future__ import annotations

import functools
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from provenance.testing.pki import make_pki
from verify_cli.app import app
from verify_cli.exit_codes import ExitCode


@pytest.fixture
def trust_dir(tmp_path: Path) -> Path:
    """A local source laid out like the official repositories, with generated roots."""
    src = tmp_path / "trust-src"
    official = src / "c2pa-conformance-public"
    interim = src / "cai-verify-site"
    official.mkdir(parents=True)
    interim.mkdir()
    signers = make_pki("Local Signers", algs=("es256",), seed=b"trust-1")
    tsas = make_pki("Local TSA", algs=("es256",), seed=b"trust-2")
    (official / "C2PA-TRUST-LIST.pem").write_bytes(signers.root_pem + signers.intermediate_pem)
    (official / "C2PA-TSA-TRUST-LIST.pem").write_bytes(tsas.root_pem)
    (interim / "anchors.pem").write_bytes(signers.root_pem)
    (interim / "allowed.pem").write_bytes(signers.credential("es256").cert_pem)
    (interim / "store.cfg").write_text("1.3.6.1.4.1.62558.2.1\n1.3.6.1.5.5.7.3.4\n")
    return src


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serve a directory over HTTP on 127.0.0.1; yields ``start(directory) -> base URL``."""
    servers: list[http.server.ThreadingHTTPServer] = []
    threads: list[threading.Thread] = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        servers.append(server)
        threads.append(thread)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(timeout=5)


def _show_json(runner: CliRunner) -> dict[str, Any]:
    result = runner.invoke(app, ["trust", "show", "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.output
    record: dict[str, Any] = json.loads(result.stdout)
    return record


def test_show_when_nothing_is_stored(runner: CliRunner, data_dir: Path) -> None:
    (data_dir / "trust.json").unlink()  # never updated: the shipped snapshots
    result = runner.invoke(app, ["trust", "show", "--format", "json"])
    assert result.exit_code == ExitCode.OK
    record = json.loads(result.stdout)
    assert record["data_dir"] == str(data_dir)
    assert [(row["name"], row["bundled"]) for row in record["lists"]] == [
        ("C2PA Trust List", True),
        ("C2PA TSA Trust List", True),
        ("CAI interim trust anchors", True),
    ]
    assert all(row["source"].startswith("github.com/") for row in record["lists"])
    assert "shipped with the package" in result.stderr
    assert "verify trust update" in result.stderr


def test_update_from_directory_then_show(
    runner: CliRunner, trust_dir: Path, data_dir: Path
) -> None:
    result = runner.invoke(app, ["trust", "update", "--from", str(trust_dir)])
    assert result.exit_code == ExitCode.OK, result.output
    assert result.stderr == f"verify: stored 2 trust list(s) in {data_dir}\n"
    record = _show_json(runner)
    names = [row["name"] for row in record["lists"]]
    assert names == ["C2PA Trust List", "C2PA TSA Trust List"]
    first = record["lists"][0]
    assert first["certificates"] == 2
    assert len(first["sha256"]) == 64
    assert first["source"].endswith("C2PA-TRUST-LIST.pem")
    assert Path(first["path"]).parent == data_dir
    table = runner.invoke(app, ["trust", "show"], env={"COLUMNS": "250"})
    assert table.exit_code == ExitCode.OK
    assert "C2PA TSA Trust List" in table.stdout
    assert first["sha256"][:12] in table.stdout


def test_stored_lists_are_used_by_check(runner: CliRunner, trust_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    from provenance.credentials.sign import capture_manifest, sign_file

    pki = make_pki("Local Signers", algs=("es256",), seed=b"trust-1")
    Image.new("RGB", (48, 32), (10, 20, 30)).save(tmp_path / "raw.jpg")
    signed = tmp_path / "signed.jpg"
    sign_file(
        tmp_path / "raw.jpg",
        signed,
        cert_chain_pem=pki.chain_pem("es256"),
        key_pem=pki.key_pem("es256"),
        alg="es256",
        manifest=capture_manifest("signed.jpg"),
    )
    before = runner.invoke(app, ["check", str(signed)])
    assert json.loads(before.stdout)["verdict"] == "VALID_UNTRUSTED"
    update = runner.invoke(app, ["trust", "update", "--from", str(trust_dir)])
    assert update.exit_code == ExitCode.OK
    after = runner.invoke(app, ["check", str(signed)])
    record = json.loads(after.stdout)
    assert record["verdict"] == "TRUSTED"
    assert "C2PA Trust List" in [t["name"] for t in record["tool"]["trust_sources"]]


@pytest.mark.network
def test_update_from_local_http_server_with_interim(
    runner: CliRunner, trust_dir: Path, serve: Any
) -> None:
    base = serve(trust_dir)
    result = runner.invoke(app, ["trust", "update", "--from", base, "--interim"])
    assert result.exit_code == ExitCode.OK, result.output
    record = _show_json(runner)
    sources = {row["name"]: row["source"] for row in record["lists"]}
    assert sources["C2PA Trust List"] == f"{base}/c2pa-conformance-public/C2PA-TRUST-LIST.pem"
    assert len(sources) == 5
    assert {row["kind"] for row in record["lists"]} == {"anchors", "allowed", "eku"}


@pytest.mark.network
@pytest.mark.shared
def test_update_from_shared_trust_over_http(
    runner: CliRunner, shared_dir: Path, serve: Any
) -> None:
    base = serve(shared_dir / "c2pa" / "trust")
    result = runner.invoke(app, ["trust", "update", "--from", base, "--format", "json"])
    assert result.exit_code == ExitCode.OK, result.output
    record = json.loads(result.stdout)
    by_name = {row["name"]: row for row in record["lists"]}
    official = by_name["C2PA Trust List"]
    assert official["certificates"] == 30
    assert official["issued"] is not None and official["issued"].startswith("2026-08-05")
    assert by_name["C2PA TSA Trust List"]["certificates"] == 22


@pytest.mark.shared
def test_update_from_shared_directory(runner: CliRunner, shared_dir: Path) -> None:
    source = shared_dir / "c2pa" / "trust"
    result = runner.invoke(app, ["trust", "update", "--from", str(source), "--interim"])
    assert result.exit_code == ExitCode.OK, result.output
    names = [row["name"] for row in _show_json(runner)["lists"]]
    assert "CAI interim trust anchors" in names


@pytest.mark.network
def test_network_error_is_exit_3(runner: CliRunner) -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(app, ["trust", "update", "--from", f"http://127.0.0.1:{port}"])
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("verify: Download failed: http://127.0.0.1:")


def test_http_404_is_exit_3(runner: CliRunner, tmp_path: Path, serve: Any) -> None:
    base = serve(tmp_path)  # serves an empty directory
    result = runner.invoke(app, ["trust", "update", "--from", base])
    assert result.exit_code == ExitCode.INPUT_ERROR
    assert "HTTP 404" in result.stderr


def test_bad_list_is_exit_3_and_keeps_the_old_store(runner: CliRunner, trust_dir: Path) -> None:
    ok = runner.invoke(app, ["trust", "update", "--from", str(trust_dir)])
    assert ok.exit_code == ExitCode.OK
    (trust_dir / "c2pa-conformance-public" / "C2PA-TRUST-LIST.pem").write_text("garbage\n")
    bad = runner.invoke(app, ["trust", "update", "--from", str(trust_dir)])
    assert bad.exit_code == ExitCode.INPUT_ERROR
    assert "no PEM certificate" in bad.stderr
    assert len(_show_json(runner)["lists"]) == 2


def test_from_neither_url_nor_directory_is_usage(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["trust", "update", "--from", str(tmp_path / "missing")])
    assert result.exit_code == ExitCode.USAGE
    assert "not a URL and not a directory" in result.stderr
