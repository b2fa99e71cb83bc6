"""Offline means offline: `check()` without network access opens no network socket.

Every shared fixture is checked in a child process traced with ``strace -f -e
trace=connect``, which sees the native C2PA library's own connects (DNS lookups for CAWG
identity/DID resolution, OCSP, remote manifests) as well as Python's. Any connect to an
``AF_INET``/``AF_INET6`` address fails the test. The Makefile installs strace when it is
missing. Needs ``$JINJJA_SHARED`` (skipped only when it is unset).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.shared

HERE = Path(__file__).parent
ROOT = HERE.parents[1]

_CHILD = r"""
import json, sys
from pathlib import Path
from provenance import check
fixtures, anchors, names = Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
for name, entry in names.items():
    kwargs = {}
    target = fixtures / name
    if "asset" in entry:
        kwargs["manifest"] = target
        target = fixtures / entry["asset"]
    if "fragments" in entry:
        kwargs["fragments"] = [fixtures / f for f in entry["fragments"]]
    report = check(target, trust_anchors=anchors, **kwargs)
    print(json.dumps({"name": name, "verdict": report.verdict.value,
                      "not_checked": list(report.not_checked)}))
"""
_CONNECT = re.compile(r"connect\(\d+, \{sa_family=(AF_INET6?)[^)]*\)")


def _strace() -> str:
    path = shutil.which("strace")
    assert path is not None, "strace is missing: `make test` installs it (apt-get install strace)"
    return path


def test_no_socket_opened_offline(shared_dir: Path, tmp_path: Path) -> None:
    expectations = json.loads((HERE / "expectations.json").read_text())
    anchors = [str(shared_dir / "c2pa" / "trust" / p) for p in expectations["trust_anchors"]]
    log = tmp_path / "connect.log"
    done = subprocess.run(
        [_strace(), "-f", "-qq", "-e", "trace=connect", "-o", str(log), sys.executable,
         "-c", _CHILD, str(shared_dir / "c2pa" / "fixtures"), json.dumps(anchors),
         json.dumps(expectations["files"])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(records) == len(expectations["files"])
    attempts = [m.group(0) for m in _CONNECT.finditer(log.read_text())]
    assert attempts == [], f"network connects while offline: {attempts[:5]}"
    identity = next(r for r in records if r["name"].endswith("adobe_connected_identities.jpg"))
    assert any("not checked offline" in line for line in identity["not_checked"])


def test_the_guard_sees_native_connects(tmp_path: Path) -> None:
    """The same trace catches a connect made outside Python's socket module (libc)."""
    log = tmp_path / "connect.log"
    code = (
        "import ctypes, socket\n"
        "s = socket.socket(); fd = s.fileno()\n"
        "addr = (b'\\x02\\x00' + (9).to_bytes(2, 'big') + bytes([127, 0, 0, 1]) + bytes(8))\n"
        "ctypes.CDLL(None).connect(fd, ctypes.c_char_p(addr), 16)\n"
    )
    subprocess.run(
        [_strace(), "-f", "-qq", "-e", "trace=connect", "-o", str(log), sys.executable, "-c", code],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert _CONNECT.search(log.read_text()) is not None
