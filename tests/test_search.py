"""Korean full-text search over opinions (store/search.py and the `search` command)."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import sim_collect

import run_pipeline
from simulator import World
from store import cases
from store.db import connect
from store.search import search

KEYS = ("x_seoulmania", "x_seoul_topis", "x_seoul_en", "x_seoul_zh", "x_seoul_ja")
ADDED = {
    "ko_taxi": ("x_seoulmania", "SRCH1 택시요금이 너무 올라서 부담됩니다."),
    "ko_flood": ("x_seoulmania", "SRCH2 어젯밤 비로 반지하 집이 침수됐어요."),
    "ko_parcel": ("x_seoulmania", "SRCH3 아파트 택배 보관함을 설치해 주세요."),
    "en": ("x_seoul_en", "SRCH4 The underpass flooded again after the storm."),
    "zh": ("x_seoul_zh", "SRCH5 出租车司机拒绝打表，怎么投诉？"),
    "ja": ("x_seoul_ja", "SRCH6 明洞でタクシーがメーターを使いませんでした。"),
}


@pytest.fixture(scope="module")
def db_path(accounts, tmp_path_factory) -> Path:
    chosen = [a for a in accounts if a.key in KEYS]
    world = World(chosen, seed=11, posts_per_account=3, comments_per_post=6)
    for n, (key, text) in enumerate(ADDED.values()):
        post = world.visible_posts(key)[-1]
        world.add_comment(post, text, created=world.now - timedelta(minutes=10 + n))
    path = tmp_path_factory.mktemp("search") / "smc.db"
    results, _ = sim_collect(path, chosen, world, platforms=("x",))
    assert all(r.ok for r in results)
    return path


@pytest.fixture
def db(db_path):
    handle = connect(db_path)
    yield handle
    handle.conn.close()


def texts(rows) -> list[str]:
    return [r["text"] for r in rows]


def test_morphemes_find_inflected_korean(db):
    hits = texts(search(db, "택시", limit=100))
    assert any("SRCH1 택시요금이" in t for t in hits)  # 택시 finds 택시요금이
    assert all("택시" in t for t in hits)
    hits = texts(search(db, "침수", limit=100))
    assert any("SRCH2" in t and "침수됐어요" in t for t in hits)
    assert all("침수" in t for t in hits)
    assert any("SRCH1" in t for t in texts(search(db, "요금")))  # the other half of 택시요금


def test_a_different_word_must_not_match(db):
    hits = texts(search(db, "택배", limit=100))
    assert any("SRCH3" in t for t in hits)
    assert not any("택시" in t for t in hits)  # 택배 never finds 택시 sentences
    assert search(db, "택시 택배") == []  # terms are AND-ed
    assert search(db, "지진해일") == []


def test_english_chinese_japanese(db):
    assert any("SRCH4" in t for t in texts(search(db, "flooded", limit=100)))
    assert any("SRCH4" in t for t in texts(search(db, "Underpass", limit=100)))
    assert any("SRCH5" in t for t in texts(search(db, "出租车", limit=100)))
    assert any("SRCH5" in t for t in texts(search(db, "投诉", limit=100)))
    assert any("SRCH6" in t for t in texts(search(db, "タクシー", limit=100)))
    assert any("SRCH6" in t for t in texts(search(db, "明洞", limit=100)))
    assert not any("SRCH6" in t for t in texts(search(db, "タクト", limit=100)))


def test_empty_query_and_syntax_characters(db):
    assert search(db, "") == [] and search(db, "   ") == []
    for hostile in ('"', "택시 OR", "NEAR(", "*", "택시)", "^", "-:"):
        search(db, hostile)  # quoted by query_tokens: never an FTS5 syntax error


def test_newest_first_limit_and_filters(db):
    rows = search(db, "서울", limit=100) or search(db, "택시", limit=100)
    rowids = [db.execute("SELECT rowid FROM comments WHERE id = ?", [r["id"]]).fetchone()[0]
              for r in rows]
    assert rowids == sorted(rowids, reverse=True)
    assert len(search(db, "택시", limit=1)) == 1
    en = search(db, "flooded", account="x_seoul_en", limit=100)
    assert en and all(r["account"] == "x_seoul_en" for r in en)
    assert search(db, "flooded", account="x_seoul_ja") == []
    target = next(r for r in search(db, "택시", limit=100) if "SRCH1" in r["text"])
    assert target["status"] == "received"
    assert target["id"] not in {r["id"] for r in search(db, "택시", status="resolved",
                                                        limit=100)}
    cases.set_status(db, cases.Change(target["id"], "resolved", by="test"))
    resolved = search(db, "택시", status="resolved", limit=100)
    assert [r["id"] for r in resolved] == [target["id"]]
    assert resolved[0]["account_name"] and resolved[0]["department"]  # centre data joined


def test_official_answers_are_not_opinions(db):
    answers = db.execute("SELECT count(*) FROM comments WHERE is_official = 1").fetchone()[0]
    assert answers
    assert not [r for r in search(db, "감사", limit=500)
                if db.execute("SELECT is_official FROM comments WHERE id = ?",
                              [r["id"]]).fetchone()[0]]


def test_search_command(db_path, capsys):
    assert run_pipeline.main(["--db", str(db_path), "search", "택시", "--limit", "50"]) == 0
    out = capsys.readouterr().out
    assert "SRCH1 택시요금이" in out and "opinions match '택시'" in out
    assert run_pipeline.main(["--db", str(db_path), "search", "택배"]) == 0
    out = capsys.readouterr().out
    assert "SRCH3" in out and "택시" not in out.split("--")[0]
    assert run_pipeline.main(["--db", str(db_path), "search", " "]) == 2
    with pytest.raises(SystemExit) as exit_:
        run_pipeline.main(["--db", str(db_path), "search", "x", "--status", "nope"])
    assert exit_.value.code == 2
