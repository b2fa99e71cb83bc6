"""Check many files: one JSON record per file, in input order, on local processes or Dask.

The per-file function is :func:`check_one` (``path, checker -> record``): it applies the
decompression-bomb guard, calls :meth:`provenance.Checker.check` with the
:class:`FileChecker` built once per process (or Dask chunk) and returns
``Report.to_dict()``, a plain ``dict`` that crosses process boundaries cheaply.
:func:`run_batch` runs it over an iterable of paths and yields :class:`Record` objects
**in input order** (a reorder buffer), so the same inputs and options give the same
records whatever the number of workers.

Executors
---------
``executor="local"``
    ``jobs == 1`` without a ``timeout`` runs in this process (no isolation). Otherwise
    ``jobs`` worker processes (``spawn`` start method: the C2PA library and its threads
    never see a ``fork``) each check one file at a time (with up to two more queued, so
    that they never wait for this process). A worker that exceeds
    ``timeout`` seconds on a file is killed and replaced, and the file gets an ``ERROR``
    record with code ``timeout``; a worker that dies (a crash in native code, the
    out-of-memory killer) is replaced and the file it was checking gets ``ERROR``
    ``worker_crashed``. Other files are not affected.
``executor="dask:ADDRESS"``, ``"dask:local:N"`` (or ``"local:N"``)
    The same function on ``dask.distributed`` workers: an existing scheduler, or a
    ``LocalCluster`` of ``N`` single-threaded worker processes started for the run.
    Files travel in chunks (up to 64 files) to keep the scheduler's per-task cost low. The time
    limit is enforced on the worker: the file gets ``ERROR`` ``timeout`` at once, but a
    thread cannot be killed, so a truly stuck one keeps running until its worker is
    recycled (start workers with ``--lifetime``). A chunk whose worker died is split
    into one task per file, and a file whose task keeps killing workers gets ``ERROR``
    ``worker_crashed`` once Dask gives up on it (``distributed.scheduler.allowed-failures``
    retries). Paths must be readable at the same absolute path on every worker (a shared
    file system).

A Python exception raised by the per-file function is not a property of the file
(:func:`provenance.check` never raises for a bad file): it ends the run, re-raised in
the caller as :class:`BatchError` (or as the original :class:`ProvenanceError` type for
configuration problems when run in-process).

Resuming
--------
:func:`load_resume` reads a JSON Lines file written earlier, cuts off a torn last line
(a run killed mid-write) and returns the ``(path, sha256)`` pairs already recorded, so
a caller can skip those inputs and append the rest.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import selectors
import signal
import threading
import time
import traceback
import types
import typing
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from PIL import Image

from provenance.check import Checker, CheckOptions
from provenance.errors import BatchError, ErrorRecord, ProvenanceError, error_record
from provenance.media import budget
from provenance.report import Report, Verdict

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_TIMEOUT",
    "RETRIED_ON_RESUME",
    "FAN_OUT_AFTER",
    "FAN_OUT_MIN_SECONDS",
    "BatchError",
    "BatchOptions",
    "CheckFunction",
    "FileChecker",
    "Record",
    "ResumeState",
    "WorkerPlan",
    "check_one",
    "file_sha256",
    "load_resume",
    "parse_executor",
    "plan_workers",
    "report_from_dict",
    "run_batch",
]

DEFAULT_MAX_PIXELS: Final = budget.DEFAULT_MAX_PIXELS
"""Pictures declaring more pixels than this are refused before decoding (``too_large``);
the one decode budget of :mod:`provenance.media.budget`."""
DEFAULT_TIMEOUT: Final = 600.0
"""Default per-file time limit (seconds) when files are checked in worker processes."""

FAN_OUT_AFTER: Final = 1.0
"""``run_batch(fan_out=True)``: seconds of in-process work before workers may be started."""
FAN_OUT_MIN_SECONDS: Final = 4.0
"""``run_batch(fan_out=True)``: workers are started only when the files left would take
longer than this in-process (estimated from the files done so far; always when the
number of inputs is unknown). A spawned worker needs about a second of CPU to start."""

_PILLOW_BACKSTOP: Final = 32
_HEADER_BYTES: Final = 1 << 20
"""Bytes read to find a picture's declared size (headers sit in the first megabyte)."""
_WINDOW_PER_WORKER: Final = 32
_MIN_WINDOW: Final = 64
_CHUNK_MAX: Final = 64
_CHUNK_UNKNOWN: Final = 16
_QUEUE_PER_WORKER: Final = 3


