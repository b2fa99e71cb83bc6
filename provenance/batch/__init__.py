"""Checking many files: in-order local worker processes or Dask, resumable JSONL output."""

from provenance.batch.runner import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_TIMEOUT,
    FAN_OUT_AFTER,
    FAN_OUT_MIN_SECONDS,
    BatchError,
    BatchOptions,
    CheckFunction,
    Record,
    ResumeState,
    check_one,
    file_sha256,
    load_resume,
    parse_executor,
    report_from_dict,
    run_batch,
)

__all__ = [
    "BatchError",
    "BatchOptions",
    "CheckFunction",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TIMEOUT",
    "FAN_OUT_AFTER",
    "FAN_OUT_MIN_SECONDS",
    "Record",
    "ResumeState",
    "check_one",
    "file_sha256",
    "load_resume",
    "parse_executor",
    "report_from_dict",
    "run_batch",
]
