"""C2PA Content Credentials, the authenticity chain, AI signals and the report model."""

from provenance._version import __version__
from provenance.check import Checker, CheckOptions, check, check_bytes
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

__all__ = [
    "SCHEMA",
    "AiAssessment",
    "AiLabel",
    "AiSignal",
    "ChainNode",
    "CheckOptions",
    "Checker",
    "Failure",
    "ProvenanceError",
    "Report",
    "Subject",
    "Verdict",
    "__version__",
    "check",
    "check_bytes",
]