@dataclass(frozen=True)
class BatchOptions:
    """Options of a batch, the same for every file (picklable)."""

    check: CheckOptions = field(default_factory=CheckOptions)
    """The check options (banks given as paths: each process opens them once)."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """Decompression-bomb guard: pictures declaring more pixels get ``ERROR too_large``."""


@dataclass(frozen=True)
class Record:
    """One file's result, as yielded by :func:`run_batch`."""

    index: int
    """Position of the input in the iterable given to :func:`run_batch`."""
    path: str
    """The input path as given."""
    data: dict[str, Any]
    """The JSON record (``Report.to_dict()``, schema ``jinjja.report/v1``)."""
    report: Report | None = field(default=None, compare=False, repr=False)
    """The :class:`Report` itself when the file was checked in this process with
    :func:`check_one` (saves rebuilding it with :func:`report_from_dict`); else None."""

    @property
    def verdict(self) -> str:
        """The record's verdict (``TRUSTED`` ... ``ERROR``)."""
        return str(self.data.get("verdict"))

    @property
    def error_code(self) -> str | None:
        """``error.code`` when the file could not be checked, else None."""
        error = self.data.get("error")
        if self.data.get("verdict") != Verdict.ERROR.value or not isinstance(error, dict):
            return None
        code = error.get("code")
        return code if isinstance(code, str) else None


CheckFunction = Callable[[str, "FileChecker"], dict[str, Any]]
"""The per-file function type: a module-level function (picklable by reference)."""


# ----------------------------------------------------------------------------- per file


def _declared_pixels(path: str) -> tuple[int, int] | None:
    """Width and height from the picture's header (nothing decoded); None if not a picture."""
    if not os.path.isfile(path):  # never open a FIFO or a device here
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
    except OSError:  # unreadable: check() will say so
        return None
    return budget.declared_size(head)


def _configure_process(max_pixels: int) -> None:
    """Pillow's own bomb limit, far above ours so that our guard (which reads the header
    and names the dimensions) speaks first; Pillow's stays a backstop."""
    Image.MAX_IMAGE_PIXELS = max(max_pixels, 1) * _PILLOW_BACKSTOP


def _too_large(path: str, max_pixels: int) -> tuple[str | None, tuple[int, int] | None]:
    """Why the picture is refused before decoding (None: it is not), and its declared size."""
    size = _declared_pixels(path)
    if size is not None and size[0] * size[1] > max_pixels:
        return (
            f"The picture declares {size[0]}x{size[1]} pixels (over the limit of "
            f"{max_pixels:,}); refused as a possible decompression bomb."
        ), size
    return None, size


class FileChecker:
    """A :class:`~provenance.check.Checker` behind the decompression-bomb guard.

    Built once per process (in-process runs, each worker, each Dask chunk) and handed to
    the per-file function with every path.

    Parameters
    ----------
    options
        The batch options.

    Raises
    ------
    ProvenanceError
        For bad configuration (trust anchors, trust store, bank files), as
        :class:`~provenance.check.Checker`.
    """

    def __init__(self, options: BatchOptions) -> None:
        self.options: Final = options
        self.checker: Final = Checker(options.check)

    def close(self) -> None:
        """Close the banks the checker opened."""
        self.checker.close()

    def report(self, path: str) -> Report:
        """Check one file: the header first, then :meth:`Checker.check`.

        A picture declaring more than ``options.max_pixels`` pixels gets an ``ERROR``
        report with code ``too_large`` without being decoded; the same limit holds for
        every decode inside the check (:func:`provenance.media.budget.pixel_limit`), and
        decoder warnings and messages become the report's ``notes``.
        """
        _configure_process(self.options.max_pixels)
        refused, size = _too_large(path, self.options.max_pixels)
        if refused is None:
            with budget.pixel_limit(self.options.max_pixels), budget.collecting() as notes:
                report = self.checker.check(path)
            if notes:
                report = dataclasses.replace(report, notes=report.notes + tuple(notes))
            return report
        report = self.checker.error_report(path, "too_large", refused)
        if size is not None:
            subject = dataclasses.replace(report.subject, width=size[0], height=size[1])
            report = dataclasses.replace(report, subject=subject)
        return report

    def error_record(self, path: str, code: str, message: str) -> dict[str, Any]:
        """The JSON record of a file that was not checked (``timeout``, ``worker_crashed``)."""
        return self.checker.error_report(path, code, message).to_dict()


def check_one(path: str, checker: FileChecker) -> dict[str, Any]:
    """Check one file and return its JSON record (the default per-file function).

    Parameters
    ----------
    path
        The file to check.
    checker
        The process's checker.

    Returns
    -------
    dict
        ``Report.to_dict()`` of the file.
    """
    return checker.report(path).to_dict()


class _ErrorRecords:
    """Records of files this process did not check; the checker is built on first need."""

    def __init__(self, options: BatchOptions) -> None:
        self._options = options
        self._checker: FileChecker | None = None

    def __call__(self, path: str, code: str, message: str) -> dict[str, Any]:
        if self._checker is None:
            self._checker = FileChecker(self._options)
        return self._checker.error_record(path, code, message)

    def close(self) -> None:
        if self._checker is not None:
            self._checker.close()


def _timeout_message(timeout: float) -> str:
    return (
        f"Checking the file took longer than {timeout:g} s; the worker was stopped "
        "(raise --timeout for very large files)."
    )


