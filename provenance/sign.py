"""Sign a file with embedded Content Credentials (a minimal helper).

This is the small signing entry point the demo and the tests use: give a certificate
chain, a private key, a manifest definition (C2PA manifest JSON as a dict) and,
optionally, the parent file and other ingredients. All SDK calls go through
:mod:`provenance._c2pa`.

Examples
--------
>>> import tempfile, pathlib
>>> from PIL import Image
>>> from provenance.pki import make_pki
>>> pki = make_pki("Doc", algs=("es256",), seed=b"doc")
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> Image.new("RGB", (64, 48), (200, 30, 30)).save(d / "a.jpg")
>>> result = sign_file(d / "a.jpg", d / "b.jpg", cert_chain_pem=pki.chain_pem("es256"),
...                    key_pem=pki.key_pem("es256"), alg="es256",
...                    manifest=capture_manifest("a.jpg"))
>>> result.manifest_bytes > 0
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from provenance import _c2pa
from provenance.errors import InputFileError, ProvenanceError
from provenance.media import sniff_media_type
from provenance.trust import eku_config

__all__ = [
    "IPTC_SOURCE_TYPE",
    "Ingredient",
    "SignResult",
    "capture_manifest",
    "sign_file",
]

IPTC_SOURCE_TYPE: Final = "http://cv.iptc.org/newscodes/digitalsourcetype/"
"""Prefix of the IPTC digital source type URIs (``digitalCapture``, ``trainedAlgorithmicMedia``)."""

_ALGS: Final = frozenset({"es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519"})


@dataclass(frozen=True)
class Ingredient:
    """A file that went into the signed one."""

    path: Path
    """The ingredient file."""
    relationship: str = "componentOf"
    """``parentOf`` (the file this one was made from), ``componentOf`` or ``inputTo``."""
    title: str | None = None
    """Title recorded in the manifest; default the file name."""
    instance_id: str | None = None
    """Identifier an action can refer to (``parameters.ingredientIds``)."""


@dataclass(frozen=True)
class SignResult:
    """What :func:`sign_file` wrote."""

    path: Path
    """The signed file."""
    manifest_bytes: int
    """Size of the embedded manifest store in bytes."""


def capture_manifest(
    title: str,
    *,
    source_type: str = "digitalCapture",
    generator: str = "jinjja",
    generator_version: str = "0.1.0",
    software_agent: str | None = None,
) -> dict[str, Any]:
    """Return a manifest definition for a newly created asset (``c2pa.created``).

    Parameters
    ----------
    title
        The asset's title.
    source_type
        IPTC digital source type name (``digitalCapture``, ``trainedAlgorithmicMedia``, ...)
        or a full URI.
    generator, generator_version
        The claim generator recorded in the manifest.
    software_agent
        The device or tool that created it, recorded on the action.

    Returns
    -------
    dict
        A C2PA manifest definition.
    """
    uri = source_type if "://" in source_type else IPTC_SOURCE_TYPE + source_type
    action: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": uri}
    if software_agent:
        action["softwareAgent"] = {"name": software_agent}
    return {
        "claim_generator_info": [{"name": generator, "version": generator_version}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def _media_type(path: Path) -> str:
    try:
        with path.open("rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise InputFileError(f"Cannot read {path}: {exc.strerror or exc}") from None
    media_type = sniff_media_type(head, name=path.name)
    if media_type is None:
        raise InputFileError(
            f"{path} is not a format that can be signed", code="unsupported_format"
        )
    return media_type


def sign_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    cert_chain_pem: bytes,
    key_pem: bytes,
    alg: str,
    manifest: Mapping[str, Any],
    parent: str | os.PathLike[str] | None = None,
    ingredients: Sequence[Ingredient] = (),
    tsa_url: str | None = None,
    trust_anchors_pem: bytes | None = None,
) -> SignResult:
    """Sign ``src`` and write the result with embedded Content Credentials to ``dst``.

    Parameters
    ----------
    src, dst
        Source and destination files (``dst`` is overwritten).
    cert_chain_pem
        End-entity certificate followed by its intermediates (PEM).
    key_pem
        The end-entity private key (PKCS#8 PEM).
    alg
        ``es256``, ``es384``, ``es512``, ``ps256``, ``ps384``, ``ps512`` or ``ed25519``.
    manifest
        The manifest definition (see :func:`capture_manifest`).
    parent
        The file this one was made from: added as a ``parentOf`` ingredient (instance id
        ``parent``), so its credentials stay in the history.
    ingredients
        Other ingredients.
    tsa_url
        RFC 3161 time-stamp authority URL; None signs without a trusted timestamp.
    trust_anchors_pem
        Anchors used to validate ingredients as they are added (their recorded status);
        give the anchors readers will use.

    Returns
    -------
    SignResult
        The destination path and the manifest store size.

    Raises
    ------
    ProvenanceError
        ``unsupported_format``/``unreadable`` for a bad source or ingredient, ``sign_failed``
        when the SDK refuses (bad certificate or key, ...).
    """
    algorithm = alg.lower()
    if algorithm not in _ALGS:
        raise ProvenanceError(
            f"Unknown signing algorithm {alg!r} (choose from {', '.join(sorted(_ALGS))})",
            code="bad_algorithm",
        )
    src_path, dst_path = Path(src), Path(dst)
    _media_type(src_path)
    sdk_ingredients = []
    items = list(ingredients)
    if parent is not None:
        items.insert(0, Ingredient(Path(parent), "parentOf", instance_id="parent"))
    for item in items:
        ingredient: dict[str, Any] = {
            "title": item.title or item.path.name,
            "relationship": item.relationship,
        }
        if item.instance_id:
            ingredient["instance_id"] = item.instance_id
        sdk_ingredients.append(
            _c2pa.SdkIngredient(str(item.path), _media_type(item.path), ingredient)
        )
    trust = (
        _c2pa.SdkTrust(trust_anchors_pem.decode("ascii", "replace"), eku_config())
        if trust_anchors_pem is not None
        else None
    )
    store = _c2pa.sign_file(
        str(src_path),
        str(dst_path),
        chain_pem=cert_chain_pem,
        key_pem=key_pem,
        alg=algorithm,
        manifest=manifest,
        ingredients=sdk_ingredients,
        tsa_url=tsa_url,
        trust=trust,
    )
    return SignResult(path=dst_path, manifest_bytes=len(store))
