"""Offline signals that a picture was made or edited with generative AI.

Every signal is a declaration or a trace, never proof: metadata can be stripped, forged
or copied, watermarks can be removed, and the absence of a signal proves nothing.

Sources
-------
* C2PA ``digitalSourceType`` on every action of every manifest in the chain, the
  ingredients' manifests included (strong; *signed* when the node and all the nodes
  above it are :attr:`~provenance.report.ChainNode.reliable`, i.e. validated: no failure
  code other than trust-only ones. A signer on none of your trust lists does not withhold
  "signed" (the manifest is intact; :attr:`~provenance.report.ChainNode.trusted` says
  whether its issuer is known); the codes that withheld it are listed in the signal's
  ``detail["unsigned_because"]``).
* C2PA free text (weak): a known generator as an action's ``softwareAgent`` or as the
  claim generator, and action descriptions such as "AI generated image".
* XMP outside C2PA (JPEG APP1, PNG ``iTXt`` ``XML:com.adobe.xmp``, WebP ``XMP ``):
  ``Iptc4xmpExt:DigitalSourceType`` and the IPTC 2025.1 ``AISystemUsed`` family
  (strong, unsigned); ``xmp:CreatorTool`` naming a generator and AI wording in
  ``dc:description`` (weak).
* Generator metadata (strong, unsigned): PNG text chunks written by AUTOMATIC1111 /
  Forge / SD.Next (``parameters``), Fooocus, ComfyUI (``prompt``, ``workflow``),
  InvokeAI (``invokeai_metadata``, ``invokeai_graph``, ``sd-metadata``, ``Dream``) and
  NovelAI (``Software`` = NovelAI, ``Comment``); A1111 parameters in the EXIF
  ``UserComment`` or a JPEG comment. These imply AI_GENERATED, except A1111 inpainting
  parameters (``Mask blur``/``Inpaint area``), which imply AI_EDITED. EXIF ``Software``
  naming a generator is weak.
* Default invisible watermarks of open generators, computed by
  :func:`provenance.signals.genmarks.detect_generator_marks` and passed in as ``marks``
  (strong, unsigned).

Digital source types
--------------------
Values are matched as full URIs (``http://cv.iptc.org/newscodes/digitalsourcetype/``,
its ``https`` variant, with or without the trailing slash, and
``http://c2pa.org/digitalsourcetype/``), as ``digsrctype:`` QCodes, and as bare terms
(a fallback; the detail records which form was seen). ``trainedAlgorithmicMedia`` and
C2PA's ``trainedAlgorithmicData`` imply AI_GENERATED when recorded on a ``c2pa.created``
or ``c2pa.opened`` action and AI_EDITED on any other action (generated content placed
into something else). ``compositeWithTrainedAlgorithmicMedia`` and ``compositeSynthetic``
imply AI_EDITED. The capture family (``digitalCapture``, ``computationalCapture``,
``negativeFilm``, ``positiveFilm``, ``print``) on a ``c2pa.created``/``c2pa.opened``
action implies CAPTURED. ``algorithmicMedia`` (e.g. fractals), ``algorithmicallyEnhanced``,
``dataDrivenMedia``, human edits, screenshots and the rest imply nothing (UNKNOWN).

Ingredients: what an ingredient's manifest declares passes through ``parentOf``
unchanged (an edit of an AI-generated picture is still AI-generated); through
``componentOf`` AI_GENERATED becomes AI_EDITED and CAPTURED becomes UNKNOWN (one part
of a composite); through ``inputTo`` nothing passes (UNKNOWN). The signal always names
the node it came from.

Label precedence
----------------
Signals fall into three tiers: (1) strong and signed, (2) strong and unsigned,
(3) weak. The label comes from the first tier that holds an AI signal: AI_GENERATED if
any signal of that tier implies it, else AI_EDITED. With no AI signal in any tier, the
label is CAPTURED when a signed strong signal implies CAPTURED, and UNKNOWN otherwise.
So a signed declaration outranks an unsigned one, which outranks a hint, and CAPTURED is
only ever given for a signed capture declaration with nothing pointing to AI anywhere.

Privacy
-------
Prompts (and prompt authors) are replaced by
``"[prompt redacted: N characters; use --show-prompts]"`` unless ``show_prompts``.
Parsing never raises: what cannot be read is ignored.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from provenance.media import _imageio
from provenance.report import Action, AiAssessment, AiLabel, AiSignal, ChainNode
from provenance.signals.genmarks import GeneratorMark, marks_to_signals

__all__ = [
    "GENERATORS",
    "DigitalSourceType",
    "assess_ai",
    "classify_digital_source_type",
    "derive_label",
    "match_generator",
]

STRONG: Final = "strong"
WEAK: Final = "weak"

_IPTC_URIS: Final = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/",
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
    "http://cv.iptc.org/newscodes/digitalsourcetype",
    "https://cv.iptc.org/newscodes/digitalsourcetype",
)
_C2PA_URIS: Final = ("http://c2pa.org/digitalsourcetype/", "https://c2pa.org/digitalsourcetype/")

_VALUE_LIMIT: Final = 300
_SHOWN_PROMPT_LIMIT: Final = 4000


@dataclass(frozen=True)
class DigitalSourceType:
    """A ``digitalSourceType`` value, normalised."""

    term: str
    """The vocabulary term (``trainedAlgorithmicMedia``), or the raw value if unknown."""
    meaning: str
    """What the term means, in words."""
    implies: AiLabel
    """The label the term supports when it describes the whole asset."""
    known: bool
    """False when the value is not in the IPTC or C2PA vocabulary."""
    form: str
    """How it was written: ``uri``, ``qcode``, ``term`` or ``unknown``."""


# term -> (meaning, implied label for the whole asset)
_VOCABULARY: Final[Mapping[str, tuple[str, AiLabel]]] = {
    "trainedAlgorithmicMedia": ("created using generative AI", AiLabel.AI_GENERATED),
    "trainedAlgorithmicData": ("data created by generative AI (C2PA)", AiLabel.AI_GENERATED),
    "compositeWithTrainedAlgorithmicMedia": (
        "edited using generative AI (e.g. inpainting or outpainting)",
        AiLabel.AI_EDITED,
    ),
    "compositeSynthetic": ("composite including synthetic elements", AiLabel.AI_EDITED),
    "algorithmicMedia": (
        "pure algorithmic media, not trained on samples (not generative AI)",
        AiLabel.UNKNOWN,
    ),
    "algorithmicallyEnhanced": (
        "modified by an algorithm without changing the content (not generative AI)",
        AiLabel.UNKNOWN,
    ),
    "dataDrivenMedia": ("made from data (e.g. a chart)", AiLabel.UNKNOWN),
    "digitalCapture": ("digital capture sampled from real life", AiLabel.CAPTURED),
    "computationalCapture": ("multi-frame computational capture", AiLabel.CAPTURED),
    "negativeFilm": ("digitised from a negative on film", AiLabel.CAPTURED),
    "positiveFilm": ("digitised from a positive on film", AiLabel.CAPTURED),
    "print": ("digitised from a print", AiLabel.CAPTURED),
    "humanEdits": ("edited by a human with non-generative tools", AiLabel.UNKNOWN),
    "minorHumanEdits": ("minor human edits (retired term)", AiLabel.UNKNOWN),
    "digitalCreation": ("created by a human using digital tools", AiLabel.UNKNOWN),
    "digitalArt": ("created by a human using digital tools (retired term)", AiLabel.UNKNOWN),
    "softwareImage": ("created by software", AiLabel.UNKNOWN),
    "screenCapture": ("screenshot", AiLabel.UNKNOWN),
    "virtualRecording": ("recording of a virtual event", AiLabel.UNKNOWN),
    "composite": ("composite of several elements", AiLabel.UNKNOWN),
    "compositeCapture": ("composite of captured elements", AiLabel.UNKNOWN),
    "empty": ("created with no content (C2PA)", AiLabel.UNKNOWN),
}
_VOCAB_LOWER: Final = {k.lower(): k for k in _VOCABULARY}


def classify_digital_source_type(value: str) -> DigitalSourceType:
    """Normalise a ``digitalSourceType`` value.

    Parameters
    ----------
    value : str
        A full URI, a ``digsrctype:`` QCode or a bare term.

    Returns
    -------
    DigitalSourceType

    Examples
    --------
    >>> classify_digital_source_type(
    ...     "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    ... ).implies.value
    'AI_GENERATED'
    >>> classify_digital_source_type("algorithmicMedia").implies.value
    'UNKNOWN'
    """
    raw = value.strip()
    rest: str | None = None
    form = "term"
    lowered = raw.lower()
    for prefix in (*_IPTC_URIS, *_C2PA_URIS):
        if lowered.startswith(prefix):
            rest = raw[len(prefix) :].lstrip("/")
            form = "uri"
            break
    if rest is None and lowered.startswith("digsrctype:"):
        rest, form = raw[len("digsrctype:") :], "qcode"
    if rest is None:
        rest = raw
    term = _VOCAB_LOWER.get(rest.strip().lower())
    if term is None:
        return DigitalSourceType(
            raw, "not in the IPTC or C2PA vocabulary", AiLabel.UNKNOWN, False, "unknown"
        )
    meaning, implies = _VOCABULARY[term]
    return DigitalSourceType(term, meaning, implies, True, form)


@dataclass(frozen=True)
class _Generator:
    name: str
    pattern: re.Pattern[str]
    implies: AiLabel


def _g(name: str, pattern: str, implies: AiLabel = AiLabel.AI_GENERATED) -> _Generator:
    return _Generator(name, re.compile(pattern, re.IGNORECASE), implies)


GENERATORS: Final[tuple[_Generator, ...]] = (
    _g("OpenAI DALL·E", r"\bdall[\s·\-_.]?e\b"),
    _g("OpenAI GPT Image", r"\bgpt[\s\-_]?image\b|\bgpt-4o\b"),
    _g("OpenAI ChatGPT", r"\bchatgpt\b"),
    _g("OpenAI Sora", r"\bsora\b"),
    _g("OpenAI", r"\bopenai\b"),
    _g("Adobe Firefly", r"\bfirefly\b"),
    _g("Midjourney", r"\bmidjourney\b"),
    _g("Stable Diffusion", r"\bstable[\s\-_]?diffusion\b|\bsdxl\b|\bsd[\s\-_]?3(\.5)?\b"),
    _g("Stability AI", r"\bstability[\s\-_]?ai\b|\bdreamstudio\b"),
    _g("AUTOMATIC1111 web UI", r"\bautomatic1111\b|stable-diffusion-webui|\bsd\.next\b"),
    _g("ComfyUI", r"\bcomfy[\s\-_]?ui\b"),
    _g("InvokeAI", r"\binvoke[\s\-_]?ai\b"),
    _g("Fooocus", r"\bfooocus\b"),
    _g("NovelAI", r"\bnovel[\s\-_]?ai\b"),
    _g(
        "FLUX",
        r"\bflux\.1\b|\bflux[\s\-_.]?(dev|schnell|pro|kontext)\b|black[\s\-_]?forest[\s\-_]?labs",
    ),
    _g("Google Imagen", r"\bgoogle\s+imagen\b|\bimagen\s*[1-9]\b"),
    _g("Google Gemini", r"\bgemini\b|\bnano[\s\-_]?banana\b"),
    _g("Google Veo", r"\bveo\s*[1-9]?\b"),
    _g("Microsoft Bing Image Creator", r"\bbing\s+image\s+creator\b"),
    _g("Microsoft Designer", r"\bmicrosoft\s+designer\b"),
    _g("Meta AI", r"\bmeta\s+ai\b|\bimagine\s+with\s+meta\b|\bemu\s+edit\b"),
    _g("xAI Grok / Aurora", r"\bgrok\b|\baurora\s+by\s+xai\b"),
    _g("Leonardo.Ai", r"\bleonardo(\.|\s)?ai\b"),
    _g("Ideogram", r"\bideogram\b"),
    _g("Runway", r"\brunway\s*(ml|gen[\s\-]?\d)\b|\brunwayml\b"),
    _g("Pika", r"\bpika\s*(labs|art)\b"),
    _g("Kling", r"\bkling\s*ai\b|\bkling\s*\d"),
    _g("Luma Dream Machine", r"\bdream\s+machine\b|\bluma\s+ai\b"),
    _g("Playground AI", r"\bplayground\s*(ai|v\d)\b"),
    _g("Krea", r"\bkrea(\.ai|\s+ai)\b"),
    _g("Recraft", r"\brecraft\b"),
    _g("NightCafe", r"\bnightcafe\b"),
    _g("Canva Magic Media", r"\bmagic\s+media\b"),
    _g("Adobe Generative Fill", r"\bgenerative\s+(fill|expand)\b", AiLabel.AI_EDITED),
)
"""Generators recognised in free text (software agents, claim generators, EXIF Software,
XMP CreatorTool): reference code and products whose output is generated or edited by a
trained model. Photo editors that merely contain AI features are not listed."""


def match_generator(text: str | None) -> _Generator | None:
    """Return the first known generator named in ``text``.

    Examples
    --------
    >>> match_generator("Adobe Firefly 2.1").name
    'Adobe Firefly'
    >>> match_generator("Adobe Photoshop 25.0") is None
    True
    """
    if not text:
        return None
    text = text.replace("_", " ")  # claim generators write "Adobe_Firefly/1.0"
    for gen in GENERATORS:
        if gen.pattern.search(text):
            return gen
    return None


_AI_EDIT_WORDS: Final = re.compile(
    r"\bgenerative\s+(fill|expand|edit)|\bai[\s\-]?(edited|enhanced\s+with\s+generative)\b"
    r"|\b(edited|modified|altered)\s+(with|using|by)\s+(generative\s+)?ai\b|\binpaint",
    re.IGNORECASE,
)
_AI_GEN_WORDS: Final = re.compile(
    r"\b(ai|a\.i\.)[\s\-]?(generated|created|made|generation|art|image)\b"
    r"|\b(generated|created|made)\s+(with|using|by)\s+(an?\s+)?(ai|a\.i\.|artificial\s+intelligence"
    r"|generative\s+ai)\b|\bgenerative\s+ai\b|\btext[\s\-]to[\s\-]image\b|\bsynthetic\s+image\b",
    re.IGNORECASE,
)


def _ai_wording(text: str | None) -> AiLabel | None:
    if not text:
        return None
    if _AI_EDIT_WORDS.search(text):
        return AiLabel.AI_EDITED
    if _AI_GEN_WORDS.search(text):
        return AiLabel.AI_GENERATED
    return None


def _clip(text: str, limit: int = _VALUE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact(text: str, show: bool, what: str = "prompt") -> str:
    if show:
        return _clip(text, _SHOWN_PROMPT_LIMIT)
    return f"[{what} redacted: {len(text)} characters; use --show-prompts]"


_AI_LABELS: Final = (AiLabel.AI_GENERATED, AiLabel.AI_EDITED)


def derive_label(signals: Iterable[AiSignal]) -> AiLabel:
    """Apply the label precedence described in the module docstring.

    Parameters
    ----------
    signals : iterable of AiSignal

    Returns
    -------
    AiLabel
    """
    sigs = list(signals)
    tiers = (
        [s for s in sigs if s.strength == STRONG and s.signed],
        [s for s in sigs if s.strength == STRONG and not s.signed],
        [s for s in sigs if s.strength != STRONG],
    )
    for tier in tiers:
        implied = {s.implies for s in tier}
        if AiLabel.AI_GENERATED in implied:
            return AiLabel.AI_GENERATED
        if AiLabel.AI_EDITED in implied:
            return AiLabel.AI_EDITED
    if any(s.implies is AiLabel.CAPTURED for s in tiers[0]):
        return AiLabel.CAPTURED
    return AiLabel.UNKNOWN


# --------------------------------------------------------------------------- C2PA chain


def _through(label: AiLabel, relationship: str | None) -> AiLabel:
    """What an ingredient's label means for the asset, given how it was used."""
    if relationship is None or relationship == "parentOf":
        return label
    if relationship == "componentOf":
        if label is AiLabel.AI_GENERATED:
            return AiLabel.AI_EDITED
        if label is AiLabel.CAPTURED:
            return AiLabel.UNKNOWN
        return label
    return AiLabel.UNKNOWN


def _node_name(node: ChainNode, depth: int) -> str:
    if depth == 0:
        base = "active manifest"
    else:
        title = f" {node.title!r}" if node.title else ""
        rel = f", {node.relationship}" if node.relationship else ""
        base = f"ingredient{title} (depth {depth}{rel})"
    return f"{base} {node.label}" if node.label else base


@dataclass(frozen=True)
class _At:
    """Where in the chain a signal was found, and what that does to it."""

    where: str
    signed: bool
    rels: tuple[str | None, ...]
    detail: dict[str, Any]

    def through(self, label: AiLabel) -> AiLabel:
        """The label as it applies to the file, through the ingredient relationships."""
        for rel in reversed(self.rels):
            label = _through(label, rel)
        return label


def _action_signals(action: Action, at: _At) -> list[AiSignal]:
    """The signals of one action: digital source type, software agent, description."""
    out: list[AiSignal] = []
    source = f"{at.where}, action {action.action}"
    if action.digital_source_type:
        dst = classify_digital_source_type(action.digital_source_type)
        implied = dst.implies
        whole_asset = action.action in ("c2pa.created", "c2pa.opened")
        if implied is AiLabel.AI_GENERATED and not whole_asset:
            implied = AiLabel.AI_EDITED
        if implied is AiLabel.CAPTURED and not whole_asset:
            implied = AiLabel.UNKNOWN
        out.append(
            AiSignal(
                kind="c2pa.digitalSourceType",
                value=dst.term if dst.known else _clip(dst.term),
                source=source,
                signed=at.signed,
                strength=STRONG,
                implies=at.through(implied),
                detail={
                    **at.detail,
                    "action": action.action,
                    "uri": action.digital_source_type,
                    "meaning": dst.meaning,
                    "form": dst.form,
                },
            )
        )
    gen = match_generator(action.software_agent)
    if gen is not None and action.software_agent:
        out.append(
            AiSignal(
                kind="c2pa.softwareAgent",
                value=_clip(action.software_agent),
                source=source,
                signed=at.signed,
                strength=WEAK,
                implies=at.through(gen.implies),
                detail={**at.detail, "generator": gen.name},
            )
        )
    worded = _ai_wording(action.description)
    if worded is not None and action.description:
        out.append(
            AiSignal(
                kind="c2pa.description",
                value=_clip(action.description),
                source=source,
                signed=at.signed,
                strength=WEAK,
                implies=at.through(worded),
                detail=at.detail,
            )
        )
    return out


def _node_signals(node: ChainNode, at: _At) -> list[AiSignal]:
    out = [signal for action in node.actions for signal in _action_signals(action, at)]
    gen = match_generator(node.claim_generator)
    if gen is not None and node.claim_generator:
        out.append(
            AiSignal(
                kind="c2pa.claimGenerator",
                value=_clip(node.claim_generator),
                source=at.where,
                signed=at.signed,
                strength=WEAK,
                implies=at.through(gen.implies),
                detail={**at.detail, "generator": gen.name},
            )
        )
    return out


def _chain_signals(root: ChainNode) -> list[AiSignal]:
    """AI signals of every manifest in the chain, depth first (at most 10,000 nodes)."""
    out: list[AiSignal] = []
    stack: list[tuple[ChainNode, int, tuple[str, ...], tuple[str | None, ...]]] = [
        (root, 0, (), ())
    ]
    seen = 0
    while stack and seen < 10_000:
        node, depth, above, rels = stack.pop()
        seen += 1
        problems = tuple(dict.fromkeys((*above, *(f.code for f in node.problems))))
        signed = not problems and node.reliable
        node_detail: dict[str, Any] = {"manifest": node.label, "depth": depth}
        if depth:
            node_detail["relationship"] = node.relationship
        if not signed:
            node_detail["unsigned_because"] = list(problems) or ["unreliable node"]
        out += _node_signals(node, _At(_node_name(node, depth), signed, rels, node_detail))
        for child in reversed(node.ingredients):
            stack.append((child, depth + 1, problems, (*rels, child.relationship)))
    return out


# --------------------------------------------------------------------------- XMP

_NS_IPTC_EXT: Final = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_NS_RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_NS_DC: Final = "http://purl.org/dc/elements/1.1/"
_NS_XMP: Final = "http://ns.adobe.com/xap/1.0/"
_XMP_FALLBACK: Final = {
    name: re.compile(
        rf"{name}\s*=\s*\"([^\"]*)\"|<[\w\-]*:?{name}\b[^>]*?rdf:resource=\"([^\"]*)\""
        rf"|<[\w\-]*:?{name}\b[^>]*>\s*([^<\s][^<]*)<",
    )
    for name in (
        "DigitalSourceType",
        "AISystemUsed",
        "AISystemVersionUsed",
        "AIPromptInformation",
        "AIPromptWriterName",
        "CreatorTool",
    )
}


def _xmp_values(root: ET.Element, ns: str, local: str) -> list[str]:
    tag = f"{{{ns}}}{local}"
    values: list[str] = []
    for el in root.iter():
        attr = el.attrib.get(tag)
        if attr and attr.strip():
            values.append(attr.strip())
        if el.tag == tag:
            resource = el.attrib.get(f"{{{_NS_RDF}}}resource")
            if resource and resource.strip():
                values.append(resource.strip())
            elif el.text and el.text.strip():
                values.append(el.text.strip())
            else:
                for li in el.iter(f"{{{_NS_RDF}}}li"):
                    if li.text and li.text.strip():
                        values.append(li.text.strip())
    return values


def _parse_xmp(packet: str) -> dict[str, list[str]]:
    """Read the fields we use from one XMP packet; regex fallback for bad XML."""
    fields: dict[str, list[str]] = {}
    root: ET.Element | None = None
    if "<!DOCTYPE" not in packet and "<!ENTITY" not in packet:
        try:
            root = ET.fromstring(packet)
        except ET.ParseError:
            root = None
    if root is not None:
        for local in (
            "DigitalSourceType",
            "AISystemUsed",
            "AISystemVersionUsed",
            "AIPromptInformation",
            "AIPromptWriterName",
        ):
            fields[local] = _xmp_values(root, _NS_IPTC_EXT, local)
        fields["CreatorTool"] = _xmp_values(root, _NS_XMP, "CreatorTool")
        fields["description"] = _xmp_values(root, _NS_DC, "description")
        return fields
    for local, pattern in _XMP_FALLBACK.items():
        fields[local] = [
            next(g for g in m.groups() if g).strip()
            for m in pattern.finditer(packet)
            if any(m.groups())
        ]
    return fields


_JOB_ID: Final = re.compile(r"job\s*id:?\s*[0-9a-f]{8}-[0-9a-f]{4}-", re.IGNORECASE)


def _xmp_signals(data: bytes, show_prompts: bool) -> list[AiSignal]:
    out: list[AiSignal] = []
    for where, packet in _imageio.xmp_packets(data):
        fields = _parse_xmp(packet)
        packet_ai: AiLabel | None = None
        for value in fields.get("DigitalSourceType", []):
            dst = classify_digital_source_type(value)
            if dst.implies in _AI_LABELS:
                packet_ai = packet_ai or dst.implies
            out.append(
                AiSignal(
                    kind="xmp.DigitalSourceType",
                    value=dst.term if dst.known else _clip(dst.term),
                    source=where,
                    signed=False,
                    strength=STRONG,
                    implies=dst.implies,
                    detail={"uri": _clip(value), "meaning": dst.meaning, "form": dst.form},
                )
            )
        systems = fields.get("AISystemUsed", [])
        prompts = fields.get("AIPromptInformation", [])
        if systems or prompts:
            detail: dict[str, Any] = {}
            versions = fields.get("AISystemVersionUsed", [])
            if versions:
                detail["version"] = _clip(versions[0])
            if prompts:
                detail["prompt"] = _redact(prompts[0], show_prompts)
            writers = fields.get("AIPromptWriterName", [])
            if writers:
                detail["prompt_writer"] = _redact(writers[0], show_prompts, "name")
            implied = AiLabel.AI_EDITED if packet_ai is AiLabel.AI_EDITED else AiLabel.AI_GENERATED
            out.append(
                AiSignal(
                    kind="xmp.AISystemUsed" if systems else "xmp.AIPromptInformation",
                    value=_clip(systems[0]) if systems else detail["prompt"],
                    source=where,
                    signed=False,
                    strength=STRONG,
                    implies=implied,
                    detail=detail,
                )
            )
        for tool in fields.get("CreatorTool", []):
            gen = match_generator(tool)
            if gen is not None:
                out.append(
                    AiSignal(
                        kind="xmp.CreatorTool",
                        value=_clip(tool),
                        source=where,
                        signed=False,
                        strength=WEAK,
                        implies=gen.implies,
                        detail={"generator": gen.name},
                    )
                )
        for desc in fields.get("description", []):
            worded = _ai_wording(desc)
            if worded is None and _JOB_ID.search(desc):
                worded = AiLabel.AI_GENERATED
            if worded is not None:
                out.append(
                    AiSignal(
                        kind="xmp.description",
                        value=_redact(desc, show_prompts, "description"),
                        source=where,
                        signed=False,
                        strength=WEAK,
                        implies=worded,
                    )
                )
    return out


# --------------------------------------------------------------------------- generator metadata

_A1111_SETTINGS: Final = re.compile(r"(?:^|\n)(Steps: \d+.*)$", re.DOTALL)
_A1111_KEEP: Final = (
    "Steps",
    "Sampler",
    "Schedule type",
    "CFG scale",
    "Seed",
    "Size",
    "Model hash",
    "Model",
    "VAE",
    "Denoising strength",
    "Hires upscale",
    "Version",
)


def _looks_a1111(text: str) -> bool:
    return bool(_A1111_SETTINGS.search(text)) and ("Sampler: " in text or "Seed: " in text)


def _a1111_signal(text: str, kind: str, source: str, show: bool) -> AiSignal:
    m = _A1111_SETTINGS.search(text)
    settings = m.group(1) if m else ""
    head = text[: m.start(1)] if m else text
    prompt, _, negative = head.partition("Negative prompt:")
    pairs = dict(
        (k.strip(), v.strip())
        for k, _, v in (p.partition(":") for p in re.split(r",\s*(?=[A-Z][\w ]*:)", settings))
        if k.strip() in _A1111_KEEP
    )
    detail: dict[str, Any] = {"generator": "AUTOMATIC1111-compatible (A1111, Forge, SD.Next)"}
    detail["settings"] = {k: _clip(v, 120) for k, v in pairs.items()}
    detail["prompt"] = _redact(prompt.strip(), show)
    if negative.strip():
        detail["negative_prompt"] = _redact(negative.strip(), show, "negative prompt")
    inpaint = "Mask blur:" in settings or "Inpaint area:" in settings
    shown = ", ".join(f"{k}: {v}" for k, v in detail["settings"].items())
    value = _clip(f"{shown}; prompt {detail['prompt']}") if not show else _clip(text)
    return AiSignal(
        kind=kind,
        value=value,
        source=source,
        signed=False,
        strength=STRONG,
        implies=AiLabel.AI_EDITED if inpaint else AiLabel.AI_GENERATED,
        detail=detail,
    )


def _json(text: str) -> Any:
    if len(text) > _imageio.MAX_TEXT_BYTES:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


_PROMPT_KEYS: Final = re.compile(r"prompt|^text$|^text_[gl]$|^uc$|^description$", re.IGNORECASE)


def _json_summary(obj: Any, show: bool) -> dict[str, Any]:
    """Model names and seeds kept, prompt-like strings redacted (counted)."""
    models: list[str] = []
    seeds: list[str] = []
    prompt_chars = 0
    prompts: list[str] = []
    for key, val in _imageio.iter_json_strings(obj):
        lk = key.lower()
        if _PROMPT_KEYS.search(key):
            prompt_chars += len(val)
            prompts.append(val)
        elif lk in ("ckpt_name", "model", "model_name", "unet_name", "name") and len(models) < 5:
            if lk != "name" or val.endswith((".safetensors", ".ckpt", ".gguf")):
                models.append(_clip(val, 120))
    if isinstance(obj, dict):
        for k in ("seed", "noise_seed"):
            v = obj.get(k)
            if isinstance(v, int | str):
                seeds.append(str(v))
    out: dict[str, Any] = {}
    if models:
        out["models"] = sorted(set(models))
    if seeds:
        out["seed"] = seeds[0]
    if prompts:
        out["prompt"] = (
            _clip(" | ".join(prompts), _SHOWN_PROMPT_LIMIT)
            if show
            else f"[prompt redacted: {prompt_chars} characters; use --show-prompts]"
        )
    return out


def _comfy_nodes(obj: Any) -> list[str] | None:
    if isinstance(obj, dict) and obj:
        classes = [
            str(v.get("class_type"))
            for v in obj.values()
            if isinstance(v, dict) and "class_type" in v
        ]
        if classes:
            return classes
        nodes = obj.get("nodes")
        if isinstance(nodes, list):
            types = [str(n.get("type")) for n in nodes if isinstance(n, dict) and "type" in n]
            if types:
                return types
    return None


def _generator_signal(
    kind: str,
    source: str,
    generator: str,
    summary: str,
    detail: Mapping[str, Any],
    implies: AiLabel = AiLabel.AI_GENERATED,
    strength: str = STRONG,
) -> AiSignal:
    return AiSignal(
        kind=kind,
        value=_clip(f"{generator}: {summary}"),
        source=source,
        signed=False,
        strength=strength,
        implies=implies,
        detail={"generator": generator, **detail},
    )


def _png_signals(data: bytes, show: bool) -> list[AiSignal]:
    out: list[AiSignal] = []
    chunks = _imageio.png_text_chunks(data)
    by_key: dict[str, list[_imageio.TextChunk]] = {}
    for c in chunks:
        by_key.setdefault(c.key, []).append(c)
    keys = set(by_key)
    novelai = any(c.text.strip().lower().startswith("novelai") for c in by_key.get("Software", []))
    for c in chunks:
        source = f"PNG {c.chunk_type} chunk {c.key!r}"
        kind = f"png.{c.key}"
        if c.key == "parameters":
            obj = _json(c.text) if c.text.lstrip().startswith("{") else None
            if obj is not None:
                name = (
                    "Fooocus"
                    if ("fooocus_scheme" in keys or "fooocus" in c.text.lower())
                    else ("JSON generation parameters")
                )
                summary = _json_summary(obj, show)
                out.append(_generator_signal(kind, source, name, _describe(summary), summary))
            elif _looks_a1111(c.text):
                out.append(_a1111_signal(c.text, kind, source, show))
        elif c.key in ("prompt", "workflow"):
            obj = _json(c.text)
            classes = _comfy_nodes(obj)
            if classes is not None:
                summary = _json_summary(obj, show)
                summary["nodes"] = len(classes)
                summary["node_types"] = sorted(set(classes))[:12]
                out.append(
                    _generator_signal(
                        kind,
                        source,
                        "ComfyUI",
                        f"{'API prompt graph' if c.key == 'prompt' else 'workflow'} with "
                        f"{len(classes)} nodes; {_describe(summary)}",
                        summary,
                    )
                )
        elif c.key in ("invokeai_metadata", "invokeai_graph", "sd-metadata"):
            obj = _json(c.text)
            if obj is not None:
                summary = _json_summary(obj, show)
                out.append(_generator_signal(kind, source, "InvokeAI", _describe(summary), summary))
        elif c.key == "Dream":
            out.append(
                _generator_signal(
                    kind,
                    source,
                    "InvokeAI (legacy)",
                    _redact(c.text, show),
                    {"command": _redact(c.text, show)},
                )
            )
        elif c.key == "Software":
            gen = match_generator(c.text)
            if gen is not None:
                out.append(
                    _generator_signal(
                        kind,
                        source,
                        gen.name,
                        _clip(c.text),
                        {},
                        gen.implies,
                        STRONG if gen.name == "NovelAI" else WEAK,
                    )
                )
        elif c.key == "Comment" and novelai:
            obj = _json(c.text)
            summary = _json_summary(obj, show) if obj is not None else {}
            out.append(_generator_signal(kind, source, "NovelAI", _describe(summary), summary))
        elif c.key == "Source" and (gen := match_generator(c.text)) is not None:
            out.append(
                _generator_signal(kind, source, gen.name, _clip(c.text), {}, gen.implies, WEAK)
            )
    return out


def _describe(summary: Mapping[str, Any]) -> str:
    parts = []
    if "models" in summary:
        parts.append("model " + ", ".join(summary["models"]))
    if "seed" in summary:
        parts.append(f"seed {summary['seed']}")
    if "prompt" in summary:
        parts.append(f"prompt {summary['prompt']}")
    return "; ".join(parts) if parts else "generation parameters"


def _user_comment(raw: Any) -> str | None:
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes) or len(raw) < 8:
        return None
    head, body = raw[:8], raw[8:]
    if head == b"UNICODE\x00":
        # Writers disagree on byte order; pick the one that decodes to mostly ASCII.
        be = body.decode("utf-16-be", errors="replace")
        le = body.decode("utf-16-le", errors="replace")

        def ascii_share(s: str) -> int:
            return sum(1 for ch in s if 32 <= ord(ch) < 127 or ch in "\n\r\t")

        return be if ascii_share(be) >= ascii_share(le) else le
    if head == b"ASCII\x00\x00\x00":
        return body.decode("ascii", errors="replace")
    return body.decode("utf-8", errors="replace")


