"""Exceptions raised by the provenance library.

A failed check is data (a :class:`~provenance.report.Report` with a verdict); exceptions
mean "could not decide" and are raised only by helpers that cannot return a report
(trust-list updates, PKI generation with bad options). :func:`provenance.check` never
raises for a bad input file: it turns every :class:`ProvenanceError` into a report with
``verdict=ERROR`` and ``error=ReportError(code, message)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "InputFileError",
    "ManifestError",
    "ProvenanceError",
    "RemoteManifestError",
    "SdkError",
    "TrustStoreError",
]


class ProvenanceError(Exception):
    """Base class of every error raised by the provenance library.

    Parameters
    ----------
    message
        A plain sentence that can be shown to a user as it is.
    code
        Stable machine code (``not_found``, ``corrupt``, ``trust_list_invalid``, ...).
        Defaults to the class's :attr:`default_code`.
    detail
        Extra machine-readable facts (paths, SDK messages), shown by :meth:`diagnostics`.
    """

    default_code: ClassVar[str] = "error"
    """Code used when none is given."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.detail: dict[str, Any] = dict(detail or {})

    def diagnostics(self) -> str:
        """Return a multi-line explanation for logs and ``--verbose`` output.

        Returns
        -------
        str
            The message, the code, and one ``key: value`` line per detail.
        """
        lines = [f"{self.message}", f"  code: {self.code}"]
        lines.extend(f"  {key}: {value}" for key, value in sorted(self.detail.items()))
        return "\n".join(lines)


class InputFileError(ProvenanceError):
    """The input file could not be read (missing, a directory, empty, unreadable, corrupt)."""

    default_code = "unreadable"


class ManifestError(ProvenanceError):
    """The file carries a C2PA manifest store that cannot be parsed or uses an unknown algorithm."""

    default_code = "malformed_manifest"


class RemoteManifestError(ProvenanceError):
    """The manifest lives at a remote URL that was not (or could not be) fetched."""

    default_code = "remote_manifest_not_fetched"

    def __init__(
        self,
        message: str,
        *,
        url: str | None,
        code: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        merged = dict(detail or {})
        merged["url"] = url
        super().__init__(message, code=code, detail=merged)
        self.url = url


class SdkError(ProvenanceError):
    """The C2PA SDK failed in a way we have no specific translation for."""

    default_code = "sdk_error"


class TrustStoreError(ProvenanceError):
    """A trust list could not be downloaded, parsed or stored."""

    default_code = "trust_store_error"
