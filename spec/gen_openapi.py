"""Write ``spec/openapi.json``: the OpenAPI document of the resolver server.

Run ``python spec/gen_openapi.py`` after changing :mod:`provenance.durable.server`; the test
``tests/unit/provenance/durable/test_server.py`` regenerates the document and fails when the saved
copy differs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "openapi.json"


def document() -> dict[str, Any]:
    """The OpenAPI document of an app with writes enabled (every route)."""
    from provenance.durable.server import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Path(tmp) / "repo.db", allow_writes=True, token="t" * 32)
        doc = app.openapi()
        app.state.repository.close()
    return doc


def render() -> str:
    """The document as it is saved (sorted keys, 2-space indent, final newline)."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    """Write the document; print where."""
    OUT.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {OUT}\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    raise SystemExit(main())
