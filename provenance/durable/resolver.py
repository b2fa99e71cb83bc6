"""Where manifests are looked up: resolution API clients and local repositories.

* :class:`ResolverClient`, a small ``urllib`` client for the C2PA soft-binding resolution
  API (``GET``/``POST /matches/byBinding``, ``POST /matches/byContent``,
  ``GET /manifests/{id}``, ``GET /services/supportedAlgorithms``, and this project's
  ``POST /manifests``), as served by :mod:`provenance.durable.server`;
* :class:`LocalSource`, a local :class:`~provenance.durable.repository.Repository` seen
  through the same :class:`Source` interface.

Recovery itself (:func:`provenance.durable.recovery.recover`) asks these sources.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from provenance.durable.repository import Repository
from provenance.errors import ResolverError

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_MANIFEST_BYTES",
    "LocalSource",
    "RemoteMatch",
    "ResolverClient",
    "ResolverError",
    "Source",
]

DEFAULT_TIMEOUT: Final = 20.0
"""Seconds to wait for a resolver."""
MAX_MANIFEST_BYTES: Final = 64 * 1024 * 1024
"""Largest manifest store or response accepted from a resolver."""
_GET_LIMIT: Final = 2000


@dataclass(frozen=True)
class RemoteMatch:
    """One entry of a ``c2pa.softBindingQueryResult``."""

    manifest_id: str
    """The matched manifest's identifier."""
    endpoint: str | None = None
    """Resolver to fetch it from (None: the one that answered)."""
    similarity: int | None = None
    """0-100 strength of the match, when given."""


class Source(Protocol):
    name: str

    def matches(self, alg: str, value: bytes, max_results: int) -> list[RemoteMatch]: ...

    def fetch(self, manifest_id: str) -> bytes | None: ...

    def facts(self, manifest_id: str) -> Mapping[str, Any]: ...


