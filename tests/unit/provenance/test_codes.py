"""Plain sentences for validation codes and action labels."""

from __future__ import annotations

import pytest

from provenance.codes import (
    ACTION_LABELS,
    CODE_SENTENCES,
    HARD_BINDING_MISMATCH_CODES,
    action_label,
    describe,
    is_failure_code,
)

SPEC_FAILURE_CODES = """
algorithm.deprecated algorithm.unsupported assertion.action.ingredientMismatch
assertion.action.malformed assertion.action.redacted assertion.action.redactionMismatch
assertion.bmffHash.malformed assertion.bmffHash.mismatch assertion.boxesHash.mismatch
assertion.boxesHash.malformed assertion.boxesHash.unknownBox assertion.cloud-data.hardBinding
assertion.cloud-data.actions assertion.cloud-data.malformed
assertion.collectionHash.incorrectFileCount assertion.collectionHash.invalidURI
assertion.collectionHash.malformed assertion.collectionHash.mismatch
assertion.dataHash.malformed assertion.dataHash.mismatch assertion.hashedURI.mismatch
assertion.inaccessible assertion.ingredient.malformed assertion.json.invalid assertion.missing
assertion.multipleHardBindings assertion.notRedacted assertion.outsideManifest
assertion.selfRedacted assertion.undeclared claim.cbor.invalid claim.hardBindings.missing
claim.malformed claim.missing claim.multiple claimSignature.missing claimSignature.mismatch
claimSignature.outsideValidity general.error hashedURI.missing hashedURI.mismatch
ingredient.claimSignature.missing ingredient.claimSignature.mismatch ingredient.manifest.missing
ingredient.manifest.mismatch manifest.compressed.invalid manifest.inaccessible
manifest.multipleParents manifest.timestamp.invalid manifest.timestamp.wrongParents
manifest.update.invalid manifest.update.wrongParents signingCredential.invalid
signingCredential.ocsp.revoked signingCredential.ocsp.unknown signingCredential.untrusted
signingCredential.expired
""".split()


@pytest.mark.parametrize("code", SPEC_FAILURE_CODES)
def test_every_spec_failure_code_has_a_sentence(code):
    assert code in CODE_SENTENCES
    assert describe(code).endswith(".")
    assert is_failure_code(code)


def test_unknown_code_names_the_code():
    assert "com.example.thing" in describe("com.example.thing")


def test_success_and_informational_codes_are_not_failures():
    for code in ("claimSignature.validated", "assertion.dataHash.match", "timeStamp.untrusted"):
        assert not is_failure_code(code)


def test_hard_binding_codes_are_described():
    assert all(code in CODE_SENTENCES for code in HARD_BINDING_MISMATCH_CODES)


def test_action_labels_follow_ux_guidance():
    assert action_label("c2pa.placed") == "Imported"
    assert action_label("c2pa.filtered") == "Filter or style edits"
    assert action_label("c2pa.unknown") == "Unknown edits or activity"
    assert action_label("x.y") == "Other activity (x.y)"
    assert all(label for label in ACTION_LABELS.values())
