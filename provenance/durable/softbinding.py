"""Soft bindings (C2PA §9.3): algorithm names, manifest identifiers, assertions.

Algorithm names and value formats are specified in ``spec/softbinding.md``:

* :data:`WATERMARK_ALG` ``org.jinjja.watermark.1``: value = the 8-byte identifier carried
  by a ``jinjja.watermark/v1`` mark;
* :data:`FINGERPRINT_ALG` ``org.jinjja.pdq.1``: value = the 32-byte PDQ hash of the
  published picture, matched by Hamming distance.

Neither name is in the C2PA soft binding algorithm list yet (§9.3.2 requires it for
conformance); see the spec for the registration status. Publishing (watermark, sign,
store) is :mod:`provenance.durable.publishing`.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from provenance.errors import PublishError
from provenance.media.budget import DEFAULT_MAX_PIXELS

__all__ = [
    "FINGERPRINT_ALG",
    "IMAGE_MEDIA_TYPES",
    "MAX_PIXELS",
    "MIN_SIDE",
    "SUPPORTED_ALGS",
    "VIDEO_MEDIA_TYPES",
    "WATERMARK_ALG",
    "DeclaredBinding",
    "declared_bindings",
    "manifest_id_hex",
    "new_manifest_id",
    "soft_binding_assertions",
    "watermarked_action",
]

WATERMARK_ALG: Final = "org.jinjja.watermark.1"
"""Soft-binding algorithm name of the project's watermark (value: the 8-byte identifier)."""
FINGERPRINT_ALG: Final = "org.jinjja.pdq.1"
"""Soft-binding algorithm name of the PDQ fingerprint (value: the 32-byte PDQ hash)."""
SUPPORTED_ALGS: Final = frozenset({WATERMARK_ALG, FINGERPRINT_ALG})
"""Every soft-binding algorithm this project writes and resolves."""

IMAGE_MEDIA_TYPES: Final = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
}
"""Picture types that can be watermarked and signed, with their Pillow format."""
VIDEO_MEDIA_TYPES: Final = {"video/mp4": "mp4", "video/quicktime": "mov"}
"""Video types that can be watermarked and signed, with their container format."""

MIN_SIDE: Final = 256
"""Pictures and frames need at least this many pixels on both sides to be watermarked."""
MAX_PIXELS: Final = DEFAULT_MAX_PIXELS
"""Refuse to decode larger pictures (decompression bombs)."""


@dataclass(frozen=True)
class DeclaredBinding:
    """One soft binding declared in a manifest's ``c2pa.soft-binding`` assertion."""

    alg: str
    """Algorithm name as written."""
    value: bytes
    """The decoded block value."""


def new_manifest_id(taken: Callable[[str], bool] | None = None) -> bytes:
    """Draw a random 64-bit manifest identifier (never all zero).

    Parameters
    ----------
    taken
        Optional predicate on the hex form; identifiers for which it is true are drawn
        again (to skip identifiers already stored).

    Returns
    -------
    bytes
        8 random bytes from the operating system's CSPRNG.

    Examples
    --------
    >>> len(new_manifest_id())
    8
    """
    for _ in range(64):
        ident = secrets.token_bytes(8)
        if ident != bytes(8) and (taken is None or not taken(ident.hex())):
            return ident
    raise PublishError("could not draw an unused manifest identifier", code="id_exhausted")


def manifest_id_hex(ident: bytes) -> str:
    """The 16-hex-digit text form of an identifier (the API's ``manifestId``).

    Examples
    --------
    >>> manifest_id_hex(bytes.fromhex("00ff00ff00ff00ff"))
    '00ff00ff00ff00ff'
    """
    if len(ident) != 8:
        raise ValueError(f"a manifest identifier is 8 bytes, not {len(ident)}")
    return ident.hex()