class ResolverClient:
    """Client of the C2PA soft-binding resolution API.

    Parameters
    ----------
    base_url
        ``http(s)://host:port[/prefix]`` of the resolver.
    token
        Bearer token (only needed for ``POST /manifests``).
    timeout
        Seconds per request.

    Raises
    ------
    ResolverError
        ``bad_url`` when ``base_url`` is not an http(s) URL.
    """

    def __init__(
        self, base_url: str, *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ResolverError(
                f"a resolver is an http:// or https:// URL, not {base_url!r}", code="bad_url"
            )
        self.base_url = base_url.strip().rstrip("/")
        """The resolver's base URL."""
        self.name = self.base_url
        self._token = token
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"ResolverClient({self.base_url!r})"

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
        auth: bool = False,
    ) -> tuple[int, bytes]:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(
                {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()}
            )
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("Accept", accept)
        if content_type:
            req.add_header("Content-Type", content_type)
        if auth and self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:  # noqa: S310
                data = resp.read(MAX_MANIFEST_BYTES + 1)
                status = int(resp.status)
        except urllib.error.HTTPError as exc:
            raw = exc.read(65536) if exc.fp is not None else b""
            return int(exc.code), raw
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ResolverError(
                f"resolver {self.base_url} could not be reached: {reason}", code="unreachable"
            ) from None
        if len(data) > MAX_MANIFEST_BYTES:
            raise ResolverError(
                f"resolver {self.base_url} sent more than {MAX_MANIFEST_BYTES} bytes",
                code="response_too_large",
            )
        return status, data

    def _error(self, status: int, raw: bytes, what: str) -> ResolverError:
        message = ""
        try:
            doc = json.loads(raw)
            err = doc.get("error") if isinstance(doc, dict) else None
            if isinstance(err, dict) and isinstance(err.get("message"), str):
                message = err["message"]
            elif isinstance(doc, dict) and isinstance(doc.get("detail"), str):
                message = doc["detail"]
        except ValueError:
            pass
        suffix = f": {message}" if message else ""
        return ResolverError(
            f"resolver {self.base_url} answered {status} to {what}{suffix}",
            code="not_found" if status == 404 else "resolver_refused",
            detail={"status": status},
        )

    def _json(self, status: int, raw: bytes, what: str) -> Any:
        if status != 200:
            raise self._error(status, raw, what)
        try:
            return json.loads(raw)
        except ValueError:
            raise ResolverError(
                f"resolver {self.base_url} sent malformed JSON for {what}", code="bad_response"
            ) from None

    @staticmethod
    def _parse_matches(doc: Any) -> list[RemoteMatch]:
        items = doc.get("matches") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise ResolverError("the resolver's answer has no 'matches' list", code="bad_response")
        out = []
        for m in items:
            if not isinstance(m, dict) or not isinstance(m.get("manifestId"), str):
                continue
            score = m.get("similarityScore")
            endpoint = m.get("endpoint")
            out.append(
                RemoteMatch(
                    m["manifestId"],
                    endpoint if isinstance(endpoint, str) else None,
                    int(score) if isinstance(score, int | float) else None,
                )
            )
        return out

    def supported_algorithms(self) -> dict[str, list[str]]:
        """``GET /services/supportedAlgorithms``: algorithm names by kind."""
        doc = self._json(*self._request("GET", "/services/supportedAlgorithms"), "a query")
        out: dict[str, list[str]] = {"watermarks": [], "fingerprints": []}
        for kind in out:
            items = doc.get(kind) if isinstance(doc, dict) else None
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("alg"), str):
                    out[kind].append(item["alg"])
        return out

    def matches(self, alg: str, value: bytes, max_results: int = 10) -> list[RemoteMatch]:
        """``/matches/byBinding``: GET, or POST when the value is too long for a URL."""
        b64 = base64.b64encode(value).decode("ascii")
        query = {"alg": alg, "value": b64, "maxResults": max_results}
        if len(self.base_url) + len(b64) + len(alg) + 64 < _GET_LIMIT:
            status, raw = self._request("GET", "/matches/byBinding", query=query)
        else:
            status, raw = 414, b""
        if status == 414:
            status, raw = self._request(
                "POST",
                "/matches/byBinding",
                query={"maxResults": max_results},
                body=json.dumps({"alg": alg, "value": b64}).encode(),
                content_type="application/json",
            )
        return self._parse_matches(self._json(status, raw, "a soft-binding query"))

    def matches_by_content(
        self, data: bytes, media_type: str, *, max_results: int = 10
    ) -> list[RemoteMatch]:
        """``POST /matches/byContent``: the server detects watermark and fingerprint."""
        status, raw = self._request(
            "POST",
            "/matches/byContent",
            query={"maxResults": max_results},
            body=data,
            content_type=media_type,
        )
        return self._parse_matches(self._json(status, raw, "a content query"))

    def fetch(self, manifest_id: str) -> bytes | None:
        """``GET /manifests/{id}``: the manifest store, or None when the server has none."""
        status, raw = self._request(
            "GET",
            "/manifests/" + urllib.parse.quote(manifest_id, safe=""),
            accept="application/c2pa",
        )
        if status == 404:
            return None
        if status != 200:
            raise self._error(status, raw, "a manifest request")
        return raw

    def facts(self, manifest_id: str) -> Mapping[str, Any]:
        """Facts about the published file are not part of the API: none from a resolver."""
        return {}

    def post_manifest(self, store: bytes, *, facts: Mapping[str, Any] | None = None) -> str:
        """``POST /manifests`` (needs a server started with writes and the token).

        Returns
        -------
        str
            The manifest identifier the server stored it under.
        """
        query = {k: v for k, v in (facts or {}).items() if v is not None}
        status, raw = self._request(
            "POST",
            "/manifests",
            query={_camel(k): v for k, v in query.items()},
            body=store,
            content_type="application/c2pa",
            auth=True,
        )
        if status != 201:
            raise self._error(status, raw, "storing a manifest")
        doc = json.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("manifestId"), str):
            raise ResolverError("the server's answer has no manifestId", code="bad_response")
        return str(doc["manifestId"])


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


class LocalSource:
    """A local :class:`~provenance.durable.repository.Repository` seen as a resolver."""

    def __init__(self, repo: Repository, *, owned: bool = False) -> None:
        self.repo = repo
        self.name = str(repo.path)
        self.owned = owned
        """Whether this source opened the repository (and closes it)."""

    def matches(self, alg: str, value: bytes, max_results: int) -> list[RemoteMatch]:
        return [
            RemoteMatch(m.manifest_id, None, m.similarity)
            for m in self.repo.by_binding(alg, value, max_results=max_results)
        ]

    def fetch(self, manifest_id: str) -> bytes | None:
        return self.repo.get(manifest_id)

    def facts(self, manifest_id: str) -> Mapping[str, Any]:
        info = self.repo.info(manifest_id)
        return dataclasses.asdict(info) if info is not None else {}
