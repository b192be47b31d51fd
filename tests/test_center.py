"""The Social Media Center (issue #5): status derivation, cases, reflection rate, metadata,
the Datasette app (in process; the real browser is tests/test_browser.py)."""
from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import shipped_schema
import yaml
from conftest import ROOT, sim_collect

import commands
from core.platforms import KEYS
from core.platforms import PLATFORMS as PLATFORM_SPECS
from pipeline import platforms
from simulator import World
from store import cases
from store.db import MIGRATIONS, connect, migrate

PLATFORMS = KEYS
ISO = "%Y-%m-%dT%H:%M:%SZ"


# --- a simulated world per platform, with known threads ----------------------------------
def platform_ready(platform: str) -> None:
    """Every platform has its collector and normalizer (a missing one fails loudly)."""
    platforms.load(platform)


def scenario_world(accounts, platform: str) -> tuple[World, dict]:
    """A small world of three accounts of one platform plus four known threads on the first
    account's newest post: answered directly, answered in a reply to a reply, answered by a
    different city account, and not answered."""
    chosen = [a for a in accounts if a.platform == platform and a.key != "yt_live_seoul"][:3]
    if len(chosen) < 2:  # a platform with one city account: a second one answers too
        chosen.append(replace(chosen[0], key=f"{chosen[0].key}_2",
                              handle=f"{chosen[0].handle}_2", native_id=None,
                              credentials=tuple(f"{c}_2" for c in chosen[0].credentials)))
    world = World(chosen, seed=5, posts_per_account=3, comments_per_post=6)
    home, other = chosen[0].key, chosen[1].key
    post = world.visible_posts(home)[-1]
    t = world.now - timedelta(hours=30)

    def at(minutes: int):
        return t + timedelta(minutes=minutes)

    q1 = world.add_comment(post, "SCNA 택시 승차 거부 신고는 어디에 하나요?", created=at(0))
    a1 = world.add_comment(post, "SCNA 답변: 120다산콜로 신고해 주세요.", created=at(30),
                           parent=q1, official=home)
    q2 = world.add_comment(post, "SCNB 버스 정류장 의자가 부서졌어요.", created=at(1))
    r2 = world.add_comment(post, "SCNC 저도 봤어요, 위험합니다.", created=at(40), parent=q2)
    a2 = world.add_comment(post, "SCNC 답변: 현장 확인 후 교체하겠습니다.", created=at(90),
                           parent=r2, official=home)
    q3 = world.add_comment(post, "SCND 공원 가로등이 꺼져 있어요.", created=at(2))
    a3 = world.add_comment(post, "SCND 답변: 공원 담당에서 확인하겠습니다.", created=at(120),
                           parent=q3, official=other)
    q4 = world.add_comment(post, "SCNE 도서관 주말 운영을 늘려 주세요.", created=at(3))
    post.comments.sort(key=lambda c: (c.created, c.seq))
    return world, {"home": home, "other": other, "q1": q1, "a1": a1, "q2": q2, "r2": r2,
                   "a2": a2, "q3": q3, "a3": a3, "q4": q4}


def opinion_by_marker(db, marker: str, official: bool = False) -> dict:
    rows = list(db.query("SELECT id FROM comments WHERE text LIKE ? AND is_official = ?",
                         [f"%{marker}%", int(official)]))
    assert len(rows) == 1, f"{marker}: {len(rows)} rows"
    row = cases.opinion(db, rows[0]["id"]) if not official else rows[0]
    assert row is not None
    return row


def expected_answered(world: World) -> set[int]:
    """World truth: a citizen's comment is answered when a visible official answer hangs
    below it through comments that are all still visible (a deleted comment takes its
    replies out of every platform's threads)."""
    now, answered = world.now, set()
    for c in world.all_comments():
        if not c.official:
            continue
        node = c.parent
        while node is not None and node.visible_at(now):
            answered.add(id(node))
            node = node.parent
    return answered


@pytest.fixture(params=PLATFORMS)
def platform_db(request, accounts, tmp_path):
    platform = request.param
    platform_ready(platform)
    world, known = scenario_world(accounts, platform)
    chosen = list(world.accounts.values())
    db_path = tmp_path / f"{platform}.db"
    results, _ = sim_collect(db_path, chosen, world, platforms=(platform,))
    assert all(r.ok for r in results), [(r.account, r.status, r.error) for r in results]
    return platform, world, known, db_path


def test_status_derivation_per_platform(platform_db):
    _, _, known, db_path = platform_db
    db = connect(db_path)
    q1, q2, r2 = (opinion_by_marker(db, m) for m in ("SCNA", "SCNB", "SCNC"))
    q3, q4 = opinion_by_marker(db, "SCND"), opinion_by_marker(db, "SCNE")
    # answered directly
    assert q1["status"] == "answered" and "120다산콜" in q1["answer_text"]
    assert q1["first_response_at"] == known["a1"].created.strftime(ISO)
    assert q1["response_minutes"] == 30
    # an official answer in a reply to a reply answers the reply and the comment above it
    assert r2["status"] == "answered" and "교체하겠습니다" in r2["answer_text"]
    assert q2["status"] == "answered"
    assert q2["first_response_at"] == known["a2"].created.strftime(ISO)
    # an answer by a different city account counts, and says who answered
    assert q3["status"] == "answered"
    assert q3["answer_account"] == known["other"] != q3["account"]
    assert q3["answered_by"]
    # no answer
    assert q4["status"] == "received" and q4["answer_text"] is None
    # staff override wins over the derived status, both ways
    cases.set_status(db, cases.Change(q1["id"], "dismissed", note="중복", by="kim"))
    cases.set_status(db, cases.Change(q4["id"], "resolved", department="문화본부", by="lee"))
    assert cases.opinion(db, q1["id"])["status"] == "dismissed"
    after = cases.opinion(db, q4["id"])
    assert (after["status"], after["department"], after["staff_by"]) == \
        ("resolved", "문화본부", "lee")


def test_status_matches_the_simulated_world(platform_db):
    """Every opinion of the platform: derived status == the world's truth."""
    _, world, _, db_path = platform_db
    truth = {(c.account, c.created.strftime(ISO)): c for c in world.all_comments()
             if not c.official}
    answered = expected_answered(world)
    db = connect(db_path)
    checked, wrong = 0, []
    for row in db.query("SELECT id, account, created_at, status FROM opinions"):
        c = truth.get((row["account"], row["created_at"]))
        if c is None:  # e.g. live chat, which has no thread
            continue
        checked += 1
        want = "answered" if id(c) in answered else "received"
        if row["status"] != want:
            wrong.append((row["id"], row["status"], want, c.parent is not None))
    assert checked >= 20
    assert not wrong, wrong[:5]


