"""Trust lists: download, validate, store and load the lists used to judge signers.

``update()`` fetches the official C2PA Trust List and the C2PA TSA Trust List (and, with
``interim=True``, the Content Authenticity Initiative's interim lists used by
contentcredentials.org/verify), checks that every file parses as PEM certificates, writes
them atomically (temporary file + rename) into the data directory and records where they
came from in ``trust.json``. ``load()`` reads that back. ``check()`` uses the stored
lists, the user's ``--trust-anchors`` files and always the EKU configuration shipped in
``provenance/data/eku.cfg``.

Until ``update()`` has run, ``load()`` returns the snapshots shipped in the package
(``provenance/data/trust/``, described with their origin, date and SHA-256 in
``snapshot.json``), the way certifi ships CA roots: the official C2PA Trust List and TSA
Trust List, and the interim list the Content Credentials Verify site uses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from provenance._atomic import atomic_write
from provenance._clock import utc_text
from provenance.errors import TrustStoreError
from provenance.report import TrustSource
from provenance.urls import redact_text, redact_url

__all__ = [
    "C2PA_TRUST_LIST_URL",
    "C2PA_TSA_TRUST_LIST_URL",
    "INTERIM_BASE_URL",
    "STALE_DAYS",
    "StoredList",
    "TrustStore",
    "bundled",
    "default_data_dir",
    "eku_config",
    "load",
    "list_age_days",
    "load_pem_bundle",
    "store_record",
    "update",
]

C2PA_BASE_URL: Final = (
    "https://raw.githubusercontent.com/c2pa-org/conformance-public/main/trust-list/"
)
C2PA_TRUST_LIST_URL: Final = C2PA_BASE_URL + "C2PA-TRUST-LIST.pem"
"""The official C2PA Trust List (claim-signer anchors)."""
C2PA_TSA_TRUST_LIST_URL: Final = C2PA_BASE_URL + "C2PA-TSA-TRUST-LIST.pem"
"""The official C2PA TSA Trust List (time-stamping authorities)."""
INTERIM_BASE_URL: Final = (
    "https://raw.githubusercontent.com/contentauth/verify-site/main/static/trust/"
)
"""The CAI interim lists (``anchors.pem``, ``allowed.pem``, ``store.cfg``)."""

MANIFEST_NAME: Final = "trust.json"
SNAPSHOT_NAME: Final = "snapshot.json"
STALE_DAYS: Final = 90
"""A list in use that states an issue date older than this gets a warning in reports."""
_TIMEOUT: Final = 30.0
_MAX_BYTES: Final = 16 << 20
_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.DOTALL)


@dataclass(frozen=True)
class _ListSpec:
    name: str
    """Stored file name."""
    title: str
    """Human name."""
    local: str
    """Path of the file inside a local source directory."""
    url: str
    """Official URL."""
    kind: str
    """``anchors`` (trust anchors), ``allowed`` (end-entity allow list) or ``eku``."""
    json_sibling: str | None = None
    """A JSON (LoTE) version next to the PEM, read only for its issue date."""
    role: str = "signers"
    """``signers`` (claim signers) or ``tsa`` (time-stamping authorities)."""


_OFFICIAL: Final = (
    _ListSpec(
        "C2PA-TRUST-LIST.pem",
        "C2PA Trust List",
        "c2pa-conformance-public/C2PA-TRUST-LIST.pem",
        C2PA_TRUST_LIST_URL,
        "anchors",
        "C2PA-TRUST-LIST.json",
    ),
    _ListSpec(
        "C2PA-TSA-TRUST-LIST.pem",
        "C2PA TSA Trust List",
        "c2pa-conformance-public/C2PA-TSA-TRUST-LIST.pem",
        C2PA_TSA_TRUST_LIST_URL,
        "anchors",
        "C2PA-TSA-TRUST-LIST.json",
        role="tsa",
    ),
)
_INTERIM: Final = (
    _ListSpec(
        "interim-anchors.pem",
        "CAI interim trust anchors",
        "cai-verify-site/anchors.pem",
        INTERIM_BASE_URL + "anchors.pem",
        "anchors",
    ),
    _ListSpec(
        "interim-allowed.pem",
        "CAI interim allowed list",
        "cai-verify-site/allowed.pem",
        INTERIM_BASE_URL + "allowed.pem",
        "allowed",
    ),
    _ListSpec(
        "interim-store.cfg",
        "CAI interim EKU configuration",
        "cai-verify-site/store.cfg",
        INTERIM_BASE_URL + "store.cfg",
        "eku",
    ),
)


@dataclass(frozen=True)
class StoredList:
    """One trust file kept in the data directory."""

    name: str
    """Human name ("C2PA Trust List")."""
    path: Path
    """Where it is stored."""
    source: str
    """URL or local path it was fetched from."""
    issued: str | None
    """Issue date stated by the list (RFC 3339), or None when it states none."""
    sha256: str
    """SHA-256 of the stored bytes."""
    fetched_at: str
    """When it was fetched (RFC 3339 UTC)."""
    certificates: int
    """Number of certificates (0 for an EKU configuration)."""
    kind: str = "anchors"
    """``anchors``, ``allowed`` or ``eku``."""
    role: str = "signers"
    """``signers`` (claim-signer anchors) or ``tsa`` (time-stamping authority anchors)."""
    bundled: bool = False
    """True for a snapshot shipped in the package (no ``verify trust update`` has run)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.path.name,
            "source": self.source,
            "issued": self.issued,
            "sha256": self.sha256,
            "fetched_at": self.fetched_at,
            "certificates": self.certificates,
            "kind": self.kind,
            "role": self.role,
        }


