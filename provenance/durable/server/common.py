"""What every route module shares: the context, errors, body reading, auth, value checks."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi import Depends, Request
from starlette.requests import ClientDisconnect

from provenance.durable._limits import DecodeGate, log_disconnect
from provenance.durable.receipts import ReceiptKey
from provenance.durable.repository import Match, Repository
from provenance.durable.server import MAX_RESULTS
from provenance.durable.softbinding import SUPPORTED_ALGS, WATERMARK_ALG

__all__ = [
    "CTX",
    "MATCHES_SCHEMA",
    "MAX_JSON",
    "ApiError",
    "Context",
    "check_max",
    "decode_value",
    "error_response",
    "matches_body",
    "query_responses",
    "read_body",
    "read_json",
    "require_writer",
]

MAX_JSON: Final = 64 * 1024
"""Largest JSON request body."""


@dataclass(frozen=True)
class Context:
    """One application's settings and repository."""

    repo: Repository
    allow_writes: bool
    token: str | None
    max_upload: int
    wm_keys: tuple[bytes | str, ...]
    receipt_key: ReceiptKey | None
    private_references: bool
    gate: DecodeGate = field(default_factory=DecodeGate)
    """Bounds concurrent decodes and the pixels per upload (``--max-decodes``, ``--max-pixels``)."""


def context(request: Request) -> Context:
    """The application's :class:`Context` (set by ``build_app``)."""
    ctx = request.app.state.context
    assert isinstance(ctx, Context)
    return ctx


CTX: Final = Depends(context)
"""Dependency giving a handler its application's :class:`Context`."""


class ApiError(Exception):
    """An error answered as ``{"error": message, "code": code}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


MATCHES_SCHEMA: Final[dict[str, Any]] = {
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
ERROR_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong, in words."},
        "code": {"type": "string", "description": "A stable machine-readable code."},
    },
}


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI response entry with the JSON error body."""
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def query_responses() -> dict[int | str, dict[str, Any]]:
    """The responses every query route shares."""
    return {
        200: {
            "description": "Matching manifests, best first",
            "content": {"application/json": {"schema": MATCHES_SCHEMA}},
        },
        400: error_response("Invalid query value"),
    }


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 beyond ``limit`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "bad_request", "malformed Content-Length") from None
        if size > limit:
            raise ApiError(
                413, "too_large", f"the body is {size} bytes; at most {limit} are accepted"
            )
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise ApiError(413, "too_large", f"the body exceeds {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        log_disconnect(request.url.path)
        raise ApiError(400, "client_disconnected", "the client went away") from None
    return b"".join(chunks)


async def read_json(request: Request) -> dict[str, Any]:
    """A JSON object body (at most :data:`MAX_JSON` bytes)."""
    body = await read_body(request, MAX_JSON)
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "bad_request", "the body must be a JSON object")
    return doc


def require_writer(ctx: Context, request: Request) -> None:
    """Refuse with 403 on a read-only server, 401 without the right bearer token."""
    if not ctx.allow_writes or ctx.token is None:
        raise ApiError(403, "read_only", "this server is read-only (start it with writes)")
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), ctx.token.encode()
    ):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")


def check_alg(alg: str) -> str:
    """``alg`` when this server supports it, else a 400."""
    if alg not in SUPPORTED_ALGS:
        raise ApiError(
            400,
            "unsupported_alg",
            f"unsupported algorithm {alg!r}; supported: {', '.join(sorted(SUPPORTED_ALGS))}",
        )
    return alg


def b64_value(value: str) -> bytes:
    """Decode a base64 soft-binding value (400 when it is not base64)."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_value", "'value' is not valid base64") from None


def value_length(alg: str) -> int:
    """Bytes in a value of a supported algorithm."""
    return 8 if alg == WATERMARK_ALG else 32


def decode_value(alg: str, value: str) -> bytes:
    """The raw value of a supported algorithm's base64 value, checked for length."""
    raw = b64_value(value) if check_alg(alg) else b""
    want = value_length(alg)
    if len(raw) != want:
        raise ApiError(
            400, "bad_value", f"a {alg} value is {want} bytes (base64), not {len(raw)} bytes"
        )
    return raw


def check_max(max_results: int) -> int:
    """``maxResults`` within 1..MAX_RESULTS, else a 400."""
    if not 1 <= max_results <= MAX_RESULTS:
        raise ApiError(400, "bad_max_results", f"maxResults must be 1..{MAX_RESULTS}")
    return max_results


def matches_body(found: Sequence[Match]) -> dict[str, Any]:
    """The spec's query result."""
    return {
        "matches": [{"manifestId": m.manifest_id, "similarityScore": m.similarity} for m in found]
    }
