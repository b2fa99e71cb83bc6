"""A client of the C2PA Soft Binding Resolution API (2.4.0, and the older 2.2 routes).

:class:`ResolverClient` speaks to any resolver, not only ``verify serve``. It starts from
discovery (:meth:`ResolverClient.discover`): the RFC 8615 document
``/.well-known/c2pa-soft-binding-resolution`` at the server's origin (its ``apiEndpoint``
becomes the base URL), then ``/services/capabilities`` and
``/services/supportedAlgorithms``. A server without the 2.4 discovery routes is treated as
a 2.2 resolver (queries only). :class:`ServiceInfo` says what the server can answer, so
callers ask only what it supports and can say clearly when it cannot answer.

Storing (2.3+): :meth:`ResolverClient.store_manifest` (``POST /manifests``, optionally
with a receipt), :meth:`ResolverClient.put_binding` (``POST``/``PUT /bindings``),
:meth:`ResolverClient.delete_manifest`, and the receipt routes.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from provenance.durable.receipts import verify_receipt
from provenance.errors import ResolverError
from provenance.urls import basic_auth, redact_url, strip_userinfo

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_MANIFEST_BYTES",
    "WELL_KNOWN",
    "RemoteMatch",
    "RemotePublication",
    "RemoteStored",
    "ResolverClient",
    "ResolverError",
    "ServiceInfo",
    "store_remote",
]

DEFAULT_TIMEOUT: Final = 20.0
"""Seconds to wait for a resolver."""
MAX_MANIFEST_BYTES: Final = 64 * 1024 * 1024
"""Largest manifest store or response accepted from a resolver."""
WELL_KNOWN: Final = "/.well-known/c2pa-soft-binding-resolution"
"""The discovery document's path at a server's origin (API 2.4.0)."""
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


@dataclass(frozen=True)
class ServiceInfo:
    """What a resolver said about itself in discovery."""

    api_endpoint: str
    """The base URL its routes live under."""
    version: str | None
    """``c2paSpecificationVersion`` (None: a server without the 2.4 discovery routes)."""
    capabilities: frozenset[str] | None
    """``supportedCapabilities`` (None: not reported, a 2.2 server)."""
    watermarks: tuple[str, ...]
    """Watermark algorithms in ``/services/supportedAlgorithms``."""
    fingerprints: tuple[str, ...]
    """Fingerprint algorithms in ``/services/supportedAlgorithms``."""
    receipt_keys: tuple[bytes, ...] = ()
    """Raw Ed25519 receipt keys the well-known document publishes (``receiptKeys``)."""
    well_known: bool = False
    """Whether the well-known document was found."""

    def supports(self, capability: str) -> bool:
        """Whether the server reports an optional capability (``storeManifests``, ...)."""
        return self.capabilities is not None and capability in self.capabilities

    def answers(self, alg: str) -> bool:
        """Whether a ``/matches/byBinding`` query for ``alg`` can find anything here.

        True when the server lists ``alg``, or stores client-supplied bindings
        (``storeBindings``: the 2.4 binding body carries no algorithm, so such a server
        keeps values of any algorithm).
        """
        return alg in self.watermarks or alg in self.fingerprints or self.supports("storeBindings")

    def describe(self) -> str:
        """One phrase: version, capabilities and algorithms."""
        version = f"API {self.version}" if self.version else "no 2.4 discovery routes"
        caps = ", ".join(sorted(self.capabilities)) if self.capabilities else "none reported"
        algs = ", ".join((*self.watermarks, *self.fingerprints)) or "none listed"
        return f"{version}; capabilities: {caps}; algorithms: {algs}"


@dataclass(frozen=True)
class RemoteStored:
    """What ``POST /manifests`` answered."""

    manifest_id: str
    """The identifier the server keeps the manifest store under."""
    receipt: Mapping[str, Any] | None = None
    """The receipt, when one was asked for and given."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _https(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _unb64u(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


