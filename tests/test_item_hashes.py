"""Item hashes (pipeline/normalizing.py) recognise an unchanged item in any later process: cron
runs `collect` in a new process each time, each with its own hash seed."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

SCRIPT = """
from collectors.base import Page
from normalize.schema import Context
from pipeline.normalizing import context_fingerprint, item_hashes
from pipeline.runner import load_tagger

ctx = Context(platform="x", account="x_seoulmania", secret=b"k", tagger=load_tagger(),
              official_ids=frozenset({"1", "2", "3"}), official_handles=frozenset({"a", "b"}))
page = Page(kind="mention", items=[
    {"id": "10", "text": "강남구 침수 🌧️ 도와주세요", "author_id": "7", "lang": "ko"},
    {"id": "11", "text": "地下鉄 subway", "author_id": "8", "entities": {"mentions": []}}],
    includes={"users": [{"id": "7", "username": "u7"}, {"id": "8", "username": "u8"}]})
print(context_fingerprint(ctx).hex(), item_hashes(page, context_fingerprint(ctx)))
"""


def hashes_with_seed(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout.strip()


def test_item_hashes_do_not_depend_on_the_process():
    first = hashes_with_seed("1")
    assert first == hashes_with_seed("2") == hashes_with_seed("3")
    fingerprint, hashes = first.split(" ", 1)
    assert len(fingerprint) == 32 and len(set(eval(hashes))) == 2  # noqa: S307 - our output


def test_the_normalizer_version_is_derived_from_the_sources(tmp_path, monkeypatch):
    """An edit of any normalizer source changes every item hash (no hand-kept bump)."""
    import shutil

    from pipeline import normalizing

    copy = tmp_path / "normalize"
    shutil.copytree(ROOT / "normalize", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(normalizing, "_SOURCES", copy)
    normalizing.normalize_version.cache_clear()
    before = normalizing.normalize_version()
    rules = copy / "x.py"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# 규칙 바뀜\n", encoding="utf-8")
    normalizing.normalize_version.cache_clear()
    after = normalizing.normalize_version()
    monkeypatch.undo()
    normalizing.normalize_version.cache_clear()
    assert before != after and len(after) == 16
    assert normalizing.normalize_version() != after  # the project's own sources again
