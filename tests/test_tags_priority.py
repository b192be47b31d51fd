"""normalize.tags' combined matchers against the rule semantics they replace: for each rule
in priority order, one case-insensitive search of its cues; the first rule that matches wins.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normalize.tags import Rules, Tagger, _FirstRule, load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules(ROOT / "config" / "rules.yaml")
TAGGER = Tagger(RULES)


def reference(groups: dict[str, tuple[str, ...]], text: str) -> str | None:
    """The first name (in order) one of whose cues occurs anywhere in the text."""
    for name, cues in groups.items():
        if cues and re.search("|".join(f"(?:{c})" for c in cues), text, re.IGNORECASE):
            return name
    return None


FAMILIES = {"categories": RULES.categories, "weak": RULES.weak_categories,
            "crisis": RULES.crisis}
MATCHERS = {"categories": TAGGER._category_first, "weak": TAGGER._weak_first,
            "crisis": TAGGER._crisis_first}

TEXTS = [
    "",
    "감사합니다 그런데 맨홀이 위험해요 신고합니다",  # praise first in the text, report wins
    "어떻게 신청하나요? 감사합니다",
    "@seoulmania 지하철 2호선 너무 늦어요 😡 언제 개선되나요?",
    "Thank you 😊 but the bus is so slow",  # praise and complaint (Latin): complaint
    "THANK YOU!!! 최고예요 👍🏻",
    "台風が来ます 浸水 注意",
    "폭우로 지하차도 침수, 정전도 됐어요 🌧️",  # heavy_rain, flooding, power_cut: flooding
    "정전기 때문에 따끔해요",
    "지진아라고 놀리지 마세요 ㅠㅠ",
    "Power OUTAGE in Mapo-gu 마포구 정전",
    "가스 냄새가 나요 gas leak?",
    "그거 맞아？",
    "👨‍👩‍👧‍👦🇰🇷 서울 최고",
    "ſo slow",  # long s: IGNORECASE matches it as 's'
    "Ｔｈａｎｋｓ",  # fullwidth Latin: no match for \bthanks\b
    "mixed 한국어 and English 日本語 中文 불편 please add more buses",
]


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("text", TEXTS)
def test_first_rule_as_the_loop_of_searches(family: str, text: str) -> None:
    assert MATCHERS[family](text) == reference(FAMILIES[family], text)


def test_priority_not_position() -> None:
    assert TAGGER.category("감사합니다 그런데 맨홀이 위험해요 신고합니다") == "report"
    assert TAGGER.crisis("폭우로 지하차도 침수, 정전도 됐어요") == "flooding"
    assert TAGGER.crisis("The typhoon knocked out power: blackout since 9") == "typhoon"


def _first(groups: dict[str, list[str]], text: str) -> str | None:
    return _FirstRule({k: tuple(v) for k, v in groups.items()})(text)


def test_same_position_first_rule_wins() -> None:
    # both cues match at 0; the earlier rule wins whichever cue is longer
    groups = {"short": ["불편"], "long": ["불편해요"]}
    assert _first(groups, "불편해요") == "short"
    assert _first({"long": ["불편해요"], "short": ["불편"]}, "불편해요") == "long"


def test_better_rule_later_in_the_text_wins() -> None:
    groups = {"a": ["나중"], "b": ["먼저"], "c": ["처음"]}
    assert _first(groups, "처음 먼저 나중") == "a"
    assert _first(groups, "처음 먼저") == "b"
    assert _first(groups, "처음 그리고 처음") == "c"
    assert _first(groups, "없음") is None


def test_lookbehind_sees_the_text_before_a_later_search() -> None:
    # "가" (rule lo) matches at 0; rule hi's cue matches at 1 only because of the 가 before it
    groups = {"hi": ["(?<=가)나"], "lo": ["가"]}
    assert _first(groups, "가나") == "hi"
    assert _first(groups, "다나 가") == "lo"
    assert _first({"hi": [r"\bfire\b"], "lo": ["fire"]}, "firefire fire") == "hi"


def test_cased_cues_only_where_case_and_ignorecase() -> None:
    groups = {"en": [r"\bfire\b"], "ko": ["화재"]}
    assert _first(groups, "화재 발생 FIRE!") == "en"
    assert _first(groups, "화재 발생") == "ko"
    assert _first({"s": [r"\bsos\b"]}, "ſoſ 구조 요청") == "s"  # long s folds to s
    assert _first({"k": ["kelvin"]}, "\u212aELVIN") == "k"  # Kelvin sign folds to k


def test_cues_with_groups_are_searched_rule_by_rule() -> None:
    # combined, the second cue's \1 would refer to the first cue's group
    groups = {"single": ["(가)다"], "double": [r"(나)\1"]}
    assert _first(groups, "가나나") == "double"
    assert _first(groups, "나나 가다") == "single"
    assert _first(groups, "가나 다") is None


def test_tags_is_the_three_methods() -> None:
    for text in TEXTS + ["부산 중구 말고 서울중구 명동", "Gangnam-gu 강남역 江南区"]:
        assert TAGGER.tags(text) == (TAGGER.district(text), TAGGER.category(text),
                                     TAGGER.crisis(text))


def test_minimal_rules() -> None:
    t = Tagger(Rules.from_dict({"districts": {"마포구": ["마포~"]},
                                "categories": {"praise": ["감사"], "report": ["THANKS"]}}))
    assert t.tags("감사 thanks") == (None, "praise", None)
    assert t.tags("thanks") == (None, "report", None)
    assert Tagger(Rules.from_dict({"districts": {"마포구": []}})).tags("아무거나 any") == (
        None, None, None)


# Fragments the rules react to (cue words, aliases, particles) and what they do not.
_CUE_WORDS = [w for cues in (*RULES.categories.values(), *RULES.crisis.values())
              for c in cues for w in re.findall(r"[가-힣A-Za-z\u3040-\u30ff\u4e00-\u9fff]+", c)]
_ALIASES = [a.rstrip("~") for aliases in RULES.districts.values() for a in aliases]
_FRAGMENTS = st.sampled_from(
    _CUE_WORDS + _ALIASES + list(RULES.districts) + list(RULES.other_cities)
    + [" ", " ", "?", "？", "!", "에서", "은", " 주민", "서울", "집", "😀", "👨‍👩‍👧", "ſ", "İ",
       "\u212a", "café", "\n", "12", "-", "Gu", " District"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_FRAGMENTS, st.sampled_from(["keep", "upper", "lower"])),
                max_size=8))
def test_random_mixtures(parts: list[tuple[str, str]]) -> None:
    text = "".join(getattr(p, how)() if how != "keep" else p for p, how in parts)
    for family, groups in FAMILIES.items():
        assert MATCHERS[family](text) == reference(groups, text), family
    assert TAGGER.tags(text) == (TAGGER.district(text), TAGGER.category(text),
                                 TAGGER.crisis(text))