class ResolverClient:
    """Client of the C2PA Soft Binding Resolution API.

    Parameters
    ----------
    base_url
        ``http(s)://host:port[/prefix]`` of the resolver.
    token
        Bearer token (sent to the store routes only).
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
        if not _https(base_url.strip()):
            raise ResolverError(
                f"a resolver is an http:// or https:// URL, not {base_url!r}", code="bad_url"
            )
        bare, user, password = strip_userinfo(base_url.strip().rstrip("/"))
        self.base_url = bare
        """The resolver's base URL (its ``apiEndpoint`` after :meth:`discover`), without
        user information (sent as an ``Authorization: Basic`` header instead)."""
        self.name = redact_url(bare)
        """The base URL as it may be shown: secret query values hidden."""
        self._basic = basic_auth(user, password)
        self._token = token
        self._timeout = timeout
        self._info: ServiceInfo | None = None

    def __repr__(self) -> str:
        return f"ResolverClient({self.name!r})"

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
        absolute: bool = False,
    ) -> tuple[int, bytes]:
        url = path if absolute else self.base_url + path
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
        elif self._basic is not None:
            req.add_header("Authorization", self._basic)
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
                f"resolver {self.name} could not be reached: {reason}", code="unreachable"
            ) from None
        if len(data) > MAX_MANIFEST_BYTES:
            raise ResolverError(
                f"resolver {self.name} sent more than {MAX_MANIFEST_BYTES} bytes",
                code="response_too_large",
            )
        return status, data

    def _error(self, status: int, raw: bytes, what: str) -> ResolverError:
        message = ""
        try:
            doc = json.loads(raw)
            err = doc.get("error") if isinstance(doc, dict) else None
            if isinstance(err, str):
                message = err
            elif isinstance(err, dict) and isinstance(err.get("message"), str):
                message = err["message"]
            elif isinstance(doc, dict) and isinstance(doc.get("detail"), str):
                message = doc["detail"]
        except ValueError:
            pass
        suffix = f": {message}" if message else ""
        return ResolverError(
            f"resolver {self.name} answered {status} to {what}{suffix}",
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
                f"resolver {self.name} sent malformed JSON for {what}", code="bad_response"
            ) from None

    def _optional_json(self, path: str, *, absolute: bool = False) -> dict[str, Any] | None:
        """A discovery document, or None when the route is missing or not JSON.

        Raises
        ------
        ResolverError
            ``resolver_refused`` when the server answers with a server error (5xx): a
            resolver that is down is not "not a resolver".
        """
        status, raw = self._request("GET", path, absolute=absolute)
        if status >= 500:
            raise self._error(status, raw, "discovery")
        if status != 200:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    # -- discovery ---------------------------------------------------------------------
    def discover(self) -> ServiceInfo:
        """Read the well-known document, capabilities and algorithms (once; cached).

        Raises
        ------
        ResolverError
            ``unreachable``, or ``not_a_resolver`` when none of the discovery routes answer.
        """
        if self._info is not None:
            return self._info
        parts = urllib.parse.urlsplit(self.base_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        known = self._optional_json(origin + WELL_KNOWN, absolute=True)
        keys: tuple[bytes, ...] = ()
        if known is not None and isinstance(known.get("apiEndpoint"), str):
            endpoint = urllib.parse.urljoin(origin + "/", known["apiEndpoint"]).rstrip("/")
            if _https(endpoint):
                self.base_url = endpoint
                self.name = redact_url(endpoint)
            items = known.get("receiptKeys")
            keys = tuple(
                k
                for k in (
                    _unb64u(item["x"])
                    for item in (items if isinstance(items, list) else [])
                    if isinstance(item, dict) and isinstance(item.get("x"), str)
                )
                if k is not None and len(k) == 32
            )
        caps = self._optional_json("/services/capabilities")
        algs = self._optional_json("/services/supportedAlgorithms")
        if known is None and caps is None and algs is None:
            raise ResolverError(
                f"{self.name} is not a soft-binding resolution service (no well-known "
                "document, /services/capabilities or /services/supportedAlgorithms)",
                code="not_a_resolver",
            )
        listed = caps.get("supportedCapabilities") if caps else None
        version = (caps or {}).get("c2paSpecificationVersion") or (known or {}).get(
            "c2paSpecificationVersion"
        )
        self._info = ServiceInfo(
            api_endpoint=self.base_url,
            version=version if isinstance(version, str) else None,
            capabilities=(
                frozenset(c for c in listed if isinstance(c, str))
                if isinstance(listed, list)
                else None
            ),
            watermarks=tuple(_algs(algs, "watermarks")),
            fingerprints=tuple(_algs(algs, "fingerprints")),
            receipt_keys=keys,
            well_known=known is not None,
        )
        return self._info

    # -- queries -----------------------------------------------------------------------
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
        return {kind: _algs(doc, kind) for kind in ("watermarks", "fingerprints")}

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

    # -- storing -----------------------------------------------------------------------
    def store_manifest(
        self,
        store: bytes,
        *,
        facts: Mapping[str, Any] | None = None,
        return_receipt: bool = False,
    ) -> RemoteStored:
        """``POST /manifests`` (200; 201 from older servers of this project)."""
        query = {_camel(k): v for k, v in (facts or {}).items() if v is not None}
        if return_receipt:
            query["returnReceipt"] = True
        status, raw = self._request(
            "POST",
            "/manifests",
            query=query,
            body=store,
            content_type="application/c2pa",
            auth=True,
        )
        if status not in (200, 201):
            raise self._error(status, raw, "storing a manifest")
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("manifestId"), str):
            raise ResolverError("the server's answer has no manifestId", code="bad_response")
        receipt = doc.get("receipt")
        return RemoteStored(str(doc["manifestId"]), receipt if isinstance(receipt, dict) else None)

    def post_manifest(self, store: bytes, *, facts: Mapping[str, Any] | None = None) -> str:
        """``POST /manifests``; the identifier the server stored it under."""
        return self.store_manifest(store, facts=facts).manifest_id

    def put_binding(
        self, alg: str, value: bytes, manifest_id: str, *, replace: bool = False
    ) -> None:
        """``POST /bindings`` (or ``PUT`` with ``replace``): 204 expected."""
        body = {
            "bindingValue": base64.b64encode(value).decode("ascii"),
            "manifestId": manifest_id,
            "alg": alg,
        }
        status, raw = self._request(
            "PUT" if replace else "POST",
            "/bindings",
            body=json.dumps(body).encode(),
            content_type="application/json",
            auth=True,
        )
        if status not in (200, 201, 204):
            raise self._error(status, raw, f"storing a {alg} binding")

    def delete_manifest(self, manifest_id: str) -> bool:
        """``DELETE /manifests/{id}``: True when deleted, False when the server had none."""
        status, raw = self._request(
            "DELETE", "/manifests/" + urllib.parse.quote(manifest_id, safe=""), auth=True
        )
        if status == 404:
            return False
        if status not in (200, 204):
            raise self._error(status, raw, "deleting a manifest")
        return True

    def receipt(self, manifest_id: str) -> dict[str, Any]:
        """``GET /manifests/{id}/receipts``: the receipt, with the server's ``verified``."""
        path = "/manifests/" + urllib.parse.quote(manifest_id, safe="") + "/receipts"
        doc = self._json(*self._request("GET", path), "a receipt request")
        if not isinstance(doc, dict):
            raise ResolverError("the receipt is not a JSON object", code="bad_response")
        return doc

    def verify_receipt(self, manifest_id: str, receipt: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /manifests/{id}/receipts``: the server's verdict (``verified``, ``error``)."""
        path = "/manifests/" + urllib.parse.quote(manifest_id, safe="") + "/receipts"
        status, raw = self._request(
            "POST", path, body=json.dumps(dict(receipt)).encode(), content_type="application/json"
        )
        doc = self._json(status, raw, "a receipt verification")
        if not isinstance(doc, dict):
            raise ResolverError("the verification is not a JSON object", code="bad_response")
        return doc


def _algs(doc: Any, kind: str) -> list[str]:
    items = doc.get(kind) if isinstance(doc, dict) else None
    return [
        item["alg"]
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and isinstance(item.get("alg"), str)
    ]


@dataclass(frozen=True)
class RemotePublication:
    """What :func:`store_remote` did on a resolver."""

    manifest_id: str
    """The identifier the resolver keeps the manifest store under (its own naming)."""
    receipt: Mapping[str, Any] | None
    """The resolver's receipt, when it gives one."""
    receipt_verified: bool | None
    """Checked against the keys in its well-known document (None: no key published)."""
    bindings: int
    """Bindings stored through ``/bindings`` (0 when the server indexes them itself)."""
    info: ServiceInfo
    """What discovery said."""


def store_remote(
    client: ResolverClient,
    store: bytes,
    bindings: Sequence[tuple[str, bytes]],
    *,
    facts: Mapping[str, Any] | None = None,
) -> RemotePublication:
    """Store a manifest store and its soft bindings on any 2.4 resolver (or an older one).

    Discovery first: a server that reports capabilities must offer ``storeManifests`` and
    ``storeBindings`` (otherwise the manifest could not be found again), and is asked for a
    receipt, which is verified when the server publishes its receipt keys. A server without
    the 2.4 discovery routes (an older ``verify serve``) indexes the declared bindings of
    the stored manifest itself.

    Raises
    ------
    ResolverError
        ``not_supported`` (the server cannot store this), ``bad_receipt`` (its receipt
        does not verify), or the server's refusal. A manifest already stored when a later
        step fails is deleted again (best effort).
    """
    info = client.discover()
    modern = info.capabilities is not None
    for needed in ("storeManifests", "storeBindings") if modern else ():
        if not info.supports(needed):
            raise ResolverError(
                f"resolver {client.name} does not offer {needed} ({info.describe()})",
                code="not_supported",
            )
    stored = client.store_manifest(store, facts=facts, return_receipt=modern)
    verified: bool | None = None
    try:
        for alg, value in bindings if modern else ():
            client.put_binding(alg, value, stored.manifest_id)
        if stored.receipt is not None and info.receipt_keys:
            check = verify_receipt(
                stored.receipt,
                trusted=info.receipt_keys,
                store=store,
                manifest_id=stored.manifest_id,
            )
            if not check.verified:
                raise ResolverError(
                    f"the receipt of {client.name} does not verify: {check.reason}",
                    code="bad_receipt",
                )
            verified = True
    except ResolverError:
        try:
            client.delete_manifest(stored.manifest_id)
        except ResolverError:
            pass
        raise
    count = len(bindings) if modern else 0
    return RemotePublication(stored.manifest_id, stored.receipt, verified, count, info)
