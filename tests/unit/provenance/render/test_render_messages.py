"""The English and Korean catalogues: same keys, nothing blank, language from the locale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provenance.render import MESSAGES, Lang, default_lang
from provenance.report import AiLabel, Verdict

TEMPLATES = Path(__file__).resolve().parents[4] / "provenance" / "render" / "templates"


def test_both_languages_have_the_same_keys() -> None:
    assert set(MESSAGES) == {Lang.EN, Lang.KO}
    assert set(MESSAGES[Lang.EN]) == set(MESSAGES[Lang.KO])


@pytest.mark.parametrize("lang", list(Lang))
def test_no_message_is_blank(lang: Lang) -> None:
    assert all(text.strip() for text in MESSAGES[lang].values())


def test_korean_is_translated() -> None:
    en, ko = MESSAGES[Lang.EN], MESSAGES[Lang.KO]
    hangul = re.compile("[\uac00-\ud7a3]")
    # Every sentence-like message (more than a short technical token) has Hangul in it.
    for key, text in en.items():
        if len(text) > 12:
            assert hangul.search(ko[key]), key


def test_every_verdict_and_ai_label_has_words() -> None:
    for lang in Lang:
        for v in Verdict:
            assert f"verdict.{v.value}" in MESSAGES[lang]
            assert f"explain.{v.value}" in MESSAGES[lang]
        for label in AiLabel:
            assert f"ai.{label.value}" in MESSAGES[lang]


def test_templates_use_only_known_keys() -> None:
    used: set[str] = set()
    for path in TEMPLATES.glob("*.j2"):
        used |= set(re.findall(r"""t\[["']([a-z_.]+)["']\]""", path.read_text()))
    assert used, "no message key found in the templates"
    assert used <= set(MESSAGES[Lang.EN]), used - set(MESSAGES[Lang.EN])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "ko_KR.UTF-8"}, Lang.KO),
        ({"LANG": "en_US.UTF-8"}, Lang.EN),
        ({"LC_ALL": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, Lang.KO),
        ({"LC_ALL": "C.UTF-8", "LANG": "ko_KR.UTF-8"}, Lang.EN),
        ({"LC_MESSAGES": "ko_KR", "LANG": "en_GB"}, Lang.KO),
        ({}, Lang.EN),
    ],
)
def test_default_language_follows_the_locale(env: dict[str, str], expected: Lang) -> None:
    assert default_lang(env) is expected
