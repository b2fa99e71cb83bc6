"""An HTTP service over banks that answers like Hasher-Matcher-Actioner (HMA) 2.x.

:func:`create_app` returns a FastAPI (ASGI) application over one or more bank files, with
HMA 2.x's routes, parameters and JSON shapes (its ``matching``, ``hashing`` and
``curation`` blueprints), so an HMA client works unchanged:

* ``GET /m/raw_lookup?signal_type=pdq&signal=HEX[&include_distance=true][&banks=A,B]``:
  ``{"matches": [ID, ...]}``, or with distances
  ``{"matches": [{"bank_content_id": ID, "distance": "4"}]}``;
* ``GET /m/lookup?signal_type=pdq&signal=HEX`` (or ``url=``, only with
  ``allow_network``): ``{"BANK": [{"bank_content_id": ID, "distance": "4"}]}``;
* ``POST /m/lookup`` with one uploaded file (multipart field ``photo``):
  ``{"pdq": {"BANK": [...]}}``;
* ``POST /h/hash`` with one uploaded file: ``{"pdq": "HEX"}``;
* ``GET /c/banks``: ``[{"name": ..., "matching_enabled_ratio": 1.0}]``;
  ``GET /c/bank/NAME``; ``GET /c/bank/NAME/content/ID[?include_signals=true]``;
* with ``allow_writes`` and ``Authorization: Bearer TOKEN``: ``POST
  /c/bank/NAME/content`` (uploaded file, optional ``metadata`` JSON with ``content_id``
  and ``note``) and ``POST /c/bank/NAME/signal`` (``{"pdq": "HEX"}``), both answering
  ``{"id": ID, "signals": {"pdq": "HEX"}}``; ``DELETE /c/bank/NAME/content/ID``.

Ids (``bank_content_id``) are integers, as in HMA: an entry's row id in its bank file,
plus ``k << 40`` for the ``k``-th bank file (so the first bank's ids are its row ids).
Errors are HMA's ``{"message": ...}`` with a 4xx status. A raw lookup searches the hash as
given, up to each bank's threshold (default 31); an uploaded picture is searched with its
8 rotations/flips. Bounds are the resolution server's: uploads up to ``max_upload`` bytes
(refused with 413 before being read in full), JSON bodies up to 64 KiB.

FastAPI is imported when :func:`create_app` is called (extra ``server``).
"""

import hmac
import json
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from provenance.durable.server import DEFAULT_MAX_UPLOAD
from provenance.errors import ProvenanceError
from provenance.matching.bank import Bank
from provenance.matching.pdq import Hashed, NotHashable, PdqError, PdqHash, hash_bytes, parse_hex
from provenance.matching.vpdq import VpdqHash, hash_video_vpdq

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["BANK_ID_SHIFT", "MAX_JSON", "ServiceError", "app_from_env", "create_app"]

BANK_ID_SHIFT: Final = 40
"""``bank_content_id = row id + (bank position << 40)``."""
VIDEO_ID: Final = 1 << 39
"""Added to a video's row id (videos are numbered apart from pictures)."""
MAX_JSON: Final = 64 * 1024
"""Largest JSON body (as the resolution server)."""
ENV_BANKS: Final = "JINJJA_BANK_FILES"
ENV_OPTIONS: Final = "JINJJA_BANK_SERVICE"


class ServiceError(Exception):
    """An HTTP error answered as HMA does: ``{"message": ...}`` with a status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Banks:
    """The served banks, by name and by position."""

    def __init__(self, banks: Sequence[Bank]) -> None:
        self.banks = list(banks)
        self.by_name: dict[str, tuple[int, Bank]] = {}
        for k, bank in enumerate(self.banks):
            if bank.name in self.by_name:
                raise ProvenanceError(f"two banks are named {bank.name!r}", code="bad_config")
            self.by_name[bank.name] = (k, bank)

    def get(self, name: str) -> tuple[int, Bank]:
        if name not in self.by_name:
            raise ServiceError(404, f"bank '{name}' not found")
        return self.by_name[name]

    def select(self, names: str | None) -> list[tuple[int, Bank]]:
        if not names:
            return list(enumerate(self.banks))
        wanted = {n.strip() for n in names.split(",") if n.strip()}
        return [(k, b) for k, b in enumerate(self.banks) if b.name in wanted]

    def content(self, content_id: int) -> tuple[int, Bank, int]:
        k, rowid = divmod(content_id, 1 << BANK_ID_SHIFT)
        if not 0 <= k < len(self.banks) or content_id < 0:
            raise ServiceError(404, f"content '{content_id}' not found")
        return k, self.banks[k], rowid


def _signal(signal_type: str, signal: str) -> PdqHash:
    if signal_type != "pdq":
        raise ServiceError(400, f"No such SignalType '{signal_type}'")
    try:
        return parse_hex(signal.strip())
    except PdqError as exc:
        raise ServiceError(400, f"invalid signal: {exc.message}") from None


def _lookup(
    banks: list[tuple[int, Bank]], variants: Sequence[PdqHash]
) -> dict[str, list[dict[str, Any]]]:
    """HMA's ``TMatchByBank``: bank name -> ``[{"bank_content_id", "distance"}]``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for k, bank in banks:
        rows = bank.search_rows([variants], max_distance=bank.threshold)[0]
        if rows:
            out[bank.name] = [
                {"bank_content_id": (k << BANK_ID_SHIFT) + r, "distance": str(d)} for r, d in rows
            ]
    negative = {b.name for _, b in banks if b.kind == "negative"}
    if negative & set(out):  # an allow-list matched: the other banks' matches are suppressed
        return {name: ms for name, ms in out.items() if name in negative}
    return out


