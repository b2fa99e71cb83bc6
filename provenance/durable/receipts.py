"""Repository receipts: a resolver's signed statement that it stored a manifest store.

A receipt (Soft Binding Resolution API 2.4, ``@type`` ``org.c2pa.manifest-receipt``) names
the repository, the manifest identifier and the anchor URI where it can be fetched again.
This project signs it with the server's Ed25519 key and binds it to the stored bytes:

* ``anchor.parameters`` holds ``manifestSha256`` (SHA-256 of the stored manifest store,
  hex), ``issuedAt`` (RFC 3339 UTC) and ``publicKey`` (the raw Ed25519 public key,
  base64url);
* ``anchor.proof`` is ``{"alg": "Ed25519", "keyId", "value"}``: ``value`` is the base64url
  signature over the canonical JSON (sorted keys, no spaces, UTF-8) of the receipt without
  ``anchor.proof.value``, ``verified`` and ``error``; ``keyId`` is the first 16 hex digits
  of the SHA-256 of the public key.

:func:`verify_receipt` checks a receipt against keys the verifier trusts (the server's own,
or those published in its well-known document), and optionally against the store bytes.

Examples
--------
>>> key = ReceiptKey.generate()
>>> r = key.issue(repository="http://127.0.0.1:8750", manifest_id="0123456789abcdef",
...               store=b"store bytes", issued_at="2026-01-01T00:00:00Z")
>>> verify_receipt(r, trusted=[key.public_key], store=b"store bytes").verified
True
>>> verify_receipt(r, trusted=[key.public_key], store=b"other").reason
'the receipt is for other manifest bytes'
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance.errors import ReceiptError

__all__ = [
    "RECEIPT_TYPE",
    "ReceiptCheck",
    "ReceiptError",
    "ReceiptKey",
    "b64url",
    "canonical",
    "key_id",
    "verify_receipt",
]

RECEIPT_TYPE: Final = "org.c2pa.manifest-receipt"
PROOF_ALG: Final = "Ed25519"
_CONTEXT: Final = {
    "c2pa": "https://c2pa.org/ns/",
    "receipt": "https://c2pa.org/ns/manifest-receipt#",
}


@dataclass(frozen=True)
class ReceiptCheck:
    """The outcome of :func:`verify_receipt`."""

    verified: bool
    """Whether the receipt is intact, signed by a trusted key and (when given) for the store."""
    reason: str
    """Why not (empty when verified)."""
    key_id: str | None = None
    """The signing key's identifier, when the receipt names one."""


def b64url(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_key: bytes) -> str:
    """The identifier of a raw Ed25519 public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def canonical(receipt: Mapping[str, Any]) -> bytes:
    """The signed bytes of a receipt: canonical JSON without the signature and results."""
    doc = copy.deepcopy(dict(receipt))
    doc.pop("verified", None)
    doc.pop("error", None)
    anchor = doc.get("anchor")
    proof = anchor.get("proof") if isinstance(anchor, dict) else None
    if isinstance(proof, dict):
        proof.pop("value", None)
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ReceiptKey:
    """The server's Ed25519 receipt-signing key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_key: bytes = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        """The raw 32-byte public key."""
        self.key_id = key_id(self.public_key)
        """16 hex digits naming the key."""

    @classmethod
    def generate(cls) -> ReceiptKey:
        """A fresh key (kept in memory only)."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str], *, create: bool) -> ReceiptKey:
        """Read a PEM (PKCS #8) Ed25519 key, or create one (mode 0600) when missing.

        Raises
        ------
        ReceiptError
            ``not_found`` (missing and ``create`` false), ``bad_key`` (not an Ed25519 PEM
            key) or ``unwritable``.
        """
        p = Path(path)
        if not p.exists():
            if not create:
                raise ReceiptError(f"no receipt key at {p}", code="not_found")
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
            except OSError as exc:
                raise ReceiptError(
                    f"cannot create receipt key {p}: {exc.strerror}", code="unwritable"
                ) from None
            return cls(key)
        try:
            loaded = serialization.load_pem_private_key(p.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ReceiptError(
                f"{p} is not a readable PEM private key: {exc}", code="bad_key"
            ) from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ReceiptError(f"{p} is not an Ed25519 key", code="bad_key")
        return cls(loaded)

    def issue(
        self, *, repository: str, manifest_id: str, store: bytes, issued_at: str
    ) -> dict[str, Any]:
        """A signed receipt for ``store`` kept under ``manifest_id`` at ``repository``."""
        base = repository.rstrip("/")
        receipt: dict[str, Any] = {
            "@context": dict(_CONTEXT),
            "@type": RECEIPT_TYPE,
            "repository": {"uri": base, "manifestId": manifest_id},
            "anchor": {
                "uri": f"{base}/manifests/{quote(manifest_id, safe='')}/receipts",
                "proof": {"alg": PROOF_ALG, "keyId": self.key_id},
                "parameters": {
                    "manifestSha256": hashlib.sha256(store).hexdigest(),
                    "issuedAt": issued_at,
                    "publicKey": b64url(self.public_key),
                },
            },
        }
        receipt["anchor"]["proof"]["value"] = b64url(self._private.sign(canonical(receipt)))
        return receipt


def _field(doc: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(name)
    return doc


def verify_receipt(
    receipt: Any,
    *,
    trusted: Iterable[bytes],
    store: bytes | None = None,
    manifest_id: str | None = None,
) -> ReceiptCheck:
    """Check a receipt's signature against trusted public keys, and what it is for.

    Parameters
    ----------
    receipt
        The receipt (parsed JSON).
    trusted
        Raw Ed25519 public keys the verifier trusts.
    store
        When given, the manifest store bytes the receipt must be for.
    manifest_id
        When given, the identifier the receipt must name.

    Returns
    -------
    ReceiptCheck
        ``verified`` and the first reason it is not.
    """
    if not isinstance(receipt, Mapping) or receipt.get("@type") != RECEIPT_TYPE:
        return ReceiptCheck(False, f"not a receipt (@type must be {RECEIPT_TYPE})")
    kid = _field(receipt, "anchor", "proof", "keyId")
    kid = kid if isinstance(kid, str) else None
    if _field(receipt, "anchor", "proof", "alg") != PROOF_ALG:
        return ReceiptCheck(False, f"the proof is not {PROOF_ALG}", kid)
    if manifest_id is not None and _field(receipt, "repository", "manifestId") != manifest_id:
        return ReceiptCheck(False, "the receipt names another manifest", kid)
    keys = {key_id(k): k for k in trusted}
    if kid not in keys:
        return ReceiptCheck(
            False, "the receipt is signed by a key this verifier does not know", kid
        )
    value = _field(receipt, "anchor", "proof", "value")
    try:
        signature = _unb64u(value) if isinstance(value, str) else b""
        Ed25519PublicKey.from_public_bytes(keys[kid]).verify(signature, canonical(receipt))
    except (InvalidSignature, ValueError):
        return ReceiptCheck(False, "the signature does not match the receipt", kid)
    if store is not None:
        want = hashlib.sha256(store).hexdigest()
        if _field(receipt, "anchor", "parameters", "manifestSha256") != want:
            return ReceiptCheck(False, "the receipt is for other manifest bytes", kid)
    return ReceiptCheck(True, "", kid)