def _exif_signals(data: bytes, show: bool) -> list[AiSignal]:
    out: list[AiSignal] = []
    for where, blob in _imageio.exif_blobs(data):
        exif = _imageio.load_exif(blob)
        if exif is None:
            continue
        software = exif.get(0x0131)
        if isinstance(software, str) and (gen := match_generator(software)) is not None:
            out.append(
                _generator_signal(
                    "exif.Software",
                    f"{where}, Software",
                    gen.name,
                    _clip(software),
                    {},
                    gen.implies,
                    WEAK,
                )
            )
        description = exif.get(0x010E)
        if isinstance(description, str) and (worded := _ai_wording(description)) is not None:
            out.append(
                AiSignal(
                    kind="exif.ImageDescription",
                    value=_redact(description, show, "description"),
                    source=f"{where}, ImageDescription",
                    signed=False,
                    strength=WEAK,
                    implies=worded,
                )
            )
        try:
            comment = _user_comment(exif.get_ifd(0x8769).get(0x9286))
        except Exception:  # Pillow raises many types on corrupt EXIF
            comment = None
        if comment and _looks_a1111(comment):
            out.append(_a1111_signal(comment, "exif.UserComment", f"{where}, UserComment", show))
    if _imageio.sniff(data).name == "jpeg":
        for text in _imageio.jpeg_comments(data):
            if _looks_a1111(text):
                out.append(_a1111_signal(text, "jpeg.COM", "JPEG comment (COM segment)", show))
    return out


