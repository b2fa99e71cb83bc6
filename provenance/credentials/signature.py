"""Our own judgement of the active signature: timestamp, expiry, trust list, offline gaps.

The SDK's word is not enough for a verdict a newsroom can stake a story on:

* c2pa-rs does not check the time-stamping authority of C2PA 1.x manifests, so an expired
  certificate with a timestamp from any TSA reads as valid; we verify every timestamp
  (:mod:`provenance.credentials.timestamp`) and judge expiry with the *trusted* time only;
* an expired certificate makes the SDK call the signer untrusted even when its anchor
  was given; we walk the chain to the anchors ourselves and name the list that decided;
* offline, a CAWG identity issuer that cannot be looked up is "not checked", not invalid.

:func:`assess` rewrites the SDK's validation results accordingly *before* the chain is
built (so every node, failure and verdict follows from one set of facts) and returns the
facts and sentences for the report.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509

from provenance.credentials.timestamp import check_timestamp, path_to_anchor, signer_valid_at
from provenance.report import (
    TRUST_ONLY_CODES,
    ChainNode,
    Expiry,
    SignatureFacts,
    Timestamp,
    TrustListUsed,
)

if TYPE_CHECKING:
    from provenance.credentials._c2pa import SdkStore, SignatureParts

__all__ = ["AnchorList", "Assessment", "assess", "reaches", "with_timestamps"]

EXPIRED: Final = "signingCredential.expired"
UNTRUSTED: Final = "signingCredential.untrusted"
TRUSTED: Final = "signingCredential.trusted"
DID_UNAVAILABLE: Final = "cawg.ica.did_unavailable"
_OCSP_NOT_CHECKED: Final = frozenset(
    {"signingCredential.ocsp.skipped", "signingCredential.ocsp.inaccessible"}
)


@dataclass(frozen=True)
class AnchorList:
    """One list of trust anchors in use, parsed."""

    name: str
    issued: str | None
    certificates: tuple[x509.Certificate, ...] = field(repr=False)
    bundled: bool = False
    stored: bool = True
    """A stored or shipped list (its age is checked); False for ``--trust-anchors`` files."""


def with_timestamps(
    node: ChainNode, outcome: SdkStore, tsa_anchors: Sequence[x509.Certificate]
) -> ChainNode:
    """The chain with every manifest's timestamp verified (ingredients too).

    Parameters
    ----------
    node
        The root of a chain built from ``outcome``.
    outcome
        What the SDK read (its signature pieces per manifest label).
    tsa_anchors
        TSA trust anchors.

    Returns
    -------
    ChainNode
        The same tree with ``timestamp`` set on every node whose signature carries one.
    """
    children = tuple(with_timestamps(c, outcome, tsa_anchors) for c in node.ingredients)
    parts = outcome.signatures.get(node.label) if node.label is not None else None
    stamp = check_timestamp(parts, tsa_anchors=tsa_anchors) if parts is not None else None
    if stamp is None and children == node.ingredients:
        return node
    return dataclasses.replace(node, ingredients=children, timestamp=stamp)


@dataclass(frozen=True)
class Assessment:
    """The store as we judge it, and what the report says about it."""

    store: Mapping[str, Any]
    """The SDK's manifest store JSON with the active manifest's results rewritten."""
    state: str
    """``Trusted``, ``Valid`` or ``Invalid`` after our judgement."""
    facts: SignatureFacts | None
    lines: tuple[str, ...] = ()
    """Sentences for the summary (expiry, trust list, stale lists)."""
    not_checked: tuple[str, ...] = ()
    """What was not checked offline."""
    timestamp_notes: tuple[str, ...] = ()
    """Doubts about the timestamp, for the "Issued on" sentence."""


def _load(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


def reaches(chain: Sequence[bytes], anchors: Sequence[x509.Certificate]) -> bool:
    """Whether a signer's certificate chain reaches one of the anchors (signatures checked,
    validity dates not: expiry is judged separately, with the trusted signing time).

    Parameters
    ----------
    chain
        DER certificates, the signer's first (COSE ``x5chain``).
    anchors
        Trust anchors (root or intermediate CA certificates).

    Returns
    -------
    bool
        True when the signer or one of its issuers is an anchor or is issued by one.
    """
    certs = [c for c in (_load(d) for d in chain) if c is not None]
    if not certs or not anchors:
        return False
    return path_to_anchor(certs[0], certs[1:], anchors) is not None


def _day(moment: str | None) -> str:
    return moment[:10] if moment else "an unknown date"


def _minute(moment: dt.datetime | str | None) -> str:
    """``2026-12-06 03:02 UTC``: precise enough to compare a validity with a signing time."""
    when = _parse(moment) if isinstance(moment, str) or moment is None else moment
    if when is None:
        return "an unknown time"
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _parse(moment: str | None) -> dt.datetime | None:
    if not moment:
        return None
    try:
        when = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _expiry(
    cert: x509.Certificate, stamp: Timestamp | None, signer_der: bytes, now: dt.datetime
) -> tuple[Expiry, str | None]:
    """The expiry case and its sentence (None while the certificate is valid)."""
    na = cert.not_valid_after_utc
    until = _minute(na)
    if now <= na:
        return Expiry.VALID, None
    if stamp is not None and stamp.trusted and stamp.time is not None:
        by = f" from {stamp.tsa}" if stamp.tsa else ""
        if signer_valid_at(signer_der, stamp.time):
            return Expiry.EXPIRED_SINCE_SIGNING, (
                f"The signing certificate expired on {until}, after the credentials were "
                f"signed: a trusted timestamp{by} proves they were signed on "
                f"{_minute(stamp.time)}, while it was valid."
            )
        return Expiry.EXPIRED_BEFORE_SIGNING, (
            f"The signing certificate had already expired on {until} when the credentials "
            f"were signed on {_minute(stamp.time)} (time proven by a trusted timestamp{by})."
        )
    why = ""
    if stamp is not None and stamp.reason:
        why = f" (the timestamp is not trusted: {stamp.reason})"
    return Expiry.EXPIRED_TIME_UNKNOWN, (
        f"The signing certificate expired on {until}, and no trusted timestamp says when "
        f"the credentials were signed{why}: we cannot tell whether it was valid then."
    )


def _active(results: dict[str, Any]) -> dict[str, Any]:
    active = results.get("activeManifest")
    if not isinstance(active, dict):
        active = results["activeManifest"] = {}
    for key in ("success", "informational", "failure"):
        if not isinstance(active.get(key), list):
            active[key] = []
    return active


def _codes(entries: Sequence[Any]) -> set[str]:
    return {str(e.get("code")) for e in entries if isinstance(e, Mapping)}


def _drop(entries: list[Any], codes: set[str]) -> list[Any]:
    return [e for e in entries if not (isinstance(e, Mapping) and e.get("code") in codes)]


def _trust_list(chain: Sequence[bytes], lists: Sequence[AnchorList]) -> TrustListUsed | None:
    for anchors in lists:
        if reaches(chain, anchors.certificates):
            return TrustListUsed(anchors.name, anchors.issued, anchors.bundled)
    return None


def _stale_line(lists: Sequence[AnchorList], now: dt.datetime, stale_days: int) -> str | None:
    old = []
    for anchors in lists:
        issued = _parse(anchors.issued)
        if anchors.stored and issued is not None and (now - issued).days > stale_days:
            old.append(f"{anchors.name} ({_day(anchors.issued)})")
    if not old:
        return None
    return (
        f"Warning: trust lists in use are older than {stale_days} days: {', '.join(old)}; "
        "run `verify trust update` for current lists."
    )


def assess(
    outcome: SdkStore,
    *,
    signer_lists: Sequence[AnchorList],
    tsa_anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    allow_network: bool,
    stale_days: int = 90,
) -> Assessment:
    """Judge the active signature ourselves and rewrite the SDK's results to match.

    Parameters
    ----------
    outcome
        What the SDK read (store JSON, state, signature pieces).
    signer_lists
        The claim-signer anchor lists in use, in order (stored or shipped lists, then
        ``--trust-anchors`` files); the first one the chain reaches is named.
    tsa_anchors
        TSA trust anchors (the TSA trust list and the anchors given for TSAs).
    now
        The analysis time (expiry is judged at this moment).
    allow_network
        False: gaps the SDK could not fill offline are "not checked", not failures.
    stale_days
        Lists older than this get a warning line.

    Returns
    -------
    Assessment
        The rewritten store and state, the signature facts and the sentences.
    """
    store = copy.deepcopy(dict(outcome.store))
    results = store.setdefault("validation_results", {})
    if not isinstance(results, dict):
        results = store["validation_results"] = {}
    active = _active(results)
    removed, not_checked = _offline_gaps(active, allow_network=allow_network)
    label = store.get("active_manifest")
    parts = outcome.signatures.get(label) if isinstance(label, str) else None
    facts: SignatureFacts | None = None
    lines: list[str] = []
    notes: tuple[str, ...] = ()
    if parts is not None:
        stamp = check_timestamp(parts, tsa_anchors=tsa_anchors)
        if stamp is not None and not stamp.trusted and stamp.reason:
            notes = (stamp.reason,)
        facts, sentence = _judge(parts, stamp, active, removed, signer_lists, now)
        lines.extend([sentence] if sentence else [])
    if removed:
        active["failure"] = _drop(active["failure"], removed)
    changed = bool(removed) or EXPIRED in _codes(active["failure"])
    state = _state(outcome.state, active, changed=changed)
    if facts is not None and facts.trust_list is not None and state == "Trusted":
        used = facts.trust_list
        when = f" ({'bundled snapshot, ' if used.bundled else ''}dated {_day(used.issued)})"
        lines.append(f"The signer is trusted through {used.name}{when if used.issued else ''}.")
    stale = _stale_line(signer_lists, now, stale_days)
    if stale:
        lines.append(stale)
    return Assessment(store, state, facts, tuple(lines), tuple(not_checked), notes)


def _offline_gaps(active: dict[str, Any], *, allow_network: bool) -> tuple[set[str], list[str]]:
    """Failure codes that only mean "not looked up offline", and the not-checked lines."""
    removed: set[str] = set()
    not_checked: list[str] = []
    if allow_network:
        return removed, not_checked
    if DID_UNAVAILABLE in _codes(active["failure"]):
        removed.add(DID_UNAVAILABLE)
        not_checked.append(
            "CAWG identity: the issuer of an identity credential (its DID) was not looked "
            "up: not checked offline (use --allow-network)."
        )
    if _codes(active["informational"]) & _OCSP_NOT_CHECKED:
        not_checked.append(
            "Revocation (OCSP) of the signing certificate: not checked offline "
            "(use --allow-network)."
        )
    return removed, not_checked


def _judge(
    parts: SignatureParts,
    stamp: Timestamp | None,
    active: dict[str, Any],
    removed: set[str],
    signer_lists: Sequence[AnchorList],
    now: dt.datetime,
) -> tuple[SignatureFacts, str | None]:
    """Expiry and trust of the active signer; adds to ``active``/``removed`` in place."""
    cert = _load(parts.chain[0])
    used = _trust_list(parts.chain, signer_lists)
    expiry: Expiry | None = None
    sentence: str | None = None
    if cert is not None:
        expiry, sentence = _expiry(cert, stamp, parts.chain[0], now)
    failures = _codes(active["failure"])
    if expiry in (Expiry.EXPIRED_BEFORE_SIGNING, Expiry.EXPIRED_TIME_UNKNOWN):
        if EXPIRED not in failures:
            active["failure"].append({"code": EXPIRED, "explanation": sentence})
    elif expiry is Expiry.EXPIRED_SINCE_SIGNING and EXPIRED in failures:
        removed.add(EXPIRED)
    expired = expiry not in (None, Expiry.VALID) or EXPIRED in failures
    if expired and UNTRUSTED in failures and used is not None:
        # The SDK judged trust at today's date, when the certificate had expired; the
        # chain reaches an anchor in use, so the signer panel says trusted.
        removed.add(UNTRUSTED)
        active["success"].append({"code": TRUSTED, "explanation": used.name})
    not_after = cert.not_valid_after_utc.isoformat().replace("+00:00", "Z") if cert else None
    facts = SignatureFacts(
        timestamp=stamp, trust_list=used, certificate_expiry=expiry, not_after=not_after
    )
    return facts, sentence


def _state(state: str, active: Mapping[str, Any], *, changed: bool) -> str:
    """The validation state after our rewrite (the SDK's when nothing changed)."""
    if not changed:
        return state
    failures = _codes(active["failure"]) - TRUST_ONLY_CODES
    if failures:
        return "Invalid"
    if TRUSTED in _codes(active["success"]) and UNTRUSTED not in _codes(active["failure"]):
        return "Trusted"
    return "Valid"
