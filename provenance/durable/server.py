"""An HTTP server for the C2PA soft-binding resolution API over a manifest repository.

:func:`create_app` returns a FastAPI (ASGI) application serving a
:class:`~provenance.durable.repository.Repository`:

* ``GET /matches/byBinding?alg=&value=&maxResults=`` and ``POST /matches/byBinding``
  (body ``{"alg": ..., "value": ...}``, for values too long for a URL);
* ``POST /matches/byContent``: the body is a picture or video (``Content-Type: image/*`` or
  ``video/*``); the server reads the watermark and computes the PDQ fingerprint itself;
* ``GET /manifests/{manifestId}``: the manifest store (``application/c2pa``);
* ``GET /services/supportedAlgorithms``;
* ``POST /manifests`` (this project's addition): store a manifest store, indexed by the soft
  bindings it declares. Only when the app is created with ``allow_writes=True`` and a
  token, and only with ``Authorization: Bearer <token>``.

Query results have the spec's shape ``{"matches": [{"manifestId", "similarityScore"}]}``.
Every error is a JSON body ``{"error": {"code": ..., "message": ...}}`` with a 4xx status
(5xx only for bugs). Uploads larger than ``max_upload`` bytes are refused with 413 before
they are read in full. The OpenAPI document is served at ``/openapi.json`` and saved as
``spec/openapi.json`` (``spec/gen_openapi.py``).

FastAPI and Starlette are imported when :func:`create_app` is called (extra ``server``).
"""

import base64
import binascii
import hmac
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from provenance.durable._limits import (
    DEFAULT_DECODES,
    MAX_DIMENSION,
    MAX_TEXT,
    DecodeGate,
    LimitError,
    check_int,
    check_text,
    log_disconnect,
    refuse_large,
)
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    IMAGE_MEDIA_TYPES,
    SUPPORTED_ALGS,
    VIDEO_MEDIA_TYPES,
    WATERMARK_ALG,
)
from provenance.errors import ProvenanceError
from provenance.media.budget import SERVER_MAX_PIXELS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from provenance.durable.repository import Repository

__all__ = ["API_VERSION", "DEFAULT_MAX_UPLOAD", "MAX_RESULTS", "create_app"]

API_VERSION: Final = "1.0.0"
"""Version of this server's API document."""
DEFAULT_MAX_UPLOAD: Final = 50 * 1024 * 1024
"""Default largest request body (bytes) for uploads and stored manifests."""
MAX_RESULTS: Final = 100
"""Largest ``maxResults`` accepted."""
_MAX_JSON: Final = 64 * 1024
_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")

_MATCHES_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "matches": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["manifestId"],
                "properties": {
                    "manifestId": {"type": "string"},
                    "endpoint": {"type": "string"},
                    "similarityScore": {"type": "integer", "minimum": 0, "maximum": 100},
                },
            },
        }
    },
}
_ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


def _error_response(status: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    }


def _query_responses() -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "Successful operation",
            "content": {"application/json": {"schema": _MATCHES_SCHEMA}},
        },
        400: _error_response(400, "Invalid query value"),
    }


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _decode_value(alg: str, value: str) -> bytes:
    if alg not in SUPPORTED_ALGS:
        raise _ApiError(
            400,
            "unsupported_alg",
            f"unsupported algorithm {alg!r}; supported: {', '.join(sorted(SUPPORTED_ALGS))}",
        )
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _ApiError(400, "bad_value", "'value' is not valid base64") from None
    want = 8 if alg == WATERMARK_ALG else 32
    if len(raw) != want:
        raise _ApiError(
            400, "bad_value", f"a {alg} value is {want} bytes (base64), not {len(raw)} bytes"
        )
    return raw


def _check_max(max_results: int) -> int:
    if not 1 <= max_results <= MAX_RESULTS:
        raise _ApiError(400, "bad_max_results", f"maxResults must be 1..{MAX_RESULTS}")
    return max_results


def _matches_body(found: Sequence[Any]) -> dict[str, Any]:
    return {
        "matches": [{"manifestId": m.manifest_id, "similarityScore": m.similarity} for m in found]
    }


