"""Receipts: signed by the server's Ed25519 key, bound to the stored bytes, checked offline."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.durable.receipts import (
    RECEIPT_TYPE,
    ReceiptError,
    ReceiptKey,
    canonical,
    verify_receipt,
)

KEY = ReceiptKey.generate()
STORE = b"manifest store bytes"


def issue(key: ReceiptKey = KEY) -> dict:
    return key.issue(
        repository="http://127.0.0.1:8750/",
        manifest_id="0123456789abcdef",
        store=STORE,
        issued_at="2026-01-01T00:00:00Z",
    )


def test_round_trip_and_shape() -> None:
    r = issue()
    assert r["@type"] == RECEIPT_TYPE
    assert r["repository"] == {"uri": "http://127.0.0.1:8750", "manifestId": "0123456789abcdef"}
    assert r["anchor"]["uri"] == "http://127.0.0.1:8750/manifests/0123456789abcdef/receipts"
    assert r["anchor"]["proof"]["alg"] == "Ed25519"
    assert r["anchor"]["proof"]["keyId"] == KEY.key_id
    check = verify_receipt(r, trusted=[KEY.public_key], store=STORE, manifest_id="0123456789abcdef")
    assert check.verified and check.reason == "" and check.key_id == KEY.key_id
    # Deterministic signatures: the same facts give the same receipt.
    assert issue() == r
    # What the server adds when it answers does not break the signature.
    assert verify_receipt({**r, "verified": True}, trusted=[KEY.public_key]).verified


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r["repository"].update(manifestId="ffffffffffffffff"), "signature"),
        (lambda r: r["anchor"].update(uri="http://elsewhere/"), "signature"),
        (lambda r: r["anchor"]["parameters"].update(issuedAt="2030-01-01T00:00:00Z"), "signature"),
        (lambda r: r["anchor"]["proof"].update(value="AAAA"), "signature"),
        (lambda r: r["anchor"]["proof"].update(alg="HMAC-SHA256"), "Ed25519"),
        (lambda r: r["anchor"]["proof"].update(keyId="0" * 16), "does not know"),
        (lambda r: r.update({"@type": "other"}), "not a receipt"),
    ],
)
def test_tampering_is_detected(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    r = copy.deepcopy(issue())
    change(r)
    check = verify_receipt(r, trusted=[KEY.public_key])
    assert not check.verified and reason in check.reason


def test_other_bytes_other_manifest_other_key() -> None:
    r = issue()
    assert verify_receipt(r, trusted=[KEY.public_key], store=b"x").reason == (
        "the receipt is for other manifest bytes"
    )
    assert (
        "another manifest"
        in verify_receipt(r, trusted=[KEY.public_key], manifest_id="ffffffffffffffff").reason
    )
    other = ReceiptKey.generate()
    assert not verify_receipt(r, trusted=[other.public_key]).verified
    # A receipt made with an untrusted key that names itself is still refused.
    assert not verify_receipt(issue(other), trusted=[KEY.public_key]).verified
    assert verify_receipt("not a dict", trusted=[KEY.public_key]).reason.startswith("not a receipt")


@settings(max_examples=50, deadline=None)
@given(uri=st.text(max_size=40), mid=st.text(min_size=1, max_size=40), store=st.binary())
def test_any_receipt_verifies_and_canonical_form_is_stable(
    uri: str, mid: str, store: bytes
) -> None:
    r = KEY.issue(repository=uri, manifest_id=mid, store=store, issued_at="t")
    assert canonical(r) == canonical(copy.deepcopy(r))
    assert verify_receipt(r, trusted=[KEY.public_key], store=store, manifest_id=mid).verified


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "receipt-key.pem"
    with pytest.raises(ReceiptError) as e:
        ReceiptKey.load_or_create(path, create=False)
    assert e.value.code == "not_found"
    made = ReceiptKey.load_or_create(path, create=True)
    assert os.stat(path).st_mode & 0o777 == 0o600
    again = ReceiptKey.load_or_create(path, create=False)
    assert again.public_key == made.public_key and again.key_id == made.key_id
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(ReceiptError) as e:
        ReceiptKey.load_or_create(bad, create=False)
    assert e.value.code == "bad_key"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ecdsa = tmp_path / "ec.pem"
    ecdsa.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ReceiptError) as e:
        ReceiptKey.load_or_create(ecdsa, create=False)
    assert "Ed25519" in e.value.message
    with pytest.raises(ReceiptError) as e:
        ReceiptKey.load_or_create(tmp_path / "no" / "dir.pem", create=True)
    assert e.value.code == "unwritable"
