"""Every user-interface string of the HTML reports, in English and Korean.

Machine values (verdict codes such as ``TRUSTED``, validation codes, hashes) stay as they
are in every language; only the words around them are translated. Both catalogues have the
same keys (a test checks it), so a missing translation is a test failure, not a blank.
"""

from __future__ import annotations

import enum
import locale
import os
from collections.abc import Mapping
from typing import Final

__all__ = ["MESSAGES", "Lang", "default_lang", "messages"]


class Lang(enum.StrEnum):
    """The report languages (``--lang``)."""

    KO = "ko"
    EN = "en"


_EN: Final[dict[str, str]] = {
    "title.check": "Content Credentials report",
    "title.case": "Monitoring case report",
    "meta.generated": "Report made",
    "meta.tool": "Tool",
    "meta.files": "Files",
    "meta.urls": "URLs",
    "meta.csp": "This file loads nothing from the network; it can be opened offline.",
    "counts.heading": "Verdicts",
    "table.heading": "Files",
    "table.file": "File",
    "table.verdict": "Verdict",
    "table.ai": "AI",
    "table.issuer": "Issued by",
    "table.generator": "Made with",
    "table.signed": "Signed at",
    "filter.verdict": "Verdict",
    "filter.all": "All verdicts",
    "filter.search": "Search",
    "filter.placeholder": "File name, issuer, tool, hash…",
    "filter.shown": "shown",
    "filter.of": "of",
    "nav.back": "Back to the table",
    "nav.details": "Details",
    "verdict.TRUSTED": "Trusted",
    "verdict.VALID_UNTRUSTED": "Valid, issuer unknown",
    "verdict.INCOMPLETE": "Changed after signing",
    "verdict.INVALID": "Invalid",
    "verdict.NO_CREDENTIALS": "No Content Credentials",
    "verdict.RECOVERED": "Credentials recovered",
    "verdict.ERROR": "Could not be checked",
    "explain.TRUSTED": (
        "Signed, unchanged since signing, and issued by a signer on a trust list you use."
    ),
    "explain.VALID_UNTRUSTED": (
        "Signed and unchanged since signing, but the issuer is on none of your trust lists, "
        "so its identity is unconfirmed."
    ),
    "explain.INCOMPLETE": (
        "Content Credentials are present, but the content changed after signing; "
        "they describe an earlier version."
    ),
    "explain.INVALID": (
        "The Content Credentials failed validation (forged, tampered or badly signed): "
        "do not rely on what they claim."
    ),
    "explain.NO_CREDENTIALS": (
        "No Content Credentials were found; this is common after social-media upload "
        "and says nothing about authenticity."
    ),
    "explain.RECOVERED": (
        "The credentials were not in this file; they were recovered from a repository "
        "through the watermark or fingerprint."
    ),
    "explain.ERROR": "The file could not be read or analysed; the other files were checked.",
    "ai.AI_GENERATED": "AI-generated",
    "ai.AI_EDITED": "AI-edited",
    "ai.CAPTURED": "Camera-captured",
    "ai.UNKNOWN": "No AI disclosure found",
    "warn.ingredient": (
        "An ingredient failed validation: its claims cannot be relied on, "
        "whatever the verdict above."
    ),
    "sec.summary": "What was found",
    "sec.credentials": "Credentials",
    "sec.chain": "Provenance chain",
    "sec.ai": "AI signals",
    "sec.watermark": "Watermarks",
    "sec.bank": "Known-content matches",
    "sec.recovery": "Recovered credentials",
    "sec.metadata": "Metadata facts",
    "sec.codes": "Validation codes",
    "sec.file": "File",
    "sec.limits": "Limits",
    "cred.issuer": "Issued by",
    "cred.common_name": "Signing certificate",
    "cred.issuing_ca": "Certificate from",
    "cred.trust": "Trust lists used",
    "cred.trust_none": "none configured",
    "cred.trust_issued": "issued",
    "cred.certificates": "certificates",
    "cred.signing_time": "Signed at",
    "cred.tsa": "Timestamp authority",
    "cred.tsa_yes": "RFC 3161 timestamp, verified by the validator",
    "cred.tsa_no": "none: the time is claimed by the signer",
    "cred.tsa_trusted": "trusted",
    "cred.tsa_untrusted": "not trusted",
    "cred.decided_by": "Trust list that decided",
    "cred.decided_bundled": "snapshot shipped with the tool",
    "cred.remote": "Remote manifest",
    "cred.none": "No credentials in this file.",
    "chain.generator": "Made with",
    "chain.actions": "Actions",
    "chain.agent": "software",
    "chain.source_type": "source type",
    "chain.ingredients": "Ingredients",
    "chain.relationship": "relationship",
    "chain.reliable": "✓ validated",
    "chain.unreliable": "✗ failed validation: its claims cannot be relied on",
    "chain.trusted": "signer on a trust list you use",
    "chain.untrusted": "signer on none of your trust lists",
    "chain.no_manifest": "no Content Credentials",
    "chain.untitled": "(untitled)",
    "chain.signed": "signed",
    "chain.by": "issued by",
    "chain.problems": "Problems",
    "ai.label": "AI label",
    "ai.signal": "Signal",
    "ai.value": "Value",
    "ai.source": "Found in",
    "ai.signed": "Signed",
    "ai.strength": "Strength",
    "ai.strong": "strong (declared)",
    "ai.weak": "weak (a hint)",
    "ai.none": "No AI signal found.",
    "word.yes": "yes",
    "word.no": "no",
    "wm.algorithm": "Algorithm",
    "wm.result": "Result",
    "wm.found": "found",
    "wm.not_found": "not found",
    "wm.payload": "Payload",
    "wm.score": "Score",
    "wm.p_value": "False-alarm p-value",
    "wm.key": "Key",
    "bank.bank": "Bank",
    "bank.entry": "Entry",
    "bank.distance": "Distance (of 256 bits)",
    "bank.band": "Band",
    "bank.variant": "Rotation or flip",
    "bank.case": "Case",
    "bank.MATCH": "match",
    "bank.REVIEW": "needs human review",
    "rec.method": "Found through",
    "rec.manifest": "Manifest",
    "rec.source": "Repository or resolver",
    "rec.watermark": "the invisible watermark",
    "rec.fingerprint": "the fingerprint",
    "meta.kind": "Fact",
    "meta.message": "Meaning",
    "codes.code": "Code",
    "codes.meaning": "Meaning",
    "codes.manifest": "Manifest",
    "codes.none": "No validation problem reported.",
    "codes.recorded": "recorded when the ingredient was added",
    "file.path": "Path",
    "file.sha256": "SHA-256",
    "file.size": "Size",
    "file.media_type": "Media type",
    "file.dimensions": "Pixels",
    "file.analyzed": "Analysed at",
    "file.tool": "Tool",
    "file.sdk": "C2PA SDK",
    "file.unknown": "unknown",
    "file.error": "Error",
    "thumb.none": "Preview not shown (--thumbnails none).",
    "thumb.blur": "Preview blurred on purpose (--thumbnails blur).",
    "thumb.missing": "No preview could be made of this file.",
    "thumb.alt": "Preview of the file",
    "limits.text": (
        "Metadata and watermarks can be stripped, and the absence of a signal does not make "
        "a file authentic. Machine codes are kept as the validator gave them."
    ),
    "case.case": "Case",
    "case.url": "URL",
    "case.state": "Request state",
    "case.timeline": "Timeline",
    "case.checked_at": "Checked at",
    "case.status": "Status",
    "case.http": "HTTP status",
    "case.evidence": "Evidence",
    "case.evidence_sha": "Evidence SHA-256",
    "case.evidence_time": "Evidence time",
    "case.no_visits": "Not visited yet.",
    "case.no_evidence": "none kept",
    "case.latest": "Latest status",
    "case.gone_since": "Gone since",
    "case.note": "Note",
    "case.final_url": "after redirects",
    "case.error": "error",
    "case.tsa": "Timestamp authority",
    "status.MATCH": "still online (matches)",
    "status.NO_MATCH": "online, no match",
    "status.GONE": "gone",
    "status.UNREACHABLE": "unreachable (nothing known)",
    "request.sent": "request sent",
    "request.acknowledged": "acknowledged",
    "request.refused": "refused",
    "request.removed": "removed",
    "request.removed_but_present": "marked removed, but still online",
    "case.pictures_off": (
        "No pictures are shown: the material may be abusive. "
        "Ask for them with --thumbnails full or blur."
    ),
}

