"""Store routes: ``POST /manifests``, ``DELETE /manifests/{id}``, ``POST``/``PUT /bindings``.

Writes need a server started with writes and ``Authorization: Bearer <token>`` (403 on a
read-only server, 401 without the token). A stored manifest store is indexed by the soft
bindings its active manifest declares; ``/bindings`` adds (or moves) a binding, which must
be one the manifest declares (C2PA §18.10.5.1 would reject any other at recovery).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from provenance._clock import utc_text
from provenance.credentials import _c2pa
from provenance.durable._limits import check_facts
from provenance.durable.repository import Binding, RepositoryError
from provenance.durable.server.common import (
    CTX,
    ApiError,
    Context,
    b64_value,
    check_alg,
    error_response,
    read_body,
    read_json,
    require_writer,
)
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    WATERMARK_ALG,
    declared_bindings,
    manifest_id_hex,
    new_manifest_id,
)

__all__ = ["router"]

RECEIPT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "@context": {"type": "object"},
        "@type": {"type": "string", "example": "org.c2pa.manifest-receipt"},
        "repository": {
            "type": "object",
            "properties": {"uri": {"type": "string"}, "manifestId": {"type": "string"}},
        },
        "anchor": {
            "type": "object",
            "properties": {
                "uri": {"type": "string"},
                "proof": {
                    "type": "object",
                    "properties": {
                        "alg": {"type": "string", "example": "Ed25519"},
                        "keyId": {"type": "string"},
                        "value": {"type": "string"},
                    },
                },
                "parameters": {"type": "object", "additionalProperties": True},
            },
        },
        "verified": {"type": "boolean"},
        "error": {"type": "string"},
    },
}
_BINDING_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["bindingValue", "manifestId"],
                "properties": {
                    "bindingValue": {"type": "string", "format": "byte"},
                    "manifestId": {"type": "string"},
                    "alg": {
                        "type": "string",
                        "description": "Optional; by default inferred from the value's length "
                        f"(8 bytes {WATERMARK_ALG}, 32 bytes {FINGERPRINT_ALG}).",
                    },
                },
            }
        }
    },
}
_WRITE_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    400: error_response("Invalid request"),
    401: error_response("Missing or wrong token"),
    403: error_response("The server is read-only"),
}


def _summary(store: bytes) -> Mapping[str, Any]:
    summary = _c2pa.store_summary(store)
    if not summary.get("active_manifest"):
        raise ApiError(400, "bad_store", "the body is not a readable C2PA manifest store")
    return summary


def _index(ctx: Context, store: bytes, summary: Mapping[str, Any], facts: dict[str, Any]) -> str:
    """Store ``store`` under its watermark identifier (or a fresh one); return the id."""
    declared = declared_bindings(summary)
    marks = {b.value for b in declared if b.alg == WATERMARK_ALG and len(b.value) == 8}
    if len(marks) > 1:
        raise ApiError(
            400,
            "several_watermarks",
            f"the active manifest declares {len(marks)} {WATERMARK_ALG} identifiers",
        )
    if marks:
        mid = next(iter(marks)).hex()
        if ctx.repo.info(mid) is not None:
            if ctx.repo.get(mid) == store:
                return mid
            raise ApiError(
                400,
                "duplicate_manifest_id",
                f"manifest identifier {mid} is already stored for another manifest store",
            )
    else:
        mid = manifest_id_hex(new_manifest_id(lambda h: ctx.repo.info(h) is not None))
    bindings = [Binding(WATERMARK_ALG, v) for v in marks]
    bindings += [
        Binding(FINGERPRINT_ALG, b.value)
        for b in declared
        if b.alg == FINGERPRINT_ALG and len(b.value) == 32
    ]
    try:
        ctx.repo.put(
            store,
            manifest_id=mid,
            bindings=bindings,
            label=str(summary["active_manifest"]),
            **facts,
        )
    except RepositoryError as exc:
        if exc.code == "duplicate_manifest_id":
            raise ApiError(400, exc.code, exc.message) from None
        raise
    return mid


def _issue_receipt(ctx: Context, request: Request, mid: str, store: bytes) -> dict[str, Any]:
    assert ctx.receipt_key is not None
    stamp = utc_text()
    base = str(request.base_url).rstrip("/")
    receipt = ctx.receipt_key.issue(repository=base, manifest_id=mid, store=store, issued_at=stamp)
    ctx.repo.put_receipt(
        mid,
        json.dumps(receipt, sort_keys=True),
        public_key=ctx.receipt_key.public_key,
        issued_at=stamp,
    )
    return receipt


def _binding(ctx: Context, doc: dict[str, Any]) -> tuple[Binding, str]:
    """The binding and manifest a ``/bindings`` body names (404 unknown manifest)."""
    value, mid, alg = doc.get("bindingValue"), doc.get("manifestId"), doc.get("alg")
    if not isinstance(value, str) or not value or not isinstance(mid, str) or not mid:
        raise ApiError(400, "bad_request", "the body needs string 'bindingValue' and 'manifestId'")
    if alg is not None and not isinstance(alg, str):
        raise ApiError(400, "bad_request", "'alg' must be a string")
    store = ctx.repo.get(mid) if len(mid) <= 200 else None
    if store is None:
        raise ApiError(404, "not_found", f"no manifest {mid!r} in this repository")
    raw = b64_value(value)
    if alg is None:
        alg = {8: WATERMARK_ALG, 32: FINGERPRINT_ALG}.get(len(raw))
        if alg is None:
            raise ApiError(
                400,
                "bad_value",
                f"a {len(raw)}-byte value matches no supported algorithm; give 'alg'",
            )
    binding = Binding(check_alg(alg), raw)
    if binding not in {Binding(b.alg, b.value) for b in declared_bindings(_summary(store))}:
        raise ApiError(
            400, "binding_not_declared", f"manifest {mid} does not declare this {alg} value"
        )
    return binding, mid


router = APIRouter(tags=["store"])
"""The store routes; the handlers get the app's :class:`Context` through ``CTX``."""


