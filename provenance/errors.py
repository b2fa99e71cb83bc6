"""The one exception tree of the provenance library, and errors as records.

A failed check is data (a :class:`~provenance.report.Report` with a verdict); exceptions
mean "could not decide" and are raised only by helpers that cannot return a report
(trust-list updates, PKI generation with bad options). :func:`provenance.check` never
raises for a bad input file: it turns every :class:`ProvenanceError` into a report with
``verdict=ERROR`` and ``error=ReportError(code, message)``.

Every exception class of the library is declared here (the modules that raise them
re-export them)::

    ProvenanceError
    ├── InputFileError ── VideoError
    ├── ManifestError, RemoteManifestError, SdkError        (reading credentials)
    ├── TrustStoreError, CertificateError, SigningError, TsaError
    ├── BankError, PdqError                                  (matching)
    ├── RepositoryError, PublishError, ResolverError, ReceiptError (durable)
    ├── ImageFileError                                       (media)
    ├── MonitorError                                         (URL monitoring)
    └── BatchError

:func:`error_record` is the one place that turns any exception into an
:class:`ErrorRecord` (code, message): reports, the batch runner's worker messages, the
command line and the resolution server all speak through it.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from provenance.credentials.certcheck import CertCheck

__all__ = [
    "BankError",
    "BatchError",
    "CertificateError",
    "DecodeError",
    "ErrorRecord",
    "ImageFileError",
    "InputFileError",
    "LimitError",
    "ManifestError",
    "MonitorError",
    "PdqError",
    "ProvenanceError",
    "PublishError",
    "ReceiptError",
    "RemoteManifestError",
    "RepositoryError",
    "ResolverError",
    "SdkError",
    "SigningError",
    "TrustStoreError",
    "TsaError",
    "VideoError",
    "error_record",
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


class DecodeError(InputFileError):
    """A picture or video could not be decoded, or was refused by the decode budget
    (:mod:`provenance.media.budget`).

    Codes: ``too_large`` (declared pixels over the limit), ``unsupported_format`` (no
    decoder recognises the bytes) and ``corrupt`` (the decoder failed).
    """

    default_code = "corrupt"


class LimitError(ProvenanceError):
    """A server request over one of its limits; ``status`` is the HTTP status to answer."""

    default_code = "bad_request"

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


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


class VideoError(InputFileError):
    """A video could not be read, decoded or written (the message says why)."""

    default_code = "video"


class CertificateError(ProvenanceError):
    """The signing certificate or key cannot be used (unreadable, or pre-flight errors)."""

    default_code = "bad_certificate"

    def __init__(
        self, message: str, *, code: str | None = None, check: CertCheck | None = None
    ) -> None:
        detail = {"problems": [f.code for f in check.errors]} if check is not None else None
        super().__init__(message, code=code, detail=detail)
        self.check = check


class SigningError(ProvenanceError):
    """Signing could not be done (bad option, output exists, signer failed, SDK refused)."""

    default_code = "sign_failed"


class TsaError(ProvenanceError):
    """The TSA cannot be set up (asn1crypto missing, unusable certificate or key)."""

    default_code = "tsa_error"


class BankError(ProvenanceError):
    """A bank file cannot be opened, created or written, or an import file is unusable."""

    default_code = "bank_error"


class PdqError(ProvenanceError):
    """A picture or video could not be decoded for hashing, or a hash string is malformed."""

    default_code = "unhashable_input"


class RepositoryError(ProvenanceError):
    """A repository file could not be opened, read or written."""

    default_code = "repository_error"


class PublishError(ProvenanceError):
    """The publish step could not watermark, sign or store a file."""

    default_code = "publish_failed"


class ResolverError(ProvenanceError):
    """A resolver could not be reached or answered with an error."""

    default_code = "resolver_error"


class MonitorError(ProvenanceError):
    """A monitoring database, URL, reference, template or profile cannot be used."""

    default_code = "monitor_error"


class ReceiptError(ProvenanceError):
    """A receipt key could not be loaded or created."""

    default_code = "receipt_error"


class ImageFileError(ProvenanceError):
    """A picture file could not be read, or a result could not be written."""

    default_code = "unreadable"


class BatchError(ProvenanceError):
    """The batch could not go on: an unexpected exception in the per-file function, or an
    executor that cannot be started."""

    default_code = "batch_error"


@dataclass(frozen=True)
class ErrorRecord:
    """An error as data: what reports, JSON output, server answers and batch workers carry."""

    code: str
    """Stable machine code (``not_found``, ``trust_store_error``, ``internal_error``, ...)."""
    message: str
    """A plain sentence for a user."""
    type: str = "ProvenanceError"
    """The exception class's name."""
    detail: Mapping[str, Any] = field(default_factory=dict)
    """Extra machine-readable facts (``ProvenanceError.detail``)."""

    @property
    def internal(self) -> bool:
        """True for an exception outside the library's tree (a bug, not a bad input)."""
        return self.code == "internal_error"

    def to_dict(self) -> dict[str, str]:
        """The JSON form ``{"code": ..., "message": ...}``."""
        return {"code": self.code, "message": self.message}

    def line(self, path: str | None = None) -> str:
        """The one-line diagnostic ``verify: <path>: <message>`` (without the path if None)."""
        where = f"{path}: " if path else ""
        return f"verify: {where}{self.message}"


_OS_CODES: dict[int, str] = {
    errno.ENOENT: "not_found",
    errno.EACCES: "permission_denied",
    errno.EPERM: "permission_denied",
    errno.EISDIR: "is_directory",
    errno.ENOSPC: "no_space",
}


def error_record(exc: BaseException) -> ErrorRecord:
    """Turn any exception into an :class:`ErrorRecord`.

    A :class:`ProvenanceError` keeps its code, message and detail; an :class:`OSError`
    gets a code from its errno (``not_found``, ``permission_denied``, ``is_directory``,
    ``no_space``, else ``unreadable``) and its ``strerror``; anything else is an
    ``internal_error`` naming the exception type.

    Parameters
    ----------
    exc
        The exception.

    Returns
    -------
    ErrorRecord
        The record.

    Examples
    --------
    >>> error_record(TrustStoreError("no PEM certificate in a.pem")).to_dict()
    {'code': 'trust_store_error', 'message': 'no PEM certificate in a.pem'}
    >>> error_record(FileNotFoundError(2, "No such file or directory", "x.jpg")).code
    'not_found'
    >>> error_record(RuntimeError("kaboom")).message
    'internal error: RuntimeError: kaboom'
    """
    name = type(exc).__name__
    if isinstance(exc, ProvenanceError):
        return ErrorRecord(exc.code, exc.message, name, dict(exc.detail))
    if isinstance(exc, OSError):
        code = _OS_CODES.get(exc.errno or 0, "unreadable")
        text = exc.strerror or str(exc) or name
        if exc.filename is not None:
            text = f"{exc.filename}: {text}"
        return ErrorRecord(code, text, name)
    return ErrorRecord("internal_error", f"internal error: {name}: {exc}", name)