# --- cases --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def x_db(accounts, tmp_path_factory) -> Path:
    """The X scenario world collected once; tests copy it."""
    world, _ = scenario_world(accounts, "x")
    chosen = [a for a in accounts if a.key in world.accounts]
    path = tmp_path_factory.mktemp("x") / "smc.db"
    sim_collect(path, chosen, world, platforms=("x",))
    return path


@pytest.fixture
def db_file(x_db, tmp_path) -> Path:
    target = tmp_path / "smc.db"
    src = sqlite3.connect(x_db)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return target


def run(db_file: Path, *argv: str) -> int:
    return commands.main(["--db", str(db_file), *argv])


def ids(db_file: Path) -> dict[str, str]:
    db = connect(db_file)
    return {m: opinion_by_marker(db, m)["id"] for m in ("SCNA", "SCNB", "SCNC", "SCND", "SCNE")}


def test_case_set_show_and_history_is_appended(db_file, capsys):
    q = ids(db_file)["SCNE"]
    assert run(db_file, "case", "set", q, "--status", "assigned", "--department", "문화본부",
               "--by", "kim", "--at", "2026-11-25T01:00:00Z") == 0
    assert "received -> assigned [문화본부] by kim" in capsys.readouterr().out
    assert run(db_file, "case", "set", q, "--status", "resolved", "--note", "주말 연장 결정",
               "--by", "lee", "--at", "2026-11-25T02:00:00Z") == 0
    db = connect(db_file)
    state = db.execute("SELECT status, department, note, updated_by, updated_at FROM cases "
                       "WHERE comment_id = ?", [q]).fetchall()
    assert state == [("resolved", "문화본부", "주말 연장 결정", "lee", "2026-11-25T02:00:00Z")]
    events = cases.history(db, q)
    assert [(e["from_status"], e["to_status"], e["by"]) for e in events] == \
        [("received", "assigned", "kim"), ("assigned", "resolved", "lee")]
    assert events[0]["at"] == "2026-11-25T01:00:00Z" and events[1]["note"] == "주말 연장 결정"
    # history is never rewritten: the database refuses it
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE case_events SET to_status = 'dismissed'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM case_events")
    db.conn.close()

    assert run(db_file, "case", "show", q) == 0
    out = capsys.readouterr().out
    assert "[resolved]" in out and "SCNE 도서관" in out and "post " in out
    assert "received -> assigned" in out and "assigned -> resolved" in out
    assert "official answer: none yet" in out


def test_case_show_prints_thread_and_official_answer(db_file, capsys):
    q = ids(db_file)
    assert run(db_file, "case", "show", q["SCNC"]) == 0
    out = capsys.readouterr().out
    assert "[answered]" in out
    assert "SCNB 버스 정류장" in out  # the comment it replies to
    assert "OFFICIAL" in out and "교체하겠습니다" in out  # the answer under it
    assert "official answer (" in out
    assert run(db_file, "case", "show", q["SCNB"]) == 0
    out = capsys.readouterr().out
    assert "SCNC 저도 봤어요" in out and "교체하겠습니다" in out


def test_unknown_id_or_status_exits_2_naming_it(db_file, capsys):
    assert run(db_file, "case", "set", "x:404", "--status", "resolved") == 2
    err = capsys.readouterr().err
    assert "unknown opinion id 'x:404'" in err
    with pytest.raises(SystemExit) as exit_:
        run(db_file, "case", "set", ids(db_file)["SCNA"], "--status", "done")
    assert exit_.value.code == 2
    assert "unknown status 'done'" in capsys.readouterr().err
    assert run(db_file, "case", "show", "x:404") == 2
    assert "x:404" in capsys.readouterr().err
    official = opinion_by_marker(connect(db_file), "SCNA 답변", official=True)["id"]
    assert run(db_file, "case", "set", official, "--status", "resolved") == 2
    assert "official answer" in capsys.readouterr().err
    assert connect(db_file).execute("SELECT count(*) FROM case_events").fetchone()[0] == 0


def test_case_list_overdue_oldest_first(db_file, capsys):
    q = ids(db_file)
    db = connect(db_file)
    newest = db.execute("SELECT max(created_at) FROM opinions").fetchone()[0]
    now = "2026-11-25T00:00:00Z"
    rows = cases.list_cases(db, overdue_hours=24, now=now)
    assert rows and [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)
    assert all(r["status"] not in cases.CLOSED for r in rows)
    assert all(r["created_at"] < "2026-11-24T00:00:00Z" for r in rows)
    listed = {r["id"] for r in rows}
    assert q["SCNE"] in listed and q["SCNA"] not in listed  # 30 h old; SCNA is answered
    cases.set_status(db, cases.Change(q["SCNE"], "dismissed", by="kim"))
    assert q["SCNE"] not in {r["id"] for r in cases.list_cases(db, overdue_hours=24, now=now)}
    cases.set_status(db, cases.Change(q["SCNA"], "in_progress", by="kim"))
    assert q["SCNA"] in {r["id"] for r in cases.list_cases(db, overdue_hours=24, now=now)}
    assert len(cases.list_cases(db, overdue_hours=0, now=newest)) >= len(rows)
    db.conn.close()

    assert run(db_file, "case", "list", "--overdue", "24", "--now", now) == 0
    out = capsys.readouterr().out.splitlines()
    assert q["SCNA"] in "\n".join(out) and out[-1].startswith("-- ")
    for rate in cases.RATES.values():  # each rate with its definition, on the footer's line
        assert f"; {rate}: " in out[-1], rate
    assert "(whenever written, status as of now" in out[-1]
    assert run(db_file, "case", "list", "--overdue", "24", "--now", now, "--format",
               "csv") == 0
    csv_out = capsys.readouterr().out.splitlines()
    assert csv_out[0].startswith('"id","created_at","status"') and len(csv_out) == len(out)
    assert run(db_file, "case", "list", "--status", "answered", "--limit", "3") == 0
    listed = capsys.readouterr().out.splitlines()[:-1]
    assert len(listed) == 3 and all(" answered " in line for line in listed)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_case_import_all_or_nothing(db_file, tmp_path, capsys):
    q = ids(db_file)
    good = write_csv(tmp_path / "good.csv",
                     "id,status,department,note,by\n"
                     f"{q['SCNE']},assigned,문화본부,,park\n"
                     f"{q['SCNE']},resolved,,\"운영 시간 연장, 12월부터\",\n"
                     f"{q['SCNB']},in_progress,도시교통실,교체 예정,choi\n")
    assert run(db_file, "case", "import", str(good), "--by", "import-bot") == 0
    assert "3 case changes" in capsys.readouterr().out
    db = connect(db_file)
    events = cases.history(db, q["SCNE"])
    assert [(e["from_status"], e["to_status"], e["by"], e["department"]) for e in events] == [
        ("received", "assigned", "park", "문화본부"),
        ("assigned", "resolved", "import-bot", "문화본부")]
    assert events[1]["note"] == "운영 시간 연장, 12월부터"
    assert cases.opinion(db, q["SCNB"])["status"] == "in_progress"
    before = db.execute("SELECT count(*) FROM case_events").fetchone()[0]
    db.conn.close()

    bad_status = write_csv(tmp_path / "bad1.csv",
                           "id,status,department,note,by\n"
                           f"{q['SCNA']},resolved,,,kim\n"
                           f"{q['SCND']},finished,,,kim\n")
    assert run(db_file, "case", "import", str(bad_status)) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "status" in err and "'finished'" in err
    bad_id = write_csv(tmp_path / "bad2.csv",
                       "id,status,department,note,by\n"
                       f"{q['SCNA']},resolved,,,kim\n"
                       f"{q['SCND']},resolved,,,kim\n"
                       "x:999,resolved,,,kim\n")
    assert run(db_file, "case", "import", str(bad_id)) == 2
    err = capsys.readouterr().err
    assert "line 4" in err and "id" in err and "'x:999'" in err
    bad_header = write_csv(tmp_path / "bad3.csv", "opinion,status\nx:1,resolved\n")
    assert run(db_file, "case", "import", str(bad_header)) == 2
    assert "line 1" in capsys.readouterr().err
    db = connect(db_file)  # nothing of the bad files was written
    assert db.execute("SELECT count(*) FROM case_events").fetchone()[0] == before
    assert cases.opinion(db, q["SCNA"])["status"] == "answered"