# --------------------------------------------------------------------------- entry point


def _dedupe(signals: Iterable[AiSignal]) -> tuple[AiSignal, ...]:
    seen: set[tuple[str, str, str, bool]] = set()
    out: list[AiSignal] = []
    for s in signals:
        key = (s.kind, s.value, s.source, s.signed)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return tuple(out)


def assess_ai(
    data: bytes,
    media_type: str | None,
    chain: ChainNode | None,
    *,
    show_prompts: bool = False,
    marks: Sequence[GeneratorMark] = (),
) -> AiAssessment:
    """Collect every offline AI signal and derive the AI label.

    Parameters
    ----------
    data : bytes
        The file contents (any format; unknown or corrupt data yields no metadata
        signals).
    media_type : str or None
        The sniffed media type; informative only (containers are sniffed again).
    chain : ChainNode or None
        The provenance chain, when the file has Content Credentials.
    show_prompts : bool, optional
        Keep prompts in the output instead of redacting them.
    marks : sequence of GeneratorMark, optional
        Generator watermarks already detected in the pixels.

    Returns
    -------
    AiAssessment
        The label (see the module docstring for the precedence) and all signals, C2PA
        first, then XMP, generator metadata, EXIF and watermarks.

    Examples
    --------
    >>> assess_ai(b"not a picture", None, None).label.value
    'UNKNOWN'
    """
    del media_type  # the containers are sniffed from the bytes themselves
    signals: list[AiSignal] = []
    if chain is not None:
        signals.extend(_chain_signals(chain))
    for collect in (_xmp_signals, _png_signals, _exif_signals):
        try:
            signals.extend(collect(data, show_prompts))
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError):
            # Defensive: a parser surprise must not lose the other sources.
            continue
    signals.extend(marks_to_signals(marks))
    result = _dedupe(signals)
    return AiAssessment(label=derive_label(result), signals=result)