def watermarked_action(key_name: str = "public") -> dict[str, Any]:
    """The ``c2pa.watermarked`` action recorded with the soft binding (C2PA §18.14.5).

    Parameters
    ----------
    key_name
        ``public`` (readable by anyone) or ``private`` (needs the publisher's key).

    Returns
    -------
    dict
        An action entry for the ``c2pa.actions`` assertion.
    """
    return {
        "action": "c2pa.watermarked",
        "description": (
            f"Invisible watermark {WATERMARK_ALG} (jinjja.watermark/v1, {key_name} key) "
            "carrying the manifest identifier, for recovery after metadata removal."
        ),
    }


def soft_binding_assertions(
    ident: bytes, *, fingerprint: bytes | None = None, key_name: str = "public"
) -> list[dict[str, Any]]:
    """The assertions that make a manifest a Durable Content Credential.

    Parameters
    ----------
    ident
        The 8-byte manifest identifier carried by the watermark.
    fingerprint
        The 32-byte PDQ hash of the published picture (None for video).
    key_name
        Which watermark key was used (``public`` or ``private``), named in the action.

    Returns
    -------
    list of dict
        A ``c2pa.actions`` entry with the ``c2pa.watermarked`` action, one
        ``c2pa.soft-binding`` assertion for the watermark and one for the fingerprint.

    Examples
    --------
    >>> parts = soft_binding_assertions(bytes(range(8)))
    >>> [p["label"] for p in parts]
    ['c2pa.actions', 'c2pa.soft-binding']
    >>> parts[1]["data"]["alg"]
    'org.jinjja.watermark.1'
    """
    if len(ident) != 8:
        raise ValueError(f"a manifest identifier is 8 bytes, not {len(ident)}")
    out: list[dict[str, Any]] = [
        {"label": "c2pa.actions", "data": {"actions": [watermarked_action(key_name)]}},
        {
            "label": "c2pa.soft-binding",
            "data": {
                "alg": WATERMARK_ALG,
                "name": "Jinjja invisible watermark (manifest identifier)",
                "blocks": [{"scope": {}, "value": list(ident)}],
                "pad": [],
            },
        },
    ]
    if fingerprint is not None:
        if len(fingerprint) != 32:
            raise ValueError(f"a PDQ fingerprint is 32 bytes, not {len(fingerprint)}")
        out.append(
            {
                "label": "c2pa.soft-binding",
                "data": {
                    "alg": FINGERPRINT_ALG,
                    "name": "PDQ perceptual hash of the published picture",
                    "blocks": [{"scope": {}, "value": list(fingerprint)}],
                    "pad": [],
                },
            }
        )
    return out


def _block_value(value: Any) -> bytes | None:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return None
    if isinstance(value, list) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        return bytes(value)
    return None


def declared_bindings(
    store: Mapping[str, Any], label: str | None = None
) -> tuple[DeclaredBinding, ...]:
    """The soft bindings a manifest declares, read from the SDK's manifest store JSON.

    Parameters
    ----------
    store
        ``Reader.json()`` of a manifest store.
    label
        Which manifest; default the active one.

    Returns
    -------
    tuple of DeclaredBinding
        Every block of every ``c2pa.soft-binding`` assertion, in order (malformed blocks
        are skipped).
    """
    manifests = store.get("manifests")
    which = label if label is not None else store.get("active_manifest")
    manifest = manifests.get(which) if isinstance(manifests, Mapping) else None
    assertions = manifest.get("assertions") if isinstance(manifest, Mapping) else None
    out: list[DeclaredBinding] = []
    for a in assertions if isinstance(assertions, list) else []:
        if not isinstance(a, Mapping) or a.get("label") != "c2pa.soft-binding":
            continue
        data = a.get("data")
        if not isinstance(data, Mapping) or not isinstance(data.get("alg"), str):
            continue
        blocks = data.get("blocks")
        for block in blocks if isinstance(blocks, list) else []:
            value = _block_value(block.get("value")) if isinstance(block, Mapping) else None
            if value is not None:
                out.append(DeclaredBinding(str(data["alg"]), value))
    return tuple(out)


# ----------------------------------------------------------------------------- pictures
