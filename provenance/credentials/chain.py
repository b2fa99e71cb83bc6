"""Build the provenance chain (a tree of :class:`~provenance.report.ChainNode`).

The SDK returns a flat manifest store: ``manifests`` keyed by label, each with
``ingredients[].active_manifest`` pointing at another entry. This module walks that graph
from the active manifest, turns every manifest into a node (issuer, time, generator,
actions in words) and attaches each node's own validation failures, wherever the SDK put
them:

* ``validation_results.activeManifest.failure``: the active manifest (validated now);
* ``validation_results.ingredientDeltas``: ingredient manifests (validated now);
* ``ingredients[].validation_status`` (C2PA 1.x) and ``ingredients[].validation_results``
  (2.x): what was recorded when the ingredient was added (not re-checked).

Cycles and dangling references are cut, never followed.

Each node also records the validator's word on its signer (``ChainNode.trusted``):
``signingCredential.untrusted`` among the failures found now -> False,
``signingCredential.trusted`` among the success codes (active manifest, or an ingredient's
delta) -> True, else None. Trust-only codes stay in ``failures`` but do not make a node
unreliable (see :data:`~provenance.report.TRUST_ONLY_CODES`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from provenance.codes import UNTRUSTED_CODES, action_label, describe, is_failure_code
from provenance.report import Action, ChainNode, Failure, Issuer

if TYPE_CHECKING:
    from provenance.credentials._c2pa import CertInfo

__all__ = ["ChainResult", "CYCLE_CODE", "build_chain", "iter_nodes"]

CYCLE_CODE: Final = "jinjja.chain.cycle"
"""Our code for an ingredient that refers back to a manifest already on the path."""

ORIGIN_VALIDATION: Final = "validation"
UNTRUSTED_SIGNER: Final = "signingCredential.untrusted"
TRUSTED_SIGNER: Final = "signingCredential.trusted"
ORIGIN_RECORD: Final = "ingredient_record"

_MAX_DEPTH: Final = 64
_LABEL_IN_URL = re.compile(r"jumbf=/c2pa/([^/]+)")


@dataclass(frozen=True)
class ChainResult:
    """The chain and its failures, split by where they came from."""

    root: ChainNode
    """The active manifest's node."""
    validated: tuple[Failure, ...]
    """Failures found by the validator now (active manifest and ingredient deltas)."""
    recorded: tuple[Failure, ...]
    """Failures recorded inside ingredient assertions when they were added."""


