"""Honest expiry wording, one golden per case, on files signed here with the test PKI/TSA.

The analysis time is pinned two days after signing (``analyzed_at``), so each certificate
(valid for two hours around signing) has expired when it is judged, without waiting:

* ``expired_since_signing``: a trusted timestamp inside the validity -> TRUSTED;
* ``expired_before_signing``: a trusted timestamp after ``notAfter`` -> INVALID;
* ``expired_time_unknown``: no timestamp, or one from a TSA nobody trusts -> INVALID.

Golden: ``tests/assets/golden/expiry.json`` (times replaced by placeholders; regenerate
with ``JINJJA_REGEN_GOLDEN=1``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from testkit import encode, picture

from provenance import check
from provenance.credentials.sign import SignerSpec, sign_file
from provenance.report import Expiry, Report, Verdict
from provenance.testing.pki import Pki, make_pki
from provenance.testing.tsa import TimeStampAuthority, serve

pytestmark = pytest.mark.network

GOLDEN = Path(__file__).resolve().parents[3] / "assets" / "golden" / "expiry.json"
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?(\+00:00|Z| UTC)?")


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki("Expiry Golden", algs=("es256",), seed=b"expiry-golden")


@pytest.fixture(scope="module")
def cases(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    tmp = tmp_path_factory.mktemp("expiry")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cred = pki.issue(
        "es256",
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(hours=1),
        label="short-lived",
    )
    root = tmp / "root.pem"
    root.write_bytes(pki.root_pem)
    src = tmp / "photo.jpg"
    src.write_bytes(encode(picture(), "JPEG", quality=90))
    stranger = TimeStampAuthority.from_pki(make_pki("Stranger", algs=("es256",), seed=b"s"))
    tsas = {
        "since": TimeStampAuthority.from_pki(pki),
        "before": TimeStampAuthority.from_pki(pki, clock=lambda: now + dt.timedelta(hours=2)),
        "untrusted_tsa": stranger,
        "no_timestamp": None,
    }
    later = now + dt.timedelta(days=2)
    reports = {}
    for name, authority in tsas.items():
        out = tmp / f"{name}.jpg"
        if authority is None:
            signer = SignerSpec.from_pem(cred.chain_pem, cred.key_pem)
            sign_file(src, out, signer=signer, source_type="digitalCapture")
        else:
            with serve(authority) as url:
                signer = SignerSpec.from_pem(cred.chain_pem, cred.key_pem, tsa_url=url)
                sign_file(src, out, signer=signer, source_type="digitalCapture")
        reports[name] = check(out, trust_anchors=[root], tsa_anchors=[root], analyzed_at=later)
    return reports


def _golden_view(report: Report) -> dict[str, Any]:
    assert report.signature is not None and report.chain is not None
    record = {
        "verdict": report.verdict.value,
        "signer_trusted": report.chain.trusted,
        "signature": report.signature.to_dict(),
        "summary": [s for s in report.summary if "signing certificate" in s],
    }
    return json.loads(_TIME.sub("<time>", json.dumps(record)))


def test_expiry_goldens(cases: dict[str, Report]) -> None:
    got = {name: _golden_view(report) for name, report in cases.items()}
    if os.environ.get("JINJJA_REGEN_GOLDEN"):
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text())


def test_three_cases_three_sentences(cases: dict[str, Report]) -> None:
    expiry = {n: r.signature.certificate_expiry for n, r in cases.items() if r.signature}
    assert expiry == {
        "since": Expiry.EXPIRED_SINCE_SIGNING,
        "before": Expiry.EXPIRED_BEFORE_SIGNING,
        "untrusted_tsa": Expiry.EXPIRED_TIME_UNKNOWN,
        "no_timestamp": Expiry.EXPIRED_TIME_UNKNOWN,
    }
    verdicts = {n: r.verdict for n, r in cases.items()}
    assert verdicts == {
        "since": Verdict.TRUSTED,
        "before": Verdict.INVALID,
        "untrusted_tsa": Verdict.INVALID,
        "no_timestamp": Verdict.INVALID,
    }
    # The anchors were given: every panel calls the signer trusted, valid or not.
    assert all(r.chain is not None and r.chain.trusted for r in cases.values())
    text = {n: " ".join(r.summary) for n, r in cases.items()}
    assert "while it was valid" in text["since"]
    assert "had already expired" in text["before"]
    assert "cannot tell whether it was valid" in text["no_timestamp"]
    assert "not on the TSA trust list" in text["untrusted_tsa"]
    assert not any("at signing time" in t for t in text.values())


def test_nikon_sample_is_not_said_to_have_expired_at_signing(shared_dir: Path) -> None:
    """The 2022 Nikon sample has no timestamp and a certificate that simply expired later:
    the report says we cannot tell when it was signed, never "expired at signing time"."""
    path = shared_dir / "c2pa/fixtures/public-testfiles/nikon-20221019-building.jpeg"
    report = check(path)
    assert report.verdict is Verdict.INVALID
    assert report.signature is not None and report.signature.timestamp is None
    assert report.signature.certificate_expiry is Expiry.EXPIRED_TIME_UNKNOWN
    text = " ".join(report.summary)
    assert "no trusted timestamp says when the credentials were signed" in text
    assert "at signing time" not in text