def _video_signal(signal_type: str, signal: str) -> VpdqHash:
    try:
        if signal_type == "video_md5":
            v = VpdqHash((), md5=signal.strip().lower())
            if len(v.md5 or "") != 32 or any(c not in "0123456789abcdef" for c in v.md5 or ""):
                raise ValueError("not 32 hex digits")
            return v
        return VpdqHash.from_signal(signal)
    except ValueError as exc:
        raise ServiceError(400, f"invalid signal: {exc}") from None


def _lookup_video(
    banks: list[tuple[int, Bank]], video: VpdqHash
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``{"vpdq": {BANK: [...]}, "video_md5": {BANK: [...]}}``; a vPDQ distance is HMA's
    ``"QUERY%[COMPARED%]"``."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {"vpdq": {}, "video_md5": {}}
    for k, bank in banks:
        for m in bank.match_video(video):
            rowid = bank.video_rowid_of(m.entry_id)
            if rowid is None:
                continue
            detail = m.detail or {}
            signal = str(detail.get("signal"))
            q, c = detail.get("query_match_percent", 100), detail.get("compared_match_percent", 100)
            distance = "0" if signal == "video_md5" else f"{q:.0f}%[{c:.0f}%]"
            cid = (k << BANK_ID_SHIFT) + VIDEO_ID + rowid
            out[signal].setdefault(bank.name, []).append(
                {"bank_content_id": cid, "distance": distance}
            )
    return out


def _hash_video_upload(data: bytes) -> VpdqHash:
    try:
        return hash_video_vpdq(data)
    except PdqError as exc:
        raise ServiceError(400, f"cannot hash the video: {exc.message}") from None


def _hash_upload(data: bytes, content_type: str) -> Hashed:
    if content_type != "photo":
        raise ServiceError(400, f"no such content_type: '{content_type}'")
    try:
        result = hash_bytes(data)
    except PdqError as exc:
        raise ServiceError(400, f"cannot hash the file: {exc.message}") from None
    if isinstance(result, NotHashable):
        raise ServiceError(400, f"cannot hash the file: {result.reason}")
    return result


def _fetch(url: str, limit: int) -> bytes:
    """Download ``url`` (http/https only), at most ``limit`` bytes."""
    if not url.lower().startswith(("http://", "https://")):
        raise ServiceError(400, "Invalid or unsafe URL provided")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 (scheme checked)
            data: bytes = resp.read(limit + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServiceError(400, f"Failed to fetch URL: {exc}") from None
    if len(data) > limit:
        raise ServiceError(413, "Content too large")
    return data


def _content_body(k: int, bank: Bank, rowid: int, include_signals: bool) -> dict[str, Any] | None:
    if rowid >= VIDEO_ID:
        video = bank.video(rowid - VIDEO_ID)
        if video is None:
            return None
        eid, label, active = video["entry_id"], video["label"], video["state"] == "active"
        signals = {"video_md5": video["md5"], "vpdq": video["vpdq"]}
        signals = {k: v for k, v in signals.items() if v and v != "[]"}
    else:
        entry = bank.entry(rowid)
        if entry is None:
            return None
        eid, label, signals = entry.entry_id, entry.label, {"pdq": entry.pdq}
        active = bank.state_of(entry.entry_id) == "active"
    body: dict[str, Any] = {
        "id": (k << BANK_ID_SHIFT) + rowid,
        "disable_until_ts": 1 if active else 0,  # HMA's ENABLED (1) and DISABLED (0)
        "original_media_uri": None,
        "bank": {"name": bank.name, "matching_enabled_ratio": 1.0},
        "metadata": {"content_id": eid},
    }
    if label:
        body["note"] = label
    if include_signals:
        body["signals"] = signals
    return body


def create_app(
    bank_paths: Sequence[str | os.PathLike[str]],
    *,
    allow_writes: bool = False,
    token: str | None = None,
    allow_network: bool = False,
    max_upload: int = DEFAULT_MAX_UPLOAD,
) -> "FastAPI":
    """Build the HMA-compatible application over bank files.

    Parameters
    ----------
    bank_paths
        The bank files (they must exist).
    allow_writes
        Enable adding and deleting content (needs ``token``).
    token
        The bearer token writes require (at least 16 characters).
    allow_network
        Let ``GET /m/lookup?url=`` and adding by ``url=`` download the URL.
    max_upload
        Largest accepted upload in bytes.

    Returns
    -------
    fastapi.FastAPI
        The ASGI application (serve it with uvicorn).

    Raises
    ------
    ProvenanceError
        ``missing_dependency`` without FastAPI, ``bad_config`` for writes without a good
        token, two banks with one name or a bad ``max_upload``; a
        :class:`~provenance.matching.bank.BankError` for a bank file.
    """
    try:
        from fastapi import FastAPI  # the `server` extra, imported only when serving
    except ImportError:
        raise ProvenanceError(
            "the bank service needs FastAPI and uvicorn: pip install 'jinjja[server]'",
            code="missing_dependency",
        ) from None
    if allow_writes and (token is None or len(token) < 16):
        raise ProvenanceError("writes need a token of at least 16 characters", code="bad_config")
    if not isinstance(max_upload, int) or max_upload < 1024:
        raise ProvenanceError("max_upload must be at least 1024 bytes", code="bad_config")
    if not bank_paths:
        raise ProvenanceError("give at least one bank file", code="bad_config")
    opened: list[Bank] = []
    try:
        for p in bank_paths:
            opened.append(Bank.open(Path(p)))
        banks = _Banks(opened)
    except BaseException:
        for b in opened:
            b.close()
        raise
    for b in opened:
        b.index()  # load (or build) every index before the first request
    app = FastAPI(
        title="Jinjja bank service (HMA 2.x compatible)",
        description="Hasher-Matcher-Actioner 2.x matching, hashing and curation routes "
        'over Jinjja bank files (spec/bank.md). Errors are {"message": ...}.',
    )
    app.state.banks = banks
    _routes(app, banks, allow_writes, token, allow_network, max_upload)
    return app


def _routes(
    app: "FastAPI",
    banks: _Banks,
    allow_writes: bool,
    token: str | None,
    allow_network: bool,
    max_upload: int,
) -> None:
    io = _Io(max_upload, token if allow_writes else None)
    _error_handlers(app)
    _matching_routes(app, banks, io, allow_network)
    _curation_read_routes(app, banks)
    _curation_write_routes(app, banks, io, allow_network)


def _error_handlers(app: "FastAPI") -> None:
    """Every error as HMA's ``{"message": ...}``."""
    # The `server` extra (FastAPI), imported only when serving.
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        ]
        return JSONResponse({"message": "; ".join(parts) or "invalid request"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"message": f"internal error: {type(exc).__name__}"}, status_code=500)


class _Io:
    """Request bodies within the bounds, uploads, and the write token."""

    def __init__(self, max_upload: int, token: str | None) -> None:
        self.max_upload = max_upload
        self.token = token

    async def read_body(self, request: Any, limit: int) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise ServiceError(400, "malformed Content-Length")
            if int(declared) > limit:
                raise ServiceError(413, f"the body is {declared} bytes; at most {limit}")
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise ServiceError(413, f"the body exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def upload(self, request: Any) -> tuple[str, bytes, dict[str, str]]:
        """The one uploaded file (field name = content type) and the other form fields."""
        # The `server` extra (Starlette), imported only when serving.
        from starlette.datastructures import UploadFile
        from starlette.requests import Request

        body = await self.read_body(request, self.max_upload + 64 * 1024)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, receive).form(max_files=2, max_fields=10)
        files = [(k, v) for k, v in form.multi_items() if isinstance(v, UploadFile)]
        fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
        if not files:
            raise ServiceError(400, "Missing multipart/form-data file upload")
        if len(files) > 1:
            raise ServiceError(400, "Only one file allowed per request")
        name, f = files[0]
        data = await f.read()
        if len(data) > self.max_upload:
            raise ServiceError(413, f"the file exceeds {self.max_upload} bytes")
        return name, data, fields

    def authorize(self, request: Any) -> None:
        if self.token is None:
            raise ServiceError(403, "writes are disabled (start with --allow-writes)")
        presented = request.headers.get("authorization", "")
        scheme, _, value = presented.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        ):
            raise ServiceError(401, "missing or wrong bearer token")


