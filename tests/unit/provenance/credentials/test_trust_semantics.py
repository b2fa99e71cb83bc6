"""An unknown signer is not a validation failure: reported, but the node stays reliable.

``signingCredential.untrusted`` (and the other trust-only codes) stay in ``failures`` with
their sentence; ``ChainNode.reliable`` ignores them, ``ChainNode.trusted`` records them,
and AI declarations inside such a manifest count as signed.
"""

from __future__ import annotations

import io
import json

from provenance import check
from provenance.check import derive_verdict
from provenance.credentials.chain import build_chain, iter_nodes
from provenance.report import TRUST_ONLY_CODES, AiLabel, ChainNode, Failure, Verdict

_UNTRUSTED = {"code": "signingCredential.untrusted", "url": "self#jumbf=/c2pa/A/c2pa.signature"}
_TRUSTED = {"code": "signingCredential.trusted", "url": "self#jumbf=/c2pa/A/c2pa.signature"}


def _manifest(label, ingredients=()):
    return {
        "label": label,
        "title": f"{label}.jpg",
        "signature_info": {"issuer": f"Org {label}"},
        "assertions": [],
        "ingredients": list(ingredients),
    }


def _store(*, failure=(), success=(), deltas=()):
    ing = {
        "title": "B.jpg",
        "relationship": "parentOf",
        "active_manifest": "B",
        "label": "c2pa.ingredient.v3",
    }
    return {
        "active_manifest": "A",
        "manifests": {"A": _manifest("A", [ing]), "B": _manifest("B")},
        "validation_results": {
            "activeManifest": {"success": list(success), "failure": list(failure)},
            "ingredientDeltas": list(deltas),
        },
    }


def test_untrusted_only_node_is_reliable_but_not_trusted():
    result = build_chain(_store(failure=[_UNTRUSTED]))
    assert result is not None
    root = result.root
    assert [f.code for f in root.failures] == ["signingCredential.untrusted"]
    assert root.failures[0].message.startswith("Signed, but the signer is not on any trust list")
    assert root.reliable and root.problems == ()
    assert root.trusted is False
    assert root.to_dict()["reliable"] is True and root.to_dict()["trusted"] is False
    assert derive_verdict("Valid", result.validated) is Verdict.VALID_UNTRUSTED


def test_trusted_comes_from_the_success_code_and_ingredients_stay_unjudged():
    root = build_chain(_store(success=[_TRUSTED])).root
    assert root.trusted is True
    (child,) = root.ingredients
    assert child.trusted is None  # c2pa-rs did not re-check the ingredient's signer
    assert build_chain(_store()).root.trusted is None


def test_ingredient_delta_untrusted_marks_only_that_node():
    delta = {
        "ingredientAssertionURI": "self#jumbf=/c2pa/A/c2pa.assertions/c2pa.ingredient.v3",
        "validationDeltas": {
            "failure": [
                {"code": "signingCredential.untrusted", "url": "self#jumbf=/c2pa/B/c2pa.signature"}
            ]
        },
    }
    result = build_chain(_store(success=[_TRUSTED], deltas=[delta]))
    assert result is not None
    (child,) = result.root.ingredients
    assert child.trusted is False and child.reliable
    assert result.root.trusted is True
    assert derive_verdict("Trusted", result.validated) is Verdict.TRUSTED


def test_tampering_still_makes_a_node_unreliable():
    mismatch = {"code": "assertion.dataHash.mismatch", "url": "x"}
    root = build_chain(_store(failure=[_UNTRUSTED, mismatch])).root
    assert not root.reliable
    assert [f.code for f in root.problems] == ["assertion.dataHash.mismatch"]
    assert root.trusted is False


def test_trust_only_codes():
    assert "signingCredential.untrusted" in TRUST_ONLY_CODES
    assert "timeStamp.untrusted" in TRUST_ONLY_CODES
    assert "signingCredential.expired" not in TRUST_ONLY_CODES
    node = ChainNode(
        label="A",
        title=None,
        format=None,
        issuer=None,
        signing_time=None,
        signing_time_source=None,
        claim_generator=None,
        claim_generator_version=None,
        failures=(Failure("timeStamp.untrusted", "unknown TSA"),),
    )
    assert node.reliable and node.trusted is None
    assert derive_verdict("Valid", node.failures) is Verdict.VALID_UNTRUSTED


def test_valid_untrusted_file_is_reliable_and_its_declarations_signed(signed):
    report = check(signed.publish)  # no anchors: the signer is unknown
    assert report.verdict is Verdict.VALID_UNTRUSTED
    # The active manifest and both signed ingredients (re-checked: ingredient deltas).
    assert [f.code for f in report.failures] == ["signingCredential.untrusted"] * 3
    root = report.chain
    assert root is not None
    assert all(n.reliable for n in iter_nodes(root))
    assert [n.trusted for n in iter_nodes(root)] == [False, False, False, None]  # logo: none
    assert not any("Problem" in line for line in report.summary)
    assert report.ai.label is AiLabel.CAPTURED
    assert all(s.signed for s in report.ai.signals if s.kind == "c2pa.digitalSourceType")
    trusted = check(signed.publish, trust_anchors=[signed.root])
    assert trusted.chain is not None and trusted.chain.trusted is True
    assert trusted.ai.label is AiLabel.CAPTURED


def test_text_rendering_marks_the_unknown_issuer(signed):
    from verify_cli.render import TextFormat

    def render(path):
        out = io.StringIO()
        TextFormat(out).write(check(path))
        return out.getvalue()

    unknown = render(signed.jpeg_es256)
    assert "intact, issuer not on your trust lists" in unknown
    assert "not to be relied on" not in unknown
    assert "not to be relied on" in render(signed.tampered_pixels)
    record = json.loads(json.dumps(check(signed.jpeg_es256).to_dict()))
    assert record["chain"]["reliable"] is True and record["chain"]["trusted"] is False
