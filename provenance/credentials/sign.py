"""Sign pictures and videos with embedded Content Credentials (the publisher flow).

:func:`sign_file` writes a new, signed copy of a file; :func:`sign_bytes` does the same in
memory. Both build the manifest from a few plain options (title, action, digital source
type, author, parent) merged with an optional user manifest definition and extra
assertions, check the signing certificate first (:mod:`provenance.credentials.certcheck` names what
is wrong instead of the SDK's "the certificate is invalid"), and keep the history: when the
input already carries Content Credentials it becomes the ``parentOf`` ingredient of the
new manifest (the SDK would silently drop them otherwise).

Who signs is a :class:`SignerSpec`: a certificate chain plus a private key file
(:meth:`SignerSpec.from_files`) or an external program that receives the bytes to sign on
stdin and prints the signature on stdout, so the key can stay in a KMS or HSM
(:meth:`SignerSpec.from_command`). An RFC 3161 time-stamping authority URL keeps the
signature valid after the certificate expires. Private keys never appear in messages,
``repr`` or results.

Files are never signed in place: the result goes to a temporary file next to the
destination and is renamed into place; an existing destination is refused unless
``force=True``. All SDK calls go through :mod:`provenance.credentials._c2pa`.

Examples
--------
>>> import tempfile, pathlib
>>> from PIL import Image
>>> from provenance.testing.pki import make_pki
>>> pki = make_pki("Doc", algs=("es256",), seed=b"doc")
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> Image.new("RGB", (64, 48), (200, 30, 30)).save(d / "a.jpg")
>>> signer = SignerSpec.from_pem(pki.chain_pem("es256"), pki.key_pem("es256"))
>>> first = sign_file(d / "a.jpg", d / "b.jpg", signer=signer, source_type="digitalCapture")
>>> first.alg, first.history
('es256', 1)
>>> again = sign_file(d / "b.jpg", d / "c.jpg", signer=signer, action="published")
>>> again.history, again.parent
(2, 'b.jpg')
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import shutil
import subprocess
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives import serialization

from provenance._atomic import atomic_writer
from provenance._version import __version__
from provenance.credentials.certcheck import (
    ALGORITHMS,
    CertCheck,
    CertificateError,
    alg_for_key,
    check_certificate,
    load_certificates,
    load_private_key,
    verify_signature,
)
from provenance.credentials.trust import eku_config, load
from provenance.errors import InputFileError, ProvenanceError, RemoteManifestError, SigningError
from provenance.media.inspect import read_file, sniff_media_type

if TYPE_CHECKING:
    from provenance.credentials import _c2pa

__all__ = [
    "ACTIONS",
    "IPTC_SOURCE_TYPE",
    "SOURCE_TYPES",
    "CertificateError",
    "Ingredient",
    "SignResult",
    "SignerSpec",
    "SigningError",
    "action_label",
    "capture_manifest",
    "sign_bytes",
    "sign_file",
    "source_type_uri",
]

IPTC_SOURCE_TYPE: Final = "http://cv.iptc.org/newscodes/digitalsourcetype/"
"""Prefix of the IPTC digital source type URIs (``digitalCapture``, ``trainedAlgorithmicMedia``)."""
_C2PA_SOURCE_TYPE: Final = "http://c2pa.org/digitalsourcetype/"

SOURCE_TYPES: Final = (
    "digitalCapture",
    "computationalCapture",
    "negativeFilm",
    "positiveFilm",
    "print",
    "minorHumanEdits",
    "humanEdits",
    "compositeWithTrainedAlgorithmicMedia",
    "algorithmicallyEnhanced",
    "digitalCreation",
    "dataDrivenMedia",
    "trainedAlgorithmicMedia",
    "algorithmicMedia",
    "screenCapture",
    "virtualRecording",
    "composite",
    "compositeCapture",
    "compositeSynthetic",
)
"""IPTC digital source type terms accepted by name (a full URI is accepted too)."""
_C2PA_SOURCE_TYPES: Final = ("empty", "trainedAlgorithmicData")

ACTIONS: Final = (
    "created",
    "opened",
    "edited",
    "edited.metadata",
    "published",
    "placed",
    "cropped",
    "resized",
    "orientation",
    "color_adjustments",
    "filtered",
    "enhanced",
    "drawing",
    "converted",
    "transcoded",
    "repackaged",
    "removed",
    "deleted",
    "redacted",
    "translated",
    "dubbed",
    "trimmed",
    "watermarked",
    "unknown",
)
"""C2PA action names accepted without the ``c2pa.`` prefix (any dotted label is accepted)."""

_GENERATOR: Final = "Jinjja"
_PARENT_ID: Final = "parent"
_ACTIONS_LABELS: Final = ("c2pa.actions", "c2pa.actions.v2")
_CREATIVE_WORK: Final = "stds.schema-org.CreativeWork"
_COMMAND_TIMEOUT: Final = 60.0


# ------------------------------------------------------------------------------- signer


def _read_secret_file(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"{what} {path} does not exist", code="file_not_found") from None
    except IsADirectoryError:
        raise CertificateError(f"{what} {path} is a directory", code="file_not_found") from None
    except OSError as exc:
        raise CertificateError(
            f"Cannot read {what} {path}: {exc.strerror or 'error'}", code="file_unreadable"
        ) from None
    if not data.strip():
        raise CertificateError(f"{what} {path} is empty", code="file_unreadable")
    return data


def _check_alg(alg: str) -> str:
    wanted = alg.strip().lower()
    if wanted not in ALGORITHMS:
        raise SigningError(
            f"Unknown signing algorithm {alg!r} (choose from {', '.join(ALGORITHMS)})",
            code="bad_algorithm",
        )
    return wanted


def _check_tsa_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SigningError(
            f"{url!r} is not a time-stamping authority URL (expected http:// or https://)",
            code="bad_tsa_url",
        )
    return url


def _chain_pem(data: bytes, origin: str) -> bytes:
    """The chain as plain PEM (DER or PEM with comments accepted): what the SDK expects."""

    certs = load_certificates(data, origin=origin)
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _pkcs8(key: Any) -> bytes:

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass(frozen=True)
class SignerSpec:
    """Who signs: certificate chain, algorithm, key or external command, and TSA.

    Build it with :meth:`from_files`, :meth:`from_pem` or :meth:`from_command`. The
    private key is never part of ``repr`` or of any message.
    """

    alg: str
    """C2PA algorithm: ``es256``, ``es384``, ``es512``, ``ps256``, ``ps384``, ``ps512``
    or ``ed25519``."""
    cert_chain_pem: bytes = field(repr=False)
    """Signing certificate first, then intermediates (PEM)."""
    key_pem: bytes | None = field(default=None, repr=False)
    """The private key (PKCS#8 PEM), or None when :attr:`command` signs."""
    command: tuple[str, ...] | None = None
    """External signer: program and arguments (bytes to sign on stdin, signature on
    stdout); None when :attr:`key_pem` signs."""
    tsa_url: str | None = None
    """RFC 3161 time-stamping authority; None signs without a trusted timestamp."""
    source: str = "memory"
    """Where the chain came from (a path), for messages."""
    command_timeout: float = _COMMAND_TIMEOUT
    """Seconds the external signer may take per signature."""

    @classmethod
    def from_pem(
        cls,
        cert_chain_pem: bytes,
        key_pem: bytes,
        *,
        alg: str | None = None,
        tsa_url: str | None = None,
    ) -> SignerSpec:
        """A signer from PEM bytes held in memory.

        Parameters
        ----------
        cert_chain_pem
            Signing certificate first, then intermediates.
        key_pem
            The unencrypted private key (PKCS#8, SEC1 or PKCS#1 PEM).
        alg
            Signature algorithm; inferred from the key when None (RSA gives ``ps256``).
        tsa_url
            RFC 3161 time-stamping authority URL.

        Returns
        -------
        SignerSpec
            The signer.

        Raises
        ------
        CertificateError
            Unreadable chain or key (the message never contains the key).
        SigningError
            Unknown algorithm or malformed TSA URL.
        """
        chain = _chain_pem(cert_chain_pem, "the certificate chain")
        key = load_private_key(key_pem)
        chosen = _check_alg(alg) if alg is not None else alg_for_key(key)
        if chosen is None:
            raise CertificateError(
                "The private key's type cannot sign C2PA manifests", code="key_unsupported"
            )
        return cls(
            alg=chosen,
            cert_chain_pem=chain,
            key_pem=_pkcs8(key),
            tsa_url=_check_tsa_url(tsa_url),
        )

    @classmethod
    def from_files(
        cls,
        cert_chain: str | os.PathLike[str],
        key: str | os.PathLike[str],
        *,
        alg: str | None = None,
        tsa_url: str | None = None,
    ) -> SignerSpec:
        """A signer from a PEM certificate chain file and a private key file.

        Parameters
        ----------
        cert_chain
            PEM file: signing certificate first, then intermediates.
        key
            Unencrypted private key file (PKCS#8, SEC1 or PKCS#1 PEM, or DER PKCS#8).
        alg
            Signature algorithm; inferred from the key when None.
        tsa_url
            RFC 3161 time-stamping authority URL.

        Returns
        -------
        SignerSpec
            The signer.

        Raises
        ------
        CertificateError
            Missing or unreadable files (the message names the file, never its content).
        SigningError
            Unknown algorithm or malformed TSA URL.
        """
        chain_path, key_path = Path(cert_chain), Path(key)
        chain = _chain_pem(
            _read_secret_file(chain_path, "certificate chain"), f"certificate chain {chain_path}"
        )
        private = load_private_key(
            _read_secret_file(key_path, "private key"), origin=f"private key file {key_path}"
        )
        chosen = _check_alg(alg) if alg is not None else alg_for_key(private)
        if chosen is None:
            raise CertificateError(
                f"private key file {key_path} holds a key that cannot sign C2PA manifests",
                code="key_unsupported",
            )
        return cls(
            alg=chosen,
            cert_chain_pem=chain,
            key_pem=_pkcs8(private),
            tsa_url=_check_tsa_url(tsa_url),
            source=str(chain_path),
        )

    @classmethod
    def from_command(
        cls,
        cmd: str | Sequence[str],
        cert_chain: str | os.PathLike[str],
        *,
        alg: str,
        tsa_url: str | None = None,
        timeout: float = _COMMAND_TIMEOUT,
    ) -> SignerSpec:
        """A signer whose signatures come from an external program (KMS, HSM, ...).

        The program is run once per signature, without a shell: it gets the bytes to sign
        on stdin and must print the raw signature on stdout (ECDSA as DER or ``r||s``,
        RSA-PSS, or Ed25519) and exit 0. Each signature is checked against the
        certificate's public key before it is used.

        Parameters
        ----------
        cmd
            Command line (split like a POSIX shell does) or argument list.
        cert_chain
            PEM file: signing certificate first, then intermediates.
        alg
            Signature algorithm the program uses.
        tsa_url
            RFC 3161 time-stamping authority URL.
        timeout
            Seconds allowed per signature.

        Returns
        -------
        SignerSpec
            The signer.

        Raises
        ------
        SigningError
            Empty command, program not found, unknown algorithm, malformed TSA URL.
        CertificateError
            Unreadable certificate chain.
        """
        argv = _command_argv(cmd)
        chain_path = Path(cert_chain)
        chain = _chain_pem(
            _read_secret_file(chain_path, "certificate chain"), f"certificate chain {chain_path}"
        )
        return cls(
            alg=_check_alg(alg),
            cert_chain_pem=chain,
            command=argv,
            tsa_url=_check_tsa_url(tsa_url),
            source=str(chain_path),
            command_timeout=timeout,
        )

    def preflight(self, *, trust_anchors_pem: bytes | None = None, at: Any = None) -> CertCheck:
        """Check the chain, the key and the algorithm (see :func:`check_certificate`).

        Parameters
        ----------
        trust_anchors_pem
            Anchors readers will use; enables the missing-intermediate check.
        at
            Signing time (``datetime``); default now.

        Returns
        -------
        CertCheck
            Findings; ``ok`` is False when signing would fail.
        """
        return check_certificate(
            self.cert_chain_pem,
            alg=self.alg,
            key_pem=self.key_pem,
            at=at,
            trust_anchors_pem=trust_anchors_pem,
            timestamped=self.tsa_url is not None,
        )

    def _run_command(self, data: bytes) -> bytes:
        assert self.command is not None
        shown = self.command[0]
        try:
            proc = subprocess.run(
                self.command,
                input=data,
                capture_output=True,
                timeout=self.command_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise SigningError(
                f"The signer command {shown} did not answer within {self.command_timeout:g} s",
                code="signer_timeout",
            ) from None
        except OSError as exc:
            raise SigningError(
                f"The signer command {shown} cannot be run: {exc.strerror or exc}",
                code="signer_failed",
            ) from None
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            tail = lines[-1][:200] if lines else "no message"
            raise SigningError(
                f"The signer command {shown} failed (exit status {proc.returncode}): {tail}",
                code="signer_failed",
            )
        signature = proc.stdout
        if not signature:
            raise SigningError(
                f"The signer command {shown} printed no signature", code="signer_failed"
            )
        public_key = load_certificates(self.cert_chain_pem)[0].public_key()
        if not verify_signature(public_key, signature, data, self.alg):
            hint = ""
            if signature.strip().isascii() and signature.strip().isalnum():
                hint = " (it looks like text: print the raw signature bytes, not hex or base64)"
            raise SigningError(
                f"The signature from {shown} does not verify with the signing certificate's "
                f"public key for {self.alg}{hint}",
                code="signer_bad_signature",
            )
        return signature

    def _sdk(self) -> _c2pa.SdkSigner:
        from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

        if self.command is not None:
            return _c2pa.SdkSigner(
                self.alg, self.cert_chain_pem, callback=self._run_command, tsa_url=self.tsa_url
            )
        return _c2pa.SdkSigner(
            self.alg, self.cert_chain_pem, key_pem=self.key_pem, tsa_url=self.tsa_url
        )


# ------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Ingredient:
    """A file that went into the signed one."""

    path: Path
    """The ingredient file."""
    relationship: str = "componentOf"
    """``parentOf`` (the file this one was made from), ``componentOf`` or ``inputTo``."""
    title: str | None = None
    """Title recorded in the manifest; default the file name."""
    instance_id: str | None = None
    """Identifier an action can refer to (``parameters.ingredientIds``)."""


@dataclass(frozen=True)
class SignResult:
    """What :func:`sign_file` wrote."""

    path: Path
    """The signed file."""
    manifest_bytes: int
    """Size of the embedded manifest store in bytes."""
    media_type: str = ""
    """Media type of the signed file."""
    manifest_label: str | None = None
    """Label of the new (active) manifest (``urn:c2pa:...``)."""
    alg: str = ""
    """Signature algorithm used."""
    signer: str = ""
    """Subject of the signing certificate (RFC 4514)."""
    timestamp: str | None = None
    """Time from the RFC 3161 timestamp, when one was obtained."""
    history: int = 1
    """Manifests in the new store: 1 for a new history, more when it carries on one."""
    parent: str | None = None
    """Title of the ``parentOf`` ingredient, if any."""
    warnings: tuple[str, ...] = ()
    """Things that did not stop signing (certificate expiring soon, replaced credentials)."""

    @property
    def timestamped(self) -> bool:
        """True when the signature carries a trusted-time timestamp."""
        return self.timestamp is not None

    def to_dict(self) -> dict[str, Any]:
        """The facts of the JSON record of ``verify sign`` (without input and output)."""
        return {
            "media_type": self.media_type,
            "manifest": self.manifest_label,
            "manifest_bytes": self.manifest_bytes,
            "alg": self.alg,
            "signer": self.signer,
            "timestamp": self.timestamp,
            "history": self.history,
            "parent": self.parent,
            "warnings": list(self.warnings),
        }


# ------------------------------------------------------------------------------ manifest


def capture_manifest(
    title: str,
    *,
    source_type: str = "digitalCapture",
    generator: str = "jinjja",
    generator_version: str = "0.1.0",
    software_agent: str | None = None,
) -> dict[str, Any]:
    """Return a manifest definition for a newly created asset (``c2pa.created``).

    Parameters
    ----------
    title
        The asset's title.
    source_type
        IPTC digital source type name (``digitalCapture``, ``trainedAlgorithmicMedia``, ...)
        or a full URI.
    generator, generator_version
        The claim generator recorded in the manifest.
    software_agent
        The device or tool that created it, recorded on the action.

    Returns
    -------
    dict
        A C2PA manifest definition.
    """
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "digitalSourceType": _source_uri(source_type),
    }
    if software_agent:
        action["softwareAgent"] = {"name": software_agent}
    return {
        "claim_generator_info": [{"name": generator, "version": generator_version}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def source_type_uri(source_type: str) -> str:
    """Return the URI of a digital source type given by name (or as a URI).

    Parameters
    ----------
    source_type
        An IPTC term such as ``digitalCapture`` (any case), ``empty`` or
        ``trainedAlgorithmicData`` (C2PA terms), or a full URI.

    Returns
    -------
    str
        The URI recorded in the manifest.

    Raises
    ------
    SigningError
        ``bad_source_type`` for an unknown name.
    """
    return _source_uri(source_type)


def action_label(action: str) -> str:
    """Return the C2PA label of an action given by short name (``published``) or label.

    Parameters
    ----------
    action
        A name from :data:`ACTIONS` or a dotted label (``c2pa.cropped``,
        ``com.example.reviewed``).

    Returns
    -------
    str
        The label recorded in the manifest.

    Raises
    ------
    SigningError
        ``bad_action`` for an unknown short name.
    """
    return _action_label(action)


def _source_uri(source_type: str) -> str:
    value = source_type.strip()
    if "://" in value:
        return value
    for term in SOURCE_TYPES:
        if value.lower() == term.lower():
            return IPTC_SOURCE_TYPE + term
    for term in _C2PA_SOURCE_TYPES:
        if value.lower() == term.lower():
            return _C2PA_SOURCE_TYPE + term
    raise SigningError(
        f"Unknown digital source type {source_type!r} (choose from "
        f"{', '.join(SOURCE_TYPES + _C2PA_SOURCE_TYPES)}, or give a full URI)",
        code="bad_source_type",
    )


def _action_label(action: str) -> str:
    value = action.strip()
    if value.startswith("c2pa.") or (("." in value) and value.split(".", 1)[0] not in ACTIONS):
        return value
    if value in ACTIONS:
        return f"c2pa.{value}"
    raise SigningError(
        f"Unknown action {action!r} (choose from {', '.join(ACTIONS)}, or give a full "
        "label such as com.example.reviewed)",
        code="bad_action",
    )


def _plain_json(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise SigningError(f"{what} is not plain JSON data: {exc}", code="bad_manifest") from None


def _split_assertions(
    assertions: Sequence[Any], what: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Split into (actions, other assertions, extra keys of the actions data)."""
    actions: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    for index, item in enumerate(assertions):
        if not isinstance(item, dict) or not isinstance(item.get("label"), str):
            raise SigningError(
                f"{what} #{index + 1} must be an object with a string 'label'",
                code="bad_manifest",
            )
        if item["label"] in _ACTIONS_LABELS:
            data = item.get("data")
            if not isinstance(data, dict) or not isinstance(data.get("actions", []), list):
                raise SigningError(
                    f"{what} #{index + 1} ({item['label']}) needs data.actions as a list",
                    code="bad_manifest",
                )
            for act in data.get("actions", []):
                if not isinstance(act, dict) or not isinstance(act.get("action"), str):
                    raise SigningError(
                        f"{what} #{index + 1}: every action needs a string 'action'",
                        code="bad_manifest",
                    )
                actions.append(act)
            for key, value in data.items():
                if key != "actions":
                    extra.setdefault(key, value)
        else:
            others.append(item)
    return actions, others, extra


@dataclass(frozen=True)
class _Plan:
    definition: dict[str, Any]
    ingredients: tuple[_c2pa.SdkIngredient, ...]
    parent_title: str | None
    warnings: tuple[str, ...]


_FIRST_ACTIONS: Final = ("c2pa.created", "c2pa.opened")


def _actions(
    given: list[dict[str, Any]], requested: str | None, source_uri: str | None, has_parent: bool
) -> list[dict[str, Any]]:
    """The manifest's actions: one ``created`` or ``opened`` first, then the others."""
    if requested == "c2pa.created" and has_parent:
        raise SigningError(
            "The action 'created' means a new asset, but this one has a parent (the input "
            "already has Content Credentials, or a parent was given); use edited, published, ...",
            code="bad_action",
        )
    if requested == "c2pa.opened" and not has_parent:
        raise SigningError(
            "The action 'opened' needs a parent: the input has no Content Credentials and no "
            "parent was given (use created with a digital source type)",
            code="bad_action",
        )
    later = [a for a in given if a["action"] not in _FIRST_ACTIONS]
    firsts = [a for a in given if a["action"] in _FIRST_ACTIONS]
    ours: list[dict[str, Any]] = []
    if not firsts:
        if has_parent:
            ours.append({"action": "c2pa.opened", "parameters": {"ingredientIds": [_PARENT_ID]}})
        elif source_uri is None:
            raise SigningError(
                "The input has no Content Credentials, so the new manifest starts with a "
                "'created' action, which needs a digital source type (digitalCapture, "
                "trainedAlgorithmicMedia, compositeWithTrainedAlgorithmicMedia, ...)",
                code="missing_source_type",
            )
        else:
            ours.append({"action": "c2pa.created", "digitalSourceType": source_uri})
    if requested is not None and requested not in _FIRST_ACTIONS:
        ours.append({"action": requested})
    placed = any(a.get("digitalSourceType") == source_uri for a in ours)
    if source_uri is not None and not placed:
        # On the action that made the content what it is: ours if any, else the user's first.
        target = ours[-1] if ours else firsts[0]
        target.setdefault("digitalSourceType", source_uri)
    return firsts[:1] + ours + firsts[1:] + later if firsts else ours + later


def _add_author(others: list[dict[str, Any]], author: str) -> None:
    """Name the author in the CreativeWork assertion (added when there is none)."""
    name = author.strip()
    if not name:
        raise SigningError("The author name is empty", code="bad_author")
    person = {"@type": "Person", "name": name}
    for item in others:
        if item["label"] == _CREATIVE_WORK and isinstance(item.get("data"), dict):
            authors = item["data"].setdefault("author", [])
            if isinstance(authors, dict):
                item["data"]["author"] = authors = [authors]
            authors.append(person)
            return
    others.append(
        {
            "label": _CREATIVE_WORK,
            "data": {"@context": "https://schema.org", "@type": "CreativeWork", "author": [person]},
        }
    )


def _definition(
    *,
    title: str | None,
    action: str | None,
    source_type: str | None,
    author: str | None,
    manifest: Mapping[str, Any] | None,
    assertions: Sequence[Mapping[str, Any]],
    has_parent: bool,
) -> dict[str, Any]:

    base: dict[str, Any] = _plain_json(dict(manifest or {}), "The manifest") if manifest else {}
    user_assertions = base.pop("assertions", [])
    if not isinstance(user_assertions, list):
        raise SigningError("The manifest's 'assertions' must be a list", code="bad_manifest")
    user_actions, user_others, extra = _split_assertions(user_assertions, "Manifest assertion")
    param = _plain_json([dict(a) for a in assertions], "An assertion")
    param_actions, param_others, param_extra = _split_assertions(param, "Assertion")
    for key, value in param_extra.items():
        extra.setdefault(key, value)
    requested = _action_label(action) if action is not None else None
    source_uri = _source_uri(source_type) if source_type is not None else None
    actions = _actions(user_actions + param_actions, requested, source_uri, has_parent)
    others = user_others + param_others
    if author is not None:
        _add_author(others, author)
    definition = dict(base)
    definition.setdefault("claim_generator_info", [{"name": _GENERATOR, "version": __version__}])
    if title is not None:
        definition["title"] = title
    definition["assertions"] = [
        {"label": "c2pa.actions", "data": {**extra, "actions": actions}},
        *others,
    ]
    return definition


def _media_type_of(data: bytes, name: str, what: str) -> str:
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    media_type = sniff_media_type(data[:512], name=name)
    if media_type is None:
        raise InputFileError(
            f"{what} is not a picture or video format that can be signed", code="unsupported_format"
        )
    if media_type not in _c2pa.builder_media_types():
        raise InputFileError(
            f"{what} is {media_type}, which the C2PA library cannot sign", code="unsupported_format"
        )
    return media_type


def _trust(
    trust_anchors: Sequence[str | os.PathLike[str] | bytes],
) -> tuple[_c2pa.SdkTrust, bytes | None]:
    """The Builder's trust context (stored lists + anchors) and the anchors alone."""
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    parts: list[bytes] = []
    for anchor in trust_anchors:
        if isinstance(anchor, bytes):
            parts.append(anchor)
            continue
        path = Path(anchor)
        try:
            parts.append(path.read_bytes())
        except OSError as exc:
            raise SigningError(
                f"Cannot read trust anchors {path}: {exc.strerror or exc}",
                code="trust_anchors_unreadable",
            ) from None
    own = b"\n".join(parts) if parts else None
    if own is not None:
        load_certificates(own, origin="the trust anchors")
    store = load()
    pem = (
        (store.anchors_pem() if not store.empty else "")
        + "\n"
        + (own or b"").decode("ascii", "replace")
    )
    return _c2pa.SdkTrust(pem, eku_config()), own


def _existing_credentials(
    data: bytes, media_type: str, trust: _c2pa.SdkTrust
) -> tuple[bool, list[str]]:
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    try:
        outcome = _c2pa.read_store(data, media_type=media_type, trust=trust)
    except RemoteManifestError as exc:
        return False, [
            f"the input refers to remote Content Credentials ({exc.url}); they are not carried over"
        ]
    except InputFileError:
        raise
    except ProvenanceError as exc:
        raise SigningError(
            f"The input carries Content Credentials that cannot be read ({exc.message}); "
            "signing it would drop them",
            code="unreadable_credentials",
        ) from None
    return isinstance(outcome, _c2pa.SdkStore), []


def _parent_ingredient(
    parent: str | os.PathLike[str] | bytes, parent_label: str | None
) -> tuple[_c2pa.SdkIngredient, str, bytes]:
    """The ``parentOf`` ingredient given as a path or bytes, its title and its bytes."""
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    if isinstance(parent, bytes):
        parent_data, parent_name = parent, parent_label or "parent"
    else:
        parent_path = Path(parent)
        try:
            parent_data = read_file(parent_path)
        except InputFileError as exc:
            raise InputFileError(f"Parent: {exc.message}", code=exc.code) from None
        parent_name = parent_path.name
    parent_type = _media_type_of(parent_data, parent_name, f"The parent {parent_name}")
    ingredient = _c2pa.SdkIngredient(
        None,
        parent_type,
        {"title": parent_name, "relationship": "parentOf", "instance_id": _PARENT_ID},
        data=parent_data,
    )
    return ingredient, parent_name, parent_data


def _ingredient(item: Ingredient) -> _c2pa.SdkIngredient:
    """An extra ingredient read from its file."""
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    try:
        item_data = read_file(item.path)
    except InputFileError as exc:
        raise InputFileError(f"Ingredient: {exc.message}", code=exc.code) from None
    ing: dict[str, Any] = {"title": item.title or item.path.name, "relationship": item.relationship}
    if item.instance_id:
        ing["instance_id"] = item.instance_id
    media_type = _media_type_of(item_data, item.path.name, f"Ingredient {item.path.name}")
    return _c2pa.SdkIngredient(None, media_type, ing, data=item_data)


def _plan(
    data: bytes,
    media_type: str,
    name: str,
    *,
    title: str | None,
    action: str | None,
    source_type: str | None,
    parent: str | os.PathLike[str] | bytes | None,
    author: str | None,
    manifest: Mapping[str, Any] | None,
    assertions: Sequence[Mapping[str, Any]],
    ingredients: Sequence[Ingredient],
    trust: _c2pa.SdkTrust,
    parent_label: str | None = None,
) -> _Plan:
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    warnings: list[str] = []
    has_credentials, notes = _existing_credentials(data, media_type, trust)
    warnings.extend(notes)
    sdk_ingredients: list[_c2pa.SdkIngredient] = []
    parent_title: str | None = None
    if parent is not None:
        parent_ing, parent_title, parent_data = _parent_ingredient(parent, parent_label)
        if (
            has_credentials
            and hashlib.sha256(parent_data).digest() != hashlib.sha256(data).digest()
        ):
            warnings.append(
                "the input's own Content Credentials are replaced; its history is kept only "
                f"through the parent {parent_title}"
            )
        sdk_ingredients.append(parent_ing)
    elif has_credentials:
        parent_title = name
        sdk_ingredients.append(
            _c2pa.SdkIngredient(
                None,
                media_type,
                {"title": name, "relationship": "parentOf", "instance_id": _PARENT_ID},
                data=data,
            )
        )
    for item in ingredients:
        if item.relationship == "parentOf" and parent_title is not None:
            raise SigningError("Only one parentOf ingredient is allowed", code="bad_manifest")
        sdk_ingredients.append(_ingredient(item))
        if item.relationship == "parentOf":
            parent_title = item.title or item.path.name
    definition = _definition(
        title=title,
        action=action,
        source_type=source_type,
        author=author,
        manifest=manifest,
        assertions=assertions,
        has_parent=parent_title is not None,
    )
    return _Plan(definition, tuple(sdk_ingredients), parent_title, tuple(warnings))


def _preflight(signer: SignerSpec, anchors: bytes | None) -> list[str]:
    result = signer.preflight(trust_anchors_pem=anchors)
    if not result.ok:
        problems = "; ".join(f.message for f in result.errors)
        raise CertificateError(
            f"The signing certificate cannot be used: {problems}",
            code=result.errors[0].code,
            check=result,
        )
    return [f.message for f in result.warnings]


def _sign(
    source: IO[bytes],
    dest: IO[bytes],
    *,
    media_type: str,
    plan: _Plan,
    signer: SignerSpec,
    trust: _c2pa.SdkTrust,
) -> tuple[bytes, Mapping[str, Any]]:
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    store = _c2pa.sign_stream(
        source,  # type: ignore[arg-type]
        dest,  # type: ignore[arg-type]
        media_type=media_type,
        manifest=plan.definition,
        signer=signer._sdk(),
        ingredients=plan.ingredients,
        trust=trust,
    )
    return store, _c2pa.store_summary(store)


def _result(
    path: Path,
    media_type: str,
    store: bytes,
    summary: Mapping[str, Any],
    signer: SignerSpec,
    plan: _Plan,
    warnings: Sequence[str],
) -> SignResult:
    label = summary.get("active_manifest")
    manifests = summary.get("manifests")
    active = manifests.get(label, {}) if isinstance(manifests, Mapping) and label else {}
    sig = active.get("signature_info", {}) if isinstance(active, Mapping) else {}
    subject = load_certificates(signer.cert_chain_pem)[0].subject.rfc4514_string()
    return SignResult(
        path=path,
        manifest_bytes=len(store),
        media_type=media_type,
        manifest_label=str(label) if label else None,
        alg=signer.alg,
        signer=subject,
        timestamp=str(sig["time"]) if isinstance(sig, Mapping) and sig.get("time") else None,
        history=len(manifests) if isinstance(manifests, Mapping) else 1,
        parent=plan.parent_title,
        warnings=tuple(dict.fromkeys([*warnings, *plan.warnings])),
    )


# ------------------------------------------------------------------------------- public


# Over 60 lines only for its public keyword signature and docstring; the body is ~28 lines.
def sign_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    signer: SignerSpec | None = None,
    title: str | None = None,
    action: str | None = None,
    source_type: str | None = None,
    parent: str | os.PathLike[str] | None = None,
    author: str | None = None,
    manifest: Mapping[str, Any] | None = None,
    assertions: Sequence[Mapping[str, Any]] = (),
    force: bool = False,
    trust_anchors: Sequence[str | os.PathLike[str] | bytes] = (),
    ingredients: Sequence[Ingredient] = (),
    cert_chain_pem: bytes | None = None,
    key_pem: bytes | None = None,
    alg: str | None = None,
    tsa_url: str | None = None,
    trust_anchors_pem: bytes | None = None,
) -> SignResult:
    """Sign ``src`` and write a new file with embedded Content Credentials to ``dst``.

    Parameters
    ----------
    src
        The picture or video to sign (any format the C2PA library writes).
    dst
        The new file, or an existing directory to write ``src``'s name into; never the input.
    signer
        Who signs (:class:`SignerSpec`).
    title
        Title recorded in the manifest; default the manifest's, else ``dst``'s name.
    action
        What was done: ``created``, ``edited``, ``published``, ... (:data:`ACTIONS`) or a
        full label; default ``created`` without credentials, else only ``opened`` (the parent).
    source_type
        IPTC digital source type (``digitalCapture``, ``trainedAlgorithmicMedia``, ...;
        see :data:`SOURCE_TYPES`) or a URI. Required when the file has no credentials
        (the ``created`` action must carry it), unless ``manifest`` has its own.
    parent
        The file this one was made from (its credentials become the history). Default:
        the input itself when it already has Content Credentials.
    author
        Author name, recorded in a ``stds.schema-org.CreativeWork`` assertion.
    manifest
        A manifest definition to merge: its fields are kept, its actions are merged into
        the ``c2pa.actions`` assertion, its other assertions are added.
    assertions
        More assertions (``{"label": ..., "data": ...}``): ``c2pa.actions`` entries join the
        actions (e.g. ``c2pa.watermarked``), others are added as they are (``c2pa.soft-binding``).
    force
        Overwrite ``dst`` if it exists.
    trust_anchors
        PEM files or bytes that readers will use: ingredients are validated with them (and
        the stored trust lists) as they are added; the chain must lead to one of them.
    ingredients
        More ingredients (``componentOf``, ``inputTo``).
    cert_chain_pem, key_pem, alg, tsa_url, trust_anchors_pem
        Older keyword form: the same as ``signer=SignerSpec.from_pem(cert_chain_pem,
        key_pem, alg=alg, tsa_url=tsa_url)`` and ``trust_anchors=[trust_anchors_pem]``.

    Returns
    -------
    SignResult
        Where it was written, the new manifest, its history and any warnings.

    Raises
    ------
    CertificateError
        The certificate or key cannot be used (each problem named).
    SigningError
        Bad option; destination exists (without ``force``) or is the input; signer failed.
    InputFileError
        The input or the parent cannot be read or is not a format that can be signed.
    ProvenanceError
        The C2PA library refused (see :mod:`provenance.credentials._c2pa`).
    """
    spec = _legacy_signer(signer, cert_chain_pem, key_pem, alg, tsa_url)
    src_path, data, media_type, out = _source(src, dst, force=force)
    trust, own_anchors = _trust([*trust_anchors, *filter(None, [trust_anchors_pem])])
    warnings = _preflight(spec, own_anchors)
    plan = _plan(
        data,
        media_type,
        src_path.name,
        title=out.name if title is None and not (manifest or {}).get("title") else title,
        action=action,
        source_type=source_type,
        parent=parent,
        author=author,
        manifest=manifest,
        assertions=assertions,
        ingredients=ingredients,
        trust=trust,
    )
    store, summary = _sign_to(
        out, src_path, media_type=media_type, plan=plan, signer=spec, trust=trust, force=force
    )
    return _result(out, media_type, store, summary, spec, plan, warnings)


def _sign_to(
    out: Path,
    src_path: Path,
    *,
    media_type: str,
    plan: _Plan,
    signer: SignerSpec,
    trust: _c2pa.SdkTrust,
    force: bool,
) -> tuple[bytes, Mapping[str, Any]]:
    """Sign ``src_path`` into ``out`` atomically; name the write failures."""
    try:
        with atomic_writer(out, overwrite=force) as dest, src_path.open("rb") as source:
            return _sign(source, dest, media_type=media_type, plan=plan, signer=signer, trust=trust)
    except FileExistsError:
        raise SigningError(
            f"{out} exists; use force (--force) to overwrite", code="output_exists"
        ) from None
    except OSError as exc:
        raise SigningError(
            f"Cannot write {out}: {exc.strerror or exc}", code="output_unwritable"
        ) from None


# Over 60 lines only for its signature and docstring; the body is ~23 lines.
def sign_bytes(
    data: bytes,
    media_type: str,
    *,
    signer: SignerSpec,
    title: str | None = None,
    action: str | None = None,
    source_type: str | None = None,
    parent: str | os.PathLike[str] | bytes | None = None,
    author: str | None = None,
    manifest: Mapping[str, Any] | None = None,
    assertions: Sequence[Mapping[str, Any]] = (),
    trust_anchors: Sequence[str | os.PathLike[str] | bytes] = (),
    parent_title: str | None = None,
) -> tuple[bytes, bytes]:
    """Sign bytes held in memory; return ``(signed asset, manifest store)``.

    Parameters
    ----------
    data
        The asset.
    media_type
        Its media type (``image/jpeg``, ``video/mp4``, ...).
    signer, title, action, source_type, author, manifest, assertions, trust_anchors
        As for :func:`sign_file`.
    parent
        The parent's bytes or path.
    parent_title
        Title recorded for a parent given as bytes (default ``parent``).

    Returns
    -------
    tuple of bytes
        The signed asset and the embedded manifest store.

    Raises
    ------
    CertificateError, SigningError, InputFileError, ProvenanceError
        As for :func:`sign_file`.
    """
    _check_signable(data, media_type)
    trust, own_anchors = _trust(trust_anchors)
    _preflight(signer, own_anchors)
    plan = _plan(
        bytes(data),
        media_type,
        title or "asset",
        title=title,
        action=action,
        source_type=source_type,
        parent=parent,
        author=author,
        manifest=manifest,
        assertions=assertions,
        ingredients=(),
        trust=trust,
        parent_label=parent_title,
    )
    out = io.BytesIO()
    store, _ = _sign(
        io.BytesIO(data), out, media_type=media_type, plan=plan, signer=signer, trust=trust
    )
    return out.getvalue(), store


def _check_signable(data: bytes, media_type: str) -> None:
    from provenance.credentials import _c2pa  # lazy: loads the native c2pa library

    if not data:
        raise InputFileError("The data to sign is empty", code="empty_file")
    if media_type not in _c2pa.builder_media_types():
        raise InputFileError(
            f"{media_type} is not a media type the C2PA library can sign", code="unsupported_format"
        )


def _command_argv(cmd: str | Sequence[str]) -> tuple[str, ...]:
    """The external signer's argument list; refuse one that cannot run."""
    try:
        argv = tuple(shlex.split(cmd)) if isinstance(cmd, str) else tuple(cmd)
    except ValueError as exc:
        raise SigningError(
            f"Cannot parse the signer command: {exc}", code="bad_signer_command"
        ) from None
    if not argv:
        raise SigningError("The signer command is empty", code="bad_signer_command")
    if shutil.which(argv[0]) is None:
        raise SigningError(
            f"Signer command not found or not executable: {argv[0]}",
            code="bad_signer_command",
        )
    return argv


def _legacy_signer(
    signer: SignerSpec | None,
    cert_chain_pem: bytes | None,
    key_pem: bytes | None,
    alg: str | None,
    tsa_url: str | None,
) -> SignerSpec:
    legacy = cert_chain_pem is not None or key_pem is not None
    if signer is not None:
        if legacy or alg is not None or tsa_url is not None:
            raise SigningError(
                "Give signer=SignerSpec(...) or cert_chain_pem/key_pem/alg/tsa_url, not both",
                code="bad_signer",
            )
        return signer
    if cert_chain_pem is None or key_pem is None:
        raise SigningError("No signer given (signer=SignerSpec.from_files(...))", code="bad_signer")
    return SignerSpec.from_pem(cert_chain_pem, key_pem, alg=alg, tsa_url=tsa_url)


def _source(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, force: bool
) -> tuple[Path, bytes, str, Path]:
    """The input's path, bytes and media type, and the output path (see :func:`_destination`)."""
    src_path = Path(src)
    data = read_file(src_path)
    media_type = _media_type_of(data, src_path.name, str(src_path))
    return src_path, data, media_type, _destination(src_path, Path(dst), force=force)


def _destination(src: Path, dst: Path, *, force: bool) -> Path:
    out = dst / src.name if dst.is_dir() else dst
    if not out.parent.is_dir():
        raise SigningError(
            f"The output folder {out.parent} does not exist", code="output_dir_missing"
        )
    try:
        same = out.exists() and out.samefile(src)
    except OSError:
        same = False
    if same or out.resolve() == src.resolve():
        raise SigningError(
            f"{out} is the input; signing always writes a new file", code="output_is_input"
        )
    if out.is_dir():
        raise SigningError(f"{out} is a directory", code="output_exists")
    if out.exists() and not force:
        raise SigningError(f"{out} exists; use force (--force) to overwrite", code="output_exists")
    return out