def _matching_routes(app: "FastAPI", banks: _Banks, io: _Io, allow_network: bool) -> None:
    """``/m/raw_lookup``, ``/m/lookup`` (GET and POST) and ``/h/hash``."""
    # The `server` extra (FastAPI), imported only when serving.
    from fastapi import Query, Request
    from starlette.concurrency import run_in_threadpool

    @app.get("/m/raw_lookup", tags=["matching"])
    def raw_lookup(
        signal: str,
        signal_type: str,
        banks_: str | None = Query(None, alias="banks"),
        include_distance: bool = False,
    ) -> dict[str, Any]:
        if signal_type in ("vpdq", "video_md5"):
            video = _video_signal(signal_type, signal)
            found = _lookup_video(banks.select(banks_), video)[signal_type]
        else:
            found = _lookup(banks.select(banks_), [_signal(signal_type, signal)])
        matches = [m for ms in found.values() for m in ms]
        if include_distance:
            return {"matches": matches}
        return {"matches": [m["bank_content_id"] for m in matches]}

    @app.get("/m/lookup", tags=["matching"])
    async def lookup_get(
        signal: str | None = None,
        signal_type: str | None = None,
        url: str | None = None,
        content_type: str | None = None,
        banks_: str | None = Query(None, alias="banks"),
    ) -> dict[str, Any]:
        selected = banks.select(banks_)
        if url:
            if not allow_network:
                raise ServiceError(403, "fetching URLs is disabled (start with --allow-network)")
            data = await run_in_threadpool(_fetch, url, io.max_upload)
            hashed = await run_in_threadpool(_hash_upload, data, content_type or "photo")
            found = await run_in_threadpool(_lookup, selected, list(hashed.variants))
            return found if signal_type == "pdq" else {"pdq": found}
        if not signal or not signal_type:
            raise ServiceError(400, "Either url or both signal and signal_type are required")
        if signal_type in ("vpdq", "video_md5"):
            video = _video_signal(signal_type, signal)
            return (await run_in_threadpool(_lookup_video, selected, video))[signal_type]
        h = _signal(signal_type, signal)
        return await run_in_threadpool(_lookup, selected, [h])

    @app.post("/m/lookup", tags=["matching"])
    async def lookup_post(request: Request) -> dict[str, Any]:
        kind, data, _ = await io.upload(request)
        selected = banks.select(request.query_params.get("banks"))
        if kind == "video":
            video = await run_in_threadpool(_hash_video_upload, data)
            return await run_in_threadpool(_lookup_video, selected, video)
        hashed = await run_in_threadpool(_hash_upload, data, kind)
        return {"pdq": await run_in_threadpool(_lookup, selected, list(hashed.variants))}

    @app.post("/h/hash", tags=["hashing"])
    async def hash_post(request: Request) -> dict[str, str]:
        kind, data, _ = await io.upload(request)
        if kind == "video":
            video = await run_in_threadpool(_hash_video_upload, data)
            return {"video_md5": video.md5 or "", "vpdq": video.to_signal()}
        hashed = await run_in_threadpool(_hash_upload, data, kind)
        return {"pdq": hashed.hash.hex}


