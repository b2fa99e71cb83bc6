"""Service routes: algorithms, capabilities, status, and the well-known discovery document."""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request

from provenance._clock import utc_text
from provenance.durable.receipts import b64url
from provenance.durable.repository import RepositoryError
from provenance.durable.server import API_VERSION
from provenance.durable.server.common import CTX, Context
from provenance.durable.softbinding import FINGERPRINT_ALG, WATERMARK_ALG

__all__ = ["WELL_KNOWN", "capabilities", "router"]

WELL_KNOWN: Final = "/.well-known/c2pa-soft-binding-resolution"
_SEMVER: Final = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"


def capabilities(ctx: Context) -> list[str]:
    """The optional capabilities this server offers (store ones only with writes)."""
    out = ["queryByContent", "queryByReference"]
    if ctx.allow_writes:
        out += ["storeManifests", "storeBindings"]
    return out


def _json(schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "Successful operation",
            "content": {"application/json": {"schema": schema}},
        }
    }


router = APIRouter(tags=["service"])
"""The service routes; the handlers get the app's :class:`Context` through ``CTX``."""


@router.get(
    "/services/supportedAlgorithms",
    operation_id="getSupportedBindings",
    summary="Returns a list of the soft binding algorithms supported by the service",
)
def supported_algorithms(ctx: Context = CTX) -> dict[str, Any]:
    return {"watermarks": [{"alg": WATERMARK_ALG}], "fingerprints": [{"alg": FINGERPRINT_ALG}]}


@router.get(
    "/services/capabilities",
    operation_id="getServiceCapabilities",
    summary="Returns the capabilities of the service",
    responses=_json(
        {
            "type": "object",
            "required": ["c2paSpecificationVersion", "supportedCapabilities"],
            "properties": {
                "c2paSpecificationVersion": {"type": "string", "pattern": _SEMVER},
                "supportedCapabilities": {"type": "array", "items": {"type": "string"}},
            },
        }
    ),
)
def service_capabilities(ctx: Context = CTX) -> dict[str, Any]:
    return {"c2paSpecificationVersion": API_VERSION, "supportedCapabilities": capabilities(ctx)}


@router.get(
    "/services/status",
    operation_id="getServiceStatus",
    summary="Returns the operational status of the service",
    description="'ok' when the repository can be read, 'down' when it cannot.",
    responses=_json(
        {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
                "timestamp": {"type": "string", "format": "date-time"},
            },
        }
    ),
)
def service_status(ctx: Context = CTX) -> dict[str, Any]:
    try:
        ctx.repo.ping()
        status = "ok"
    except RepositoryError:
        status = "down"
    return {"status": status, "timestamp": utc_text()}


@router.get(
    WELL_KNOWN,
    operation_id="getWellKnown",
    summary="Returns discovery information for this soft binding resolution service",
    description=(
        "RFC 8615 well-known document. apiEndpoint is this server's base URL; "
        "receiptKeys lists the Ed25519 keys receipts are signed with (JWK)."
    ),
    responses=_json(
        {
            "type": "object",
            "required": ["apiEndpoint", "c2paSpecificationVersion"],
            "properties": {
                "apiEndpoint": {"type": "string", "format": "uri"},
                "c2paSpecificationVersion": {"type": "string", "pattern": _SEMVER},
                "capabilitiesEndpoint": {"type": "string", "format": "uri"},
                "statusEndpoint": {"type": "string", "format": "uri"},
                "receiptKeys": {"type": "array", "items": {"type": "object"}},
            },
        }
    ),
)
def well_known(request: Request, ctx: Context = CTX) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    doc: dict[str, Any] = {
        "apiEndpoint": base,
        "c2paSpecificationVersion": API_VERSION,
        "capabilitiesEndpoint": f"{base}/services/capabilities",
        "statusEndpoint": f"{base}/services/status",
    }
    if ctx.receipt_key is not None:
        key = ctx.receipt_key
        doc["receiptKeys"] = [
            {"kty": "OKP", "crv": "Ed25519", "kid": key.key_id, "x": b64url(key.public_key)}
        ]
    return doc
