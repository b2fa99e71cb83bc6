"""Hand-built reports for renderer tests (independent of the C2PA SDK)."""

from __future__ import annotations

from provenance.report import (
    Action,
    AiAssessment,
    AiLabel,
    AiSignal,
    ChainNode,
    Failure,
    Issuer,
    Report,
    ReportError,
    Subject,
    ToolInfo,
    TrustSource,
    Verdict,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TOOL = ToolInfo(
    version="0.1.0",
    c2pa_sdk="0.91.3",
    trust_sources=(
        TrustSource(
            name="--trust-anchors demo-root.pem",
            location="/tmp/demo-root.pem",
            sha256="ab" * 32,
            certificates=1,
        ),
    ),
    analyzed_at="2026-11-21T10:00:00Z",
)


def _subject(name: str) -> Subject:
    return Subject(
        path=f"/cases/{name}",
        size=123456,
        sha256="0f" * 32,
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


def trusted_report(name: str = "edit.jpg") -> Report:
    chain = ChainNode(
        label="urn:c2pa:2222",
        title=name,
        format="image/jpeg",
        issuer=Issuer("Example News", "Desk; editor", "Example News CA", "0x99"),
        signing_time="2026-03-02T09:00:00Z",
        signing_time_source="claimed",
        claim_generator="=Editor",
        claim_generator_version="2.1",
        actions=(Action("c2pa.opened", "Opened"), Action("c2pa.cropped", "Cropped")),
        ingredients=(capture_node(),),
    )
    return Report(
        subject=_subject(name),
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


def invalid_report(name: str = "forged.jpg") -> Report:
    bad = Failure(
        "claimSignature.mismatch",
        "The signature does not match the manifest: the manifest was altered or forged.",
        explanation="claim signature is not valid",
    )
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
    )
    return Report(
        subject=_subject(name),
        verdict=Verdict.INVALID,
        summary=("These Content Credentials are not valid.",),
        chain=chain,
        failures=(bad,),
        ai=AiAssessment(
            AiLabel.AI_GENERATED,
            (
                AiSignal(
                    kind="c2pa.digitalSourceType",
                    value="trainedAlgorithmicMedia",
                    source="manifest urn:c2pa:3333",
                    signed=False,
                    strength="strong",
                    implies=AiLabel.AI_GENERATED,
                ),
            ),
        ),
        tool=TOOL,
    )


def no_credentials_report(name: str = "plain.png") -> Report:
    return Report(
        subject=_subject(name),
        verdict=Verdict.NO_CREDENTIALS,
        summary=("No Content Credentials. This says nothing about authenticity.",),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=TOOL,
    )


def error_report(name: str = "broken.jpg") -> Report:
    return Report(
        subject=Subject(path=f"/cases/{name}", size=0),
        verdict=Verdict.ERROR,
        summary=("The file could not be checked.",),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=TOOL,
        error=ReportError("empty_file", "the file is empty (0 bytes)"),
    )


ALL = (trusted_report, invalid_report, no_credentials_report, error_report)