@router.post(
    "/manifests",
    operation_id="storeManifest",
    summary="Store a C2PA Manifest Store",
    description=(
        "The body is a C2PA manifest store (application/c2pa). When its active manifest "
        f"declares a {WATERMARK_ALG} soft binding, that identifier becomes the manifestId "
        "(storing the same bytes again answers the same id); otherwise a fresh one is "
        "drawn. Declared soft bindings are indexed. returnReceipt=true adds a receipt "
        "signed with the server's Ed25519 key. Optional facts about the published file "
        "as query parameters."
    ),
    responses={
        200: {
            "description": "Stored",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["manifestId"],
                        "properties": {
                            "manifestId": {"type": "string"},
                            "receipt": RECEIPT_SCHEMA,
                        },
                    }
                }
            },
        },
        **_WRITE_ERRORS,
        413: error_response("Manifest store too large"),
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
    returnReceipt: bool = False,  # noqa: N803
    mediaType: str | None = None,  # noqa: N803
    title: str | None = None,
    sha256: str | None = None,
    width: int | None = None,
    height: int | None = None,
    ctx: Context = CTX,
) -> JSONResponse:
    require_writer(ctx, request)
    check_facts(mediaType=mediaType, title=title, sha256=sha256, width=width, height=height)
    store = await read_body(request, ctx.max_upload)
    if not store:
        raise ApiError(400, "empty_body", "the body is empty")
    summary = await run_in_threadpool(_summary, store)
    facts = {
        "media_type": mediaType,
        "title": title,
        "sha256": sha256,
        "width": width,
        "height": height,
    }
    mid = await run_in_threadpool(_index, ctx, store, summary, facts)
    body: dict[str, Any] = {"manifestId": mid}
    if returnReceipt:
        body["receipt"] = await run_in_threadpool(_issue_receipt, ctx, request, mid, store)
    return JSONResponse(body, status_code=200)


@router.delete(
    "/manifests/{manifestId}",
    operation_id="deleteManifest",
    summary="Remove a manifest store, its bindings and its receipt",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Deleted"},
        **_WRITE_ERRORS,
        404: error_response("Not found"),
    },
)
def delete_manifest(request: Request, manifestId: str, ctx: Context = CTX) -> Response:  # noqa: N803
    require_writer(ctx, request)
    if len(manifestId) > 200 or not ctx.repo.remove(manifestId):
        raise ApiError(404, "not_found", f"no manifest {manifestId!r} in this repository")
    return Response(status_code=204)


async def _bind(ctx: Context, request: Request, *, replace: bool) -> Response:
    require_writer(ctx, request)
    doc = await read_json(request)
    binding, mid = await run_in_threadpool(_binding, ctx, doc)
    if not await run_in_threadpool(lambda: ctx.repo.bind(binding, mid, replace=replace)):
        raise ApiError(404, "not_found", "no such soft binding in this repository")
    return Response(status_code=204)


responses: dict[int | str, dict[str, Any]] = {
    204: {"description": "Done"},
    **_WRITE_ERRORS,
    404: error_response("Manifest (or, for PUT, binding) not found"),
    413: error_response("Body too large"),
}
extra = {"requestBody": _BINDING_BODY}


@router.post(
    "/bindings",
    operation_id="createBinding",
    summary="Associate a soft binding value with a stored manifest",
    status_code=204,
    response_class=Response,
    responses=responses,
    openapi_extra=extra,
)
async def create_binding(request: Request, ctx: Context = CTX) -> Response:
    return await _bind(ctx, request, replace=False)


@router.put(
    "/bindings",
    operation_id="updateBinding",
    summary="Point an existing soft binding value at another stored manifest",
    status_code=204,
    response_class=Response,
    responses=responses,
    openapi_extra=extra,
)
async def update_binding(request: Request, ctx: Context = CTX) -> Response:
    return await _bind(ctx, request, replace=True)
