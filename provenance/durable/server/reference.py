"""Fetching an asset named by URL for ``/matches/byReference``, with SSRF guards.

Only ``http``/``https`` URLs; every address the host name resolves to must be public
(loopback, private, link-local, multicast and reserved ranges are refused unless the server
allows private references); redirects are not followed; the body is read up to the
declared ``assetLength`` and the server's limit.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Final

from provenance.durable.server.common import ApiError

__all__ = ["fetch_reference"]

TIMEOUT: Final = 20.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _check_host(host: str, port: int, *, private: bool) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ApiError(502, "reference_unreachable", f"cannot resolve {host!r}: {exc}") from None
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not private and not addr.is_global:
            raise ApiError(
                400,
                "reference_not_public",
                f"{host!r} resolves to {addr}, which is not a public address",
            )


def fetch_reference(url: str, *, length: int, limit: int, private: bool) -> tuple[bytes, str]:
    """Download ``url``: the bytes and the declared Content-Type.

    Raises
    ------
    ApiError
        400 bad URL or non-public address, 413 larger than ``limit`` or ``length``, 502 the
        fetch failed, redirected or returned an error.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "bad_reference", "referenceUrl must be an http:// or https:// URL")
    if length > limit:
        raise ApiError(413, "too_large", f"assetLength {length} exceeds {limit} bytes")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ApiError(400, "bad_reference", "referenceUrl has a malformed port") from None
    _check_host(parts.hostname, port, private=private)
    opener = urllib.request.build_opener(_NoRedirect())
    req = urllib.request.Request(url, headers={"Accept": "*/*"})
    try:
        with opener.open(req, timeout=TIMEOUT) as resp:
            data = resp.read(length + 1)
            media = str(resp.headers.get("content-type", "")).split(";")[0].strip().lower()
    except urllib.error.HTTPError as exc:
        raise ApiError(502, "reference_failed", f"the reference answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(
            502, "reference_unreachable", f"cannot fetch the reference: {reason}"
        ) from None
    if len(data) > length:
        raise ApiError(
            413, "too_large", f"the referenced asset is larger than assetLength {length}"
        )
    return data, media