def _stored_notes(db_file: Path) -> list[tuple]:
    db = connect(db_file)
    rows = db.execute("SELECT note, department FROM case_events ORDER BY id").fetchall()
    rows += db.execute("SELECT note, department FROM cases ORDER BY comment_id").fetchall()
    db.conn.close()
    return rows


def test_case_set_masks_pii_in_note_before_storing(db_file, capsys):
    q = ids(db_file)["SCNE"]
    note = "민원인 홍길동 010-1234-5678, hong[at]naver.com, 래미안 101동 1203호로 회신 예정"
    assert run(db_file, "case", "set", q, "--status", "in_progress", "--note", note,
               "--department", "문화본부 (담당 02-2133-1234)", "--by", "kim",
               "--at", "2026-11-25T01:00:00Z") == 0
    out = capsys.readouterr().out
    assert "received -> in_progress" in out
    assert ("note: masked 2 phone numbers, 1 e-mail address and 1 address unit before "
            "storing") in out
    for secret in ("010-1234-5678", "1234", "hong", "naver", "1203", "2133"):
        assert secret not in out  # the message never echoes what it masked
    masked = "민원인 홍길동 [전화번호], [이메일], 래미안 [주소]로 회신 예정"
    dept = "문화본부 (담당 [전화번호])"
    assert _stored_notes(db_file) == [(masked, dept), (masked, dept)]
    db = connect(db_file)  # nothing unmasked anywhere in the database's case tables
    dump = "\n".join(db.conn.iterdump())
    assert "010-1234-5678" not in dump and "hong[at]" not in dump and "1203호" not in dump
    db.conn.close()
    # a note without PII: stored as typed, nothing said about masking
    assert run(db_file, "case", "set", q, "--status", "resolved", "--note", "주말 연장 결정",
               "--by", "lee") == 0
    out = capsys.readouterr().out
    assert "masked" not in out
    assert _stored_notes(db_file)[2] == ("주말 연장 결정", dept)
    assert run(db_file, "case", "show", q) == 0
    out = capsys.readouterr().out
    assert masked in out and "010-1234-5678" not in out


def test_case_import_masks_pii_in_notes(db_file, tmp_path, capsys):
    q = ids(db_file)
    path = write_csv(tmp_path / "answers.csv",
                     "id,status,department,note,by\n"
                     f"{q['SCNE']},assigned,문화본부,,park\n"
                     f"{q['SCNE']},resolved,,\"환불 국민 123456-01-234567, 문의 ０１０－２２２２－３３３３\",\n"
                     f"{q['SCNB']},in_progress,도시교통실,교체 예정 (공일공 일이삼사 오육칠팔),choi\n")
    assert run(db_file, "case", "import", str(path), "--by", "import-bot") == 0
    out = capsys.readouterr().out
    assert "3 case changes" in out
    assert ("notes: masked 2 phone numbers and 1 account number before storing (lines 3, 4)"
            in out)
    assert "234567" not in out and "일이삼사" not in out
    db = connect(db_file)
    notes = [r[0] for r in db.execute("SELECT note FROM case_events ORDER BY id")]
    assert notes == [None, "환불 국민 [계좌번호], 문의 [전화번호]", "교체 예정 ([전화번호])"]
    assert cases.opinion(db, q["SCNB"])["staff_note"] == "교체 예정 ([전화번호])"
    db.conn.close()


# --- case import: malformed files, round trips, re-imports, encodings (issue #15) -----------
def _events(db_file: Path) -> list[tuple]:
    db = connect(db_file)
    rows = db.execute("SELECT comment_id, from_status, to_status, department, note, by "
                      "FROM case_events ORDER BY id").fetchall()
    db.conn.close()
    return rows


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_case_import_rejects_malformed_csv_before_writing(db_file, tmp_path, capsys):
    q = ids(db_file)
    header = "id,status,department,note,by\n"
    good = f"{q['SCNA']},resolved,,,kim\n"
    bad = {  # file text -> what the error names
        # an unterminated quote used to swallow the rest of the file into one note
        header + good + f'{q["SCNE"]},resolved,,"운영 연장,kim\n{q["SCNB"]},resolved,,,kim\n':
            ("line 3", "unterminated quote"),
        header + good + f'{q["SCNE"]},resolved,,"운영" 연장,kim\n': ("line 3", "malformed CSV"),
        header + good + f"{q['SCNE']},resolved,,운영, 연장,kim\n": ("line 3", "6 fields"),
        header + good + f"{q['SCNE']},resolved,,kim\n": ("line 3", "4 fields"),
        "id,status,note,note\n" + good: ("line 1", "'note' appears twice"),
        "id,status,note,staff_note\n" + good: ("line 1", "'staff_note' and 'note' are both"),
    }
    for n, (text, words) in enumerate(bad.items()):
        path = write_csv(tmp_path / f"bad{n}.csv", text)
        assert run(db_file, "case", "import", str(path)) == 2, text
        err = _one_line_error(capsys)
        assert str(path) in err and all(w in err for w in words), (err, words)
    assert _events(db_file) == []
    assert cases.opinion(connect(db_file), q["SCNA"])["status"] == "answered"


