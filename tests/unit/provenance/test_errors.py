"""One exception tree in provenance.errors, and one way to turn any error into a record."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import provenance
from provenance import errors
from provenance.errors import (
    BankError,
    ErrorRecord,
    InputFileError,
    ProvenanceError,
    TrustStoreError,
    VideoError,
    error_record,
)

_OPTIONAL = {"provenance.durable.server"}  # needs the server extra; its errors are internal


def _library_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(provenance.__path__, "provenance."):
        if info.name not in _OPTIONAL:
            names.append(info.name)
    return names


def test_every_library_error_is_declared_in_errors() -> None:
    found = set()
    for name in _library_modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, ProvenanceError):
                assert obj.__module__ == "provenance.errors", f"{obj} declared in {name}"
                found.add(obj.__name__)
    assert found <= set(errors.__all__)
    assert {"BankError", "BatchError", "SigningError", "RepositoryError"} <= found


def test_re_exported_names_are_the_same_classes() -> None:
    from provenance.batch.runner import BatchError
    from provenance.matching.bank import BankError as FromBank

    assert FromBank is BankError
    assert BatchError is errors.BatchError
    assert issubclass(VideoError, InputFileError)


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (TrustStoreError("bad anchors"), "trust_store_error", "bad anchors"),
        (BankError("no bank", code="not_found"), "not_found", "no bank"),
        (FileNotFoundError(2, "No such file or directory", "a.jpg"), "not_found", "a.jpg: No such"),
        (PermissionError(13, "Permission denied"), "permission_denied", "Permission denied"),
        (IsADirectoryError(21, "Is a directory", "d"), "is_directory", "d: Is a directory"),
        (OSError(5, "Input/output error"), "unreadable", "Input/output error"),
        (RuntimeError("kaboom"), "internal_error", "internal error: RuntimeError: kaboom"),
    ],
)
def test_error_record(exc: BaseException, code: str, message: str) -> None:
    record = error_record(exc)
    assert record.code == code
    assert record.message.startswith(message)
    assert record.type == type(exc).__name__
    assert record.to_dict() == {"code": code, "message": record.message}
    assert record.internal is (code == "internal_error")


def test_record_keeps_detail_and_gives_one_line() -> None:
    record = error_record(ProvenanceError("cannot read", code="corrupt", detail={"k": 1}))
    assert record == ErrorRecord("corrupt", "cannot read", "ProvenanceError", {"k": 1})
    assert record.line("x.jpg") == "verify: x.jpg: cannot read"
    assert record.line() == "verify: cannot read"
