"""A small RFC 3161 time-stamping authority, for tests and demos.

c2pa-rs asks a TSA for a timestamp over the claim signature while signing (the signer's
``tsa_url``). A trusted timestamp proves when the signature was made, so the manifest stays
valid after the signing certificate expires. This module answers such requests:
:class:`TimeStampAuthority` turns a DER ``TimeStampReq`` into a DER ``TimeStampResp``
(CMS SignedData over a TSTInfo, with an ESS signing-certificate-v2 attribute), and
:func:`serve` runs it with :mod:`http.server` on loopback (port 0 picks a free port).

It is not a production TSA: no accuracy statement, no audit log, serial numbers from a
process-wide counter. Needs ``asn1crypto`` (extra ``tsa``, also in ``dev``). For a demo,
``python -m provenance.testing.tsa --cert TSA-CHAIN.pem --key TSA.key`` serves one on loopback and
prints its URL.

Examples
--------
>>> from provenance.testing.pki import make_pki
>>> pki = make_pki("Doc", algs=("es256",), seed=b"doc")
>>> authority = TimeStampAuthority.from_pki(pki)
>>> with serve(authority) as url:
...     url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.server
import itertools
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from provenance.errors import TsaError

if TYPE_CHECKING:
    from provenance.testing.pki import Pki

__all__ = ["TimeStampAuthority", "TsaError", "main", "serve"]

_POLICY: Final = "1.3.6.1.4.1.99999.1.1"
_MAX_REQUEST: Final = 64 << 10
_HASH_SIZES: Final = {"sha256": 32, "sha384": 48, "sha512": 64}
_serials = itertools.count(1)
_serial_lock = threading.Lock()


def _asn1() -> Any:
    try:
        import asn1crypto  # noqa: F401
    except ModuleNotFoundError:
        raise TsaError(
            "The test TSA needs asn1crypto: pip install 'jinjja[tsa]'", code="missing_dependency"
        ) from None
    from asn1crypto import algos, cms, core, tsp  # optional: the test TSA needs asn1crypto
    from asn1crypto import x509 as ax509  # optional: the test TSA needs asn1crypto

    return algos, cms, core, tsp, ax509


def _next_serial() -> int:
    with _serial_lock:
        return next(_serials)


@dataclass(frozen=True)
class TimeStampAuthority:
    """Issues RFC 3161 timestamp tokens signed by one certificate.

    Use :meth:`from_pem` or :meth:`from_pki`.
    """

    cert_der: bytes
    """The TSA certificate (extended key usage timeStamping)."""
    chain_der: tuple[bytes, ...]
    """Issuing CA certificates included in tokens when the request asks for them."""
    _key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = field(
        repr=False
    )
    policy: str = _POLICY
    """TSA policy OID written in every token."""
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC), repr=False)
    """Source of ``genTime`` (UTC); replace it to issue tokens for another time."""

    @classmethod
    def from_pem(
        cls,
        chain_pem: bytes,
        key_pem: bytes,
        *,
        policy: str = _POLICY,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> TimeStampAuthority:
        """Build a TSA from its certificate chain (TSA certificate first) and key.

        Parameters
        ----------
        chain_pem
            PEM: the TSA certificate, then its issuers.
        key_pem
            The TSA's unencrypted private key (EC, RSA or Ed25519).
        policy
            Policy OID for the tokens.
        clock
            Time source; default the system clock.

        Returns
        -------
        TimeStampAuthority
            The authority.

        Raises
        ------
        TsaError
            When the chain or key cannot be parsed, or the key does not match.
        """
        _asn1()
        try:
            certs = x509.load_pem_x509_certificates(chain_pem)
            key = serialization.load_pem_private_key(key_pem, None)
        except (ValueError, TypeError):
            raise TsaError("The TSA certificate chain or key cannot be read") from None
        if not isinstance(
            key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)
        ):
            raise TsaError("The TSA key must be EC, RSA or Ed25519")
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, spki) != certs[0].public_key().public_bytes(
            der, spki
        ):
            raise TsaError("The TSA key does not belong to the TSA certificate")
        ders = [c.public_bytes(der) for c in certs]
        return cls(
            cert_der=ders[0],
            chain_der=tuple(ders[1:]),
            _key=key,
            policy=policy,
            clock=clock or (lambda: dt.datetime.now(dt.UTC)),
        )

    @classmethod
    def from_pki(
        cls, pki: Pki, *, clock: Callable[[], dt.datetime] | None = None
    ) -> TimeStampAuthority:
        """Issue an ES256 TSA certificate from a :class:`~provenance.testing.pki.Pki`.

        The certificate is valid from a day ago for a year, with extended key usage
        timeStamping only; put ``pki.root_pem`` in the trust anchors to trust its tokens.

        Parameters
        ----------
        pki
            The test PKI whose intermediate issues the TSA certificate.
        clock
            Time source; default the system clock.

        Returns
        -------
        TimeStampAuthority
            The authority.
        """

        now = dt.datetime.now(dt.UTC)
        cred = pki.issue(
            "es256",
            common_name=f"{pki.common_name} Time Stamping Authority",
            not_before=now - dt.timedelta(days=1),
            not_after=now + dt.timedelta(days=365),
            ekus=[ExtendedKeyUsageOID.TIME_STAMPING],
            label="tsa",
        )
        return cls.from_pem(cred.chain_pem, cred.key_pem, clock=clock)

    def _sign(self, data: bytes) -> tuple[str, bytes]:
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return "sha256_ecdsa", key.sign(data, ec.ECDSA(hashes.SHA256()))
        if isinstance(key, rsa.RSAPrivateKey):
            return "sha256_rsa", key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return "ed25519", key.sign(data)

    def _failure(self, fail_info: str, text: str) -> bytes:
        _, _, core, tsp, _ = _asn1()

        # TimeStampResp without the (absent) token: asn1crypto declares the token mandatory.
        rejection = type(
            "Rejection", (core.Sequence,), {"_fields": [("status", tsp.PKIStatusInfo)]}
        )

        status = {"status": "rejection", "status_string": [text], "fail_info": {fail_info}}
        return bytes(rejection({"status": status}).dump())

    def respond(self, request: bytes) -> bytes:
        """Answer one DER ``TimeStampReq`` with a DER ``TimeStampResp``.

        Malformed requests, unknown hash algorithms and imprints of the wrong length get a
        ``rejection`` response (``badDataFormat`` / ``badAlg``), never an exception.

        Parameters
        ----------
        request
            The request body.

        Returns
        -------
        bytes
            The response body (``application/timestamp-reply``).
        """
        _, _, _, tsp, _ = _asn1()
        try:
            req = tsp.TimeStampReq.load(request)
            imprint = req["message_imprint"]
            hash_name = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            nonce = req["nonce"].native
            cert_req = bool(req["cert_req"].native)
        except (ValueError, TypeError, KeyError):
            return self._failure("bad_data_format", "the request is not a TimeStampReq")
        if hash_name not in _HASH_SIZES:
            return self._failure("bad_alg", f"unsupported hash algorithm {hash_name}")
        if not isinstance(digest, bytes) or len(digest) != _HASH_SIZES[hash_name]:
            return self._failure("bad_data_format", "the message imprint has the wrong length")
        content = self._tst_info(imprint, nonce)
        signed_attrs = self._signed_attrs(content)
        token = self._token(content, self._signer_info(signed_attrs), cert_req=cert_req)
        return bytes(
            tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()
        )

    def _tst_info(self, imprint: Any, nonce: Any) -> bytes:
        """The DER ``TSTInfo``: policy, imprint, a fresh serial, the time (whole seconds)."""
        _, _, _, tsp, _ = _asn1()
        when = self.clock().astimezone(dt.UTC).replace(microsecond=0)
        info: dict[str, Any] = {
            "version": "v1",
            "policy": self.policy,
            "message_imprint": imprint,
            "serial_number": _next_serial(),
            "gen_time": when,
        }
        if nonce is not None:
            info["nonce"] = nonce
        return bytes(tsp.TSTInfo(info).dump())

    def _signed_attrs(self, content: bytes) -> Any:
        """Content type, message digest and the ESS signing-certificate-v2 attribute."""
        _, cms, _, _, _ = _asn1()
        return cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
                ),
                cms.CMSAttribute(
                    {
                        "type": "signing_certificate_v2",
                        "values": [
                            {
                                "certs": [
                                    {
                                        "hash_algorithm": {"algorithm": "sha256"},
                                        "cert_hash": hashlib.sha256(self.cert_der).digest(),
                                    }
                                ]
                            }
                        ],
                    }
                ),
            ]
        )

    def _signer_info(self, signed_attrs: Any) -> Any:
        """The ``SignerInfo``: the signature over ``signed_attrs``, by issuer and serial."""
        algos, cms, _, _, ax509 = _asn1()
        cert = ax509.Certificate.load(self.cert_der)
        sig_alg, signature = self._sign(signed_attrs.dump())
        return cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": cert.issuer,
                            "serial_number": cert.serial_number,
                        }
                    }
                ),
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "signed_attrs": signed_attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": sig_alg}),
                "signature": signature,
            }
        )

    def _token(self, content: bytes, signer_info: Any, *, cert_req: bool) -> Any:
        """The CMS ``SignedData`` token; with the certificates when the request asked."""
        algos, cms, core, _, ax509 = _asn1()
        signed: dict[str, Any] = {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(content),
            },
            "signer_infos": [signer_info],
        }
        if cert_req:
            signed["certificates"] = [
                ax509.Certificate.load(d) for d in (self.cert_der, *self.chain_der)
            ]
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed)})


def _handler(authority: TimeStampAuthority) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= _MAX_REQUEST:
                self.send_error(400, "a TimeStampReq body is required")
                return
            reply = authority.respond(self.rfile.read(length))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            self.send_error(405, "POST a TimeStampReq (RFC 3161)")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(
    authority: TimeStampAuthority, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve ``authority`` over HTTP in a background thread; yield its URL.

    Parameters
    ----------
    authority
        The TSA.
    host
        Address to bind; loopback by default.
    port
        Port; 0 picks a free one.

    Yields
    ------
    str
        ``http://host:port/``; pass it as the signer's TSA URL.
    """
    server = http.server.ThreadingHTTPServer((host, port), _handler(authority))
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="jinjja-tsa", daemon=True
    )
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a TSA until interrupted: ``python -m provenance.testing.tsa --cert C --key K``.

    Parameters
    ----------
    argv
        Command-line arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit code: 0 after Ctrl-C or SIGTERM, 2 for bad arguments or an unusable key.
    """

    parser = argparse.ArgumentParser(
        prog="python -m provenance.testing.tsa",
        description="A small RFC 3161 TSA for tests and demos.",
    )
    parser.add_argument("--cert", required=True, help="TSA certificate chain (PEM), TSA first")
    parser.add_argument("--key", required=True, help="TSA private key (PEM, unencrypted)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    args = parser.parse_args(argv)
    try:
        with open(args.cert, "rb") as chain, open(args.key, "rb") as key:
            authority = TimeStampAuthority.from_pem(chain.read(), key.read())
    except (OSError, TsaError) as exc:
        sys.stderr.write(f"tsa: {getattr(exc, 'message', None) or exc}\n")
        return 2
    # Stop on Ctrl-C and on SIGTERM, even when started from a shell that ignores SIGINT in
    # background jobs (the ignored disposition is inherited and would keep it running).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with serve(authority, host=args.host, port=args.port) as url:
        sys.stdout.write(f"{url}\n")
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