def iter_nodes(node: ChainNode) -> Iterator[ChainNode]:
    """Yield ``node`` and all its ingredients, depth first.

    Parameters
    ----------
    node
        The root of a chain.

    Yields
    ------
    ChainNode
        Every node once, parents before children.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.ingredients))


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


def _failure(entry: Any, *, manifest: str | None, origin: str) -> Failure | None:
    entry = _mapping(entry)
    code = _str(entry.get("code"))
    if code is None:
        return None
    return Failure(
        code=code,
        message=describe(code),
        explanation=_str(entry.get("explanation")),
        url=_str(entry.get("url")),
        manifest=manifest,
        origin=origin,
    )


def _failures(
    entries: Iterable[Any], *, manifest: str | None, origin: str, only_failures: bool = False
) -> list[Failure]:
    out = []
    for entry in entries:
        f = _failure(entry, manifest=manifest, origin=origin)
        if f is None or (only_failures and not is_failure_code(f.code)):
            continue
        out.append(f)
    return out


def _codes(entries: Any) -> set[str]:
    return {code for e in _list(entries) if (code := _str(_mapping(e).get("code"))) is not None}


def _trusted(failures: Sequence[Failure], success: set[str] | frozenset[str]) -> bool | None:
    """The validator's word on the signer: untrusted, trusted, or nothing said (None).

    Only what the validator found now counts: an ingredient's trust recorded when it was
    added was judged with the creator's trust lists, not yours.
    """
    if any(f.code == UNTRUSTED_SIGNER and f.origin == ORIGIN_VALIDATION for f in failures):
        return False
    if TRUSTED_SIGNER in success:
        return True
    return None


def _dedupe(failures: Iterable[Failure]) -> tuple[Failure, ...]:
    seen: set[tuple[str, str | None, str | None]] = set()
    out = []
    for f in failures:
        key = (f.code, f.url, f.manifest)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return tuple(out)


def _software_agent(value: Any) -> str | None:
    if isinstance(value, Mapping):
        name = _str(value.get("name"))
        version = _str(value.get("version"))
        if name and version:
            return f"{name} {version}"
        return name
    return _str(value)


def _actions(manifest: Mapping[str, Any]) -> tuple[Action, ...]:
    out = []
    for assertion in _list(manifest.get("assertions")):
        assertion = _mapping(assertion)
        label = _str(assertion.get("label")) or ""
        if not label.startswith("c2pa.actions"):
            continue
        for act in _list(_mapping(assertion.get("data")).get("actions")):
            act = _mapping(act)
            name = _str(act.get("action"))
            if name is None:
                continue
            params = _mapping(act.get("parameters"))
            description = _str(act.get("description")) or _str(params.get("description"))
            out.append(
                Action(
                    action=name,
                    label=action_label(name),
                    software_agent=_software_agent(act.get("softwareAgent")),
                    digital_source_type=_str(act.get("digitalSourceType")),
                    description=description,
                    when=_str(act.get("when")),
                )
            )
    return tuple(out)


def _generator(manifest: Mapping[str, Any]) -> tuple[str | None, str | None]:
    infos = _list(manifest.get("claim_generator_info"))
    if infos:
        first = _mapping(infos[0])
        name = _str(first.get("name"))
        if name is not None:
            return name, _str(first.get("version"))
    raw = _str(manifest.get("claim_generator"))
    if raw is None:
        return None, None
    # 1.x: "make_test_images/0.16.1 c2pa-rs/0.16.1" -> ("make_test_images", "0.16.1")
    first_token = raw.split()[0]
    if "/" in first_token:
        name, _, version = first_token.partition("/")
        return name, version or None
    return raw, None


def _issuer(manifest: Mapping[str, Any], cert: CertInfo | None) -> Issuer | None:
    sig = _mapping(manifest.get("signature_info"))
    if cert is not None and (cert.subject or cert.issuer):
        ca = cert.issuer.get("CN") or cert.issuer.get("O")
        ca_org = cert.issuer.get("O")
        if ca and ca_org and ca_org != ca:
            ca = f"{ca} ({ca_org})"
        return Issuer(
            organization=cert.subject.get("O") or _str(sig.get("issuer")),
            common_name=cert.subject.get("CN") or _str(sig.get("common_name")),
            issuing_ca=ca,
            serial_number=cert.serial_number or _str(sig.get("cert_serial_number")),
        )
    if not sig:
        return None
    # signature_info.issuer is the signer's organisation (subject O), not the CA.
    return Issuer(
        organization=_str(sig.get("issuer")),
        common_name=_str(sig.get("common_name")),
        issuing_ca=None,
        serial_number=_str(sig.get("cert_serial_number")),
    )


def _signing_time(
    manifest: Mapping[str, Any], cert: CertInfo | None, actions: Sequence[Action]
) -> tuple[str | None, str | None]:
    stamped = _str(_mapping(manifest.get("signature_info")).get("time"))
    if stamped is None and cert is not None:
        stamped = cert.timestamp
    if stamped is not None:
        return stamped, "timestamp"
    for act in actions:
        if act.when:
            return act.when, "claimed"
    return None, None


def _manifest_of_url(url: str | None) -> str | None:
    if not url:
        return None
    m = _LABEL_IN_URL.search(url)
    return m.group(1) if m else None


class _Builder:
    def __init__(
        self,
        store: Mapping[str, Any],
        certificates: Mapping[str, CertInfo],
        extra_validation: Iterable[Any] = (),
    ) -> None:
        self.manifests = _mapping(store.get("manifests"))
        self.certificates = certificates
        results = _mapping(store.get("validation_results"))
        active = _mapping(results.get("activeManifest"))
        self.active_failures = list(_list(active.get("failure")))
        self.active_failures.extend(extra_validation)
        self.active_success = _codes(active.get("success"))
        self.deltas: dict[str, list[Any]] = {}
        self.delta_success: dict[str, set[str]] = {}
        for delta in _list(results.get("ingredientDeltas")):
            delta = _mapping(delta)
            uri = _str(delta.get("ingredientAssertionURI"))
            if uri is None:
                continue
            changes = _mapping(delta.get("validationDeltas"))
            self.deltas.setdefault(uri, []).extend(_list(changes.get("failure")))
            self.delta_success.setdefault(uri, set()).update(_codes(changes.get("success")))
        self.validated: list[Failure] = []
        self.recorded: list[Failure] = []
        self.used_deltas: set[str] = set()

    def node(
        self,
        label: str | None,
        *,
        path: tuple[str, ...],
        ingredient: Mapping[str, Any] | None,
        own_failures: list[Failure],
        success: set[str] | frozenset[str] = frozenset(),
    ) -> ChainNode:
        manifest = _mapping(self.manifests.get(label)) if label else {}
        ing = ingredient or {}
        cert = self.certificates.get(label) if label else None
        actions = _actions(manifest)
        when, when_source = _signing_time(manifest, cert, actions)
        generator, generator_version = _generator(manifest)
        children: list[ChainNode] = []
        if label is not None and manifest:
            if len(path) >= _MAX_DEPTH:
                own_failures.append(
                    Failure(
                        code=CYCLE_CODE,
                        message="The history is too deep to follow; it was cut here.",
                        manifest=label,
                        origin=ORIGIN_VALIDATION,
                    )
                )
            else:
                children = self.children(label, manifest, path + (label,))
        return ChainNode(
            label=label,
            title=_str(manifest.get("title")) or _str(ing.get("title")),
            format=_str(manifest.get("format")) or _str(ing.get("format")),
            issuer=_issuer(manifest, cert) if manifest else None,
            signing_time=when,
            signing_time_source=when_source,
            claim_generator=generator,
            claim_generator_version=generator_version,
            actions=actions,
            relationship=_str(ing.get("relationship")) if ingredient is not None else None,
            failures=_dedupe(own_failures),
            ingredients=tuple(children),
            trusted=_trusted(own_failures, success) if label is not None and manifest else None,
        )

    def children(
        self, parent: str, manifest: Mapping[str, Any], path: tuple[str, ...]
    ) -> list[ChainNode]:
        out = []
        for ing in _list(manifest.get("ingredients")):
            ing = _mapping(ing)
            child = _str(ing.get("active_manifest"))
            recorded = _recorded_failures(ing, child)
            validated, success = self._validated(parent, ing, child)
            # "Untrusted" at ingest only says the creator's tool did not know the signer;
            # trust is judged by this validator (see the ingredient deltas), so drop it.
            recorded = [f for f in recorded if f.code not in UNTRUSTED_CODES]
            self.recorded.extend(recorded)
            self.validated.extend(validated)
            failures = validated + recorded
            if child is not None and child in path:
                failures.append(
                    Failure(
                        code=CYCLE_CODE,
                        message="The history refers back to a later version of itself; "
                        "the loop was cut here.",
                        manifest=child,
                        origin=ORIGIN_VALIDATION,
                    )
                )
                self.validated.append(failures[-1])
                out.append(self.node(None, path=path, ingredient=ing, own_failures=failures))
                continue
            out.append(
                self.node(child, path=path, ingredient=ing, own_failures=failures, success=success)
            )
        return out

    def _validated(
        self, parent: str, ing: Mapping[str, Any], child: str | None
    ) -> tuple[list[Failure], set[str]]:
        """Validated now by the SDK, keyed by the ingredient assertion's URI."""
        assertion_label = _str(ing.get("label"))
        validated: list[Failure] = []
        success: set[str] = set()
        if assertion_label is not None:
            uri = f"self#jumbf=/c2pa/{parent}/c2pa.assertions/{assertion_label}"
            success = self.delta_success.get(uri, set())
            if uri in self.deltas:
                self.used_deltas.add(uri)
                for entry in self.deltas[uri]:
                    f = _failure(
                        entry,
                        manifest=child or _manifest_of_url(_str(_mapping(entry).get("url"))),
                        origin=ORIGIN_VALIDATION,
                    )
                    if f is not None:
                        validated.append(f)
        return validated, success

    def build(self, active: str) -> ChainResult:
        own = _failures(self.active_failures, manifest=None, origin=ORIGIN_VALIDATION)
        self.validated.extend(own)
        root = self.node(
            active, path=(), ingredient=None, own_failures=own, success=self.active_success
        )
        # Deltas for ingredients we could not place (unusual URIs) still count.
        for uri, entries in self.deltas.items():
            if uri in self.used_deltas:
                continue
            self.validated.extend(
                f
                for e in entries
                if (
                    f := _failure(
                        e,
                        manifest=_manifest_of_url(_str(_mapping(e).get("url")))
                        or _manifest_of_url(uri),
                        origin=ORIGIN_VALIDATION,
                    )
                )
                is not None
            )
        return ChainResult(
            root=root, validated=_dedupe(self.validated), recorded=_dedupe(self.recorded)
        )


