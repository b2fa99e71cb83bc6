"""Tests for provenance.signals.ai: AI signals from C2PA, XMP, generator metadata and watermarks."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from provenance.report import Action, AiLabel, AiSignal, ChainNode, Failure
from provenance.signals.ai import (
    assess_ai,
    classify_digital_source_type,
    derive_label,
    match_generator,
)
from provenance.signals.genmarks import GeneratorMark

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def node(
    *actions: Action,
    label: str | None = "urn:c2pa:active",
    title: str | None = "a.jpg",
    relationship: str | None = None,
    failures: tuple[Failure, ...] = (),
    ingredients: tuple[ChainNode, ...] = (),
    claim_generator: str | None = "Example App/1.0",
) -> ChainNode:
    return ChainNode(
        label=label,
        title=title,
        format="image/jpeg",
        issuer=None,
        signing_time=None,
        signing_time_source=None,
        claim_generator=claim_generator,
        claim_generator_version=None,
        actions=actions,
        relationship=relationship,
        failures=failures,
        ingredients=ingredients,
    )


def act(action: str, dst: str | None = None, agent: str | None = None, desc: str | None = None):
    return Action(
        action=action,
        label=action,
        software_agent=agent,
        digital_source_type=dst,
        description=desc,
    )


BAD = (Failure(code="assertion.dataHash.mismatch", message="changed"),)


def png_bytes(texts: dict[str, str] | None = None, itxt: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (texts or {}).items():
        info.add_text(k, v)
    for k, v in (itxt or {}).items():
        info.add_itxt(k, v, zip=True)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 30)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def xmp_packet(body: str) -> str:
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        f'{body}</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def jpeg_with_xmp(packet: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "JPEG", xmp=packet.encode())
    return buf.getvalue()


def kinds(assessment) -> list[str]:
    return [s.kind for s in assessment.signals]


# --------------------------------------------------------------------------- vocabulary


@pytest.mark.parametrize(
    ("value", "term", "implies", "form"),
    [
        (IPTC + "trainedAlgorithmicMedia", "trainedAlgorithmicMedia", AiLabel.AI_GENERATED, "uri"),
        (
            "https://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
            "compositeWithTrainedAlgorithmicMedia",
            AiLabel.AI_EDITED,
            "uri",
        ),
        ("digsrctype:compositeSynthetic", "compositeSynthetic", AiLabel.AI_EDITED, "qcode"),
        ("algorithmicMedia", "algorithmicMedia", AiLabel.UNKNOWN, "term"),
        (IPTC + "algorithmicallyEnhanced", "algorithmicallyEnhanced", AiLabel.UNKNOWN, "uri"),
        (IPTC + "digitalCapture", "digitalCapture", AiLabel.CAPTURED, "uri"),
        (
            "http://c2pa.org/digitalsourcetype/trainedAlgorithmicData",
            "trainedAlgorithmicData",
            AiLabel.AI_GENERATED,
            "uri",
        ),
        ("TrainedAlgorithmicMedia", "trainedAlgorithmicMedia", AiLabel.AI_GENERATED, "term"),
    ],
)
def test_digital_source_type_forms(value, term, implies, form):
    dst = classify_digital_source_type(value)
    assert (dst.term, dst.implies, dst.form, dst.known) == (term, implies, form, True)


def test_misspelt_digital_source_type_is_unknown():
    dst = classify_digital_source_type(IPTC + "compositedWithTrainedAlgorithmicMedia")
    assert not dst.known and dst.implies is AiLabel.UNKNOWN


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("DALL·E 3", "OpenAI DALL·E"),
        ("Adobe Firefly", "Adobe Firefly"),
        ("Midjourney v6", "Midjourney"),
        ("ComfyUI", "ComfyUI"),
        ("Stable Diffusion XL", "Stable Diffusion"),
        ("Imagen 3", "Google Imagen"),
        ("Adobe_Firefly/2.1 c2pa-rs/0.25", "Adobe Firefly"),
    ],
)
def test_generator_names(text, name):
    gen = match_generator(text)
    assert gen is not None and gen.name == name


@pytest.mark.parametrize(
    "text", ["Adobe Photoshop 25.0", "GIMP 2.10", "Lightroom", "Imagen de prueba"]
)
def test_editors_are_not_generators(text):
    assert match_generator(text) is None


# --------------------------------------------------------------------------- C2PA chain


def test_signed_trained_media_is_ai_generated():
    chain = node(act("c2pa.created", IPTC + "trainedAlgorithmicMedia", agent="DALL·E"))
    result = assess_ai(b"", "image/png", chain)
    assert result.label is AiLabel.AI_GENERATED
    dst = result.signals[0]
    assert dst.kind == "c2pa.digitalSourceType" and dst.signed and dst.strength == "strong"
    assert "c2pa.softwareAgent" in kinds(result)


def test_tampered_manifest_is_not_signed_but_still_strong():
    chain = node(act("c2pa.created", IPTC + "trainedAlgorithmicMedia"), failures=BAD)
    result = assess_ai(b"", None, chain)
    assert result.label is AiLabel.AI_GENERATED
    assert not result.signals[0].signed
    assert result.signals[0].detail["unsigned_because"] == ["assertion.dataHash.mismatch"]


def test_composite_with_trained_media_is_ai_edited():
    chain = node(
        act("c2pa.opened", IPTC + "digitalCapture"),
        act("c2pa.placed", IPTC + "compositeWithTrainedAlgorithmicMedia", agent="Adobe Firefly"),
    )
    assert assess_ai(b"", None, chain).label is AiLabel.AI_EDITED


def test_trained_media_on_placed_action_is_ai_edited():
    chain = node(
        act("c2pa.opened", IPTC + "digitalCapture"),
        act("c2pa.placed", IPTC + "trainedAlgorithmicMedia"),
    )
    assert assess_ai(b"", None, chain).label is AiLabel.AI_EDITED


def test_algorithmic_media_is_not_ai():
    chain = node(act("c2pa.created", IPTC + "algorithmicMedia"))
    result = assess_ai(b"", None, chain)
    assert result.label is AiLabel.UNKNOWN
    assert result.signals[0].implies is AiLabel.UNKNOWN


def test_signed_capture_is_captured():
    chain = node(act("c2pa.created", IPTC + "digitalCapture"), act("c2pa.cropped"))
    assert assess_ai(b"", None, chain).label is AiLabel.CAPTURED


def test_unsigned_capture_is_unknown():
    chain = node(act("c2pa.created", IPTC + "digitalCapture"), failures=BAD)
    assert assess_ai(b"", None, chain).label is AiLabel.UNKNOWN


def test_ai_declaration_in_parent_ingredient_counts_and_names_node():
    parent = node(
        act("c2pa.created", IPTC + "trainedAlgorithmicMedia"),
        label="urn:c2pa:parent",
        title="gen.png",
        relationship="parentOf",
    )
    chain = node(
        act("c2pa.opened"), act("c2pa.resized", IPTC + "humanEdits"), ingredients=(parent,)
    )
    result = assess_ai(b"", None, chain)
    assert result.label is AiLabel.AI_GENERATED
    sig = next(s for s in result.signals if s.implies is AiLabel.AI_GENERATED)
    assert "gen.png" in sig.source and "urn:c2pa:parent" in sig.source
    assert sig.detail is not None and sig.detail["depth"] == 1


def test_ai_component_makes_ai_edited():
    comp = node(
        act("c2pa.created", IPTC + "trainedAlgorithmicMedia"),
        label="urn:c2pa:comp",
        relationship="componentOf",
    )
    chain = node(act("c2pa.created", IPTC + "digitalCapture"), ingredients=(comp,))
    assert assess_ai(b"", None, chain).label is AiLabel.AI_EDITED


def test_input_to_does_not_pass_label():
    inp = node(
        act("c2pa.created", IPTC + "trainedAlgorithmicMedia"),
        label="urn:c2pa:in",
        relationship="inputTo",
    )
    chain = node(act("c2pa.created", IPTC + "digitalCapture"), ingredients=(inp,))
    result = assess_ai(b"", None, chain)
    assert result.label is AiLabel.CAPTURED
    assert any(s.implies is AiLabel.UNKNOWN and "inputTo" in s.source for s in result.signals)


def test_ingredient_under_invalid_parent_is_unsigned():
    parent = node(
        act("c2pa.created", IPTC + "trainedAlgorithmicMedia"),
        label="urn:c2pa:p",
        relationship="parentOf",
    )
    chain = node(act("c2pa.opened"), failures=BAD, ingredients=(parent,))
    result = assess_ai(b"", None, chain)
    assert all(not s.signed for s in result.signals)
    (sig,) = result.signals
    assert sig.detail["unsigned_because"] == ["assertion.dataHash.mismatch"]


def test_untrusted_signer_is_still_signed():
    """An intact manifest from an unknown signer validated: its declarations are signed."""
    for code in ("signingCredential.untrusted", "timeStamp.untrusted"):
        untrusted = (Failure(code=code, message="unknown signer"),)
        chain = node(act("c2pa.created", IPTC + "digitalCapture"), failures=untrusted)
        result = assess_ai(b"", None, chain)
        assert result.label is AiLabel.CAPTURED
        assert result.signals[0].signed
        assert "unsigned_because" not in result.signals[0].detail


def test_untrusted_signer_with_tampering_is_not_signed():
    both = (
        Failure(code="signingCredential.untrusted", message="unknown signer"),
        Failure(code="assertion.dataHash.mismatch", message="changed"),
    )
    chain = node(act("c2pa.created", IPTC + "digitalCapture"), failures=both)
    result = assess_ai(b"", None, chain)
    assert result.label is AiLabel.UNKNOWN
    assert result.signals[0].detail["unsigned_because"] == ["assertion.dataHash.mismatch"]


def test_description_and_claim_generator_are_weak():
    chain = node(act("c2pa.created", desc="AI Generated Image"), claim_generator="Midjourney Bot")
    result = assess_ai(b"", None, chain)
    assert {s.kind for s in result.signals} == {"c2pa.description", "c2pa.claimGenerator"}
    assert all(s.strength == "weak" for s in result.signals)
    assert result.label is AiLabel.AI_GENERATED


# --------------------------------------------------------------------------- precedence


def sig(strength: str, signed: bool, implies: AiLabel) -> AiSignal:
    return AiSignal("k", "v", "s", signed, strength, implies)


def test_precedence_signed_strong_beats_unsigned():
    signals = [
        sig("strong", True, AiLabel.AI_EDITED),
        sig("strong", False, AiLabel.AI_GENERATED),
        sig("weak", False, AiLabel.AI_GENERATED),
    ]
    assert derive_label(signals) is AiLabel.AI_EDITED


def test_precedence_unsigned_strong_beats_weak():
    signals = [sig("strong", False, AiLabel.AI_EDITED), sig("weak", False, AiLabel.AI_GENERATED)]
    assert derive_label(signals) is AiLabel.AI_EDITED


def test_captured_needs_nothing_ai_anywhere():
    assert derive_label([sig("strong", True, AiLabel.CAPTURED)]) is AiLabel.CAPTURED
    mixed = [sig("strong", True, AiLabel.CAPTURED), sig("weak", False, AiLabel.AI_EDITED)]
    assert derive_label(mixed) is AiLabel.AI_EDITED
    assert derive_label([sig("strong", False, AiLabel.CAPTURED)]) is AiLabel.UNKNOWN
    assert derive_label([]) is AiLabel.UNKNOWN


# --------------------------------------------------------------------------- XMP


def test_xmp_digital_source_type_in_jpeg_attribute_form():
    packet = xmp_packet(
        '<rdf:Description rdf:about="" '
        f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"/>'
    )
    result = assess_ai(jpeg_with_xmp(packet), "image/jpeg", None)
    assert result.label is AiLabel.AI_GENERATED
    (s,) = result.signals
    assert s.kind == "xmp.DigitalSourceType" and not s.signed and "APP1" in s.source


def test_xmp_in_png_itxt_element_form_with_ai_system():
    packet = xmp_packet(
        '<rdf:Description rdf:about="">'
        f"<Iptc4xmpExt:DigitalSourceType>{IPTC}compositeWithTrainedAlgorithmicMedia"
        "</Iptc4xmpExt:DigitalSourceType>"
        "<Iptc4xmpExt:AISystemUsed>Example Diffusion</Iptc4xmpExt:AISystemUsed>"
        "<Iptc4xmpExt:AISystemVersionUsed>2.1</Iptc4xmpExt:AISystemVersionUsed>"
        "<Iptc4xmpExt:AIPromptInformation>a secret prompt about Jane"
        "</Iptc4xmpExt:AIPromptInformation>"
        "</rdf:Description>"
    )
    data = png_bytes(itxt={"XML:com.adobe.xmp": packet})
    result = assess_ai(data, "image/png", None)
    assert result.label is AiLabel.AI_EDITED
    ai_sys = next(s for s in result.signals if s.kind == "xmp.AISystemUsed")
    assert ai_sys.value == "Example Diffusion"
    assert ai_sys.detail is not None and ai_sys.detail["version"] == "2.1"
    assert "Jane" not in json.dumps([s.to_dict() for s in result.signals])
    assert ai_sys.detail["prompt"].startswith("[prompt redacted: 26 characters")
    shown = assess_ai(data, "image/png", None, show_prompts=True)
    assert "Jane" in json.dumps([s.to_dict() for s in shown.signals])


def test_xmp_resource_form_in_webp():
    packet = xmp_packet(
        '<rdf:Description rdf:about="">'
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{IPTC}trainedAlgorithmicMedia"/>'
        "<xmp:CreatorTool>Midjourney</xmp:CreatorTool>"
        '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">a cat, Job ID: '
        "12345678-1234-1234-1234-123456789abc</rdf:li></rdf:Alt></dc:description>"
        "</rdf:Description>"
    )
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "WEBP", xmp=packet.encode())
    result = assess_ai(buf.getvalue(), "image/webp", None)
    assert set(kinds(result)) == {"xmp.DigitalSourceType", "xmp.CreatorTool", "xmp.description"}
    assert result.label is AiLabel.AI_GENERATED


def test_broken_xmp_falls_back_to_regex():
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia" <broken'
        "</rdf:RDF></x:xmpmeta>"
    )
    result = assess_ai(jpeg_with_xmp(packet), "image/jpeg", None)
    assert result.label is AiLabel.AI_GENERATED


def test_xmp_with_entities_is_not_expanded():
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rdf:RDF>&b;</rdf:RDF></x:xmpmeta>'
    )
    assert assess_ai(jpeg_with_xmp(packet), "image/jpeg", None).signals == ()


# --------------------------------------------------------------------------- generator metadata

A1111 = (
    "a photo of Jane Doe at the beach, golden hour\n"
    "Negative prompt: blurry, ugly\n"
    "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 12345, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"
)


def test_a1111_parameters_png_redacted():
    result = assess_ai(png_bytes({"parameters": A1111}), "image/png", None)
    (s,) = result.signals
    assert s.kind == "png.parameters" and s.strength == "strong" and not s.signed
    assert result.label is AiLabel.AI_GENERATED
    assert "Jane" not in s.value and "Jane" not in json.dumps(s.to_dict())
    assert "Seed: 12345" in s.value and "Model: v1-5-pruned-emaonly" in s.value
    assert s.detail is not None
    n = len("a photo of Jane Doe at the beach, golden hour")
    assert s.detail["prompt"] == f"[prompt redacted: {n} characters; use --show-prompts]"
    shown = assess_ai(png_bytes({"parameters": A1111}), "image/png", None, show_prompts=True)
    assert "Jane Doe" in shown.signals[0].value


def test_a1111_inpainting_is_ai_edited():
    text = A1111 + ", Denoising strength: 0.75, Mask blur: 4, Inpaint area: Only masked"
    assert assess_ai(png_bytes({"parameters": text}), None, None).label is AiLabel.AI_EDITED


def test_comfyui_prompt_and_workflow():
    prompt = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 20}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "portrait of John Smith"}},
    }
    workflow = {"nodes": [{"id": 3, "type": "KSampler"}, {"id": 6, "type": "CLIPTextEncode"}]}
    data = png_bytes({"prompt": json.dumps(prompt), "workflow": json.dumps(workflow)})
    result = assess_ai(data, "image/png", None)
    assert kinds(result) == ["png.prompt", "png.workflow"]
    assert result.label is AiLabel.AI_GENERATED
    dumped = json.dumps([s.to_dict() for s in result.signals])
    assert "John Smith" not in dumped and "sdxl.safetensors" in dumped


def test_plain_prompt_text_chunk_is_not_comfyui():
    assert assess_ai(png_bytes({"prompt": "hello"}), None, None).signals == ()


def test_invokeai_and_legacy():
    meta = {"positive_prompt": "a castle", "model": {"name": "sd-1.5"}, "seed": 42}
    data = png_bytes({"invokeai_metadata": json.dumps(meta)})
    (s,) = assess_ai(data, None, None).signals
    assert s.kind == "png.invokeai_metadata" and s.detail is not None
    assert s.detail["generator"] == "InvokeAI" and s.detail["seed"] == "42"
    assert "castle" not in s.value
    (d,) = assess_ai(png_bytes({"Dream": '"a castle" -s 50 -S 42'}), None, None).signals
    assert d.kind == "png.Dream" and "castle" not in d.value


def test_novelai():
    comment = json.dumps({"prompt": "a girl", "steps": 28, "seed": 1, "uc": "bad"})
    data = png_bytes({"Software": "NovelAI", "Comment": comment, "Description": "a girl"})
    result = assess_ai(data, None, None)
    assert set(kinds(result)) == {"png.Software", "png.Comment"}
    assert all(s.strength == "strong" for s in result.signals)
    assert "a girl" not in json.dumps([s.to_dict() for s in result.signals])


def test_fooocus_json_parameters():
    params = {"prompt": "x", "base_model": "juggernaut", "seed": 3}
    data = png_bytes({"parameters": json.dumps(params), "fooocus_scheme": "fooocus"})
    (s,) = assess_ai(data, None, None).signals
    assert s.detail is not None and s.detail["generator"] == "Fooocus"


def test_exif_user_comment_a1111_and_software_in_jpeg():
    exif = Image.Exif()
    exif[0x0131] = "Stable Diffusion web UI"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9286] = b"UNICODE\x00" + A1111.encode("utf-16-be")
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "JPEG", exif=exif.tobytes())
    result = assess_ai(buf.getvalue(), "image/jpeg", None)
    assert set(kinds(result)) == {"exif.Software", "exif.UserComment"}
    assert next(s for s in result.signals if s.kind == "exif.Software").strength == "weak"
    assert result.label is AiLabel.AI_GENERATED


def test_webp_exif_user_comment_little_endian():
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + A1111.encode("utf-16-le")
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "WEBP", exif=exif.tobytes())
    assert kinds(assess_ai(buf.getvalue(), "image/webp", None)) == ["exif.UserComment"]


def test_jpeg_comment_with_parameters():
    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "JPEG", comment=A1111.encode())
    assert kinds(assess_ai(buf.getvalue(), "image/jpeg", None)) == ["jpeg.COM"]


def test_unmarked_files_have_no_signals():
    for data in (
        png_bytes({"Title": "holiday", "Software": "GIMP 2.10"}),
        jpeg_with_xmp(xmp_packet("")),
    ):
        result = assess_ai(data, None, None)
        assert result.signals == () and result.label is AiLabel.UNKNOWN


# --------------------------------------------------------------------------- watermarks


def test_marks_become_strong_unsigned_signals():
    mark = GeneratorMark("SDXL", "SDXL", "BGR", 47, 48, 42, 1.7e-13)
    miss = GeneratorMark("SD2", "Stable Diffusion 2.x", "RGB", 17, 32, 30, 0.4)
    result = assess_ai(b"", None, None, marks=[mark, miss])
    (s,) = result.signals
    assert s.kind == "watermark.SDXL" and s.strength == "strong" and not s.signed
    assert s.detail is not None and s.detail["bits_matched"] == 47
    assert s.detail["p_value"] == pytest.approx(1.7e-13)
    assert result.label is AiLabel.AI_GENERATED


# --------------------------------------------------------------------------- garbage


def crc_chunk(ctype: bytes, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return struct.pack(">I", n) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8\xff",
        b"\xff\xd8\xff\xe1\xff\xff" + b"Exif\x00\x00",
        b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*\xff\xff\xff\xff",
        b"\x89PNG\r\n\x1a\n" + crc_chunk(b"tEXt", b"parameters\x00Steps: 1", length=2**31),
        b"\x89PNG\r\n\x1a\n" + crc_chunk(b"zTXt", b"prompt\x00\x00" + b"not zlib"),
        b"\x89PNG\r\n\x1a\n"
        + crc_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + b"junk"),
        b"\x89PNG\r\n\x1a\n" + crc_chunk(b"zTXt", b"prompt\x00\x00" + zlib.compress(b"{" * 10**7)),
        b"RIFF\xff\xff\xff\xffWEBPXMP \xff\xff\x00\x00<x:xmpmeta",
        b"\x89PNG\r\n\x1a\n" + crc_chunk(b"tEXt", b"prompt\x00" + b"[" * 100_000),
    ],
)
def test_garbage_never_raises(data):
    result = assess_ai(data, "image/png", None)
    assert result.label is AiLabel.UNKNOWN


def test_random_bytes_never_raise():
    rng = np.random.default_rng(1)
    good = png_bytes({"parameters": A1111})
    for _ in range(200):
        cut = bytearray(good[: rng.integers(8, len(good))])
        for i in rng.integers(0, len(cut), size=5):
            cut[i] = rng.integers(0, 256)
        result = assess_ai(bytes(cut), "image/png", None)
        assert result.label in set(AiLabel)
        assert all(sig.kind and sig.source for sig in result.signals)


MAGICS = [b"", b"\xff\xd8\xff\xe1", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x10\x00\x00WEBP", b"II*\x00"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MAGICS), st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(magic, body):
    result = assess_ai(magic + body, None, None, show_prompts=True)
    assert result.label in AiLabel
