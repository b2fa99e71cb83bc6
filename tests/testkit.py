"""Helpers shared by the tests: a test PKI, pictures, a tiny MP4, signing with the c2pa
Builder, a loopback TSA, tampering. Fixtures that use them are in ``conftest.py``.

A plain module with a unique name, so any test can ``from testkit import ...``
(``from conftest import`` resolves to whichever conftest was imported first).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from provenance.testing.pki import Pki

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


ASSETS = Path(__file__).parent / "assets"


GENERATOR = [{"name": "jinjja-tests", "version": "0.1.0"}]


def _actions(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"label": "c2pa.actions", "data": {"actions": list(actions)}}


CAPTURE: dict[str, Any] = {
    "claim_generator_info": GENERATOR,
    "title": "capture.jpg",
    "assertions": [
        _actions(
            {
                "action": "c2pa.created",
                "digitalSourceType": IPTC + "digitalCapture",
                "when": "2026-03-02T08:11:09Z",
            }
        )
    ],
}


AI_CREATED: dict[str, Any] = {
    "claim_generator_info": [{"name": "ExampleDiffusion", "version": "2.1"}],
    "title": "generated.png",
    "assertions": [
        _actions(
            {
                "action": "c2pa.created",
                "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
                "softwareAgent": {"name": "ExampleDiffusion", "version": "2.1"},
            }
        )
    ],
}


def picture(width: int = 96, height: int = 64, *, seed: int = 1) -> Image.Image:
    """A smooth synthetic RGB picture (deterministic)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], axis=-1)
    noise = rng.normal(0, 8, size=base.shape)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def encode(img: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def tiny_mp4(frames: int = 6, width: int = 64, height: int = 48) -> bytes:
    """A short MPEG-4 Part 2 video made with PyAV."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            arr = np.asarray(picture(width, height, seed=i))
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


_serials = itertools.count(1)


def _token(
    request: bytes, cert_der: bytes, chain_der: list[bytes], key: ec.EllipticCurvePrivateKey
) -> bytes:
    req = tsp.TimeStampReq.load(request)
    info = {
        "version": "v1",
        "policy": "1.3.6.1.4.1.99999.1",
        "message_imprint": req["message_imprint"],
        "serial_number": next(_serials),
        "gen_time": dt.datetime.now(dt.UTC).replace(microsecond=0),
    }
    if req["nonce"].native is not None:
        info["nonce"] = req["nonce"]
    tst_info = tsp.TSTInfo(info)
    content = tst_info.dump()
    cert = ax509.Certificate.load(cert_der)
    signed_attrs = cms.CMSAttributes(
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
                                    "cert_hash": hashlib.sha256(cert_der).digest(),
                                }
                            ]
                        }
                    ],
                }
            ),
        ]
    )
    signature = key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    signer_info = cms.SignerInfo(
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
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        }
    )
    signed_data = cms.SignedData(
        {
            "version": "v3",
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(content),
            },
            "certificates": [ax509.Certificate.load(d) for d in [cert_der, *chain_der]],
            "signer_infos": [signer_info],
        }
    )
    token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
    return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


@contextmanager
def serve_tsa(pki: Pki) -> Iterator[str]:
    """Run a TSA whose certificate is issued by ``pki``; yield its URL."""
    now = dt.datetime.now(dt.UTC)
    cred = pki.issue(
        "es256",
        common_name=f"{pki.common_name} TSA",
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=365),
        ekus=[ExtendedKeyUsageOID.TIME_STAMPING],
        label="tsa",
    )
    certs = cx509.load_pem_x509_certificates(cred.chain_pem)
    ders = [c.public_bytes(serialization.Encoding.DER) for c in certs]
    key = serialization.load_pem_private_key(cred.key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            reply = _token(body, ders[0], ders[1:], key)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Signed:
    """Paths of the signed test files (see :func:`signed`)."""

    dir: Path
    pki: Pki
    root: Path
    """PEM of the test root (pass as ``trust_anchors``)."""
    unsigned_jpeg: Path
    jpeg_es256: Path
    jpeg_ed25519: Path
    jpeg_ps256: Path
    png: Path
    webp: Path
    mp4: Path
    capture: Path
    edit: Path
    publish: Path
    tampered_pixels: Path
    tampered_manifest: Path
    expired: Path
    """Signed without a timestamp by a certificate that has expired since."""
    expired_timestamped: Path
    """Signed with a loopback RFC 3161 timestamp by the same, now expired, certificate."""
    ai_ingredient: Path
    detached_asset: Path
    detached_manifest: Path
    remote_asset: Path


def _signer(pki: Pki, alg: str, *, ta_url: str | None = None) -> Any:
    import c2pa

    return c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(alg, pki.chain_pem(alg), pki.key_pem(alg), ta_url)
    )


def _context(pki: Pki, **verify: Any) -> Any:
    import c2pa

    from provenance.credentials.trust import eku_config

    return c2pa.Context.from_dict(
        {
            "trust": {"trust_anchors": pki.root_pem.decode(), "trust_config": eku_config()},
            "verify": {"remote_manifest_fetch": False, **verify},
        }
    )


def sign_bytes(
    definition: dict[str, Any],
    data: bytes,
    mime: str,
    signer: Any,
    *,
    context: Any = None,
    ingredients: tuple[tuple[dict[str, Any], str, bytes], ...] = (),
    no_embed: bool = False,
    remote_url: str | None = None,
) -> tuple[bytes, bytes]:
    """Sign ``data``; return (signed asset bytes, manifest store bytes)."""
    import c2pa

    out = io.BytesIO()
    with c2pa.Builder(definition, context=context) as builder:
        for ing_def, ing_mime, ing_bytes in ingredients:
            builder.add_ingredient(ing_def, ing_mime, io.BytesIO(ing_bytes))
        if no_embed:
            builder.set_no_embed()
        if remote_url is not None:
            builder.set_remote_url(remote_url)
        store = builder.sign(signer, mime, io.BytesIO(data), out)
    return out.getvalue(), bytes(store)


def flip_in_manifest(data: bytes) -> bytes:
    """Flip one byte inside the claim (after the first ``c2pa.claim`` box label)."""
    at = data.find(b"c2pa.claim")
    assert at > 0, "no claim box found"
    target = at + 64
    out = bytearray(data)
    out[target] ^= 0x01
    return bytes(out)


def flip_pixels(data: bytes) -> bytes:
    """Change one byte of the JPEG entropy-coded data (near the end)."""
    out = bytearray(data)
    out[-40] ^= 0xFF
    return bytes(out)