def test_case_import_reads_cp949_and_refuses_other_encodings(db_file, tmp_path, capsys):
    q = ids(db_file)
    text = ("id,status,department,note,by\n"
            f"{q['SCNE']},assigned,문화본부,주말 운영 검토,박주무관\n")
    for n, (encoding, said) in enumerate((("cp949", True), ("euc-kr", True),
                                          ("utf-8-sig", False), ("utf-8", False))):
        path = tmp_path / f"excel-{encoding}.csv"
        path.write_bytes(text.replace("assigned", ("assigned", "in_progress")[n % 2])
                         .encode(encoding))
        assert run(db_file, "case", "import", str(path)) == 0
        out = capsys.readouterr().out
        assert ("read as CP949" in out) is said, out
    events = _events(db_file)
    assert [e[2:] for e in events] == [
        ("assigned", "문화본부", "주말 운영 검토", "박주무관"),
        ("in_progress", "문화본부", None, "박주무관"),
        ("assigned", "문화본부", None, "박주무관"),
        ("in_progress", "문화본부", None, "박주무관")]
    neither = tmp_path / "utf16.csv"
    neither.write_bytes(text.encode("utf-16"))
    assert run(db_file, "case", "import", str(neither)) == 2
    err = _one_line_error(capsys)
    assert str(neither) in err and 'save it as "CSV UTF-8"' in err
    assert len(_events(db_file)) == 4


def test_case_import_again_records_nothing_twice(db_file, tmp_path, capsys):
    q = ids(db_file)
    path = write_csv(tmp_path / "answers.csv",
                     "id,status,department,note,by\n"
                     f"{q['SCNE']},assigned,문화본부,,park\n"
                     f"{q['SCNE']},resolved,,\"운영 시간 연장, 12월부터\",\n"
                     f"{q['SCNE']},resolved,,\"운영 시간 연장, 12월부터\",\n"
                     f"{q['SCNB']},in_progress,도시교통실,교체 예정,choi\n")
    assert run(db_file, "case", "import", str(path), "--by", "bot") == 0
    out = capsys.readouterr().out
    assert "3 case changes recorded in one transaction; 1 unchanged rows skipped" in out
    assert run(db_file, "case", "import", str(path), "--by", "bot") == 0
    out = capsys.readouterr().out
    assert "0 case changes recorded in one transaction; 4 unchanged rows skipped" in out
    assert len(_events(db_file)) == 3


def test_unchanged_received_keeps_a_status_answered_since(db_file):
    """An export made before an official answer says `received`: importing it back must
    not re-open the opinion; a department edited beside it is recorded."""
    q = ids(db_file)
    db = connect(db_file)
    rows = [cases.Change(q["SCNA"], "received", line=2),  # answered officially
            cases.Change(q["SCNE"], "received", line=3),  # still received: nothing to do
            cases.Change(q["SCND"], "received", department="공원여가과", line=4)]
    applied = cases.import_changes(db, rows)
    assert [c.line for c in applied.skipped] == [2, 3]
    assert [(e["from_status"], e["to_status"], e["department"]) for e in applied.events] == \
        [("answered", "answered", "공원여가과")]
    assert cases.opinion(db, q["SCNA"])["status"] == "answered"


def _export_case_list(db_file: Path, path: Path, capsys) -> list[list[str]]:
    assert run(db_file, "case", "list", "--format", "csv") == 0
    text = capsys.readouterr().out
    path.write_text(text, encoding="utf-8")
    return csv_cells(text)


def _write_cells(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> None:
    import csv

    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows)


def test_case_list_csv_round_trip_records_only_the_edit(db_file, tmp_path, capsys):
    q = ids(db_file)
    formula_note, dash_note = "=SUM(A1) 확인 요청", "-2+3 정정 예정"
    assert run(db_file, "case", "set", q["SCNB"], "--status", "in_progress", "--note",
               formula_note, "--by", "kim") == 0
    capsys.readouterr()
    rows = _export_case_list(db_file, tmp_path / "cases.csv", capsys)
    header = rows[0]
    col = {name: header.index(name) for name in ("id", "status", "staff_note")}
    by_id = {r[col["id"]]: r for r in rows[1:]}
    assert by_id[q["SCNB"]][col["staff_note"]] == "'" + formula_note  # csv_safe on export
    # unedited: nothing recorded, every row skipped, the formula note not taken as new
    before = _events(db_file)
    assert run(db_file, "case", "import", str(tmp_path / "cases.csv"), "--by", "lee") == 0
    out = capsys.readouterr().out
    assert f"0 case changes recorded in one transaction; {len(rows) - 1} unchanged" in out
    assert "ignored columns created_at, platform, account" in out
    assert _events(db_file) == before
    # edit one status and one note (a note starting with '-', neutralized as Excel keeps it)
    by_id[q["SCNE"]][col["status"]] = "resolved"
    by_id[q["SCND"]][col["staff_note"]] = "'" + dash_note
    _write_cells(tmp_path / "edited.csv", rows)
    assert run(db_file, "case", "import", str(tmp_path / "edited.csv"), "--by", "lee") == 0
    assert "2 case changes recorded" in capsys.readouterr().out
    new = _events(db_file)[len(before):]
    assert sorted(new) == sorted([
        (q["SCNE"], "received", "resolved", by_id[q["SCNE"]][header.index("department")],
         None, "lee"),
        (q["SCND"], "answered", "answered", by_id[q["SCND"]][header.index("department")],
         dash_note, "lee")])
    db = connect(db_file)
    assert cases.opinion(db, q["SCND"])["staff_note"] == dash_note
    assert cases.opinion(db, q["SCNB"])["staff_note"] == formula_note
    db.conn.close()
    # the export of the edited state imports back as no change at all
    _export_case_list(db_file, tmp_path / "again.csv", capsys)
    assert run(db_file, "case", "import", str(tmp_path / "again.csv")) == 0
    assert "0 case changes recorded" in capsys.readouterr().out


