"""Hand-built reports for the HTML renderer tests (independent of the C2PA SDK)."""

from __future__ import annotations

import dataclasses
import hashlib

from provenance.report import (
    Action,
    AiAssessment,
    AiLabel,
    AiSignal,
    BankMatch,
    ChainNode,
    Failure,
    Issuer,
    MetadataFact,
    Recovery,
    Report,
    ReportError,
    Subject,
    ToolInfo,
    TrustSource,
    Verdict,
    WatermarkFinding,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TOOL = ToolInfo(
    version="0.1.0",
    c2pa_sdk="0.91.3",
    trust_sources=(
        TrustSource(
            name="C2PA trust list",
            location="/data/c2pa-trust.pem",
            sha256="ab" * 32,
            certificates=42,
            issued="2026-09-01",
        ),
    ),
    analyzed_at="2026-11-21T10:00:00Z",
)
MISMATCH = Failure(
    "claimSignature.mismatch",
    "The signature does not match the credentials.",
    manifest="urn:c2pa:1111",
    origin="ingredient_record",
)


def subject(name: str, path: str | None = None) -> Subject:
    return Subject(
        path=path or f"/cases/{name}",
        size=123456,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        media_type="image/jpeg",
        width=640,
        height=480,
    )


def capture_node(*, failures: tuple[Failure, ...] = ()) -> ChainNode:
    return ChainNode(
        label="urn:c2pa:1111",
        title="capture.jpg",
        format="image/jpeg",
        issuer=Issuer("Example News", "Camera 7", "Example News CA", "0x1234"),
        signing_time="2026-03-02T08:11:09Z",
        signing_time_source="timestamp",
        claim_generator="ExampleCam",
        claim_generator_version="1.0",
        actions=(Action("c2pa.created", "Created", digital_source_type=IPTC + "digitalCapture"),),
        relationship="parentOf",
        failures=failures,
    )


def trusted(name: str = "edit.jpg", *, path: str | None = None) -> Report:
    chain = ChainNode(
        label="urn:c2pa:2222",
        title=name,
        format="image/jpeg",
        issuer=Issuer("Example News", "Desk editor", "Example News CA", "0x99"),
        signing_time="2026-03-02T09:00:00Z",
        signing_time_source="claimed",
        claim_generator="Example Editor",
        claim_generator_version="2.1",
        actions=(
            Action("c2pa.opened", "Opened"),
            Action("c2pa.cropped", "Cropped", software_agent="Example Editor 2.1"),
        ),
        ingredients=(capture_node(),),
        trusted=True,
    )
    return Report(
        subject=subject(name, path),
        verdict=Verdict.TRUSTED,
        summary=("Content Credentials issued by Example News.",),
        chain=chain,
        failures=(),
        ai=AiAssessment(
            AiLabel.CAPTURED,
            (
                AiSignal(
                    kind="c2pa.digitalSourceType",
                    value="digitalCapture",
                    source="manifest urn:c2pa:1111",
                    signed=True,
                    strength="strong",
                    implies=AiLabel.CAPTURED,
                ),
            ),
        ),
        tool=TOOL,
    )


def broken_ingredient(name: str = "broken-parent.jpg") -> Report:
    """A TRUSTED report whose ingredient failed validation when it was added."""
    report = trusted(name)
    assert report.chain is not None
    chain = dataclasses.replace(report.chain, ingredients=(capture_node(failures=(MISMATCH,)),))
    return dataclasses.replace(report, chain=chain, failures=(MISMATCH,))


def invalid(name: str = "forged.jpg") -> Report:
    bad = Failure("claimSignature.mismatch", "The signature does not match.")
    chain = ChainNode(
        label="urn:c2pa:3333",
        title=name,
        format="image/jpeg",
        issuer=Issuer("Mallory", None, None, None),
        signing_time="2026-03-03T00:00:00Z",
        signing_time_source="claimed",
        claim_generator="Forger",
        claim_generator_version=None,
        actions=(
            Action(
                "c2pa.created",
                "Created",
                software_agent="ExampleDiffusion 2.1",
                digital_source_type=IPTC + "trainedAlgorithmicMedia",
            ),
        ),
        failures=(bad,),
        trusted=False,
    )
    return Report(
        subject=subject(name),
        verdict=Verdict.INVALID,
        summary=("The credentials failed validation.",),
        chain=chain,
        failures=(bad, Failure("signingCredential.untrusted", "Unknown signer.")),
        ai=AiAssessment(AiLabel.AI_GENERATED),
        tool=TOOL,
    )


def unsigned(name: str = "plain.png") -> Report:
    return Report(
        subject=subject(name),
        verdict=Verdict.NO_CREDENTIALS,
        summary=("No Content Credentials.",),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=TOOL,
    )


def error(name: str = "broken.jpg") -> Report:
    return Report(
        subject=Subject(path=f"/cases/{name}"),
        verdict=Verdict.ERROR,
        summary=(),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=TOOL,
        error=ReportError("corrupt", "the file is truncated"),
    )


def recovered(name: str = "stripped.jpg") -> Report:
    base = trusted(name)
    return dataclasses.replace(
        base,
        verdict=Verdict.RECOVERED,
        watermarks=(
            WatermarkFinding(
                "org.jinjja.watermark.1", True, "60cb551f3fcdf80b", 11.6, 3.2e-28, "demo"
            ),
        ),
        matches=(BankMatch("KR_CASE_2024", "1182", 6, "MATCH", "identity", case="C-7"),),
        metadata=(MetadataFact("exif.software", "Edited with Photoshop 25.0", "Photoshop"),),
        recovery=Recovery("watermark", "60cb551f3fcdf80b", "https://resolver.example.org/"),
    )


def every_kind() -> list[Report]:
    return [trusted(), broken_ingredient(), invalid(), unsigned(), error(), recovered()]
