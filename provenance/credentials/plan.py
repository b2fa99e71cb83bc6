"""Planning a signing run: which input goes to which output, and the record of each.

:func:`plan_outputs` maps the inputs of ``verify sign`` (files and folders) to output
paths: one file to a file, anything else into a folder that keeps each input folder's
layout. Problems that concern the whole run (the output is the input, exists without
``force``, a file where a folder is needed) raise :class:`SigningError` with code
``bad_output`` before anything is signed; problems of one input (missing, two inputs with
the same output name) become a :class:`SignJob` with ``problem`` set.
:func:`sign_record` is the JSON record of one job.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from provenance.errors import ProvenanceError, SigningError, error_record

__all__ = ["SignJob", "media_files", "plan_outputs", "sign_record"]


@dataclass(frozen=True)
class SignJob:
    """One input file and where its signed copy goes."""

    src: Path
    """The input."""
    dst: Path | None
    """The output; None when the input cannot be signed at all."""
    problem: str | None = None
    """Why it cannot be signed, decided before signing."""


class _Outcome(Protocol):
    path: Path

    def to_dict(self) -> dict[str, Any]: ...


def media_files(
    folder: Path, suffixes: Collection[str], skip: Path | None = None
) -> Iterator[Path]:
    """Media files under ``folder``: sorted, hidden entries skipped, ``skip`` excluded.

    Parameters
    ----------
    folder
        Where to look (symbolic links to folders are not followed).
    suffixes
        Lower-case file name suffixes to keep (``.jpg``, ...).
    skip
        A resolved folder to leave out (the output folder inside an input folder).

    Yields
    ------
    Path
        The files.
    """
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and (skip is None or (here / d).resolve() != skip)
        )
        for name in sorted(files, key=os.fsencode):
            if not name.startswith(".") and Path(name).suffix.lower() in suffixes:
                yield here / name


def _bad(message: str) -> SigningError:
    return SigningError(message, code="bad_output")


def _single(src: Path, output: Path, *, force: bool) -> list[SignJob]:
    if src.exists() and output.exists() and output.resolve() == src.resolve():
        raise _bad(f"-o {output} is the input; signing always writes a new file")
    if output.exists() and not force:
        raise _bad(f"-o {output} exists; add --force to overwrite")
    if not output.parent.is_dir():
        raise _bad(f"-o {output}: folder {output.parent} does not exist")
    return [SignJob(src, output)]


def plan_outputs(
    inputs: Sequence[Path], out: str, *, force: bool, suffixes: Collection[str]
) -> list[SignJob]:
    """Decide the output of every input (and create the output folder when one is needed).

    Parameters
    ----------
    inputs
        Files and folders to sign.
    out
        The ``-o`` value: a file for a single input file (unless it is a folder or ends
        with a separator), else a folder.
    force
        Existing outputs may be overwritten.
    suffixes
        File name suffixes of media files taken from input folders.

    Returns
    -------
    list of SignJob
        In input order; folders expanded in sorted order.

    Raises
    ------
    SigningError
        Code ``bad_output`` for an unusable ``out``.
    """
    if not out:
        raise _bad("-o must not be empty")
    output = Path(out)
    single = len(inputs) == 1 and not inputs[0].is_dir()
    if single and not output.is_dir() and not out.endswith(("/", os.sep)):
        return _single(inputs[0], output, force=force)
    if output.exists() and not output.is_dir():
        raise _bad(f"-o {output} is a file; give a folder when signing several files or a folder")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _bad(f"-o {output}: cannot create the folder ({exc.strerror or exc})") from None
    out_real = output.resolve()
    jobs: list[SignJob] = []
    taken: dict[Path, Path] = {}
    for item in inputs:
        if item.is_dir():
            pairs: Iterable[tuple[Path, Path]] = (
                (f, output / f.relative_to(item)) for f in media_files(item, suffixes, out_real)
            )
        elif item.exists() or item.is_symlink():
            pairs = [(item, output / item.name)]
        else:
            jobs.append(SignJob(item, None, "no such file or folder"))
            continue
        for src, dst in pairs:
            key = dst.resolve()
            if key in taken:
                jobs.append(SignJob(src, None, f"same output name as {taken[key]} ({dst})"))
                continue
            taken[key] = src
            jobs.append(SignJob(src, dst))
    return jobs


def sign_record(
    job: SignJob, outcome: _Outcome | None = None, error: ProvenanceError | None = None
) -> dict[str, Any]:
    """The JSON record of one job: ``status`` ``signed`` with the outcome's facts, or
    ``error`` with ``{"code", "message"}``.

    Parameters
    ----------
    job
        The job.
    outcome
        What signing returned (:class:`~provenance.credentials.sign.SignResult`, or
        :class:`~provenance.durable.softbinding.Published` with its watermark facts).
    error
        Why it failed (None with no outcome: the job's own ``problem``).

    Returns
    -------
    dict
        ``input``, ``output``, ``status`` and the facts.
    """
    output = outcome.path if outcome is not None else job.dst
    rec: dict[str, Any] = {"input": str(job.src), "output": str(output) if job.dst else None}
    if outcome is not None:
        rec.update(status="signed", **outcome.to_dict())
        return rec
    if error is not None:
        failure: Mapping[str, str] = error_record(error).to_dict()
    else:
        failure = {"code": "unreadable", "message": job.problem or "cannot be signed"}
    rec.update(status="error", error=dict(failure))
    return rec