def build_chain(
    store: Mapping[str, Any],
    certificates: Mapping[str, CertInfo] | None = None,
    *,
    extra_validation: Iterable[Mapping[str, Any]] = (),
    active_format: str | None = None,
) -> ChainResult | None:
    """Turn an SDK manifest store into a chain of nodes with their failures.

    Parameters
    ----------
    store
        ``Reader.json()`` parsed: ``active_manifest``, ``manifests``, ``validation_results``.
    certificates
        Signer certificate details per manifest label (from the SDK's crJSON).
    active_format
        Media type of the file itself, used when the active manifest states no format.
    extra_validation
        More failure entries (``{code, url, explanation}``) for the active manifest, for
        example from fMP4 fragments.

    Returns
    -------
    ChainResult or None
        None when the store names no active manifest.
    """
    active = _str(store.get("active_manifest"))
    if active is None:
        return None
    builder = _Builder(store, certificates or {}, extra_validation)
    result = builder.build(active)
    if result.root.format is None and active_format is not None:
        result = replace(result, root=replace(result.root, format=active_format))
    return result


def _recorded_failures(ing: Mapping[str, Any], child: str | None) -> list[Failure]:
    """Status recorded when the ingredient was added (1.x list and 2.x results)."""
    recorded = _failures(
        _list(ing.get("validation_status")),
        manifest=child,
        origin=ORIGIN_RECORD,
        only_failures=True,
    )
    vr = _mapping(ing.get("validation_results"))
    recorded += _failures(
        _list(_mapping(vr.get("activeManifest")).get("failure")),
        manifest=child,
        origin=ORIGIN_RECORD,
    )
    for delta in _list(vr.get("ingredientDeltas")):
        recorded += _failures(
            _list(_mapping(_mapping(delta).get("validationDeltas")).get("failure")),
            manifest=child,
            origin=ORIGIN_RECORD,
        )
    return recorded
