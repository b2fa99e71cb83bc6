"""Plain-language sentences for C2PA validation codes and action labels.

Every validation code keeps its raw form in the report; :func:`describe` adds a sentence a
journalist can read. Codes follow the C2PA 2.2 specification (§15.2.2) plus the codes the
c2pa-rs SDK emits outside that list (``signingCredential.expired``, CAWG identity codes,
...). Action labels follow the C2PA 2.0 UX recommendations (§10).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTION_LABELS",
    "CODE_SENTENCES",
    "HARD_BINDING_MISMATCH_CODES",
    "UNTRUSTED_CODES",
    "action_label",
    "describe",
    "is_failure_code",
]

HARD_BINDING_MISMATCH_CODES: Final = frozenset(
    {
        "assertion.dataHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.collectionHash.mismatch",
    }
)
"""Failures that only say "the content changed after signing" (verdict INCOMPLETE)."""

UNTRUSTED_CODES: Final = frozenset(
    {
        "signingCredential.untrusted",
        "cawg.x509.credential.untrusted",
        "cawg.identity.untrusted",
        "cawg.ica.untrusted_issuer",
    }
)
"""Failures that only say "the signer is on no configured trust list" (VALID_UNTRUSTED)."""

CODE_SENTENCES: Final[dict[str, str]] = {
    # --- signing credential -------------------------------------------------------------
    "signingCredential.trusted": "The signer's certificate chains to a trust list you use.",
    "signingCredential.untrusted": (
        "Signed, but the signer is not on any trust list you configured. Identity unconfirmed."
    ),
    "signingCredential.invalid": (
        "The signing certificate is not acceptable for Content Credentials "
        "(wrong key usage, bad structure or unsupported key)."
    ),
    "signingCredential.expired": (
        "The signing certificate has expired, and no trusted time shows it was valid "
        "when the credentials were signed."
    ),
    "signingCredential.ocsp.revoked": "The signer's certificate was revoked.",
    "signingCredential.ocsp.unknown": "The certificate authority does not know this certificate.",
    "signingCredential.ocsp.notRevoked": "The certificate authority confirmed it was not revoked.",
    "signingCredential.ocsp.inaccessible": "Revocation could not be checked (no response).",
    "signingCredential.ocsp.skipped": "Revocation was not checked online.",
    # --- claim signature ----------------------------------------------------------------
    "claimSignature.validated": "The signature over the credentials is valid.",
    "claimSignature.insideValidity": "The certificate was valid when the credentials were signed.",
    "claimSignature.mismatch": (
        "The signature does not match the credentials: they were altered or forged."
    ),
    "claimSignature.missing": "The credentials have no signature.",
    "claimSignature.outsideValidity": (
        "The credentials were signed outside the certificate's validity period."
    ),
    # --- timestamps ---------------------------------------------------------------------
    "timeStamp.validated": "A timestamp proves when the credentials were signed.",
    "timeStamp.trusted": "The timestamp comes from a trusted time-stamping authority.",
    "timeStamp.untrusted": "The timestamp comes from a time-stamping authority you do not trust.",
    "timeStamp.mismatch": "The timestamp does not match the signature it claims to date.",
    "timeStamp.malformed": "The timestamp could not be read.",
    "timeStamp.outsideValidity": "The timestamp was issued outside its certificate's validity.",
    "timeOfSigning.insideValidity": "The signing time falls inside the certificate's validity.",
    "timeOfSigning.outsideValidity": "The signing time falls outside the certificate's validity.",
    "manifest.timestamp.invalid": "A timestamp manifest is not valid.",
    "manifest.timestamp.wrongParents": "A timestamp manifest has the wrong parent ingredients.",
    "assertion.timestamp.malformed": "A timestamp assertion could not be read.",
    # --- hard bindings ------------------------------------------------------------------
    "assertion.dataHash.match": "The file's bytes match what was signed.",
    "assertion.dataHash.mismatch": (
        "The pixels or bytes changed after signing (edit, re-encode, or metadata edit)."
    ),
    "assertion.dataHash.malformed": "The content hash in the credentials could not be read.",
    "assertion.dataHash.redacted": "The content hash was redacted, which is not allowed.",
    "assertion.dataHash.additionalExclusionsPresent": (
        "The content hash leaves out more of the file than usual."
    ),
    "assertion.bmffHash.match": "The video/audio data matches what was signed.",
    "assertion.bmffHash.mismatch": (
        "The video or audio data changed after signing (edit, re-encode, or a missing fragment)."
    ),
    "assertion.bmffHash.malformed": "The video hash in the credentials could not be read.",
    "assertion.bmffHash.additionalExclusionsPresent": (
        "The video hash leaves out more of the file than usual."
    ),
    "assertion.boxesHash.match": "The file's parts match what was signed.",
    "assertion.boxesHash.mismatch": "Parts of the file changed after signing.",
    "assertion.boxesHash.malformed": "The box hash in the credentials could not be read.",
    "assertion.boxesHash.unknownBox": "The file contains a part the credentials do not cover.",
    "assertion.collectionHash.match": "The files of the collection match what was signed.",
    "assertion.collectionHash.mismatch": "A file of the collection changed after signing.",
    "assertion.collectionHash.malformed": "The collection hash could not be read.",
    "assertion.collectionHash.incorrectFileCount": "The collection has the wrong number of files.",
    "assertion.collectionHash.invalidURI": "The collection refers to a file in a forbidden way.",
    "assertion.multipleHardBindings": "The credentials bind to the content more than once.",
    "claim.hardBindings.missing": "The credentials are not bound to the content at all.",
    # --- assertions and hashed URIs -----------------------------------------------------
    "assertion.hashedURI.match": "A piece of the credentials matches what was signed.",
    "assertion.hashedURI.mismatch": "A piece of the credentials was altered after signing.",
    "hashedURI.missing": "The credentials refer to a piece that is missing.",
    "hashedURI.mismatch": "A referenced piece of the credentials was altered after signing.",
    "ingredient.hashedURI.mismatch": "An earlier version's credentials were altered.",
    "assertion.accessible": "A piece of the credentials could be read.",
    "assertion.inaccessible": "A piece of the credentials could not be read.",
    "assertion.missing": "A piece of the credentials is missing.",
    "assertion.outsideManifest": "A piece of the credentials points outside the credentials.",
    "assertion.undeclared": "The credentials contain a piece that was not signed.",
    "assertion.notRedacted": "A piece that was declared removed is still present.",
    "assertion.selfRedacted": "The credentials tried to remove one of their own pieces.",
    "assertion.cbor.invalid": "A piece of the credentials is not valid CBOR data.",
    "assertion.json.invalid": "A piece of the credentials is not valid JSON.",
    "assertion.metadata.disallowed": (
        "The credentials contain metadata fields that are not allowed."
    ),
    "assertion.required.missing": "A piece the credentials must contain is missing.",
    "assertion.ingredient.malformed": "An ingredient record in the credentials is malformed.",
    "assertion.cloud-data.hardBinding": "A remote piece tries to bind the content, not allowed.",
    "assertion.cloud-data.actions": "A remote piece tries to record actions, not allowed.",
    "assertion.cloud-data.malformed": "A remote piece of the credentials is malformed.",
    "assertion.action.ingredientMismatch": (
        "An action refers to an ingredient that does not match the recorded ones."
    ),
    "assertion.action.malformed": "The list of actions is malformed.",
    "assertion.action.redacted": "An action list was removed, which is not allowed.",
    "assertion.action.redactionMismatch": "A removal of information was not recorded correctly.",
    # --- claims and manifests -----------------------------------------------------------
    "claim.malformed": "The credentials' main record is malformed.",
    "claim.missing": "The credentials' main record is missing.",
    "claim.multiple": "The credentials contain more than one main record.",
    "claim.cbor.invalid": "The credentials' main record is not valid CBOR data.",
    "claim.required.missing": "The credentials' main record lacks a required field.",
    "manifest.inaccessible": "The credentials could not be retrieved.",
    "manifest.multipleParents": "The credentials name more than one parent.",
    "manifest.update.invalid": "An update to the credentials is not valid.",
    "manifest.update.wrongParents": "An update to the credentials names the wrong parent.",
    "manifest.compressed.invalid": "Compressed credentials could not be unpacked.",
    "manifest.unreferenced": "The file carries credentials that nothing refers to.",
    "manifest.unknownProvenance": "Part of the history has no credentials.",
    # --- ingredients --------------------------------------------------------------------
    "ingredient.manifest.validated": "An earlier version's credentials were checked and are valid.",
    "ingredient.claimSignature.validated": "An earlier version's signature is valid.",
    "ingredient.manifest.missing": (
        "The history refers to an earlier version whose credentials are missing."
    ),
    "ingredient.manifest.mismatch": "An earlier version's credentials do not match the record.",
    "ingredient.claimSignature.missing": "An earlier version's credentials have no signature.",
    "ingredient.claimSignature.mismatch": "An earlier version's signature does not match.",
    "ingredient.unknownProvenance": "An ingredient has no Content Credentials of its own.",
    # --- algorithms and general ---------------------------------------------------------
    "algorithm.unsupported": "The credentials use a signing or hash algorithm we cannot check.",
    "algorithm.deprecated": "The credentials use an algorithm that is no longer considered safe.",
    "general.error": "The credentials could not be checked because of an internal error.",
    # --- CAWG identity assertions -------------------------------------------------------
    "cawg.identity.assertion.mismatch": "An identity statement does not match these credentials.",
    "cawg.identity.hard_binding_missing": "An identity statement is not bound to the content.",
    "cawg.identity.sig_type.unknown": "An identity statement uses an unknown signature type.",
    "cawg.identity.untrusted": "An identity statement comes from an untrusted issuer.",
    "cawg.x509.credential.trusted": "An identity statement's certificate is trusted.",
    "cawg.x509.credential.untrusted": "An identity statement's certificate is not trusted.",
    "cawg.x509.credential.invalid": "An identity statement's certificate is not valid.",
    "cawg.x509.signature.validated": "An identity statement's signature is valid.",
    "cawg.x509.signature.mismatch": "An identity statement's signature does not match.",
    "cawg.x509.signature.outside_validity": (
        "An identity statement was signed outside its certificate's validity."
    ),
    "cawg.x509.algorithm.unsupported": "An identity statement uses an unsupported algorithm.",
    "cawg.ica.credential_valid": "An identity credential (verified identity) is valid.",
    "cawg.ica.untrusted_issuer": "An identity credential comes from an untrusted issuer.",
    "cawg.ica.signature_mismatch": "An identity credential's signature does not match.",
    "cawg.ica.invalid_verifiable_credential": "An identity credential is malformed.",
    "cawg.ica.valid_from.missing": "An identity credential has no start of validity.",
    "cawg.ica.valid_from.invalid": "An identity credential is not valid yet.",
    "cawg.ica.valid_until.invalid": "An identity credential had expired.",
    "cawg.ica.did_unavailable": (
        "An identity credential's issuer could not be looked up (needs the network)."
    ),
    "cawg.ica.invalid_issuer": "An identity credential names an issuer it cannot prove.",
    "cawg.ica.invalid_alg": "An identity credential uses an unsupported algorithm.",
    "cawg.ica.invalid_data_type": "An identity credential has an unexpected data type.",
    "cawg.ica.signer_payload.mismatch": "An identity credential does not match these credentials.",
}
"""Sentence per known code. Unknown codes get a generic sentence from :func:`describe`."""

_SUCCESS_SUFFIXES: Final = (
    ".match",
    ".validated",
    ".trusted",
    ".insideValidity",
    ".accessible",
    ".notRevoked",
    ".credential_valid",
)
_INFO_CODES: Final = frozenset(
    {
        "signingCredential.ocsp.inaccessible",
        "signingCredential.ocsp.skipped",
        "timeStamp.untrusted",
        "timeStamp.mismatch",
        "timeStamp.malformed",
        "timeStamp.outsideValidity",
        "timeOfSigning.outsideValidity",
        "ingredient.unknownProvenance",
        "manifest.unknownProvenance",
        "assertion.dataHash.additionalExclusionsPresent",
        "assertion.bmffHash.additionalExclusionsPresent",
    }
)

ACTION_LABELS: Final[dict[str, str]] = {
    "c2pa.created": "Created",
    "c2pa.opened": "Opened",
    "c2pa.placed": "Imported",
    "c2pa.edited": "Edited",
    "c2pa.edited.metadata": "Edited metadata",
    "c2pa.cropped": "Cropped",
    "c2pa.resized": "Resized",
    "c2pa.filtered": "Filter or style edits",
    "c2pa.color_adjustments": "Color or exposure adjustments",
    "c2pa.orientation": "Changed orientation",
    "c2pa.drawing": "Drawing edits",
    "c2pa.converted": "Converted",
    "c2pa.transcoded": "Transcoded",
    "c2pa.repackaged": "Repackaged",
    "c2pa.removed": "Removed",
    "c2pa.deleted": "Deleted",
    "c2pa.published": "Published",
    "c2pa.produced": "Produced",
    "c2pa.managed": "Managed",
    "c2pa.printed": "Printed",
    "c2pa.redacted": "Removed information",
    "c2pa.watermarked": "Invisible watermark added",
    "c2pa.watermarked.bound": "Invisible watermark added (linked to these credentials)",
    "c2pa.watermarked.unbound": "Invisible watermark added",
    "c2pa.unknown": "Unknown edits or activity",
    "c2pa.copied": "Copied",
    "c2pa.font.edited": "Font edits",
    "c2pa.font.charactersAdded": "Characters added to font",
    "c2pa.font.charactersDeleted": "Characters removed from font",
    "c2pa.font.charactersModified": "Characters changed in font",
    "c2pa.font.hinted": "Font hinting",
    "c2pa.font.merged": "Fonts merged",
    "c2pa.font.subset": "Font subset created",
    "c2pa.font.createdFromVariableFont": "Created from a variable font",
    "c2pa.dubbed": "Dubbed",
    "c2pa.enhanced": "Enhanced",
    "c2pa.translated": "Translated",
    "c2pa.versionUpdated": "Version updated",
    "c2pa.templated": "Created from a template",
    "c2pa.mixed": "Mixed",
    "c2pa.speed_adjusted": "Speed adjusted",
    "c2pa.adjusted": "Adjusted",
    "c2pa.audio_adjusted": "Audio adjusted",
}
"""User-facing label per C2PA action (C2PA UX recommendations §10)."""


def describe(code: str) -> str:
    """Return a plain sentence for a C2PA validation code.

    Parameters
    ----------
    code
        Raw status code, for example ``assertion.dataHash.mismatch``.

    Returns
    -------
    str
        The sentence from :data:`CODE_SENTENCES`, or a generic sentence that names the code.

    Examples
    --------
    >>> describe("claimSignature.mismatch")
    'The signature does not match the credentials: they were altered or forged.'
    >>> describe("com.example.custom")
    'The validator reported "com.example.custom" (no plain-language description available).'
    """
    sentence = CODE_SENTENCES.get(code)
    if sentence is not None:
        return sentence
    return f'The validator reported "{code}" (no plain-language description available).'


def is_failure_code(code: str) -> bool:
    """Guess whether a code found in a 1.x ``validation_status`` list is a failure.

    1.x ingredient status lists mix failures with informational codes; success and
    informational codes are recognised by name.

    Parameters
    ----------
    code
        Raw status code.

    Returns
    -------
    bool
        False for known success and informational codes, True otherwise.

    Examples
    --------
    >>> is_failure_code("claimSignature.mismatch"), is_failure_code("timeStamp.mismatch")
    (True, False)
    """
    if code in _INFO_CODES:
        return False
    return not code.endswith(_SUCCESS_SUFFIXES)


def action_label(action: str) -> str:
    """Return the user-facing label of a C2PA action.

    Parameters
    ----------
    action
        Raw action name such as ``c2pa.cropped`` (custom actions are allowed).

    Returns
    -------
    str
        The label, or a readable form of an unknown action name.

    Examples
    --------
    >>> action_label("c2pa.placed")
    'Imported'
    >>> action_label("com.example.sharpen_edges")
    'Other activity (com.example.sharpen_edges)'
    """
    label = ACTION_LABELS.get(action)
    if label is not None:
        return label
    return f"Other activity ({action})"