@dataclass(frozen=True)
class TrustStore:
    """The trust lists stored in a data directory."""

    data_dir: Path
    """The directory holding the lists and ``trust.json``."""
    lists: tuple[StoredList, ...] = ()
    """Every stored list, in the order they are applied."""

    @property
    def empty(self) -> bool:
        """True when no list is stored (``verify trust update`` was never run)."""
        return not self.lists

    def anchors_pem(self) -> str:
        """Concatenated PEM of every stored anchor list (signers and TSAs)."""
        parts = []
        for stored in self.lists:
            if stored.kind == "anchors":
                parts.append(stored.path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)

    @property
    def bundled(self) -> bool:
        """True when these are the snapshots shipped in the package."""
        return any(s.bundled for s in self.lists)

    def anchor_lists(self, role: str) -> tuple[StoredList, ...]:
        """The anchor lists for ``signers`` or for ``tsa`` (time-stamping authorities)."""
        return tuple(s for s in self.lists if s.kind == "anchors" and s.role == role)

    def sources(self) -> tuple[TrustSource, ...]:
        """Describe the stored anchor lists for a report's ``tool.trust_sources``."""
        return tuple(
            TrustSource(
                name=f"{s.name} (bundled snapshot)" if s.bundled else s.name,
                location=str(s.path),
                sha256=s.sha256,
                certificates=s.certificates,
                issued=s.issued,
            )
            for s in self.lists
            if s.kind == "anchors"
        )


def default_data_dir() -> Path:
    """Return where trust lists are stored.

    Returns
    -------
    Path
        ``$JINJJA_DATA_DIR``, else ``$XDG_DATA_HOME/jinjja``, else
        ``~/.local/share/jinjja``.
    """
    explicit = os.environ.get("JINJJA_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg).expanduser() / "jinjja"
    return Path.home() / ".local" / "share" / "jinjja"


def eku_config() -> str:
    """Return the accepted-EKU configuration shipped with the package (``data/eku.cfg``)."""
    return resources.files("provenance").joinpath("data/eku.cfg").read_text(encoding="utf-8")


def load_pem_bundle(data: bytes, *, origin: str) -> list[bytes]:
    """Split a PEM bundle into DER certificates, checking each one parses.

    Comment lines between certificates (``# O=...``, ``Subject ...``) are allowed.

    Parameters
    ----------
    data
        PEM text.
    origin
        Where it came from (for error messages).

    Returns
    -------
    list of bytes
        DER encoding of every certificate.

    Raises
    ------
    TrustStoreError
        ``trust_list_invalid`` when there is no certificate or one does not parse.
    """

    blocks = _PEM_RE.findall(data)
    if not blocks:
        raise TrustStoreError(f"{origin} contains no PEM certificate", code="trust_list_invalid")
    ders = []
    for index, block in enumerate(blocks, start=1):
        pem = b"-----BEGIN CERTIFICATE-----\n" + block + b"\n-----END CERTIFICATE-----\n"
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise TrustStoreError(
                f"Certificate #{index} in {origin} cannot be parsed: {exc}",
                code="trust_list_invalid",
            ) from None

        ders.append(cert.public_bytes(Encoding.DER))
    return ders


def _eku_lines(data: bytes, *, origin: str) -> int:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TrustStoreError(f"{origin} is not UTF-8 text", code="trust_list_invalid") from None
    oids = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.strip().startswith(("//", "#"))
    ]
    bad = [o for o in oids if not re.fullmatch(r"\d+(\.\d+)+", o)]
    if not oids or bad:
        raise TrustStoreError(
            f"{origin} is not an EKU list (one dotted OID per line): {bad[:3] or 'empty'}",
            code="trust_list_invalid",
        )
    return 0


