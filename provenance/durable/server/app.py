"""Assemble the application: settings, error handlers, the route modules, the OpenAPI document."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import provenance
from provenance.durable._limits import DecodeGate, LimitError
from provenance.durable.receipts import ReceiptKey
from provenance.durable.repository import Repository, RepositoryError
from provenance.durable.server import API_VERSION, fetch, query, service, store
from provenance.durable.server.common import ApiError, Context
from provenance.durable.softbinding import FINGERPRINT_ALG, WATERMARK_ALG
from provenance.errors import ProvenanceError
from provenance.media.budget import SERVER_DECODES, SERVER_MAX_PIXELS

__all__ = ["build_app"]

_TAGS = [
    {"name": "query", "description": "Find manifests by soft binding, content or reference."},
    {"name": "fetch", "description": "Get a manifest store or its receipt."},
    {
        "name": "store",
        "description": "Store and delete manifests and bindings (writes enabled only).",
    },
    {"name": "service", "description": "What the service supports, and its status."},
]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "code": code}, status_code=status)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(LimitError)
    async def limit_error(request: Request, exc: LimitError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(RepositoryError)
    async def repo_error(request: Request, exc: RepositoryError) -> JSONResponse:
        return _error(503 if exc.code == "repository_io" else 400, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", ""))
        return _error(400, "bad_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal", f"internal error: {type(exc).__name__}")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The document: no 422 responses (validation errors are 400), bearer auth on writes."""
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        for item in doc.get("paths", {}).values():
            for op in item.values():
                op.get("responses", {}).pop("422", None)
                if "store" in op.get("tags", ()):
                    op["security"] = [{"bearer": []}]
        doc.setdefault("components", {})["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "The token given to verify serve (--token); reads are open.",
            }
        }
        schemas = doc.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        if not schemas:
            doc["components"].pop("schemas", None)
        app.openapi_schema = doc
    return app.openapi_schema


def build_app(
    repo_path: str | os.PathLike[str],
    *,
    allow_writes: bool,
    token: str | None,
    max_upload: int,
    wm_keys: Sequence[bytes | str],
    receipt_key: ReceiptKey | None,
    private_references: bool,
    max_pixels: int = SERVER_MAX_PIXELS,
    max_decodes: int = SERVER_DECODES,
) -> FastAPI:
    """See :func:`provenance.durable.server.create_app`."""
    if allow_writes and (token is None or len(token) < 16):
        raise ProvenanceError(
            "writes need a token of at least 16 characters (--token)", code="bad_config"
        )
    if not isinstance(max_upload, int) or max_upload < 1024:
        raise ProvenanceError("max_upload must be at least 1024 bytes", code="bad_config")
    if max_pixels < 1:
        raise ProvenanceError("max_pixels must be at least 1", code="bad_config")
    gate = DecodeGate(max_decodes, max_pixels)
    repo = Repository.open(Path(repo_path), create=allow_writes)
    if allow_writes and receipt_key is None:
        receipt_key = ReceiptKey.generate()
    ctx = Context(
        repo,
        allow_writes,
        token,
        max_upload,
        tuple(wm_keys),
        receipt_key,
        private_references,
        gate,
    )
    app = FastAPI(
        title="C2PA Soft Binding Resolution API (Jinjja)",
        version=API_VERSION,
        description=(
            f"The C2PA Soft Binding Resolution API {API_VERSION} over a Jinjja manifest "
            f"repository. Watermark algorithm {WATERMARK_ALG}, fingerprint algorithm "
            f"{FINGERPRINT_ALG} (spec/softbinding.md). Errors are JSON "
            '{"error": <message>, "code": <code>}.'
        ),
        openapi_tags=_TAGS,
    )
    _handlers(app)
    app.state.context = ctx
    for module in (query, fetch, store, service):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.state.repository = repo
    app.state.version = provenance.__version__
    return app
