"""An HTTP server for the C2PA Soft Binding Resolution API 2.4.0 over a manifest repository.

:func:`create_app` returns a FastAPI (ASGI) application serving a
:class:`~provenance.durable.repository.Repository`. The routes live in one module per tag:

* :mod:`.query`: ``GET``/``POST /matches/byBinding``, ``POST /matches/byContent`` (the
  server reads the watermark and the PDQ fingerprint itself) and
  ``POST /matches/byReference`` (the server fetches the asset from a URL);
* :mod:`.fetch`: ``GET /manifests/{manifestId}`` and ``GET``/``POST
  /manifests/{manifestId}/receipts`` (retrieve and verify a receipt);
* :mod:`.store`: ``POST /manifests`` (200, optional ``returnReceipt``),
  ``DELETE /manifests/{manifestId}`` (204, bindings and receipt go too),
  ``POST``/``PUT /bindings`` (204); only when writes are enabled, with
  ``Authorization: Bearer <token>``;
* :mod:`.service`: ``GET /services/supportedAlgorithms``, ``/services/capabilities``,
  ``/services/status`` and ``GET /.well-known/c2pa-soft-binding-resolution``.

Every error is a JSON body ``{"error": <message>, "code": <code>}`` with a 4xx status (5xx
only for bugs; 502 when a referenced asset cannot be fetched). Uploads larger than
``max_upload`` bytes are refused with 413 before they are read in full. The OpenAPI
document is served at ``/openapi.json`` and saved as ``spec/openapi.json``
(``spec/gen_openapi.py``); its ``info.version`` is :data:`API_VERSION`.

FastAPI and Starlette are imported when :func:`create_app` is called (extra ``server``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from provenance.errors import ProvenanceError
from provenance.media.budget import SERVER_DECODES, SERVER_MAX_PIXELS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from provenance.durable.receipts import ReceiptKey

__all__ = ["API_VERSION", "DEFAULT_MAX_UPLOAD", "MAX_RESULTS", "create_app"]

API_VERSION: Final = "2.4.0"
"""Version of the Soft Binding Resolution API served (OpenAPI ``info.version`` and
``c2paSpecificationVersion``)."""
DEFAULT_MAX_UPLOAD: Final = 50 * 1024 * 1024
"""Default largest request body (bytes) for uploads, referenced assets and stored manifests."""
MAX_RESULTS: Final = 100
"""Largest ``maxResults`` accepted."""


# Over 60 lines only for its signature and docstring; the body is ~21 lines.
def create_app(
    repo_path: str | os.PathLike[str],
    *,
    allow_writes: bool = False,
    token: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    wm_keys: Sequence[bytes | str] = (),
    receipt_key: ReceiptKey | None = None,
    private_references: bool = False,
    max_pixels: int = SERVER_MAX_PIXELS,
    max_decodes: int = SERVER_DECODES,
) -> FastAPI:
    """Build the resolver application for one repository file.

    Parameters
    ----------
    repo_path
        The repository (SQLite) file. It must exist unless ``allow_writes`` is true, in
        which case it is created.
    allow_writes
        Enable the store routes (needs ``token``).
    token
        The bearer token the store routes require (at least 16 characters).
    max_upload
        Largest accepted request body or referenced asset, in bytes.
    wm_keys
        Private watermark keys tried, after the public key, by the content queries.
    receipt_key
        The key receipts are signed with; with writes and no key, a fresh key is made for
        this process (receipts it issued stay verifiable: the repository keeps each
        receipt's public key).
    private_references
        Let ``/matches/byReference`` fetch from loopback and private addresses.
    max_pixels
        Uploads whose header declares more pixels get 413 before decoding
        (``spec/limits.md``).
    max_decodes
        Uploads decoded at the same time (the others wait their turn).

    Returns
    -------
    fastapi.FastAPI
        The ASGI application (serve it with uvicorn).

    Raises
    ------
    ProvenanceError
        ``missing_dependency`` without FastAPI, ``bad_config`` for writes without a good
        token or a bad ``max_upload``, or a repository error.
    """
    try:
        # optional extra: server (FastAPI, Starlette)
        from provenance.durable.server.app import build_app
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("fastapi", "starlette", "pydantic"):
            raise
        raise ProvenanceError(
            "the resolver server needs FastAPI and uvicorn: pip install 'jinjja[server]'",
            code="missing_dependency",
        ) from None
    return build_app(
        repo_path,
        allow_writes=allow_writes,
        token=token,
        max_upload=max_upload,
        wm_keys=wm_keys,
        receipt_key=receipt_key,
        private_references=private_references,
        max_pixels=max_pixels,
        max_decodes=max_decodes,
    )