def test_overdue_csv_round_trip_records_only_the_edit(db_file, tmp_path, capsys):
    import csv

    from digest.build import SEOUL, build_digest, parse_iso
    from digest.render import write_overdue_csv

    q = ids(db_file)
    db = connect(db_file)
    now = parse_iso(db.execute("SELECT max(created_at) FROM comments").fetchone()[0])
    digest = build_digest(db, now.astimezone(SEOUL).date(), overdue_hours=24, now=now)
    db.conn.close()
    path = tmp_path / "overdue.csv"
    write_overdue_csv(digest, path)  # UTF-8 with BOM, CRLF, every cell quoted
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    col = {name: header.index(name) for name in ("id", "status")}
    listed = {r[col["id"]] for r in rows[1:]}
    assert q["SCNE"] in listed and len(listed) >= 2
    assert run(db_file, "case", "import", str(path), "--by", "kim") == 0
    out = capsys.readouterr().out
    assert f"0 case changes recorded in one transaction; {len(rows) - 1} unchanged" in out
    assert "ignored columns received_seoul, hours_open, working_time, platform" in out
    for r in rows[1:]:
        if r[col["id"]] == q["SCNE"]:
            r[col["status"]] = "dismissed"
    _write_cells(path, rows, encoding="utf-8-sig")
    assert run(db_file, "case", "import", str(path), "--by", "kim") == 0
    assert f"1 case changes recorded in one transaction; {len(rows) - 2} unchanged" in \
        capsys.readouterr().out
    assert [(e[0], e[1], e[2], e[5]) for e in _events(db_file)] == \
        [(q["SCNE"], "received", "dismissed", "kim")]


def test_undo_csv_safe_gives_the_original_back():
    from core.display import csv_safe, undo_csv_safe

    for text in (*FORMULAS, "- 정정", "=1", "  =1+1", "-5", "'quoted'", "'=1", "평범한 메모", ""):
        if text != "'=1":  # the one ambiguous cell: read as a neutralized "=1"
            assert undo_csv_safe(str(csv_safe(text))) == text, repr(text)
    assert undo_csv_safe("'=1") == "=1" and undo_csv_safe("'quoted'") == "'quoted'"
    assert undo_csv_safe("'-5") == "'-5"  # csv_safe never quotes a plain number


def test_case_set_at_refuses_the_future_and_before_the_opinion(db_file, tmp_path, capsys):
    from datetime import datetime, timezone

    q = ids(db_file)["SCNE"]
    written = cases.opinion(connect(db_file), q)["created_at"]
    now = datetime.now(timezone.utc)
    future = (now + timedelta(hours=2)).strftime(ISO)
    assert run(db_file, "case", "set", q, "--status", "resolved", "--at", future) == 2
    err = _one_line_error(capsys)
    assert "in the future" in err and cases.seoul_time(future) in err and "KST" in err
    assert err.count("KST") == 2
    early = (cases.parse_time(written) - timedelta(minutes=1)).strftime(ISO)
    assert run(db_file, "case", "set", q, "--status", "resolved", "--at", early) == 2
    err = _one_line_error(capsys)
    assert "before the opinion was written" in err
    assert cases.seoul_time(early) in err and cases.seoul_time(written) in err
    path = write_csv(tmp_path / "a.csv", f"id,status\n{q},resolved\n")
    assert run(db_file, "case", "import", str(path), "--at", early) == 2
    assert "line 2: at:" in _one_line_error(capsys)
    assert run(db_file, "case", "import", str(path), "--at", future) == 2
    assert "in the future" in _one_line_error(capsys)
    assert _events(db_file) == []
    skewed = (now + timedelta(minutes=2)).strftime(ISO)  # a clock a little ahead of ours
    assert run(db_file, "case", "set", q, "--status", "resolved", "--at", skewed) == 0
    assert run(db_file, "case", "set", q, "--status", "dismissed", "--at", written) == 0


def test_describe_masked_words() -> None:
    from commands.cases import describe_masked

    assert describe_masked({"phone": 1}) == "1 phone number"
    assert describe_masked({"email": 2, "rrn": 1}) == \
        "1 resident registration number and 2 e-mail addresses"


def test_the_three_rates_per_account_and_overall(db_file, capsys):
    """응답률, 처리율 and 정책 반영률 (issue #19), each over all opinions: a resolved opinion
    counts in the first two, a reflected one in all three, a dismissed one in none."""
    db = connect(db_file)

    def share(statuses: tuple[str, ...]) -> tuple[int, int]:
        total = db.execute("SELECT count(*) FROM opinions").fetchone()[0]
        n = db.execute("SELECT count(*) FROM opinions WHERE status IN (SELECT value FROM "
                       "json_each(?))", [json.dumps(statuses)]).fetchone()[0]
        return n, total

    def overall() -> dict:
        return cases.reflection(db)[1]

    rows, first = cases.reflection(db)
    answered, total = share(cases.ANSWERED)
    assert first["opinions"] == total == sum(r["opinions"] for r in rows)
    assert first["answer_pct"] == round(100 * answered / total, 1) > 0
    assert first["resolution_pct"] == round(100 * share(cases.RESOLVED)[0] / total, 1)
    assert first["reflection_pct"] == 0.0 and first["reflected"] == 0
    q = ids(db_file)
    cases.set_status(db, cases.Change(q["SCNE"], "resolved", by="kim"))  # received -> resolved
    now = overall()
    assert (now["answered"] + now["resolved"], now["resolved"]) == (
        first["answered"] + first["resolved"] + 1, first["resolved"] + 1)
    cases.set_status(db, cases.Change(q["SCNE"], "reflected", by="kim",
                                      policy="2027 택시 승차거부 단속"))
    now = overall()
    assert (now["resolved"], now["reflected"]) == (first["resolved"], 1)
    assert now["reflection_pct"] == round(100 / total, 1)
    assert now["resolution_pct"] == round(100 * share(cases.RESOLVED)[0] / total, 1)
    cases.set_status(db, cases.Change(q["SCNA"], "dismissed", by="kim"))  # answered -> out
    assert overall()["answered"] == first["answered"] - 1
    assert overall()["opinions"] == total  # dismissed stays in the denominator
    for row in rows:  # per account: the view's rates from its counts
        if row["opinions"]:
            n = row["answered"] + row["resolved"] + row["reflected"]
            assert row["answer_pct"] == round(100 * n / row["opinions"], 1), row["account"]
    answered, total = share(cases.ANSWERED)
    db.conn.close()
    assert run(db_file, "case", "list", "--summary", "--now", "2026-11-25T00:00:00Z") == 0
    out = capsys.readouterr().out
    lines = {line.split(" (")[0]: line for line in out.splitlines()
             if line.startswith(("응답률", "처리율", "정책 반영률"))}
    assert lines["응답률"] == (f"{cases.RATES['answer_pct']}: {answered} of {total:,} = "
                            f"{100 * answered / total:.1f} %")
    assert lines["처리율"].startswith("처리율 (resolution rate): resolved or reflected / all "
                                   "opinions: ")
    assert lines["정책 반영률"] == f"{cases.RATES['reflection_pct']}: 1 of {total:,} = " \
                                f"{100 / total:.1f} %"
    assert "(whenever written, status as of now; not the digest's 당일 답변율 (same-day " \
           "answer rate))" in out
    assert "답변율" not in out.replace("당일 답변율", "")
    assert "reflected 1" in out and "dismissed 1" in out and "overdue (open for more" in out