def _curation_read_routes(app: "FastAPI", banks: _Banks) -> None:
    """``/c/banks``, ``/c/bank/NAME``, ``/c/bank/NAME/content/ID``."""

    @app.get("/c/banks", tags=["curation"])
    def banks_index() -> list[dict[str, Any]]:
        return [{"name": b.name, "matching_enabled_ratio": 1.0} for b in banks.banks]

    @app.get("/c/bank/{bank_name}", tags=["curation"])
    def bank_show(bank_name: str) -> dict[str, Any]:
        _, bank = banks.get(bank_name)
        return {"name": bank.name, "matching_enabled_ratio": 1.0}

    @app.get("/c/bank/{bank_name}/content/{content_id}", tags=["curation"])
    def bank_content(bank_name: str, content_id: int, include_signals: bool = False) -> Any:
        k, bank = banks.get(bank_name)
        k2, _, rowid = banks.content(content_id)
        body = _content_body(k, bank, rowid, include_signals) if k == k2 else None
        if body is None:
            raise ServiceError(404, f"content '{content_id}' not found")
        return body


def _curation_write_routes(app: "FastAPI", banks: _Banks, io: _Io, allow_network: bool) -> None:
    """Adding (by upload, url or signal) and deleting content: token required."""
    # The `server` extra (FastAPI), imported only when serving.
    from fastapi import Request
    from starlette.concurrency import run_in_threadpool

    @app.post("/c/bank/{bank_name}/content", tags=["curation"], status_code=200)
    async def bank_add_content(bank_name: str, request: Request) -> dict[str, Any]:
        io.authorize(request)
        k, bank = banks.get(bank_name)
        url = request.query_params.get("url")
        if url:
            if not allow_network:
                raise ServiceError(403, "fetching URLs is disabled (start with --allow-network)")
            fields: dict[str, str] = {}
            kind, data = "photo", await run_in_threadpool(_fetch, url, io.max_upload)
        else:
            kind, data, fields = await io.upload(request)
        hashed = await run_in_threadpool(_hash_upload, data, kind)
        return await run_in_threadpool(_add, k, bank, hashed.hash, _metadata(fields))

    @app.post("/c/bank/{bank_name}/signal", tags=["curation"])
    async def bank_add_signal(bank_name: str, request: Request) -> dict[str, Any]:
        io.authorize(request)
        k, bank = banks.get(bank_name)
        try:
            data = json.loads(await io.read_body(request, MAX_JSON) or b"null")
        except ValueError:
            raise ServiceError(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise ServiceError(400, "the body must be a JSON object")
        note = data.pop("note", None)
        if not data:
            raise ServiceError(400, "No signals given")
        if set(data) != {"pdq"} or not isinstance(data["pdq"], str):
            raise ServiceError(400, f"No such signal type {sorted(set(data) - {'pdq'})[0]}")
        h = _signal("pdq", data["pdq"])
        meta = {"note": note if isinstance(note, str) else None}
        return await run_in_threadpool(_add, k, bank, h, meta)

    @app.delete("/c/bank/{bank_name}/content/{content_id}", tags=["curation"])
    def bank_delete_content(bank_name: str, content_id: int, request: Request) -> dict[str, int]:
        io.authorize(request)
        k, bank = banks.get(bank_name)
        k2, _, rowid = banks.content(content_id)
        entry = bank.entry(rowid) if k == k2 else None
        if entry is None:
            return {"deleted": 0}
        n = bank.remove([entry.entry_id])
        bank.refresh_index()
        return {"deleted": n}


def _metadata(fields: dict[str, str]) -> dict[str, str | None]:
    meta: dict[str, str | None] = {"note": fields.get("note") or None}
    raw = fields.get("metadata")
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise ServiceError(400, "metadata form field must be valid JSON") from None
        if not isinstance(parsed, dict):
            raise ServiceError(400, "metadata should be a json object")
        cid = parsed.get("content_id")
        meta["content_id"] = str(cid) if cid is not None else None
    return meta


def _add(k: int, bank: Bank, h: PdqHash, meta: dict[str, str | None]) -> dict[str, Any]:
    if meta.get("note") is not None and len(str(meta["note"])) > 255:
        raise ServiceError(400, "note must be at most 255 characters")
    entry_id = meta.get("content_id") or h.hex
    try:
        bank.add_hash(h, entry_id=entry_id, label=meta.get("note"), source="service")
    except ProvenanceError as exc:
        raise ServiceError(400, exc.message) from None
    bank.refresh_index()
    rowid = bank.rowid_of(entry_id)
    assert rowid is not None
    return {"id": (k << BANK_ID_SHIFT) + rowid, "signals": {"pdq": h.hex}}


def app_from_env() -> "FastAPI":
    """Application factory for several workers (``uvicorn --factory --workers N``): the
    bank files come from ``JINJJA_BANK_FILES`` (separated by ``os.pathsep``), the options
    from ``JINJJA_BANK_SERVICE`` (JSON), the token from ``JINJJA_SERVER_TOKEN``."""
    paths = [p for p in os.environ.get(ENV_BANKS, "").split(os.pathsep) if p]
    options = json.loads(os.environ.get(ENV_OPTIONS, "{}"))
    return create_app(
        paths,
        allow_writes=bool(options.get("allow_writes")),
        token=os.environ.get("JINJJA_SERVER_TOKEN"),
        allow_network=bool(options.get("allow_network")),
        max_upload=int(options.get("max_upload", DEFAULT_MAX_UPLOAD)),
    )
