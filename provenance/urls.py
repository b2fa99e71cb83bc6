"""Keep credentials out of every URL that is printed, logged, stored or reported.

A resolver, repository or trust-list URL may carry a password (``https://user:pass@host``)
or a token in its query (``?token=...``, signed URLs' ``sig``/``signature``). The library
and the command line show such URLs only through :func:`redact_url` (one URL) or
:func:`redact_text` (any URLs inside a sentence); the original URL is used only to connect.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Final

__all__ = [
    "REDACTED",
    "SECRET_PARAMETERS",
    "basic_auth",
    "redact_text",
    "redact_url",
    "strip_userinfo",
]

REDACTED: Final = "REDACTED"
SECRET_PARAMETERS: Final = frozenset({"token", "key", "sig", "signature", "password"})
"""Query parameters whose values are hidden; also ``access_token``, ``api-key``, ... (any
name ending in ``_`` or ``-`` and one of these)."""

_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def _secret_name(name: str) -> bool:
    low = urllib.parse.unquote_plus(name).strip().lower()
    return low in SECRET_PARAMETERS or any(
        low.endswith(sep + word) for word in SECRET_PARAMETERS for sep in ("_", "-")
    )


def _redact_query(query: str) -> str:
    out = []
    for pair in query.split("&"):
        name, sep, _value = pair.partition("=")
        out.append(f"{name}={REDACTED}" if sep and _secret_name(name) else pair)
    return "&".join(out)


def redact_url(url: str) -> str:
    """Return ``url`` with its user information and secret query values hidden.

    Parameters
    ----------
    url
        Any URL (text that is not a URL comes back unchanged).

    Returns
    -------
    str
        The URL with ``user:password@`` replaced by ``REDACTED@`` and the values of
        :data:`SECRET_PARAMETERS` replaced by ``REDACTED``; everything else as given.

    Examples
    --------
    >>> redact_url("https://ann:s3cret@resolver.example/api?alg=x&token=abc")
    'https://REDACTED@resolver.example/api?alg=x&token=REDACTED'
    >>> redact_url("https://cdn.example/a.jpg?X-Amz-Signature=ff&sig=1#frag")
    'https://cdn.example/a.jpg?X-Amz-Signature=REDACTED&sig=REDACTED#frag'
    >>> redact_url("http://127.0.0.1:8750")
    'http://127.0.0.1:8750'
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return _URL_RE.sub(lambda m: REDACTED, url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@" + netloc.rsplit("@", 1)[1]
    query = _redact_query(parts.query) if parts.query else parts.query
    if netloc == parts.netloc and query == parts.query:
        return url
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Redact every URL found inside a sentence (see :func:`redact_url`).

    Examples
    --------
    >>> redact_text("resolver https://u:p@h/x?key=1 could not be reached")
    'resolver https://REDACTED@h/x?key=REDACTED could not be reached'
    """
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """Split ``user:password@`` out of a URL, for clients that send it as a header.

    Returns
    -------
    tuple
        The URL without user information, the user name and the password (None when
        absent), both percent-decoded.

    Examples
    --------
    >>> strip_userinfo("https://ann:p%40ss@h:8/x")
    ('https://h:8/x', 'ann', 'p@ss')
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    bare = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    user = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return bare, user, password


def basic_auth(user: str | None, password: str | None) -> str | None:
    """An HTTP ``Authorization: Basic`` value, or None without a user.

    Examples
    --------
    >>> basic_auth("ann", "pw")
    'Basic YW5uOnB3'
    """
    if user is None:
        return None
    raw = f"{user}:{password or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")