def test_case_subcommands_have_help_and_description():
    parser = commands.build_parser()
    subcommands = next(a for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("case", "search", "serve"):
        assert name in subcommands
    case_sub = next(a for a in subcommands["case"]._actions
                    if isinstance(a, argparse._SubParsersAction))
    assert set(case_sub.choices) == {"set", "show", "list", "import"}
    for choice in case_sub._choices_actions:
        assert choice.help, choice.dest
    for name, sub in case_sub.choices.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help, f"case {name} {action.dest}"


# --- schema: migration 3 and its documentation --------------------------------------------
def test_migration_3_upgrades_a_version_2_database(tmp_path):
    conn = sqlite3.connect(tmp_path / "v2.db", isolation_level=None)
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    assert shipped_schema.migrate(db, target=2) == 2
    db.execute("INSERT INTO accounts VALUES ('fb_a', 'facebook', 'a', '1', 'A', 'city', "
               "'general', 'D', 'ko', 15, 0)")
    rows = [("facebook:1", None, 0, "2026-11-01T00:00:00Z"),
            ("facebook:2", "facebook:1", 0, "2026-11-01T01:00:00Z"),
            ("facebook:3", "facebook:1", 1, "2026-11-01T02:00:00Z")]
    for cid, parent, official, at in rows:
        db.execute("INSERT INTO comments (id, platform, account, native_id, parent_id, "
                   "is_official, text, lang, created_at, content_hash, first_seen, last_seen) "
                   "VALUES (?, 'facebook', 'fb_a', ?, ?, ?, 't', 'ko', ?, 0, ?, ?)",
                   [cid, cid, parent, official, at, at, at])
    db.execute("INSERT INTO answers VALUES ('facebook:1', 'facebook:3', "
               "'2026-11-01T02:00:00Z')")
    assert dict(db.execute("SELECT id, status FROM opinions").fetchall()) == \
        {"facebook:1": "answered", "facebook:2": "received"}
    assert migrate(db) == len(MIGRATIONS) >= 3
    # the flat Graph thread: the official reply after the follow-up answers it too
    assert dict(db.execute("SELECT id, status FROM opinions").fetchall()) == \
        {"facebook:1": "answered", "facebook:2": "answered"}
    row = db.execute("SELECT answer_id, response_minutes, answer_account FROM center "
                     "WHERE id = 'facebook:2'").fetchone()
    assert row[:2] == ("facebook:3", 60)
    assert db.execute("SELECT opinions, answered, reflected, answer_pct FROM reflection"
                      ).fetchall() == [(2, 2, 0, 100.0)]


def load_metadata() -> dict:
    return yaml.safe_load((ROOT / "center" / "metadata.yaml").read_text(encoding="utf-8"))


def test_served_metadata_names_every_registered_platform(tmp_path):
    from center.app import datasette_metadata

    meta = datasette_metadata(tmp_path / "smc.db")
    tables = meta["databases"]["smc"]["tables"]
    for table in ("center", "opinions", "accounts"):
        described = tables[table]["columns"]["platform"]
        assert "{" not in described and all(k in described for k in KEYS), described
    assert all(p.name_en in meta["description_html"] for p in PLATFORM_SPECS)


def test_metadata_describes_every_table_and_column(tmp_path):
    meta = load_metadata()
    assert meta["title"] and meta["description_html"] and meta["allow_sql"] is False
    tables = meta["databases"]["smc"]["tables"]
    db = connect(tmp_path / "m.db")
    names = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%'")]
    assert {"center", "opinions", "daily_stats", "reflection"} <= set(names)
    for name in names:
        assert name in tables and tables[name].get("description"), name
        columns = [r[1] for r in db.execute(f"PRAGMA table_info([{name}])")]
        described = tables[name].get("columns", {})
        for column in columns:
            assert described.get(column), f"{name}.{column} is not described"
        assert not set(described) - set(columns), f"{name}: stale column descriptions"
    assert tables["center"]["facets"] == ["platform", "account", "field", "status", "district",
                                          "category", "seoul_day"]
    queries = meta["databases"]["smc"]["queries"]
    assert {"search", "opinion", "overdue", "unanswered_by_department",
            "answer_rate_by_account", "sns_map"} <= set(queries)
    assert ":id" in queries["opinion"]["sql"] and "smc_match(:q)" in queries["search"]["sql"]
    for name, query in queries.items():
        sql = query["sql"]
        params = {p: "1" for p in ("q", "id", "hours") if f":{p}" in sql}
        db.execute(sql.replace("smc_match(:q)", "'x'"), params).fetchall()  # valid SQL


RATE_NAMES = ("응답률 (answer rate", "처리율 (resolution rate", "정책 반영률 (policy-reflection rate")


def test_metadata_names_the_three_rates_and_labels_the_citys_figure():
    """Each rate is named and defined where it is shown (issue #19); the city's 71 % is put
    after ours, as the city's, beside the one rate that measures the same thing (#15)."""
    meta = load_metadata()
    smc = meta["databases"]["smc"]
    tables, query = smc["tables"], smc["queries"]["answer_rate_by_account"]
    for text in (tables["reflection"]["description"], query["description"]):
        for name in RATE_NAMES:
            assert name in text, (name, text)
        assert "answer rate: answered, resolved or reflected" in text
        assert "resolution rate: resolved or reflected" in text
        assert "reflected" in text.split("정책 반영률 (policy-reflection rate")[1][:40]
        assert "답변율" not in text.replace("당일 답변율 (same-day answer rate)", ""), text
    columns = tables["reflection"]["columns"]
    for column, name in zip(("answer_pct", "resolution_pct", "reflection_pct"), RATE_NAMES):
        assert columns[column].startswith(name) and column in query["sql"], column
    daily = tables["daily_stats"]
    assert "응답률 (answer rate: answered, resolved or reflected)" in daily["description"]
    assert "응답률" in daily["columns"]["answer_rate"] and "same-day" in daily["description"]
    assert all(name.split(" (")[0] in query["title"] for name in RATE_NAMES)
    assert "정책 반영률" in meta["description_html"]
    everything = yaml.safe_dump(meta, allow_unicode=True)
    assert everything.count("71 %") == 1 and "856" not in tables["reflection"]["description"]
    desc = query["description"]  # mentioned once: after our figures, as the city's own
    assert desc.index(RATE_NAMES[2]) < desc.index("The city's reported figure, 71 % (856 of "
                                                  "1,196), counts opinions reflected in policy")
    assert "compare it with reflection_pct" in desc


def test_served_answer_rate_page_leads_with_our_figure(db_file):
    ds, name = served(db_file), db_file.stem
    page = get(ds, f"/{name}/answer_rate_by_account").text
    for rate in RATE_NAMES:
        assert page.index(rate) < page.index("71 %"), rate
    assert "city&#39;s reported figure" in page or "city's reported figure" in page
    for column in ("answer_pct", "resolution_pct", "reflection_pct"):
        assert column in page


def test_schema_doc_covers_the_views():
    doc = (ROOT / "docs" / "SCHEMA.md").read_text(encoding="utf-8")
    db = connect(":memory:")
    for view in ("opinions", "center", "daily_stats", "reflection"):
        assert f"`{view}`" in doc
        for r in db.execute(f"PRAGMA table_info({view})"):
            assert f"`{r[1]}`" in doc, f"{view}.{r[1]} missing from docs/SCHEMA.md"


# --- the Datasette app, in process ----------------------------------------------------------
def get(ds, path: str):
    return asyncio.run(ds.client.get(path))


def test_datasette_app(db_file):
    from center.app import build_datasette

    ds = build_datasette(db_file)
    asyncio.run(ds.invoke_startup())
    name = db_file.stem
    q = ids(db_file)
    page = get(ds, "/")
    assert page.status_code == 200 and "Social Media Center" in page.text
    center = get(ds, f"/{name}/center.json?_shape=objects&_size=1000&_facet=status")
    assert center.status_code == 200
    assert {r["id"] for r in center.json()["rows"]} >= set(q.values())
    hits = get(ds, f"/{name}/search.json?_shape=objects&q=택시").json()["rows"]
    assert q["SCNA"] in {r["id"] for r in hits}
    assert all("택시" in r["text"] for r in hits)
    assert get(ds, f"/{name}/search.json?q=").status_code == 200  # empty query: no error
    opinion = get(ds, f"/{name}/opinion.json?_shape=objects&id={q['SCNC']}").json()["rows"]
    parts = [r["part"] for r in opinion]
    assert parts[0] == "post" and "official answer" in parts and "replies to" in parts
    for path in ("overdue", "unanswered_by_department", "answer_rate_by_account", "sns_map"):
        assert get(ds, f"/{name}/{path}.json").status_code == 200, path
    # arbitrary SQL off by default, raw payloads never served
    assert get(ds, f"/{name}.json?sql=select+1").status_code == 403
    # unmasked payloads are not in the served file at all (a file of their own, never served)
    for table in ("raw", "quarantine"):
        assert get(ds, f"/{name}/{table}").status_code == 404
    ds_sql = build_datasette(db_file, sql=True)
    assert get(ds_sql, f"/{name}.json?sql=select+1").status_code == 200


# --- hostile text (issue #14): formulas, bidi overrides, control characters ---------------
FORMULAS = ('=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1")
RLO = "SCNR 택시 요금 \u202e요금 환불\u202c 바랍니다"  # U+202E draws what follows right to left
ESC = "SCNT 택시 \x1b]0;owned\x07\x1b[2J 끝"  # a terminal title and a cleared screen


def add_opinions(db_file: Path, texts, like_count: int | None = None) -> list[str]:
    """Citizens' comments with exactly these texts on the X world's first post, handed to the
    writer as a normalizer hands them (search tokens included); their ids, in order."""
    from normalize.morph import search_tokens
    from normalize.schema import Comment
    from store.writer import Writer

    db = connect(db_file)
    post, account = db.execute("SELECT id, account FROM posts ORDER BY id LIMIT 1").fetchone()
    records = [Comment(
        id=f"x:hostile-{n}", platform="x", account=account, native_id=f"hostile-{n}",
        post_id=post, parent_id=None, author_key=f"k-hostile-{n}", author_name=None,
        is_official=0, text=text, lang="ko", created_at=f"2026-11-22T00:{n:02d}:00Z",
        like_count=like_count, url=f"https://x.com/i/status/hostile-{n}",
        tokens=search_tokens(text)) for n, text in enumerate(texts)]
    Writer(db).write_page(account, "comments", records, [{}] * len(records), platform="x")
    db.conn.close()
    return [r.id for r in records]


@pytest.fixture
def hostile(db_file) -> dict[str, str]:
    """db_file plus opinions of hostile text: {text: opinion id}."""
    texts = (*FORMULAS, RLO, ESC)
    return dict(zip(texts, add_opinions(db_file, texts, like_count=-2)))


def csv_cells(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_safe_follows_owasp():
    from core.display import csv_safe

    for text in FORMULAS + ("\n=1", "  =1+1", "\u3000@x", "-", "+", "=", "-1-1", "-5 "):
        assert csv_safe(text) == "'" + text, repr(text)
    for value in ("-5", "+1.5", "-2e3", "0", -5, -2.5, None, "", "서울 =1", "'=1", "a-b"):
        assert csv_safe(value) == value, repr(value)


def test_case_list_csv_neutralizes_formulas(db_file, hostile, capsys):
    assert run(db_file, "case", "list", "--overdue", "24", "--now", "2026-11-25T00:00:00Z",
               "--format", "csv") == 0
    rows = csv_cells(capsys.readouterr().out)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["id", "created_at", "status"]
    text = {r[header.index("id")]: r[header.index("text")] for r in body}
    for formula, oid in hostile.items():
        if formula in FORMULAS:
            assert text[oid] == "'" + formula, (oid, text[oid])
    assert text[hostile[RLO]] == RLO  # text that cannot start a formula is left as it is


def served(db_file: Path, sql: bool = False):
    from center.app import build_datasette

    ds = build_datasette(db_file, sql=sql)
    asyncio.run(ds.invoke_startup())
    return ds


def test_served_csv_exports_neutralize_formulas(db_file, hostile):
    ds, name = served(db_file, sql=True), db_file.stem
    ids = ",".join(hostile.values())
    exports = {
        "table": f"/{name}/center.csv?_size=max&id__in={ids}",
        "download": f"/{name}/center.csv?_dl=1&_stream=on&id__in={ids}",
        "trace": f"/{name}/center.csv?_dl=1&_trace=1&id__in={ids}",
        "raw table": f"/{name}/comments.csv?_size=max&id__in={ids}",
        "sql": f"/{name}.csv?sql=select+id,+text,+like_count+from+comments+where+id+like+"
               f"'x:hostile-%25'",
    }
    for what, path in exports.items():
        page = get(ds, path)
        assert page.status_code == 200, what
        assert page.headers["content-type"].startswith(("text/plain", "text/csv")), what
        rows = csv_cells(page.text)
        header = rows[0]
        text = {r[header.index("id")]: r[header.index("text")] for r in rows[1:]}
        assert set(text) == set(hostile.values()), what
        for formula, oid in hostile.items():
            expected = "'" + formula if formula in FORMULAS else formula
            assert text[oid] == expected, (what, formula, text[oid])
        assert {r[header.index("like_count")] for r in rows[1:]} == {"-2"}, what
    for formula, oid in hostile.items():  # a canned query
        rows = csv_cells(get(ds, f"/{name}/opinion.csv?id={oid}").text)
        opinion = next(r for r in rows if r[0].startswith("opinion"))
        assert opinion[rows[0].index("text")] == (
            "'" + formula if formula in FORMULAS else formula)
    rows = csv_cells(get(ds, f"/{name}.csv?sql=select+-5+as+n,+'-2%2B3'+as+f,+"
                             f"'%3D1'+as+%22%3Dh%22").text)
    assert rows == [["n", "f", "'=h"], ["-5", "'-2+3", "'=1"]]  # headers are cells too
    # JSON is data, not a spreadsheet: the stored text comes back as it is
    back = get(ds, f"/{name}/comments.json?_shape=objects&id__in={ids}").json()["rows"]
    assert {r["text"] for r in back} == set(hostile)


def test_every_csv_writer_goes_through_csv_safe():
    """No module writes CSV but through core.display.SafeCsvWriter."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("tests", ".venv") or rel == Path("core/display.py"):
            continue
        source = path.read_text(encoding="utf-8")
        if "csv.writer(" in source or "csv.DictWriter(" in source:
            offenders.append(str(rel))
    assert not offenders, offenders


def assert_shown(text: str, *words: str) -> None:
    """Shown text: no bidi override or terminal control left, the words still there."""
    from core.display import BIDI_CONTROLS

    assert not set(BIDI_CONTROLS + "\x1b\x07") & set(text)
    for word in words:
        assert word in text, word


def test_centre_pages_show_no_bidi_overrides(db_file, hostile):
    ds, name = served(db_file), db_file.stem
    rlo = hostile[RLO]
    pages = [f"/{name}/center?id={rlo}", f"/{name}/center?_facet=text&id={rlo}",
             f"/{name}/comments/{rlo.replace(':', '~3A')}", f"/{name}/opinion?id={rlo}",
             f"/{name}/search?q=택시", f"/{name}/center?text__contains=%E2%80%AE"]
    for path in pages:
        page = get(ds, path)
        assert page.status_code == 200, path
        assert_shown(page.text, "요금 환불", "SCNR 택시")
        assert "\ufffd" in page.text, path
    # the stored text, and JSON (data, not a page), keep what the citizen sent
    back = get(ds, f"/{name}/center.json?_shape=objects&id={rlo}").json()["rows"]
    assert back[0]["text"] == RLO
    assert connect(db_file).execute("SELECT text FROM comments WHERE id = ?",
                                    [rlo]).fetchone()[0] == RLO


def test_cli_shows_no_bidi_overrides_or_terminal_controls(db_file, hostile, capsys):
    for oid in (hostile[RLO], hostile[ESC]):
        assert run(db_file, "case", "show", oid) == 0
        assert_shown(capsys.readouterr().out, oid, "THIS OPINION")
    assert run(db_file, "case", "list", "--limit", "50") == 0
    assert_shown(capsys.readouterr().out, hostile[RLO], hostile[ESC])
    assert run(db_file, "search", "택시") == 0
    assert_shown(capsys.readouterr().out, "요금 환불", "SCNT 택시", "2J 끝")
    assert run(db_file, "case", "set", hostile[RLO], "--status", "assigned", "--department",
               "\u202e과통교", "--by", "kim\u2067") == 0
    assert_shown(capsys.readouterr().out, "과통교", "kim")


def test_status_shows_no_bidi_overrides(db_file, capsys):
    from store.writer import PageStats, Writer

    writer = Writer(connect(db_file))
    account, platform = writer.db.execute("SELECT key, platform FROM accounts "
                                          "ORDER BY key LIMIT 1").fetchone()
    row = writer.start_run("run", account, platform)
    writer.finish_run(row, "failed", PageStats(), requests=1,
                      error="HTTP 400: \u202e\x1b[31mderorri nekot\u202c")
    writer.db.conn.close()
    assert run(db_file, "status") == 0
    out = capsys.readouterr().out
    assert_shown(out, account, "derorri nekot")


def test_search_holding_nul_finds_nothing_not_an_error(db_file, hostile, capsys):
    ds, name = served(db_file), db_file.stem
    rows = get(ds, f"/{name}/search.json?_shape=objects&q=택시").json()["rows"]
    found = {r["id"] for r in rows}
    assert hostile[RLO] in found and hostile[ESC] in found
    for q in ("택시%00", "%00", "%00택시", "택%00시", "%00%00"):
        for path in (f"/{name}/search.json?q={q}", f"/{name}/search?q={q}",
                     f"/{name}/search.csv?q={q}"):
            assert get(ds, path).status_code == 200, path
        assert get(ds, f"/{name}/search.json?q={q}").json()["rows"] == [], q
    # other control characters only separate words
    rows = get(ds, f"/{name}/search.json?_shape=objects&q=%01택시%1b%7f").json()["rows"]
    assert {r["id"] for r in rows} == found

    assert run(db_file, "search", "택시\x00") == 0
    assert capsys.readouterr().out.startswith("-- 0 opinions match")
    assert run(db_file, "search", "\x01택시\x1b", "--limit", "100") == 0
    out = capsys.readouterr().out
    assert f"-- {len(found)} opinions match" in out
    assert run(db_file, "search", "\x1b[2J\x07\x08") == 0  # nothing to search: no crash


def test_served_centre_is_read_only(db_file):
    ds, name = served(db_file), db_file.stem
    q = ids(db_file)["SCNA"]
    routes = ["/", "/.json", f"/{name}", f"/{name}.json", f"/{name}/center",
              f"/{name}/center.csv", f"/{name}/center/{q.replace(':', '~3A')}",
              f"/{name}/search?q=택시", f"/{name}/opinion?id={q}", f"/{name}/overdue",
              f"/{name}/raw", f"/{name}/quarantine", f"/{name}/-/create",
              f"/{name}/center/-/insert", f"/{name}/cases/-/upsert", f"/{name}/cases/-/drop",
              "/-/messages", "/-/permissions", "/-/logout", "/-/allow-debug", "/-/versions",
              "/-/static/app.css", "/nowhere"]
    for path in routes:
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            page = asyncio.run(ds.client.request(method, path, data={"sql": "select 1"}))
            assert page.status_code == 405, (method, path, page.status_code)
            assert page.headers["allow"] == "GET, HEAD"
            assert "read-only" in page.text and "canned" not in page.text
    # reading works as before: pages 200, raw payloads absent from the served file
    assert get(ds, "/").status_code == 200
    assert asyncio.run(ds.client.request("HEAD", f"/{name}/center")).status_code == 200
    assert get(ds, f"/{name}/raw").status_code == 404
    assert get(ds, f"/{name}/quarantine").status_code == 404
    assert get(ds, f"/{name}.json?sql=select+1").status_code == 403
