"""The bench's bulk world: real Korean text in it, and its pages saved and imported as an
archive (bench/imports.py)."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from conftest import ROOT

import commands
from bench.imports import save_pages
from bench.ingest import read_pages, real_texts, write_pages
from core.shapes import SIMULATED_KEY
from pipeline.config import load_accounts
from simulator.bulk import bulk_pages
from store.db import open_plain

ACCOUNTS = load_accounts(ROOT / "config" / "accounts.yaml")


def _texts(body: bytes) -> list[str]:
    doc = json.loads(body)
    items = doc.get("data") or doc.get("items") or []
    out = []
    for item in items:
        snippet = (item.get("snippet") or {}).get("topLevelComment", {}).get("snippet") or {}
        out.append(item.get("text") or item.get("message") or snippet.get("textOriginal") or "")
    return out


def test_the_corpus_is_real_korean_with_its_licence():
    texts = real_texts()
    assert len(texts) == 50_000
    assert sum(any("가" <= ch <= "힣" for ch in t) for t in texts) > 45_000
    readme = (ROOT / "bench" / "corpus" / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "e9t/nsmc" in readme


def test_korean_citizens_write_the_real_texts_and_the_pages_are_marked_simulated():
    texts = ["지하철 9호선 너무 붐벼요 ㅠㅠ", "따릉이 대여소 늘려주세요 🚲", "Seoul 버스 좋아요 👍"]
    pages = list(bulk_pages(ACCOUNTS[:3], 200, texts=texts))  # X accounts: Korean
    comments = [t for bp in pages if bp.kind == "comment" for t in _texts(bp.body)]
    real = [t for t in comments if any(t.endswith(" " + x) for x in texts)]
    assert len(real) >= 0.9 * len(comments) > 50  # the rest: the city's answers
    assert {x for x in texts if any(t.endswith(x) for t in real)} == set(texts)
    assert all(json.loads(bp.body)[SIMULATED_KEY] is True for bp in pages)
    again = list(bulk_pages(ACCOUNTS[:3], 200, texts=texts))
    assert [bp.body for bp in again] == [bp.body for bp in pages]  # deterministic


def test_saved_bulk_pages_import_as_an_archive_and_reimport_unchanged(tmp_path: Path, capsys):
    pages = tmp_path / "pages.bin"
    one_each = list({a.platform: a for a in reversed(ACCOUNTS)}.values())  # the first of each
    write_pages(pages, one_each, 600, texts=real_texts()[:500])
    files = save_pages(pages, tmp_path / "saved")
    platforms = {a.key: a.platform for a in ACCOUNTS}
    assert {platforms[f.name.split(".")[0]] for f in files} == {"x", "facebook", "instagram",
                                                                "youtube"}  # bulk renderers
    assert sum(1 for _ in read_pages(pages)) > len(files)
    db = tmp_path / "smc.db"
    args = ["--db", str(db), "import", "--demo-key", "--workers", "0", *map(str, files)]
    assert commands.main(args) == 0
    out = capsys.readouterr().out
    assert " 0 quarantined + 0 skipped" in out and "quarantined:" not in out
    conn = open_plain(db)
    stored = conn.execute("SELECT count(*) FROM comments WHERE is_official = 0").fetchone()[0]
    assert stored > 300
    text = conn.execute("SELECT text FROM comments WHERE is_official = 0 AND lang = 'ko' "
                        "LIMIT 1").fetchone()[0]
    assert unicodedata.is_normalized("NFC", text)
    assert commands.main(args) == 0
    again = capsys.readouterr().out.splitlines()
    assert len(again) == len(files) and all("(0 new, 0 updated" in line for line in again)
