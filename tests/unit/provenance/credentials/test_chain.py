"""build_chain() on synthetic manifest stores: failure placement, cycles, dangling links."""

from __future__ import annotations

from provenance.check import derive_verdict
from provenance.credentials._c2pa import CertInfo
from provenance.credentials.chain import CYCLE_CODE, build_chain, iter_nodes
from provenance.report import Failure, Verdict


def _manifest(label, *, ingredients=(), actions=(), **extra):
    m = {
        "label": label,
        "title": f"{label}.jpg",
        "format": "image/jpeg",
        "claim_generator_info": [{"name": f"gen-{label}", "version": "1.0"}],
        "signature_info": {"issuer": f"Org {label}", "common_name": f"CN {label}"},
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": list(actions)}}],
        "ingredients": list(ingredients),
    }
    m.update(extra)
    return m


def _store(manifests, *, active="A", failure=(), deltas=()):
    return {
        "active_manifest": active,
        "manifests": {m["label"]: m for m in manifests},
        "validation_results": {
            "activeManifest": {"success": [], "informational": [], "failure": list(failure)},
            "ingredientDeltas": list(deltas),
        },
    }


def test_failures_are_attached_where_the_sdk_put_them():
    ing_b = {
        "title": "B.jpg",
        "relationship": "parentOf",
        "active_manifest": "B",
        "label": "c2pa.ingredient.v3",
        "validation_status": [
            {"code": "timeStamp.mismatch", "url": "x"},
            {"code": "claimSignature.mismatch", "url": "self#jumbf=/c2pa/B/c2pa.signature"},
        ],
    }
    ing_c = {
        "title": "C.jpg",
        "relationship": "componentOf",
        "active_manifest": "C",
        "label": "c2pa.ingredient.v3__1",
        "validation_results": {
            "activeManifest": {"failure": [{"code": "assertion.dataHash.mismatch"}]}
        },
    }
    store = _store(
        [_manifest("A", ingredients=[ing_b, ing_c]), _manifest("B"), _manifest("C")],
        failure=[
            {"code": "signingCredential.untrusted", "url": "self#jumbf=/c2pa/A/c2pa.signature"}
        ],
        deltas=[
            {
                "ingredientAssertionURI": (
                    "self#jumbf=/c2pa/A/c2pa.assertions/c2pa.ingredient.v3__1"
                ),
                "validationDeltas": {
                    "failure": [
                        {"code": "assertion.hashedURI.mismatch", "url": "self#jumbf=/c2pa/C/x"}
                    ]
                },
            }
        ],
    )
    result = build_chain(store)
    assert result is not None
    root = result.root
    assert [f.code for f in root.failures] == ["signingCredential.untrusted"]
    b, c = root.ingredients
    # 1.x recorded list: informational timeStamp.mismatch is not a failure
    assert [(f.code, f.origin, f.manifest) for f in b.failures] == [
        ("claimSignature.mismatch", "ingredient_record", "B")
    ]
    assert [(f.code, f.origin) for f in c.failures] == [
        ("assertion.hashedURI.mismatch", "validation"),
        ("assertion.dataHash.mismatch", "ingredient_record"),
    ]
    assert not b.reliable and not c.reliable
    assert {f.code for f in result.validated} == {
        "signingCredential.untrusted",
        "assertion.hashedURI.mismatch",
    }
    assert {f.code for f in result.recorded} == {
        "claimSignature.mismatch",
        "assertion.dataHash.mismatch",
    }
    # the verdict looks only at what was validated now
    assert derive_verdict("Invalid", result.validated) is Verdict.INVALID


def test_trusted_active_manifest_with_recorded_broken_ingredient_stays_trusted():
    ing = {
        "title": "B.jpg",
        "relationship": "parentOf",
        "active_manifest": "B",
        "label": "c2pa.ingredient",
        "validation_status": [{"code": "claimSignature.mismatch"}],
    }
    result = build_chain(_store([_manifest("A", ingredients=[ing]), _manifest("B")]))
    assert result is not None
    assert derive_verdict("Trusted", result.validated) is Verdict.TRUSTED
    assert [f.code for f in result.recorded] == ["claimSignature.mismatch"]
    assert result.root.reliable and not result.root.ingredients[0].reliable


