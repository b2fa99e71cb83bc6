"""Query routes: ``/matches/byBinding``, ``/matches/byContent``, ``/matches/byReference``."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from provenance.durable._limits import MAX_TEXT, check_text, refuse_large
from provenance.durable.detect import content_pdq, find_marks
from provenance.durable.server.common import (
    CTX,
    ApiError,
    Context,
    check_alg,
    check_max,
    decode_value,
    error_response,
    matches_body,
    query_responses,
    read_body,
    read_json,
)
from provenance.durable.server.reference import fetch_reference
from provenance.durable.softbinding import (
    FINGERPRINT_ALG,
    IMAGE_MEDIA_TYPES,
    SUPPORTED_ALGS,
    VIDEO_MEDIA_TYPES,
    WATERMARK_ALG,
)
from provenance.media.inspect import sniff_media_type

__all__ = ["router"]

_BINDING_BODY: Final[dict[str, Any]] = {
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
_REFERENCE_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["referenceUrl", "assetLength"],
                "properties": {
                    "referenceUrl": {"type": "string", "format": "uri"},
                    "assetLength": {"type": "integer", "minimum": 1},
                    "assetType": {"type": "string"},
                    "region": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
    },
}
_ASSETS: Final = "JPEG, PNG, WebP, TIFF, MP4 or MOV"


def _by_content(
    ctx: Context, data: bytes, media_type: str, *, alg: str | None, limit: int
) -> dict[str, Any]:
    best: dict[str, Any] = {}
    found = []
    if alg in (None, WATERMARK_ALG):
        for mark in find_marks(data, media_type, ctx.wm_keys):
            if mark.payload is not None:
                found += ctx.repo.by_binding(WATERMARK_ALG, mark.payload, max_results=limit)
    if alg in (None, FINGERPRINT_ALG):
        hashed = content_pdq(data, media_type)
        if hashed is not None:
            digests = [v.digest for v in hashed.variants]
            found += ctx.repo.by_fingerprints(digests, max_results=limit)
    for m in found:
        if m.manifest_id not in best or m.similarity > best[m.manifest_id].similarity:
            best[m.manifest_id] = m
    return matches_body(sorted(best.values(), key=lambda m: -m.similarity)[:limit])


async def _match_asset(
    ctx: Context,
    data: bytes,
    *,
    alg: str | None,
    limit: int,
    hint_alg: str | None,
    hint_value: str | None,
) -> dict[str, Any]:
    if not data:
        raise ApiError(400, "empty_body", "the asset is empty")
    check_text("hintValue", hint_value, 4 * MAX_TEXT)
    media_type = sniff_media_type(data[:512])
    if media_type not in IMAGE_MEDIA_TYPES and media_type not in VIDEO_MEDIA_TYPES:
        raise ApiError(415, "unsupported_media_type", f"the asset is not a {_ASSETS} file")
    refuse_large(data, media_type, ctx.gate.max_pixels)
    result = await ctx.gate.run(lambda: _by_content(ctx, data, media_type, alg=alg, limit=limit))
    if hint_alg is not None and hint_value is not None and hint_alg in SUPPORTED_ALGS:
        try:
            raw = decode_value(hint_alg, hint_value)
            hinted = ctx.repo.by_binding(hint_alg, raw, max_results=limit)
        except ApiError:
            hinted = []
        known = {m["manifestId"] for m in result["matches"]}
        extra = matches_body([m for m in hinted if m.manifest_id not in known])
        result["matches"] = (result["matches"] + extra["matches"])[:limit]
    return result


router = APIRouter(tags=["query"])
"""The query routes; the handlers get the app's :class:`Context` through ``CTX``."""


@router.get(
    "/matches/byBinding",
    operation_id="queryByBinding",
    summary="Returns active C2PA Manifest identifiers corresponding to a soft binding",
    responses=query_responses(),
)
def by_binding(alg: str, value: str, maxResults: int = 10, ctx: Context = CTX) -> dict[str, Any]:  # noqa: N803
    raw = decode_value(alg, value)
    return matches_body(ctx.repo.by_binding(alg, raw, max_results=check_max(maxResults)))


