"""Tests for normalize.tags: districts, categories and crisis tags from config/rules.yaml."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from normalize.tags import Rules, Tagger, load_rules

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).parent / "corpora" / "tags.tsv"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_rules(ROOT / "config" / "rules.yaml"))


def test_rules_load() -> None:
    rules = load_rules(ROOT / "config" / "rules.yaml")
    assert len(rules.districts) == 25
    assert {"complaint", "proposal", "question", "praise", "report"} <= set(rules.categories)
    assert "서울시" in rules.stop_nouns and "것" in rules.stop_nouns
    assert rules.districts["강남구"] and isinstance(rules.districts["강남구"], tuple)


def test_rules_from_dict_minimal() -> None:
    t = Tagger(Rules.from_dict({"districts": {"마포구": ["마포~"]}, "categories": {"praise": ["감사"]}}))
    assert t.district("마포에서 만나요") == "마포구"
    assert t.district("마포대교") is None
    assert t.category("감사합니다") == "praise"
    assert t.crisis("태풍") is None


@pytest.mark.parametrize(
    "text,gu",
    [
        ("강남구", "강남구"),
        ("강남구청 앞", "강남구"),
        ("마포구 망원동", "마포구"),
        ("중구청장님", "중구"),
        ("서울중구 명동", "중구"),
        ("중구난방", None),
        ("집중구역", None),
        ("강남스타일", None),
        ("강남역", None),  # straddles 강남구/서초구: decided not to map
        ("부산 남구", None),
        ("대구 중구 동성로", None),
        ("구로디지털단지", "구로구"),
        ("서초동", "서초구"),
        ("Gangnam-gu", "강남구"),
        ("gangnam gu office", "강남구"),
        ("MAPO-GU", "마포구"),
        ("Mapo District", "마포구"),
        ("江南区", "강남구"),
        ("동작이 느려요", None),
        ("마포에서 일하고 노원구에 살아요", "마포구"),  # first mention wins
        ("노원구에 살고 마포에서 일해요", "노원구"),
    ],
)
def test_district(tagger: Tagger, text: str, gu: str | None) -> None:
    assert tagger.district(text) == gu


@pytest.mark.parametrize(
    "text,kind",
    [
        ("집중호우로 도로 통제", "heavy_rain"),
        ("지하차도가 침수됐어요", "flooding"),
        ("물난리 났어요", "flooding"),
        ("아파트 정전됐어요", "power_cut"),
        ("정전기 때문에 따끔해요", None),
        ("건물에 화재가 발생했어요", "fire"),
        ("저기 불이 났어요", "fire"),
        ("너무 불편해요", None),
        ("지진 느끼셨나요", "earthquake"),
        ("지진아라고 놀리지 마세요", None),
        ("폭염 경보", "heat"),
        ("한파로 수도관 동파", "cold"),
        ("폭설로 버스 지연", "snow"),
        ("태풍 때문에 폭우가 쏟아져요", "typhoon"),
        ("Power outage in my building", "power_cut"),
        ("台風が来ます", "typhoon"),
        ("오늘 날씨 맑음", None),
    ],
)
def test_crisis(tagger: Tagger, text: str, kind: str | None) -> None:
    assert tagger.crisis(text) == kind


def test_category_priority(tagger: Tagger) -> None:
    assert tagger.category("도로가 파손돼서 불편해요. 빨리 고쳐주세요 감사합니다") == "complaint"
    assert tagger.category("어떻게 신청하나요? 감사합니다") == "question"
    assert tagger.category("왜 이렇게 늦나요?") == "complaint"
    assert tagger.category("맨홀 뚜껑이 열려 있어요 신고합니다") == "report"
    assert tagger.category("그거 맞아?") == "question"  # weak cue: '?' alone
    assert tagger.category("그냥 남겨요") is None


def _prf(rows: list[dict[str, str]], col: str, fn) -> tuple[float, float]:
    tp = fp = fn_ = 0
    for r in rows:
        gold = r[col] or None
        pred = fn(r["text"])
        if pred is not None and pred == gold:
            tp += 1
            continue
        if pred is not None:
            fp += 1
            print(f"  {col} FP/mismatch: {r['text']!r} gold={gold} pred={pred}")
        if gold is not None:
            fn_ += 1
            if pred is None:
                print(f"  {col} miss: {r['text']!r} gold={gold}")
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn_) if tp + fn_ else 1.0)


def test_tags_corpus(tagger: Tagger) -> None:
    with open(CORPUS, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) >= 120
    dp, dr = _prf(rows, "district", tagger.district)
    cp, cr = _prf(rows, "category", tagger.category)
    print(f"district precision={dp:.3f} recall={dr:.3f} category precision={cp:.3f} "
          f"recall={cr:.3f} n={len(rows)}")
    assert dp >= 0.95 and dr >= 0.95
    assert cp >= 0.8 and cr >= 0.8


def test_rules_without_districts_tag_no_district() -> None:
    tagger = Tagger(Rules.from_dict({"categories": {"transport": ["택시"]}}))
    assert tagger.district("강남구 택시 🚕") is None
    assert tagger.tags("강남구 택시 🚕") == (None, "transport", None)