# ------------------------------------------------------------------------ local workers


def _worker_main(conn: Connection, function: CheckFunction, options: BatchOptions) -> None:
    """Loop of a worker process: build the checker, then receive ``(index, path)`` and
    send back the result. A configuration error answers every file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    _configure_process(options.max_pixels)
    checker: FileChecker | None = None
    broken: ProvenanceError | None = None
    try:
        checker = FileChecker(options)
    except ProvenanceError as exc:
        broken = exc
    try:
        conn.send(("ready",))
    except (OSError, ValueError):
        return
    try:
        _serve(conn, function, checker, broken)
    finally:
        if checker is not None:
            checker.close()


def _serve(
    conn: Connection,
    function: CheckFunction,
    checker: FileChecker | None,
    broken: ProvenanceError | None,
) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent went away
            return
        if message is None:
            return
        index, path = message
        try:
            if checker is None:
                assert broken is not None
                raise broken
            reply: tuple[Any, ...] = ("ok", index, function(path, checker))
        except ProvenanceError as exc:
            reply = ("config", index, error_record(exc))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            reply = ("exception", index, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


@dataclass
class _Slot:
    """One worker process and the files sent to it, checked in order."""

    process: BaseProcess
    conn: Connection
    tasks: deque[tuple[int, str]] = field(default_factory=deque)
    """Files sent and not answered yet; the first is being checked."""
    started: float = 0.0
    """When the worker started on the first file of :attr:`tasks`."""
    ready: bool = False
    """True once the worker has started and imported the library."""


class _LocalPool:
    """Worker processes, each checking the files sent to it in order; hung or dead ones
    are replaced."""

    def __init__(self, jobs: int, options: BatchOptions, function: CheckFunction) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._options = options
        self._function = function
        self.slots = [self._start() for _ in range(jobs)]

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self._function, self._options),
            name="jinjja-check-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return _Slot(process=process, conn=parent)

    def replace(self, slot: _Slot) -> _Slot:
        """Kill a worker (if still alive) and start a new one in its place."""
        self._kill(slot)
        fresh = self._start()
        self.slots[self.slots.index(slot)] = fresh
        return fresh

    @staticmethod
    def _kill(slot: _Slot) -> None:
        if slot.process.is_alive():
            slot.process.kill()
        slot.process.join(timeout=10)
        slot.conn.close()

    def close(self) -> None:
        """Stop every worker: ask nicely, then kill the ones that do not exit."""
        for slot in self.slots:
            try:
                if not slot.tasks:
                    slot.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2.0
        for slot in self.slots:
            if not slot.tasks:
                slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
            self._kill(slot)


def _raise_reply(reply: tuple[Any, ...], path: str) -> None:
    if reply[0] == "config":
        record: ErrorRecord = reply[2]
        detail = {"error_type": record.type, "path": path}
        raise BatchError(record.message, code=record.code, detail=detail)
    raise BatchError(
        f"Unexpected error while checking {path}: {reply[2]}",
        code="internal_error",
        detail={"traceback": reply[3]},
    )


def _run_local(
    items: Iterator[tuple[int, str]],
    options: BatchOptions,
    *,
    jobs: int,
    timeout: float | None,
    function: CheckFunction,
) -> Iterator[Record]:
    first = next(items, None)
    if first is None:  # nothing to do: start no worker
        return
    run = _LocalRun(itertools.chain([first], items), first[0], options, jobs, timeout, function)
    try:
        yield from run.records()
    finally:
        run.close()


class _LocalRun:
    """One run on local worker processes: feed them, collect replies in input order,
    replace the ones that hang or die."""

    def __init__(
        self,
        items: Iterator[tuple[int, str]],
        start: int,
        options: BatchOptions,
        jobs: int,
        timeout: float | None,
        function: CheckFunction,
    ) -> None:
        self.items = items
        self.jobs = jobs
        self.timeout = timeout
        self.pool = _LocalPool(jobs, options, function)
        self.error_record = _ErrorRecords(options)
        self.window = max(_MIN_WINDOW, _WINDOW_PER_WORKER * jobs)
        self.ready: dict[int, Record] = {}
        self.retry: deque[tuple[int, str]] = deque()  # sent to a worker that died before them
        self.next_out = start  # items are numbered consecutively from here
        self.next_in = start
        self.exhausted = False
        self.failed_starts = 0
        # One selector over every worker's pipe and process sentinel, rebuilt only when a
        # worker is replaced: registering the handles anew on every wake-up costs more
        # than handling a reply. Poll is level-triggered, so one reply is read per event
        # and any further reply wakes the next select at once.
        self.selector = selectors.DefaultSelector()
        self.watched: list[_Slot] = []

    def close(self) -> None:
        self.selector.close()
        self.pool.close()
        self.error_record.close()

    def records(self) -> Iterator[Record]:
        while True:
            self._feed()
            if self.exhausted and not self.retry and not any(s.tasks for s in self.pool.slots):
                return
            for slot, died in self._wait().values():
                self._handle(slot, died)
            self._expire()
            while self.next_out in self.ready:
                yield self.ready.pop(self.next_out)
                self.next_out += 1

    def _take(self) -> tuple[int, str] | None:
        if self.retry:
            return self.retry.popleft()
        if self.exhausted or self.next_in - self.next_out >= self.window:
            return None
        item = next(self.items, None)
        if item is None:
            self.exhausted = True
            return None
        self.next_in = item[0] + 1
        return item

    def _feed(self) -> None:
        """Keep every ready worker's queue filled."""
        for slot in self.pool.slots:
            while slot.ready and len(slot.tasks) < _QUEUE_PER_WORKER:
                item = self._take()
                if item is None:
                    break
                try:
                    slot.conn.send(item)
                except (OSError, ValueError):
                    # The worker died after its last reply was read (for instance on a
                    # file queued before this one) and its pipe is closed. This file never
                    # reached it: queue it again. If the worker had files in hand, its
                    # sentinel reports the death and attributes the crash to the head
                    # one; an idle dead worker is replaced now.
                    self.retry.appendleft(item)
                    if not slot.tasks:
                        self.pool.replace(slot)
                    break
                if not slot.tasks:
                    slot.started = time.monotonic()
                slot.tasks.append(item)

    def _watch(self) -> None:
        slots = self.pool.slots
        if len(self.watched) == len(slots) and all(
            a is b for a, b in zip(self.watched, slots, strict=True)
        ):
            return
        self.selector.close()
        self.selector = selectors.DefaultSelector()
        for slot in slots:
            self.selector.register(slot.conn.fileno(), selectors.EVENT_READ, (slot, False))
            self.selector.register(slot.process.sentinel, selectors.EVENT_READ, (slot, True))
        self.watched = list(slots)

    def _wait(self) -> dict[int, tuple[_Slot, bool]]:
        """Workers with something to read, and whether each died (by id of the slot)."""
        busy = [s for s in self.pool.slots if s.tasks]
        wait_for: float | None = None
        if self.timeout is not None and busy:
            deadline = min(s.started for s in busy) + self.timeout
            wait_for = max(0.0, deadline - time.monotonic())
        self._watch()
        readable: dict[int, tuple[_Slot, bool]] = {}
        for key, _ in self.selector.select(wait_for):
            slot, died = key.data
            seen = readable.get(id(slot))
            readable[id(slot)] = (slot, died or (seen is not None and seen[1]))
        return readable

    def _handle(self, slot: _Slot, died: bool) -> None:
        if not slot.ready:
            self._starting(slot, died)
            return
        if not slot.tasks and not died:
            _poll(slot)  # nothing is expected from an idle worker: discard it
            return
        # After a death, read every reply it managed to send; else just one.
        while slot.tasks and (reply := _poll(slot)) is not None:
            index, path = slot.tasks.popleft()
            if reply[0] != "ok":
                _raise_reply(reply, path)
            self.ready[index] = Record(index, path, reply[2])
            slot.started = time.monotonic()
            if not died:
                break
        if not died:
            return
        if not slot.tasks:  # died while idle: replace it before it is given work
            self.pool.replace(slot)
            return
        index, path = slot.tasks[0]
        slot.process.join(timeout=10)
        message = (
            "The worker process checking this file died "
            f"(exit status {slot.process.exitcode}); the file may crash the decoder."
        )
        self.ready[index] = Record(index, path, self.error_record(path, "worker_crashed", message))
        self._abandon(slot)

    def _starting(self, slot: _Slot, died: bool) -> None:
        """A worker that has not said it is ready yet."""
        reply = None if died else _poll(slot)
        if reply == ("ready",):
            slot.ready = True
            self.failed_starts = 0
        elif died or not slot.process.is_alive():
            self.failed_starts += 1
            if self.failed_starts > 3 * self.jobs:
                raise BatchError(
                    "Worker processes exit before they are ready (exit status "
                    f"{slot.process.exitcode}); run with --jobs 1 to see why.",
                    code="internal_error",
                )
            self.pool.replace(slot)

    def _expire(self) -> None:
        """Give the files over the time limit an ERROR record and replace their workers."""
        if self.timeout is None:
            return
        now = time.monotonic()
        for slot in [s for s in self.pool.slots if s.tasks and now - s.started >= self.timeout]:
            index, path = slot.tasks[0]
            record = self.error_record(path, "timeout", _timeout_message(self.timeout))
            self.ready[index] = Record(index, path, record)
            self._abandon(slot)

    def _abandon(self, slot: _Slot) -> None:
        """Give the files queued behind the head back, then replace the worker."""
        slot.tasks.popleft()
        self.retry.extendleft(reversed(slot.tasks))
        slot.tasks.clear()
        self.pool.replace(slot)


