"""Fetch routes: ``GET /manifests/{id}`` and ``GET``/``POST /manifests/{id}/receipts``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from provenance.credentials import _c2pa
from provenance.durable.receipts import verify_receipt
from provenance.durable.server.common import CTX, ApiError, Context, error_response, read_json
from provenance.durable.server.store import RECEIPT_SCHEMA

__all__ = ["router"]


def _store(ctx: Context, manifest_id: str) -> bytes:
    if not manifest_id or len(manifest_id) > 200:
        raise ApiError(400, "bad_manifest_id", "malformed manifest identifier")
    store = ctx.repo.get(manifest_id)
    if store is None:
        raise ApiError(404, "not_found", f"no manifest {manifest_id!r} in this repository")
    return store


def _checked(ctx: Context, manifest_id: str, receipt: Any, store: bytes) -> dict[str, Any]:
    """``receipt`` with ``verified`` (and ``error``): signed by a key this server used?"""
    trusted = [ctx.receipt_key.public_key] if ctx.receipt_key is not None else []
    kept = ctx.repo.receipt(manifest_id)
    if kept is not None:
        trusted.append(kept[1])
    info = ctx.repo.info(manifest_id)  # the path may name it by its active-manifest label
    mid = info.manifest_id if info is not None else manifest_id
    check = verify_receipt(receipt, trusted=trusted, store=store, manifest_id=mid)
    out = {**receipt, "verified": check.verified}
    if not check.verified:
        out["error"] = check.reason
    return out


router = APIRouter(tags=["fetch"])
"""The fetch routes; the handlers get the app's :class:`Context` through ``CTX``."""
receipt_json = {"application/json": {"schema": RECEIPT_SCHEMA}}


@router.get(
    "/manifests/{manifestId}",
    operation_id="getManifestById",
    summary="Returns a C2PA Manifest Store",
    description=(
        "The identifier is the manifestId or the label of the active manifest "
        "(urn:c2pa:...). returnActiveManifest=true is served only when the store holds "
        "that one manifest."
    ),
    responses={
        200: {
            "description": "Successful operation",
            "content": {"application/c2pa": {"schema": {"type": "string", "format": "binary"}}},
        },
        400: error_response("Invalid query value"),
        404: error_response("C2PA Manifest not found"),
        501: error_response("Active manifest alone not available"),
    },
    response_class=Response,
)
def get_manifest(
    manifestId: str, returnActiveManifest: bool = False, ctx: Context = CTX
) -> Response:  # noqa: N803
    store = _store(ctx, manifestId)
    if returnActiveManifest:
        manifests = _c2pa.store_summary(store).get("manifests")
        if not isinstance(manifests, dict) or len(manifests) != 1:
            raise ApiError(
                501,
                "not_supported",
                "this store holds a history of manifests; only the whole store is served",
            )
    return Response(content=store, media_type="application/c2pa")


@router.get(
    "/manifests/{manifestId}/receipts",
    operation_id="getManifestReceipt",
    summary="Returns the repository receipt issued for a manifest, with its verification",
    responses={
        200: {"description": "The receipt", "content": receipt_json},
        404: error_response("Manifest or receipt not found"),
    },
)
def get_receipt(manifestId: str, ctx: Context = CTX) -> JSONResponse:  # noqa: N803
    store = _store(ctx, manifestId)
    kept = ctx.repo.receipt(manifestId)
    if kept is None:
        raise ApiError(404, "not_found", f"no receipt was issued for manifest {manifestId!r}")
    return JSONResponse(_checked(ctx, manifestId, json.loads(kept[0]), store))


@router.post(
    "/manifests/{manifestId}/receipts",
    operation_id="verifyManifestReceipt",
    summary="Verifies a receipt against the stored manifest and this server's keys",
    responses={
        200: {
            "description": "Verification result (verified, and error when false)",
            "content": receipt_json,
        },
        400: error_response("Not a receipt"),
        404: error_response("C2PA Manifest not found"),
        413: error_response("Body too large"),
    },
    openapi_extra={"requestBody": {"required": True, "content": receipt_json}},
)
async def verify(request: Request, manifestId: str, ctx: Context = CTX) -> JSONResponse:  # noqa: N803
    receipt = await read_json(request)
    if receipt.get("@type") != "org.c2pa.manifest-receipt":
        raise ApiError(400, "bad_receipt", "not a receipt: @type must be org.c2pa.manifest-receipt")
    store = _store(ctx, manifestId)
    return JSONResponse(_checked(ctx, manifestId, receipt, store))
