"""C2PA Content Credentials, the authenticity chain, AI signals and the report model."""

from provenance.report import (
    SCHEMA,
    AiAssessment,
    AiLabel,
    AiSignal,
    ChainNode,
    Failure,
    Report,
    Subject,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "SCHEMA",
    "AiAssessment",
    "AiLabel",
    "AiSignal",
    "ChainNode",
    "Failure",
    "Report",
    "Subject",
    "Verdict",
    "__version__",
]