def _poll(slot: _Slot) -> tuple[Any, ...] | None:
    """The worker's message, if one is waiting (None when there is none or it died)."""
    try:
        if not slot.conn.poll():
            return None
        reply = slot.conn.recv()
    except (EOFError, OSError):
        return None
    return reply if isinstance(reply, tuple) else None


# ---------------------------------------------------------------------------------- Dask


def _dask_chunk(
    items: list[tuple[int, str]],
    options: BatchOptions,
    function: CheckFunction,
    timeout: float | None,
) -> list[tuple[int, dict[str, Any]]]:
    """Run on a Dask worker: check a few files, each under the time limit."""
    _configure_process(options.max_pixels)
    checker = FileChecker(options)
    try:
        return [(index, _dask_file(path, checker, function, timeout)) for index, path in items]
    finally:
        checker.close()


def _dask_file(
    path: str, checker: FileChecker, function: CheckFunction, timeout: float | None
) -> dict[str, Any]:
    if timeout is None:
        return function(path, checker)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["record"] = function(path, checker)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    # A thread cannot be killed: a stuck one is left behind (daemon) and the file gets
    # its ERROR record now; worker lifetimes (dask worker --lifetime) recycle it.
    thread = threading.Thread(target=work, name="jinjja-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return checker.error_record(path, "timeout", _timeout_message(timeout))
    if "error" in box:
        raise box["error"]
    record: dict[str, Any] = box["record"]
    return record


def _dask_client(spec: str) -> tuple[Any, Any]:
    """A ``(client, cluster_or_None)`` pair for ``ADDRESS`` or ``local:N``."""
    try:
        from distributed import Client, LocalCluster  # optional extra: scale (Dask)
    except ImportError:
        raise BatchError(
            "Dask is not installed: install the 'scale' extra (pip install 'jinjja[scale]').",
            code="missing_dependency",
        ) from None
    if spec.startswith("local:"):
        n = int(spec.split(":", 1)[1])
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
        )
        try:
            return Client(cluster), cluster  # type: ignore[no-untyped-call]
        except BaseException:
            cluster.close()
            raise
    try:
        return Client(spec, timeout="20s"), None  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise BatchError(
            f"Cannot connect to the Dask scheduler at {spec}: {exc}", code="dask_unreachable"
        ) from None