_KO: Final[dict[str, str]] = {
    "title.check": "콘텐츠 자격 증명 보고서",
    "title.case": "모니터링 사건 보고서",
    "meta.generated": "보고서 작성",
    "meta.tool": "도구",
    "meta.files": "파일",
    "meta.urls": "URL",
    "meta.csp": "이 파일은 네트워크에서 아무것도 불러오지 않으므로 오프라인에서도 열 수 있습니다.",
    "counts.heading": "판정",
    "table.heading": "파일",
    "table.file": "파일",
    "table.verdict": "판정",
    "table.ai": "AI",
    "table.issuer": "발급자",
    "table.generator": "제작 도구",
    "table.signed": "서명 시각",
    "filter.verdict": "판정",
    "filter.all": "모든 판정",
    "filter.search": "검색",
    "filter.placeholder": "파일명, 발급자, 도구, 해시…",
    "filter.shown": "표시",
    "filter.of": "/",
    "nav.back": "표로 돌아가기",
    "nav.details": "자세히",
    "verdict.TRUSTED": "신뢰됨",
    "verdict.VALID_UNTRUSTED": "유효, 발급자 미확인",
    "verdict.INCOMPLETE": "서명 후 변경됨",
    "verdict.INVALID": "유효하지 않음",
    "verdict.NO_CREDENTIALS": "콘텐츠 자격 증명 없음",
    "verdict.RECOVERED": "자격 증명 복구됨",
    "verdict.ERROR": "확인할 수 없음",
    "explain.TRUSTED": (
        "서명되었고, 서명 후 변경되지 않았으며, 사용 중인 신뢰 목록에 있는 서명자가 발급했습니다."
    ),
    "explain.VALID_UNTRUSTED": (
        "서명되었고 서명 후 변경되지 않았지만, 발급자가 어떤 신뢰 목록에도 없어 신원을 "
        "확인할 수 없습니다."
    ),
    "explain.INCOMPLETE": (
        "콘텐츠 자격 증명이 있지만 서명 후 내용이 바뀌었습니다. 자격 증명은 이전 버전을 설명합니다."
    ),
    "explain.INVALID": (
        "콘텐츠 자격 증명이 검증에 실패했습니다(위조, 변조 또는 잘못된 서명). "
        "그 내용을 믿지 마십시오."
    ),
    "explain.NO_CREDENTIALS": (
        "콘텐츠 자격 증명이 없습니다. 소셜 미디어 업로드 후 흔한 일이며 진위에 대해서는 "
        "아무것도 말해 주지 않습니다."
    ),
    "explain.RECOVERED": (
        "자격 증명이 이 파일에 없었으며, 워터마크나 지문을 통해 저장소에서 복구했습니다."
    ),
    "explain.ERROR": "파일을 읽거나 분석할 수 없었습니다. 다른 파일은 확인했습니다.",
    "ai.AI_GENERATED": "AI 생성",
    "ai.AI_EDITED": "AI 편집",
    "ai.CAPTURED": "카메라 촬영",
    "ai.UNKNOWN": "AI 사용 표시 없음",
    "warn.ingredient": (
        "구성 요소 하나가 검증에 실패했습니다. 위의 판정과 관계없이 그 내용은 믿을 수 없습니다."
    ),
    "sec.summary": "확인된 내용",
    "sec.credentials": "자격 증명",
    "sec.chain": "출처 이력",
    "sec.ai": "AI 신호",
    "sec.watermark": "워터마크",
    "sec.bank": "알려진 콘텐츠 일치",
    "sec.recovery": "복구된 자격 증명",
    "sec.metadata": "메타데이터",
    "sec.codes": "검증 코드",
    "sec.file": "파일",
    "sec.limits": "한계",
    "cred.issuer": "발급자",
    "cred.common_name": "서명 인증서",
    "cred.issuing_ca": "인증서 발급 기관",
    "cred.trust": "사용한 신뢰 목록",
    "cred.trust_none": "설정 없음",
    "cred.trust_issued": "발행일",
    "cred.certificates": "인증서",
    "cred.signing_time": "서명 시각",
    "cred.tsa": "타임스탬프 기관",
    "cred.tsa_yes": "RFC 3161 타임스탬프, 검증기가 확인함",
    "cred.tsa_no": "없음: 서명자가 주장하는 시각",
    "cred.tsa_trusted": "신뢰함",
    "cred.tsa_untrusted": "신뢰하지 않음",
    "cred.decided_by": "판정에 쓰인 신뢰 목록",
    "cred.decided_bundled": "도구에 포함된 스냅숏",
    "cred.remote": "원격 매니페스트",
    "cred.none": "이 파일에는 자격 증명이 없습니다.",
    "chain.generator": "제작 도구",
    "chain.actions": "작업",
    "chain.agent": "소프트웨어",
    "chain.source_type": "원본 유형",
    "chain.ingredients": "구성 요소",
    "chain.relationship": "관계",
    "chain.reliable": "✓ 검증됨",
    "chain.unreliable": "✗ 검증 실패: 그 내용은 믿을 수 없습니다",
    "chain.trusted": "사용 중인 신뢰 목록의 서명자",
    "chain.untrusted": "어떤 신뢰 목록에도 없는 서명자",
    "chain.no_manifest": "콘텐츠 자격 증명 없음",
    "chain.untitled": "(제목 없음)",
    "chain.signed": "서명",
    "chain.by": "발급자",
    "chain.problems": "문제",
    "ai.label": "AI 표시",
    "ai.signal": "신호",
    "ai.value": "값",
    "ai.source": "발견 위치",
    "ai.signed": "서명됨",
    "ai.strength": "강도",
    "ai.strong": "강함(명시됨)",
    "ai.weak": "약함(단서)",
    "ai.none": "AI 신호가 없습니다.",
    "word.yes": "예",
    "word.no": "아니요",
    "wm.algorithm": "알고리즘",
    "wm.result": "결과",
    "wm.found": "발견",
    "wm.not_found": "발견되지 않음",
    "wm.payload": "페이로드",
    "wm.score": "점수",
    "wm.p_value": "오탐 p값",
    "wm.key": "키",
    "bank.bank": "뱅크",
    "bank.entry": "항목",
    "bank.distance": "거리(256비트 중)",
    "bank.band": "구간",
    "bank.variant": "회전 또는 뒤집기",
    "bank.case": "사건",
    "bank.MATCH": "일치",
    "bank.REVIEW": "사람의 검토 필요",
    "rec.method": "찾은 방법",
    "rec.manifest": "매니페스트",
    "rec.source": "저장소 또는 리졸버",
    "rec.watermark": "보이지 않는 워터마크",
    "rec.fingerprint": "지문",
    "meta.kind": "항목",
    "meta.message": "의미",
    "codes.code": "코드",
    "codes.meaning": "의미",
    "codes.manifest": "매니페스트",
    "codes.none": "보고된 검증 문제가 없습니다.",
    "codes.recorded": "구성 요소를 추가할 때 기록됨",
    "file.path": "경로",
    "file.sha256": "SHA-256",
    "file.size": "크기",
    "file.media_type": "미디어 유형",
    "file.dimensions": "픽셀",
    "file.analyzed": "분석 시각",
    "file.tool": "도구",
    "file.sdk": "C2PA SDK",
    "file.unknown": "알 수 없음",
    "file.error": "오류",
    "thumb.none": "미리보기를 표시하지 않습니다(--thumbnails none).",
    "thumb.blur": "미리보기를 일부러 흐리게 했습니다(--thumbnails blur).",
    "thumb.missing": "이 파일의 미리보기를 만들 수 없었습니다.",
    "thumb.alt": "파일 미리보기",
    "limits.text": (
        "메타데이터와 워터마크는 제거될 수 있으며, 신호가 없다고 해서 파일이 진짜인 것은 "
        "아닙니다. 기계 코드는 검증기가 준 그대로 둡니다."
    ),
    "case.case": "사건",
    "case.url": "URL",
    "case.state": "요청 상태",
    "case.timeline": "경과",
    "case.checked_at": "확인 시각",
    "case.status": "상태",
    "case.http": "HTTP 상태",
    "case.evidence": "증거",
    "case.evidence_sha": "증거 SHA-256",
    "case.evidence_time": "증거 시각",
    "case.no_visits": "아직 방문하지 않았습니다.",
    "case.no_evidence": "보관하지 않음",
    "case.latest": "최근 상태",
    "case.gone_since": "삭제 확인 시점",
    "case.note": "메모",
    "case.final_url": "리디렉션 후",
    "case.error": "오류",
    "case.tsa": "타임스탬프 기관",
    "status.MATCH": "여전히 게시됨(일치)",
    "status.NO_MATCH": "게시됨, 일치 없음",
    "status.GONE": "삭제됨",
    "status.UNREACHABLE": "접속 불가(알 수 없음)",
    "request.sent": "요청 보냄",
    "request.acknowledged": "접수됨",
    "request.refused": "거부됨",
    "request.removed": "삭제 완료",
    "request.removed_but_present": "삭제 완료로 표시됐으나 여전히 게시됨",
    "case.pictures_off": (
        "그림을 표시하지 않습니다. 자료가 학대물일 수 있습니다. "
        "필요하면 --thumbnails full 또는 blur로 요청하십시오."
    ),
}

MESSAGES: Final[Mapping[Lang, Mapping[str, str]]] = {Lang.EN: _EN, Lang.KO: _KO}
"""The catalogues, one per language, with identical keys."""


def messages(lang: Lang) -> Mapping[str, str]:
    """Return the catalogue of one language.

    Parameters
    ----------
    lang
        The report language.

    Returns
    -------
    Mapping
        Message key to text.
    """
    return MESSAGES[lang]


def default_lang(environ: Mapping[str, str] | None = None) -> Lang:
    """Pick the report language from the locale: Korean for ``ko*``, else English.

    The first of ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` that is set decides (as in
    gettext); without one, the process locale does.

    Parameters
    ----------
    environ
        The environment to read (default: ``os.environ``).

    Returns
    -------
    Lang
        ``Lang.KO`` or ``Lang.EN``.
    """
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return Lang.KO if value.lower().startswith("ko") else Lang.EN
    if environ is None:
        current = locale.getlocale(locale.LC_CTYPE)[0] or ""
        if current.lower().startswith("ko"):
            return Lang.KO
    return Lang.EN