def _fetch_url(url: str) -> bytes:
    shown = redact_url(url)
    if not url.startswith(("http://", "https://")):
        raise TrustStoreError(f"Not an http(s) URL: {shown}", code="trust_source_invalid")
    request = urllib.request.Request(url, headers={"User-Agent": "jinjja-trust-update"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as resp:
            data: bytes = resp.read(_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise TrustStoreError(
            f"Download failed: {shown} answered HTTP {exc.code}",
            code="trust_download_failed",
            detail={"url": shown, "status": exc.code},
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrustStoreError(
            f"Download failed: {shown} ({redact_text(str(reason))})",
            code="trust_download_failed",
            detail={"url": shown},
        ) from None
    if len(data) > _MAX_BYTES:
        raise TrustStoreError(
            f"{shown} is larger than {_MAX_BYTES} bytes", code="trust_list_invalid"
        )
    return data


def _fetcher(source: str | None) -> tuple[Callable[[_ListSpec, bool], tuple[bytes, str]], bool]:
    """Return (fetch(spec, json_sibling) -> (bytes, location), is_official)."""
    if source is None:

        def fetch_official(spec: _ListSpec, sibling: bool) -> tuple[bytes, str]:
            url = spec.url
            if sibling:
                assert spec.json_sibling is not None
                url = url.rsplit("/", 1)[0] + "/" + spec.json_sibling
            return _fetch_url(url), redact_url(url)

        return fetch_official, True
    if source.startswith(("http://", "https://")):
        prefix = source.rstrip("/") + "/"

        def fetch_prefix(spec: _ListSpec, sibling: bool) -> tuple[bytes, str]:
            local = spec.local
            if sibling:
                assert spec.json_sibling is not None
                local = local.rsplit("/", 1)[0] + "/" + spec.json_sibling
            url = prefix + local
            return _fetch_url(url), redact_url(url)

        return fetch_prefix, False
    root = Path(source).expanduser()
    if not root.is_dir():
        raise TrustStoreError(
            f"Trust source {redact_url(source)} is neither an http(s) URL nor a directory",
            code="trust_source_invalid",
        )

    def fetch_dir(spec: _ListSpec, sibling: bool) -> tuple[bytes, str]:
        local = spec.local
        if sibling:
            assert spec.json_sibling is not None
            local = local.rsplit("/", 1)[0] + "/" + spec.json_sibling
        path = root / local
        try:
            return path.read_bytes(), str(path.resolve())
        except OSError as exc:
            raise TrustStoreError(
                f"Cannot read {path}: {exc.strerror or exc}", code="trust_download_failed"
            ) from None

    return fetch_dir, False


def _issue_date(pem: bytes, sibling_json: bytes | None) -> str | None:
    """Issue date from a LoTE JSON sibling, or from a ``ListIssueDateTime`` header line."""
    if sibling_json is not None:
        try:
            doc = json.loads(sibling_json)
            info = doc["LoTE"]["ListAndSchemeInformation"]
            issued = info.get("ListIssueDateTime")
            if isinstance(issued, str) and issued:
                return issued
        except (ValueError, KeyError, TypeError):
            pass
    m = re.search(rb"ListIssueDateTime\W+([0-9T:\-+Z.]+)", pem)
    return m.group(1).decode("ascii") if m else None


def update(
    source: str | None = None, *, interim: bool = False, data_dir: Path | None = None
) -> TrustStore:
    """Download, validate and store the trust lists.

    Parameters
    ----------
    source
        None for the official URLs; an ``http(s)://`` prefix or a local directory laid out
        like the official repositories (``c2pa-conformance-public/C2PA-TRUST-LIST.pem``,
        ``c2pa-conformance-public/C2PA-TSA-TRUST-LIST.pem`` and, with ``interim``,
        ``cai-verify-site/{anchors.pem,allowed.pem,store.cfg}``).
    interim
        Also fetch the CAI interim lists (used by contentcredentials.org/verify).
    data_dir
        Where to store them; default :func:`default_data_dir`.

    Returns
    -------
    TrustStore
        The stored lists.

    Raises
    ------
    TrustStoreError
        When a download fails or a file does not parse. Nothing is written then: every
        file is fetched and validated before any is replaced.
    """
    target = data_dir if data_dir is not None else default_data_dir()
    fetch, _official = _fetcher(source)
    specs = _OFFICIAL + (_INTERIM if interim else ())
    fetched_at = utc_text()
    staged: list[tuple[_ListSpec, bytes, StoredList]] = []
    for spec in specs:
        data, location = fetch(spec, False)
        if spec.kind == "eku":
            count = _eku_lines(data, origin=location)
        else:
            count = len(load_pem_bundle(data, origin=location))
        sibling = None
        if spec.json_sibling is not None:
            try:
                sibling, _ = fetch(spec, True)
            except TrustStoreError:
                sibling = None
        staged.append(
            (
                spec,
                data,
                StoredList(
                    name=spec.title,
                    path=target / spec.name,
                    source=location,
                    issued=_issue_date(data, sibling),
                    sha256=hashlib.sha256(data).hexdigest(),
                    fetched_at=fetched_at,
                    certificates=count,
                    kind=spec.kind,
                    role=spec.role,
                ),
            )
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        for _spec, data, stored in staged:
            atomic_write(stored.path, data)
        lists = tuple(s for _, _, s in staged)
        manifest = {"schema": "jinjja.trust/v1", "lists": [s.to_json() for s in lists]}
        atomic_write(
            target / MANIFEST_NAME,
            (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"),
        )
    except OSError as exc:
        raise TrustStoreError(
            f"Cannot write trust lists to {target}: {exc.strerror or exc}",
            code="trust_store_unwritable",
        ) from None
    # Files of lists no longer requested (interim dropped) stay on disk but are not listed.
    return TrustStore(data_dir=target, lists=lists)


def load(data_dir: Path | None = None) -> TrustStore:
    """Read the stored trust lists.

    Parameters
    ----------
    data_dir
        Where they are stored; default :func:`default_data_dir`.

    Returns
    -------
    TrustStore
        The snapshots shipped in the package (:func:`bundled`) when nothing was stored
        yet; empty when ``trust.json`` lists no file.

    Raises
    ------
    TrustStoreError
        When ``trust.json`` exists but is damaged, or a listed file is missing or was
        changed since it was stored (SHA-256 differs).
    """
    target = data_dir if data_dir is not None else default_data_dir()
    manifest_path = target / MANIFEST_NAME
    try:
        raw = manifest_path.read_bytes()
    except FileNotFoundError:
        return bundled(target)
    except OSError as exc:
        raise TrustStoreError(
            f"Cannot read {manifest_path}: {exc.strerror or exc}", code="trust_store_damaged"
        ) from None
    try:
        doc = json.loads(raw)
        entries: Sequence[Any] = doc["lists"]
        lists = []
        for entry in entries:
            path = target / str(entry["file"])
            stored = StoredList(
                name=str(entry["name"]),
                path=path,
                source=str(entry["source"]),
                issued=entry.get("issued"),
                sha256=str(entry["sha256"]),
                fetched_at=str(entry["fetched_at"]),
                certificates=int(entry["certificates"]),
                kind=str(entry.get("kind", "anchors")),
                role=str(entry.get("role") or ("tsa" if "TSA" in path.name else "signers")),
            )
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                raise TrustStoreError(
                    f"Trust list {path} is listed in {manifest_path} but missing; "
                    "run the trust update again",
                    code="trust_store_damaged",
                ) from None
            if digest != stored.sha256:
                raise TrustStoreError(
                    f"Trust list {path} changed since it was stored (SHA-256 differs); "
                    "run the trust update again",
                    code="trust_store_damaged",
                )
            lists.append(stored)
    except (ValueError, KeyError, TypeError) as exc:
        raise TrustStoreError(
            f"{manifest_path} is damaged ({exc}); run the trust update again",
            code="trust_store_damaged",
        ) from None
    return TrustStore(data_dir=target, lists=tuple(lists))


def bundled(data_dir: Path | None = None) -> TrustStore:
    """The trust lists shipped in the package (``provenance/data/trust/``).

    Parameters
    ----------
    data_dir
        Recorded as the store's data directory (where an update would write).

    Returns
    -------
    TrustStore
        Every list of ``snapshot.json``, marked ``bundled``.

    Raises
    ------
    TrustStoreError
        ``trust_store_damaged`` when a shipped file is missing or its SHA-256 differs from
        the one recorded (a damaged installation).
    """
    folder = resources.files("provenance").joinpath("data/trust")
    try:
        doc = json.loads(folder.joinpath(SNAPSHOT_NAME).read_text(encoding="utf-8"))
        lists = []
        for entry in doc["lists"]:
            resource = folder.joinpath(str(entry["file"]))
            data = resource.read_bytes()
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise TrustStoreError(
                    f"The shipped trust list {entry['file']} does not match its recorded "
                    "SHA-256; reinstall the package or run the trust update",
                    code="trust_store_damaged",
                )
            lists.append(
                StoredList(
                    name=str(entry["name"]),
                    path=Path(str(resource)),
                    source=str(entry["origin"]),
                    issued=entry.get("issued"),
                    sha256=str(entry["sha256"]),
                    fetched_at=str(entry["snapshot"]),
                    certificates=int(entry["certificates"]),
                    kind=str(entry["kind"]),
                    role=str(entry["role"]),
                    bundled=True,
                )
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrustStoreError(
            f"The trust lists shipped with the package cannot be read ({exc})",
            code="trust_store_damaged",
        ) from None
    target = data_dir if data_dir is not None else default_data_dir()
    return TrustStore(data_dir=target, lists=tuple(lists))


def list_age_days(issued: str | None, now: dt.datetime) -> int | None:
    """Days between a list's stated issue date and ``now``; None when it states none.

    Examples
    --------
    >>> list_age_days("2026-08-05T00:11:39Z", dt.datetime(2026, 12, 6, tzinfo=dt.UTC))
    122
    >>> list_age_days(None, dt.datetime(2026, 12, 6, tzinfo=dt.UTC)) is None
    True
    """
    if not issued:
        return None
    try:
        when = dt.datetime.fromisoformat(issued.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (now - when).days


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _list_record(stored: StoredList) -> dict[str, Any]:
    return {
        "name": _plain(stored.name),
        "kind": _plain(getattr(stored, "kind", "anchors")),
        "source": _plain(stored.source),
        "issued": _plain(stored.issued),
        "sha256": _plain(stored.sha256),
        "certificates": _plain(stored.certificates),
        "fetched_at": _plain(stored.fetched_at),
        "path": _plain(stored.path),
        "bundled": stored.bundled,
    }


def store_record(store: TrustStore, data_dir: Path) -> dict[str, Any]:
    """Describe a trust store as a JSON-ready record.

    Parameters
    ----------
    store
        The loaded store.
    data_dir
        The data directory it was loaded from.

    Returns
    -------
    dict
        ``{"schema": "jinjja.trust/v1", "data_dir": ..., "lists": [...]}``.
    """
    return {
        "schema": "jinjja.trust/v1",
        "data_dir": os.fspath(data_dir),
        "lists": [_list_record(s) for s in store.lists],
    }