def _chunk_size(chunk: int | None, total: int | None, threads: int) -> int:
    """Files per Dask task: as asked, else about four tasks per worker thread."""
    if chunk is not None:
        return chunk
    if total is not None:  # about four chunks per worker thread, at most _CHUNK_MAX
        return max(1, min(_CHUNK_MAX, math.ceil(total / (4 * threads))))
    return _CHUNK_UNKNOWN


def _run_dask(
    items: Iterator[tuple[int, str]],
    options: BatchOptions,
    *,
    spec: str,
    timeout: float | None,
    function: CheckFunction,
    chunk: int | None,
    total: int | None,
) -> Iterator[Record]:
    client, cluster = _dask_client(spec)
    error_record = _ErrorRecords(options)
    try:
        run = _DaskRun(client, items, options, timeout, function, chunk, total, error_record)
        yield from run.records()
    finally:
        error_record.close()
        client.close()
        if cluster is not None:
            cluster.close()


class _DaskRun:
    """Chunks of files in flight on a Dask cluster; records yielded in input order."""

    def __init__(
        self,
        client: Any,
        items: Iterator[tuple[int, str]],
        options: BatchOptions,
        timeout: float | None,
        function: CheckFunction,
        chunk: int | None,
        total: int | None,
        error_record: _ErrorRecords,
    ) -> None:
        from distributed import as_completed  # optional extra: scale (Dask)

        self.client, self.items, self.options = client, items, options
        self.timeout, self.function, self.error_record = timeout, function, error_record
        threads = max(1, sum(client.nthreads().values()))
        self.size = _chunk_size(chunk, total, threads)
        self.in_flight = 4 * threads
        self.paths: dict[int, str] = {}
        self.ready: dict[int, Record] = {}
        self.next_out = 0
        self.exhausted = False
        self.futures = as_completed()  # type: ignore[no-untyped-call]
        self.pending: dict[Any, list[tuple[int, str]]] = {}

    def _submit(self, batch: list[tuple[int, str]]) -> None:
        future = self.client.submit(
            _dask_chunk, batch, self.options, self.function, self.timeout, pure=False
        )
        self.pending[future] = batch
        self.futures.add(future)  # type: ignore[no-untyped-call]

    def _fill(self) -> None:
        while not self.exhausted and len(self.pending) < self.in_flight:
            batch: list[tuple[int, str]] = []
            while len(batch) < self.size:
                item = next(self.items, None)
                if item is None:
                    self.exhausted = True
                    break
                self.paths[item[0]] = item[1]
                batch.append(item)
            if batch:
                self._submit(batch)

    def _results(self, future: Any, batch: list[tuple[int, str]]) -> list[tuple[int, Any]]:
        """The chunk's records; a chunk whose worker died is split into one task per file."""
        from distributed.scheduler import KilledWorker  # optional extra: scale (Dask)

        try:
            results: list[tuple[int, Any]] = future.result()
        except KilledWorker:
            if len(batch) > 1:  # find the culprit: one task per file
                for item in batch:
                    self._submit([item])
                return []
            index, path = batch[0]
            message = (
                "Every Dask worker that checked this file died; the file may crash the decoder."
            )
            return [(index, self.error_record(path, "worker_crashed", message))]
        except ProvenanceError:
            raise
        except Exception as exc:
            raise BatchError(
                f"Unexpected error on a Dask worker: {type(exc).__name__}: {exc}",
                code="internal_error",
            ) from exc
        return results

    def records(self) -> Iterator[Record]:
        self._fill()
        while self.pending:
            future = next(self.futures)
            batch = self.pending.pop(future)
            for index, data in self._results(future, batch):
                self.ready[index] = Record(index, self.paths.pop(index), data)
            while self.next_out in self.ready:
                yield self.ready.pop(self.next_out)
                self.next_out += 1
            self._fill()