def test_cycles_and_dangling_references_do_not_crash():
    a = _manifest(
        "A",
        ingredients=[
            {"title": "B", "relationship": "parentOf", "active_manifest": "B", "label": "i1"},
            {"title": "gone", "relationship": "inputTo", "active_manifest": "ZZZ", "label": "i2"},
        ],
    )
    b = _manifest(
        "B",
        ingredients=[{"title": "A again", "relationship": "parentOf", "active_manifest": "A"}],
    )
    result = build_chain(_store([a, b]))
    assert result is not None
    nodes = list(iter_nodes(result.root))
    assert len(nodes) == 4
    b_node, gone = result.root.ingredients
    (loop,) = b_node.ingredients
    assert [f.code for f in loop.failures] == [CYCLE_CODE]
    assert loop.ingredients == ()
    assert gone.label == "ZZZ" and gone.issuer is None and gone.title == "gone"
    assert CYCLE_CODE in {f.code for f in result.validated}


def test_self_referencing_manifest():
    a = _manifest("A", ingredients=[{"title": "me", "active_manifest": "A"}])
    result = build_chain(_store([a]))
    assert result is not None
    assert result.root.ingredients[0].failures[0].code == CYCLE_CODE


def test_missing_active_manifest_and_junk_fields():
    assert build_chain({"manifests": {}}) is None
    junk = {
        "active_manifest": "A",
        "manifests": {
            "A": {
                "assertions": [None, {"label": "c2pa.actions", "data": {"actions": [None, {}]}}],
                "ingredients": [None, "x", {"relationship": 5}],
                "claim_generator": "tool/3.2 c2pa-rs/0.1",
                "signature_info": "nonsense",
            }
        },
        "validation_results": {"activeManifest": {"failure": [{"nocode": 1}]}},
    }
    result = build_chain(junk)
    assert result is not None
    assert result.root.claim_generator == "tool" and result.root.claim_generator_version == "3.2"
    assert result.root.actions == ()
    assert len(result.root.ingredients) == 3
    assert result.validated == ()


def test_issuer_from_certificate_details_and_timestamp():
    store = _store(
        [_manifest("A", signature_info={"issuer": "Org", "time": "2025-01-01T00:00:00Z"})]
    )
    cert = CertInfo(
        subject={"O": "Example News", "CN": "Photo Desk"},
        issuer={"CN": "Example Issuing CA", "O": "Example Trust Services"},
        serial_number="0a1b",
        not_before=None,
        not_after=None,
    )
    result = build_chain(store, {"A": cert})
    assert result is not None
    issuer = result.root.issuer
    assert issuer.organization == "Example News" and issuer.common_name == "Photo Desk"
    assert issuer.issuing_ca == "Example Issuing CA (Example Trust Services)"
    assert issuer.serial_number == "0a1b"
    assert result.root.signing_time == "2025-01-01T00:00:00Z"
    assert result.root.signing_time_source == "timestamp"


def test_actions_in_words():
    acts = [
        {
            "action": "c2pa.created",
            "digitalSourceType": " http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
            "softwareAgent": "Camera 1.0",
        },
        {"action": "c2pa.placed", "softwareAgent": {"name": "Editor"}},
        {"action": "com.example.custom", "parameters": {"description": "sharpen"}},
    ]
    result = build_chain(_store([_manifest("A", actions=acts)]))
    assert result is not None
    a1, a2, a3 = result.root.actions
    assert (a1.label, a1.software_agent) == ("Created", "Camera 1.0")
    assert a1.digital_source_type.startswith("http://cv.iptc.org/")
    assert (a2.label, a2.software_agent) == ("Imported", "Editor")
    assert a3.label == "Other activity (com.example.custom)" and a3.description == "sharpen"


def test_derive_verdict_rules():
    def f(*codes):
        return [Failure(c, "m") for c in codes]

    assert derive_verdict("Trusted", []) is Verdict.TRUSTED
    assert derive_verdict("Valid", []) is Verdict.VALID_UNTRUSTED
    assert derive_verdict("Invalid", []) is Verdict.INVALID
    assert derive_verdict("Valid", f("signingCredential.untrusted")) is Verdict.VALID_UNTRUSTED
    for code in (
        "assertion.dataHash.mismatch",
        "assertion.bmffHash.mismatch",
        "assertion.boxesHash.mismatch",
        "assertion.collectionHash.mismatch",
    ):
        assert derive_verdict("Invalid", f(code, "signingCredential.untrusted")) is (
            Verdict.INCOMPLETE
        )
    assert (
        derive_verdict("Invalid", f("assertion.dataHash.mismatch", "claimSignature.mismatch"))
        is Verdict.INVALID
    )
    assert derive_verdict("Invalid", f("signingCredential.expired")) is Verdict.INVALID