@router.post(
    "/matches/byBinding",
    operation_id="queryByLargeBinding",
    summary="Returns active C2PA Manifest identifiers corresponding to a large soft binding",
    responses={**query_responses(), 413: error_response("Body too large")},
    openapi_extra={"requestBody": _BINDING_BODY},
)
async def by_large_binding(
    request: Request, maxResults: int = 10, ctx: Context = CTX
) -> dict[str, Any]:  # noqa: N803
    doc = await read_json(request)
    alg, value = doc.get("alg"), doc.get("value")
    if not isinstance(alg, str) or not isinstance(value, str):
        raise ApiError(
            400, "bad_request", "the body must be a JSON object with string 'alg' and 'value'"
        )
    raw = decode_value(alg, value)
    found = await run_in_threadpool(
        ctx.repo.by_binding, alg, raw, max_results=check_max(maxResults)
    )
    return matches_body(found)


@router.post(
    "/matches/byContent",
    operation_id="queryByContent",
    summary="Finds C2PA Manifest identifiers using a digital asset",
    description=(
        f"The body is the asset itself ({_ASSETS}). The server reads the watermark and "
        "computes the PDQ fingerprint."
    ),
    responses={
        **query_responses(),
        413: error_response("Asset too large"),
        415: error_response("Invalid asset type"),
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
async def by_content(
    request: Request,
    alg: str | None = None,
    maxResults: int = 10,  # noqa: N803
    hintAlg: str | None = None,  # noqa: N803
    hintValue: str | None = None,  # noqa: N803
    ctx: Context = CTX,
) -> dict[str, Any]:
    limit = check_max(maxResults)
    if alg is not None:
        check_alg(alg)
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not declared.startswith(("image/", "video/", "application/octet-stream")):
        raise ApiError(415, "unsupported_media_type", "send the asset as image/* or video/*")
    data = await read_body(request, ctx.max_upload)
    return await _match_asset(
        ctx, data, alg=alg, limit=limit, hint_alg=hintAlg, hint_value=hintValue
    )


@router.post(
    "/matches/byReference",
    operation_id="queryByReference",
    summary="Finds C2PA Manifest identifiers using a digital asset the server fetches",
    description=(
        "The server downloads referenceUrl (http or https, public addresses only unless "
        "the server allows private ones, no redirects, at most assetLength bytes and the "
        f"upload limit), then matches it like /matches/byContent ({_ASSETS}). 'region' "
        "is not supported: a request naming one is refused."
    ),
    responses={
        **query_responses(),
        413: error_response("Asset too large"),
        415: error_response("Invalid asset type"),
        502: error_response("The reference could not be fetched"),
    },
    openapi_extra={"requestBody": _REFERENCE_BODY},
)
async def by_reference(
    request: Request,
    alg: str | None = None,
    maxResults: int = 10,  # noqa: N803
    hintAlg: str | None = None,  # noqa: N803
    hintValue: str | None = None,  # noqa: N803
    ctx: Context = CTX,
) -> dict[str, Any]:
    limit = check_max(maxResults)
    if alg is not None:
        check_alg(alg)
    doc = await read_json(request)
    url, length = doc.get("referenceUrl"), doc.get("assetLength")
    if not isinstance(url, str) or not isinstance(length, int) or isinstance(length, bool):
        raise ApiError(
            400,
            "bad_request",
            "the body needs a string 'referenceUrl' and an integer 'assetLength'",
        )
    if length < 1:
        raise ApiError(400, "bad_request", "assetLength must be at least 1")
    if doc.get("region"):
        raise ApiError(400, "region_not_supported", "regions of interest are not supported")
    data, _ = await run_in_threadpool(
        fetch_reference,
        url,
        length=length,
        limit=ctx.max_upload,
        private=ctx.private_references,
    )
    return await _match_asset(
        ctx, data, alg=alg, limit=limit, hint_alg=hintAlg, hint_value=hintValue
    )