# ------------------------------------------------------------------------------ driver


def parse_executor(executor: str) -> tuple[str, str | None]:
    """Split an executor name into ``("local", None)`` or ``("dask", ADDRESS | "local:N")``.

    Parameters
    ----------
    executor
        ``local``, ``dask:ADDRESS``, ``dask:local:N`` or ``local:N``.

    Returns
    -------
    tuple
        The kind and the Dask target.

    Raises
    ------
    ValueError
        For an unknown executor or a bad worker count.

    Examples
    --------
    >>> parse_executor("local:2")
    ('dask', 'local:2')
    >>> parse_executor("dask:tcp://10.0.0.5:8786")
    ('dask', 'tcp://10.0.0.5:8786')
    """
    if executor == "local":
        return "local", None
    target = executor[len("dask:") :] if executor.startswith("dask:") else executor
    if target.startswith("local:"):
        count = target.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{executor!r}: the LocalCluster needs a worker count >= 1")
        return "dask", f"local:{int(count)}"
    if executor.startswith("dask:") and target:
        return "dask", target
    raise ValueError(
        f"unknown executor {executor!r} (use local, dask:ADDRESS, dask:local:N or local:N)"
    )


@dataclass(frozen=True)
class WorkerPlan:
    """How a batch runs: the arguments of :func:`run_batch` chosen by :func:`plan_workers`."""

    executor: str
    """``local`` or ``dask:ADDRESS``."""
    jobs: int
    """Local worker processes (1 with Dask: the cluster decides)."""
    timeout: float | None
    """Per-file time limit in seconds (None: none, in-process)."""
    fan_out: bool
    """Start in-process and start the workers only when the batch is long enough."""


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def plan_workers(
    files: int,
    *,
    jobs: int | None = None,
    timeout: float | None = None,
    dask: str | None = None,
) -> WorkerPlan:
    """Choose workers, time limit and fan-out for a batch (the ``verify check`` policy).

    * Dask: the cluster decides the workers; the time limit defaults to
      :data:`DEFAULT_TIMEOUT`.
    * Neither ``jobs`` nor ``timeout``: check in-process and fan out to one worker per
      usable core once the batch has proved long enough (``fan_out``).
    * Otherwise ``jobs`` workers (default one per core, never more than files); with more
      than one worker the time limit defaults to :data:`DEFAULT_TIMEOUT`.

    Parameters
    ----------
    files
        Number of inputs.
    jobs
        Worker processes asked for (None: decide).
    timeout
        Per-file time limit asked for (None: decide).
    dask
        A Dask scheduler address or ``local:N`` (None: local processes).

    Returns
    -------
    WorkerPlan
        The arguments for :func:`run_batch`.

    Examples
    --------
    >>> plan_workers(10, jobs=1)
    WorkerPlan(executor='local', jobs=1, timeout=None, fan_out=False)
    >>> plan_workers(10, jobs=4).timeout == DEFAULT_TIMEOUT
    True
    """
    if dask is not None:
        return WorkerPlan(f"dask:{dask}", 1, timeout or DEFAULT_TIMEOUT, False)
    wanted = jobs if jobs is not None else _cpu_count()
    workers = max(1, min(wanted, files))
    limit = DEFAULT_TIMEOUT if timeout is None and workers > 1 else timeout
    return WorkerPlan("local", workers, limit, jobs is None and timeout is None)


def _check_limits(jobs: int, timeout: float | None, chunk: int | None) -> None:
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be at least 1, not {chunk}")