def _by_content(
    repo: "Repository",
    data: bytes,
    media_type: str,
    *,
    alg: str | None,
    max_results: int,
    wm_keys: Sequence[bytes | str],
) -> dict[str, Any]:
    from provenance.durable.resolver import _detect, _pdq

    best: dict[str, tuple[int, Any]] = {}

    def add(items: Sequence[Any]) -> None:
        for m in items:
            if m.manifest_id not in best or m.similarity > best[m.manifest_id][0]:
                best[m.manifest_id] = (m.similarity, m)

    if alg in (None, WATERMARK_ALG):
        for mark in _detect(data, media_type, wm_keys):
            if mark.payload is not None:
                add(repo.by_binding(WATERMARK_ALG, mark.payload, max_results=max_results))
    if alg in (None, FINGERPRINT_ALG):
        hashed = _pdq(data, media_type)
        if hashed is not None:
            add(repo.by_fingerprints([v.digest for v in hashed.variants], max_results=max_results))
    ranked = sorted(best.values(), key=lambda t: -t[0])[:max_results]
    return _matches_body([m for _, m in ranked])


def create_app(
    repo_path: str | os.PathLike[str],
    *,
    allow_writes: bool = False,
    token: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    wm_keys: Sequence[bytes | str] = (),
    max_pixels: int = SERVER_MAX_PIXELS,
    max_decodes: int = DEFAULT_DECODES,
) -> "FastAPI":
    """Build the resolver application for one repository file.

    Parameters
    ----------
    repo_path
        The repository (SQLite) file. It must exist unless ``allow_writes`` is true, in
        which case it is created.
    allow_writes
        Enable ``POST /manifests`` (needs ``token``).
    token
        The bearer token ``POST /manifests`` requires (at least 16 characters).
    max_upload
        Largest accepted request body in bytes (uploads and stored manifests).
    wm_keys
        Private watermark keys tried, after the public key, by ``/matches/byContent``.
    max_pixels
        Uploads whose header declares more pixels get 413 before decoding.
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
        from fastapi import FastAPI, Request
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse, Response
        from starlette.concurrency import run_in_threadpool
        from starlette.exceptions import HTTPException as StarletteHTTPException
        from starlette.requests import ClientDisconnect
    except ImportError:
        raise ProvenanceError(
            "the resolver server needs FastAPI and uvicorn: pip install 'jinjja[server]'",
            code="missing_dependency",
        ) from None
    import provenance
    from provenance.durable.repository import Binding, Repository, RepositoryError

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
    keys = tuple(wm_keys)

    app = FastAPI(
        title="Jinjja soft-binding resolution API",
        version=API_VERSION,
        description=(
            "The C2PA Soft Binding Resolution API (C2PA 2.2) over a Jinjja manifest "
            f"repository. Watermark algorithm {WATERMARK_ALG}, fingerprint algorithm "
            f"{FINGERPRINT_ALG} (spec/softbinding.md). Errors are JSON "
            '{"error": {"code", "message"}}.'
        ),
        openapi_tags=[
            {"name": "query", "description": "Find manifests by soft binding or content."},
            {"name": "fetch", "description": "Get a manifest store."},
            {"name": "service", "description": "What the service supports."},
            {"name": "store", "description": "Add manifests (writes enabled only)."},
        ],
    )
    app.state.repository = repo

    def error(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    @app.exception_handler(_ApiError)
    async def _api_error(request: Request, exc: _ApiError) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(LimitError)
    async def _limit_error(request: Request, exc: LimitError) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(RepositoryError)
    async def _repo_error(request: Request, exc: RepositoryError) -> JSONResponse:
        status = 503 if exc.code == "repository_io" else 400
        return error(status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path"))
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", ""))
        return error(400, "bad_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return error(500, "internal", f"internal error: {type(exc).__name__}")

    async def read_body(request: Request, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise _ApiError(400, "bad_request", "malformed Content-Length") from None
            if size > limit:
                raise _ApiError(
                    413, "too_large", f"the body is {size} bytes; at most {limit} are accepted"
                )
        chunks: list[bytes] = []
        total = 0
        try:
            async for chunk in request.stream():
                total += len(chunk)
                if total > limit:
                    raise _ApiError(413, "too_large", f"the body exceeds {limit} bytes")
                chunks.append(chunk)
        except ClientDisconnect:
            log_disconnect(request.url.path)
            raise _ApiError(400, "client_disconnected", "the client went away") from None
        return b"".join(chunks)

    @app.get(
        "/matches/byBinding",
        tags=["query"],
        operation_id="queryByBinding",
        summary="Returns active C2PA Manifest identifiers corresponding to a soft binding",
        responses=_query_responses(),
    )
    def query_by_binding(alg: str, value: str, maxResults: int = 10) -> dict[str, Any]:  # noqa: N803
        raw = _decode_value(alg, value)
        return _matches_body(repo.by_binding(alg, raw, max_results=_check_max(maxResults)))

    @app.post(
        "/matches/byBinding",
        tags=["query"],
        operation_id="queryByLargeBinding",
        summary="Returns active C2PA Manifest identifiers corresponding to a large soft binding",
        responses=_query_responses(),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["alg", "value"],
                            "properties": {
                                "alg": {"type": "string"},
                                "value": {"type": "string", "format": "byte"},
                            },
                        }
                    }
                },
            }
        },
    )
    async def query_by_large_binding(request: Request, maxResults: int = 10) -> dict[str, Any]:  # noqa: N803
        body = await read_body(request, _MAX_JSON)
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _ApiError(400, "bad_json", "the body is not valid JSON") from None
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("alg"), str)
            or not isinstance(doc.get("value"), str)
        ):
            raise _ApiError(
                400, "bad_request", "the body must be a JSON object with string 'alg' and 'value'"
            )
        raw = _decode_value(doc["alg"], doc["value"])
        found = await run_in_threadpool(
            repo.by_binding, doc["alg"], raw, max_results=_check_max(maxResults)
        )
        return _matches_body(found)

    @app.post(
        "/matches/byContent",
        tags=["query"],
        operation_id="queryByContent",
        summary="Finds C2PA Manifest identifiers using a digital asset",
        description=(
            "The body is the asset itself (JPEG, PNG, WebP, TIFF, MP4 or MOV). The server "
            "reads the watermark and computes the PDQ fingerprint."
        ),
        responses={
            **_query_responses(),
            413: _error_response(413, "Asset too large"),
            415: _error_response(415, "Invalid asset type"),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}}
                    for t in (*IMAGE_MEDIA_TYPES, *VIDEO_MEDIA_TYPES)
                },
            }
        },
    )
    async def query_by_content(
        request: Request,
        alg: str | None = None,
        maxResults: int = 10,  # noqa: N803
        hintAlg: str | None = None,  # noqa: N803
        hintValue: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        from provenance.media.inspect import sniff_media_type

        limit = _check_max(maxResults)
        check_text("hintValue", hintValue, 4 * MAX_TEXT)
        if alg is not None and alg not in SUPPORTED_ALGS:
            raise _ApiError(400, "unsupported_alg", f"unsupported algorithm {alg!r}")
        declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not declared.startswith(("image/", "video/", "application/octet-stream")):
            raise _ApiError(415, "unsupported_media_type", "send the asset as image/* or video/*")
        data = await read_body(request, max_upload)
        if not data:
            raise _ApiError(400, "empty_body", "the body is empty")
        media_type = sniff_media_type(data[:512])
        if media_type not in IMAGE_MEDIA_TYPES and media_type not in VIDEO_MEDIA_TYPES:
            raise _ApiError(
                415,
                "unsupported_media_type",
                "the body is not a JPEG, PNG, WebP, TIFF, MP4 or MOV file",
            )
        refuse_large(data, media_type, max_pixels)
        result = await gate.run(
            lambda: _by_content(repo, data, media_type, alg=alg, max_results=limit, wm_keys=keys)
        )
        if hintAlg is not None and hintValue is not None and hintAlg in SUPPORTED_ALGS:
            try:
                hinted = repo.by_binding(
                    hintAlg, _decode_value(hintAlg, hintValue), max_results=limit
                )
            except _ApiError:
                hinted = []
            known = {m["manifestId"] for m in result["matches"]}
            extra = _matches_body([m for m in hinted if m.manifest_id not in known])
            result["matches"] = (result["matches"] + extra["matches"])[:limit]
        return result

    @app.get(
        "/manifests/{manifestId}",
        tags=["fetch"],
        operation_id="getManifestById",
        summary="Returns a C2PA Manifest Store",
        description=(
            "The identifier is the 16-hex-digit manifest identifier or the label of the "
            "active manifest (urn:c2pa:...). returnActiveManifest=true is served only when "
            "the store holds that one manifest."
        ),
        responses={
            200: {
                "description": "Successful operation",
                "content": {"application/c2pa": {"schema": {"type": "string", "format": "binary"}}},
            },
            400: _error_response(400, "Invalid query value"),
            404: _error_response(404, "C2PA Manifest not found"),
            501: _error_response(501, "Active manifest alone not available"),
        },
        response_class=Response,
    )
    def get_manifest(manifestId: str, returnActiveManifest: bool = False) -> Response:  # noqa: N803
        if not manifestId or len(manifestId) > 200:
            raise _ApiError(400, "bad_manifest_id", "malformed manifest identifier")
        store = repo.get(manifestId)
        if store is None:
            raise _ApiError(404, "not_found", f"no manifest {manifestId!r} in this repository")
        if returnActiveManifest:
            from provenance.credentials import _c2pa

            manifests = _c2pa.store_summary(store).get("manifests")
            if not isinstance(manifests, dict) or len(manifests) != 1:
                raise _ApiError(
                    501,
                    "not_supported",
                    "this store holds a history of manifests; only the whole store is served",
                )
        return Response(content=store, media_type="application/c2pa")

    @app.get(
        "/services/supportedAlgorithms",
        tags=["service"],
        operation_id="getSupportedBindings",
        summary="Returns a list of the soft binding algorithms supported by the service",
    )
    def supported_algorithms() -> dict[str, Any]:
        return {"watermarks": [{"alg": WATERMARK_ALG}], "fingerprints": [{"alg": FINGERPRINT_ALG}]}

    @app.post(
        "/manifests",
        tags=["store"],
        operation_id="storeManifest",
        summary="Store a manifest store (writes enabled only)",
        description=(
            "The body is a C2PA manifest store (application/c2pa) whose active manifest "
            f"declares a {WATERMARK_ALG} soft binding; its identifier becomes the manifestId. "
            "Needs 'Authorization: Bearer <token>'. Optional facts about the published file "
            "as query parameters."
        ),
        status_code=201,
        responses={
            201: {
                "description": "Stored",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["manifestId"],
                            "properties": {"manifestId": {"type": "string"}},
                        }
                    }
                },
            },
            400: _error_response(400, "Invalid manifest store"),
            401: _error_response(401, "Missing or wrong token"),
            403: _error_response(403, "The server is read-only"),
            409: _error_response(409, "Identifier already stored"),
            413: _error_response(413, "Manifest store too large"),
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/c2pa": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def store_manifest(
        request: Request,
        mediaType: str | None = None,  # noqa: N803
        title: str | None = None,
        sha256: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> JSONResponse:
        if not allow_writes or token is None:
            raise _ApiError(403, "read_only", "this server is read-only (start it with writes)")
        given = request.headers.get("authorization", "")
        scheme, _, presented = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            raise _ApiError(401, "unauthorized", "missing or wrong bearer token")
        check_int("width", width, 1, MAX_DIMENSION)
        check_int("height", height, 1, MAX_DIMENSION)
        check_text("title", title)
        check_text("mediaType", mediaType, 255)
        if sha256 is not None and not _SHA256.fullmatch(sha256):
            raise _ApiError(400, "bad_sha256", "sha256 must be 64 hexadecimal digits")
        store = await read_body(request, max_upload)
        if not store:
            raise _ApiError(400, "empty_body", "the body is empty")
        from provenance.credentials import _c2pa
        from provenance.durable.softbinding import declared_bindings

        summary = await run_in_threadpool(_c2pa.store_summary, store)
        if not summary.get("active_manifest"):
            raise _ApiError(400, "bad_store", "the body is not a readable C2PA manifest store")
        declared = declared_bindings(summary)
        marks = [b.value for b in declared if b.alg == WATERMARK_ALG and len(b.value) == 8]
        if len(set(marks)) != 1:
            raise _ApiError(
                400,
                "no_watermark_binding",
                f"the active manifest must declare exactly one {WATERMARK_ALG} identifier",
            )
        bindings = [Binding(WATERMARK_ALG, marks[0])]
        bindings += [
            Binding(FINGERPRINT_ALG, b.value)
            for b in declared
            if b.alg == FINGERPRINT_ALG and len(b.value) == 32
        ]
        mid = marks[0].hex()
        try:
            await run_in_threadpool(
                lambda: repo.put(
                    store,
                    manifest_id=mid,
                    bindings=bindings,
                    label=str(summary["active_manifest"]),
                    media_type=mediaType,
                    title=title,
                    sha256=sha256,
                    width=width,
                    height=height,
                )
            )
        except RepositoryError as exc:
            if exc.code == "duplicate_manifest_id":
                raise _ApiError(409, exc.code, exc.message) from None
            raise
        return JSONResponse({"manifestId": mid}, status_code=201)

    def openapi() -> dict[str, Any]:
        # Validation errors are answered with 400 and the JSON error body, not FastAPI's 422.
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

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
            schemas = doc.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            if "components" in doc and not schemas:
                doc["components"].pop("schemas", None)
                if not doc["components"]:
                    doc.pop("components")
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.version = provenance.__version__
    return app
