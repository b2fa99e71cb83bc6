"""C2PA Content Credentials, the authenticity chain, AI signals and the report model."""

from provenance.check import check, check_bytes
from provenance.errors import ProvenanceError
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
    "ProvenanceError",
    "Report",
    "Subject",
    "Verdict",
    "__version__",
    "check",
    "check_bytes",
]