# Over 60 lines only for its public signature and docstring (with a doctest); the body is ~23 lines.
def run_batch(
    paths: Iterable[str | os.PathLike[str]],
    options: BatchOptions,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    executor: str = "local",
    function: CheckFunction = check_one,
    chunk: int | None = None,
    fan_out: bool = False,
) -> Iterator[Record]:
    """Check files and yield one :class:`Record` per path, in input order.

    Parameters
    ----------
    paths
        The files (consumed lazily, as workers become free).
    options
        Options for every file.
    jobs
        Local worker processes (``executor="local"``). ``1`` without ``timeout`` runs in
        this process, one file at a time.
    timeout
        Per-file limit in seconds (None: no limit). Enforced by killing the worker.
    executor
        ``local``, ``dask:ADDRESS``, ``dask:local:N`` or ``local:N`` (see the module
        docstring).
    function
        The per-file function (module-level, so it can be pickled by reference).
    chunk
        Dask only: files per task. Default: about four tasks per worker thread, at most
        64 files each (16 when ``paths`` has no length).
    fan_out
        Local only, with ``jobs > 1``: start in this process and start the ``jobs``
        workers only when the batch turns out to be long enough to repay their start-up
        (see :data:`FAN_OUT_AFTER` and :data:`FAN_OUT_MIN_SECONDS`). Files checked before
        that run without isolation or ``timeout``; the rest run on the workers.

    Yields
    ------
    Record
        In the order of ``paths``.

    Raises
    ------
    BatchError
        When the per-file function raised, or the executor cannot start.
    ValueError
        For a bad ``jobs``, ``timeout`` or ``executor``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("hello")
    >>> [r.verdict for r in run_batch([d / "a.txt", d / "missing.jpg"], BatchOptions())]
    ['ERROR', 'ERROR']
    """
    kind, target = parse_executor(executor)
    _check_limits(jobs, timeout, chunk)
    items = ((i, os.fspath(p)) for i, p in enumerate(paths))
    if kind == "dask":
        assert target is not None
        total = len(paths) if isinstance(paths, Sized) else None
        return _run_dask(
            items,
            options,
            spec=target,
            timeout=timeout,
            function=function,
            chunk=chunk,
            total=total,
        )
    if jobs == 1 and timeout is None:
        return _run_inline(items, options, function)
    if fan_out and jobs > 1:
        total = len(paths) if isinstance(paths, Sized) else None
        return _run_fan_out(
            items, options, jobs=jobs, timeout=timeout, function=function, total=total
        )
    return _run_local(items, options, jobs=jobs, timeout=timeout, function=function)


def _run_fan_out(
    items: Iterator[tuple[int, str]],
    options: BatchOptions,
    *,
    jobs: int,
    timeout: float | None,
    function: CheckFunction,
    total: int | None,
) -> Iterator[Record]:
    """In-process first; hand what is left to ``jobs`` workers once that pays off."""
    started = time.monotonic()
    done = 0
    inline = _run_inline(items, options, function)
    try:
        for record in inline:
            yield record
            done += 1
            elapsed = time.monotonic() - started
            if elapsed < FAN_OUT_AFTER:
                continue
            if total is not None:
                left = total - done
                if left * elapsed / done < FAN_OUT_MIN_SECONDS:
                    continue  # finishing here is quicker than starting workers
            break
        else:
            return
    finally:
        inline.close()
    yield from _run_local(items, options, jobs=jobs, timeout=timeout, function=function)


def _run_inline(
    items: Iterator[tuple[int, str]], options: BatchOptions, function: CheckFunction
) -> Generator[Record, None, None]:
    saved = Image.MAX_IMAGE_PIXELS
    checker = FileChecker(options)
    try:
        for index, path in items:
            if function is check_one:  # keep the report: the caller need not rebuild it
                report = checker.report(path)
                Image.MAX_IMAGE_PIXELS = saved
                yield Record(index, path, report.to_dict(), report)
                continue
            _configure_process(options.max_pixels)
            record = function(path, checker)
            Image.MAX_IMAGE_PIXELS = saved
            yield Record(index, path, record)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
        checker.close()


# ----------------------------------------------------------------------------- resuming


@dataclass(frozen=True)
class ResumeState:
    """What an earlier run already wrote to a JSON Lines file."""

    recorded: frozenset[tuple[str, str]]
    """``(subject.path, subject.sha256)`` of every complete record; the hash is ``""`` when
    the file could not be read then (it matches a file that still cannot be read)."""
    records: int
    """Number of complete records."""
    truncated: int
    """Bytes of a torn last line that were cut off (0 when the file ended cleanly)."""


RETRIED_ON_RESUME: Final = frozenset({"timeout", "worker_crashed"})
"""Error codes whose records ``--resume`` drops and checks again (the file may well pass
another time); ``--retry-errors`` drops every ``ERROR`` record."""


def load_resume(path: str | os.PathLike[str], *, retry_errors: bool = False) -> ResumeState:
    """Read a JSON Lines output file for ``--resume``, cutting off a torn last line.

    A missing file is an empty state (the run starts from scratch). The last line is
    torn when it does not end with a newline or is not a JSON object; it is removed from
    the file so that appending continues on a clean line boundary. Records that ended
    ``timeout`` or ``worker_crashed`` (with ``retry_errors``, every ``ERROR`` record) are
    removed too, so that those files are checked again and keep one record each.

    Parameters
    ----------
    path
        The JSON Lines file.
    retry_errors
        Check again every file whose record is an ``ERROR``.

    Returns
    -------
    ResumeState
        The recorded inputs.

    Raises
    ------
    BatchError
        When the file cannot be read or written, or a line other than the last is not
        a JSON record (not an output of this command).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return ResumeState(frozenset(), 0, 0)
    except OSError as exc:
        raise BatchError(
            f"{p}: cannot read the file to resume: {exc.strerror or exc}", code="unreadable"
        ) from None
    lines = raw.split(b"\n")
    tail = lines.pop()  # bytes after the last newline: empty when the file ended cleanly
    kept: list[bytes] = []
    recorded: set[tuple[str, str]] = set()
    torn = len(tail)
    for number, line in enumerate(lines, 1):
        record = _parse_line(line)
        if record is None:
            if number == len(lines) and not tail:
                torn = len(line) + 1  # a damaged last line: re-do that input
                break
            raise BatchError(
                f"{p}: line {number} is not a JSON record; cannot resume from this file",
                code="resume_file_invalid",
            )
        if _retried(record, retry_errors):
            continue
        kept.append(line)
        recorded.update(_recorded_input(record))
    if torn or len(kept) != len(lines):
        _rewrite(p, b"".join(line + b"\n" for line in kept))
    return ResumeState(frozenset(recorded), len(kept), torn)


def _retried(record: dict[str, Any], retry_errors: bool) -> bool:
    """Whether a recorded file is to be checked again on resume."""
    if record.get("verdict") != Verdict.ERROR.value:
        return False
    error = record.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return retry_errors or code in RETRIED_ON_RESUME


def _rewrite(p: Path, content: bytes) -> None:
    """Replace the resume file's content (through a temporary file renamed into place)."""
    tmp = p.with_name(f".{p.name}.resume-tmp")
    try:
        tmp.write_bytes(content)
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise BatchError(
            f"{p}: cannot rewrite the file to resume: {exc.strerror or exc}", code="unwritable"
        ) from None


def _recorded_input(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``(path, sha256)`` a record was made for (none when it names no path)."""
    subject = record.get("subject")
    if isinstance(subject, dict):
        sp, sha = subject.get("path"), subject.get("sha256")
        if isinstance(sp, str):
            return [(sp, sha if isinstance(sha, str) else "")]
    return []


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def file_sha256(path: str | os.PathLike[str]) -> str | None:
    """SHA-256 of a regular file's bytes (read in chunks), or None when it cannot be read.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str or None
        Lowercase hex digest.
    """
    try:
        with open(path, "rb") as f:
            if not os.path.isfile(path):
                return None
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


# ------------------------------------------------------------------- records -> reports


def _identity(value: Any) -> Any:
    return value


@functools.cache
def _decoder(tp: Any) -> Callable[[Any], Any]:
    """A function turning a JSON value back into the type ``tp`` (built once per type)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decoder(options[0]) if len(options) == 1 else _identity
    if origin is tuple:
        inner = _decoder(typing.get_args(tp)[0])
        if inner is _identity:
            return lambda value: None if value is None else tuple(value)
        return lambda value: None if value is None else tuple(inner(v) for v in value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        cls = tp
        return lambda value: None if value is None else _from_fields(cls, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        enum_type = tp
        return lambda value: None if value is None else enum_type(value)
    return _identity  # str, int, float, bool, Any, Mapping


_FIELD_DECODERS: dict[type[Any], tuple[tuple[str, Callable[[Any], Any]], ...]] = {}


def _field_decoders(cls: type[Any]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """``(field name, decoder)`` of a report dataclass (type hints resolved once)."""
    found = _FIELD_DECODERS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = tuple((f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls))
        _FIELD_DECODERS[cls] = found
    return found


def _from_fields(cls: type[Any], d: dict[str, Any]) -> Any:
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__}: expected an object, got {type(d).__name__}")
    kwargs = {name: decode(d[name]) for name, decode in _field_decoders(cls) if name in d}
    return cls(**kwargs)


def report_from_dict(d: dict[str, Any]) -> Report:
    """Rebuild a :class:`Report` from its JSON record (the inverse of ``to_dict()``).

    ``report_from_dict(r.to_dict()).to_dict() == r.to_dict()`` for every report. Keys
    that are not fields (``schema``, derived values such as ``reliable``) are ignored;
    fields missing from the record take their defaults.

    Parameters
    ----------
    d
        A ``jinjja.report/v1`` record.

    Returns
    -------
    Report
        The report.

    Raises
    ------
    TypeError, ValueError
        When the record is not a well-formed v1 record.
    """
    report: Report = _from_fields(Report, d)
    return report
