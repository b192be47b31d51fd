"""Opinions that sort themselves (issue #19): routing, abuse flag, near-duplicate groups, the
reflected status and the three rates, in the store, the workplace (over HTTP) and the digest.

Real Korean: the lines marked NSMC are movie reviews from the Naver sentiment movie corpus
(e9t/nsmc, `review` field), CC0 1.0 (public domain dedication) by Lucy Park, copied here from
the shared corpus as they are (nothing here reads ../shared)."""
from __future__ import annotations

import re
import sqlite3
from html import unescape
from urllib.parse import quote

import pytest
from conftest import ROOT
from test_workplace import (  # noqa: F401
    browser,
    db_file,
    events,
    ids,
    open_opinions,
    served,
    world_db,
)

from normalize.abuse import AbuseFilter
from normalize.common import make_comment
from normalize.routing import Route, Router
from normalize.schema import Context
from normalize.similar import band_keys, jaccard, shingles
from pipeline.runner import DEMO_AUTHOR_KEY, load_tagger
from store import cases
from store.db import connect
from store.grouping import refresh_groups
from store.writer import Writer

TAGGER = load_tagger()

# --- routing ---------------------------------------------------------------------------------
def test_the_reason_names_keyword_and_district_and_the_first_named_subject_wins():
    route = TAGGER.route
    assert route("강남구 택시 승차거부가 너무 심해요 🚕", "complaint", "강남구", "시민소통기획관") == (
        "택시물류과", "택시 + 강남구 -> 택시물류과")
    # the bus is named first; the taxi fare only after it
    assert route("심야버스 노선을 늘려 주세요. 택시비가 부담돼요.", None, None, None)[0] == "버스정책과"
    # specific before general: 장애인 콜택시 is welfare
    assert route("장애인 콜택시 대기 시간이 너무 깁니다", None, None, None)[0] == "복지실"
    # mixed scripts
    assert route("Taxi drivers near 명동 refused the meter 😡", None, "중구", None) == (
        "택시물류과", "Taxi + 중구 -> 택시물류과")
    assert route("明洞附近的出租车拒绝打表", None, None, None)[0] == "택시물류과"
    # nothing matched: the account's department, said so
    assert route("좋은 하루 되세요 😊", "praise", None, "문화본부") == (
        "문화본부", "계정 부서 -> 문화본부")
    assert route("좋은 하루", None, None, None) == (None, None)


def test_conditions_on_category_district_and_account():
    router = Router([Route("A", keywords=("공사",), districts=("마포구",)),
                     Route("B", categories=("report",), account_departments=("안전총괄실",)),
                     Route("C", keywords=("공사",))])
    assert router.route("공사 소음", None, "마포구", None)[0] == "A"
    assert router.route("공사 소음", None, "중구", None)[0] == "C"
    assert router.route("위험해요", "report", None, "안전총괄실") == (
        "B", "report + 안전총괄실 -> B")
    assert router.route("위험해요", "report", None, "문화본부") == (
        "문화본부", "계정 부서 -> 문화본부")


def test_each_new_opinion_is_stored_with_its_suggestion_and_flag(tmp_path):
    db = connect(tmp_path / "smc.db")
    ctx = Context(platform="x", account="x_seoulmania", secret=DEMO_AUTHOR_KEY, tagger=TAGGER,
                  account_department="시민소통기획관")
    texts = {"1": "마포구 따릉이 대여소 늘려 주세요!", "2": "버스 또 안 와 ㅅㅂ",
             "3": "서울시 공식 답변입니다"}
    records = [make_comment(ctx, native_id=k, post_native=None, parent_native=None,
                            author_id=k, author_name="서울시" if k == "3" else None,
                            is_official=k == "3", text=t, created_at="2026-11-24T01:00:00Z")
               for k, t in texts.items()]
    Writer(db).write_page("x_seoulmania", "test", records, [{} for _ in records])
    rows = {r["id"]: r for r in db.query(
        "SELECT id, suggested_department, suggestion_reason, abusive FROM comments")}
    assert rows["x:1"]["suggested_department"] == "자전거정책과"
    assert rows["x:1"]["suggestion_reason"] == "따릉이 + 마포구 -> 자전거정책과"
    assert (rows["x:1"]["abusive"], rows["x:2"]["abusive"]) == (0, 1)
    assert rows["x:3"]["suggested_department"] is None and rows["x:3"]["abusive"] is None
    shown = db.execute("SELECT suggested_department, suggestion_reason, abusive FROM opinions "
                       "WHERE id = 'x:2'").fetchone()
    assert shown == ("버스정책과", "버스 -> 버스정책과", 1)


# --- abuse -----------------------------------------------------------------------------------
ABUSIVE_NSMC = [  # NSMC (see the module's doc)
    "씨발 괜히 봤다",
    "괭이때문에 ㅅㅂ 더 이상은 생략한다",
    "재미없진 않은데 존나 답답하네 형제가 핸드폰도없고 맨몸으로 존나 질질끌려만다니고",
    "이걸 10 점안 주는 놈이 ㅄ이지 ㅉㅉ",
    "일베충들은 전두환하고 똑같은 쓰레기들이다",
    "This is Fucking England",
]
CLEAN_NSMC = [  # NSMC
    "아무리그래도관객도생각좀하지..ㅡ.ㅡ넘..작가주의..",
    "시나리오는 약하고 연출력도 볼 것 없고, 케이지도 어쩔 수 없다.",
    "그냥 그저그래요....",
    "20년 전 그 시절 그 영화,, 지금 봐도 너무 재밌다,, 아 늙었나보네,,",
]
CLEAN_CIVIC = ["서울시 발전 계획에 찬성합니다 👍", "시발점에서 출발하는 버스가 늦어요",
               "가로등이 꺼져 있어요", "강아지 새끼가 공원에 버려져 있어요 ㅠㅠ",
               "아저씨 발을 밟았어요", "빨리 고쳐 주세요", "ソウルの地下鉄は便利です"]


@pytest.mark.parametrize("text", ABUSIVE_NSMC + ["씨.발 버스 언제 와", "시1발 또 공사", "ㅆ ㅂ 🤬"])
def test_abusive_text_is_flagged(text):
    assert TAGGER.abusive(text)


@pytest.mark.parametrize("text", CLEAN_NSMC + CLEAN_CIVIC)
def test_clean_text_is_not(text):
    assert not TAGGER.abusive(text)


def test_an_empty_filter_flags_nothing():
    assert not AbuseFilter(())("씨발")


# --- near-duplicate groups --------------------------------------------------------------------
def test_shingles_ignore_emoji_spacing_and_punctuation():
    a = shingles("택시 승차거부 단속 강화해 주세요!!")
    assert a == shingles("택시승차거부 단속 강화해주세요 😡😡")
    assert jaccard(a, shingles("한강 수영장 운영 기간 연장해 주세요")) < 0.1
    keys = band_keys([(a, "강남구"), (a, "마포구"), (frozenset(), None)])
    assert keys[2] == [] and not set(keys[0]) & set(keys[1])  # the district is in the key


def _store(db, texts: dict[str, tuple[str, str | None]]) -> None:
    ctx = Context(platform="x", account="x_seoulmania", secret=DEMO_AUTHOR_KEY)
    records = [make_comment(ctx, native_id=k, post_native=None, parent_native=None,
                            author_id=k, author_name=None, is_official=False, text=t,
                            created_at=f"2026-11-24T01:00:{int(k):02d}Z")._replace(district=d)
               for k, (t, d) in texts.items()]
    Writer(db).write_page("x_seoulmania", "test", records, [{} for _ in records])


def test_groups_are_found_incrementally_across_runs(tmp_path):
    db = connect(tmp_path / "smc.db")
    base = "심야 택시 승차거부 단속을 강화해 주세요. 매일 밤 한 시간씩 택시를 못 잡습니다."
    _store(db, {"1": (base, "강남구"), "2": ("한강 수영장 운영 기간을 연장해 주세요", None),
                "3": ("동의합니다. " + base + " 😡", "강남구")})
    assert refresh_groups(db) == 1
    _store(db, {"4": ("저도요!! " + base.replace("매일 밤 ", "") + " ㅠㅠ", "강남구"),
                "5": (base, "마포구"),  # the same words about another district
                "6": ("Seoul 🚕 " + base, "강남구")})
    assert refresh_groups(db) == 2
    assert refresh_groups(db) == 0  # nothing new
    groups = dict(db.execute("SELECT id, group_id FROM opinions").fetchall())
    assert groups == {"x:1": "x:1", "x:2": None, "x:3": "x:1", "x:4": "x:1", "x:5": None,
                      "x:6": "x:1"}


# --- reflected and the three rates -------------------------------------------------------------
def test_reflected_needs_its_policy_and_counts_in_all_three_rates(tmp_path):
    from pipeline.config import load_accounts

    db = connect(tmp_path / "smc.db")
    Writer(db).sync_accounts(load_accounts(ROOT / "config" / "accounts.yaml"))
    _store(db, {str(i): (f"의견 {i}번 입니다", None) for i in range(1, 5)})
    with pytest.raises(cases.CaseError, match="policy"):
        cases.set_status(db, cases.Change("x:1", "reflected"))
    cases.set_status(db, cases.Change("x:1", "reflected", policy="2027 심야택시 증차 계획"))
    cases.set_status(db, cases.Change("x:2", "resolved"))
    cases.set_status(db, cases.Change("x:3", "answered"))
    assert cases.history(db, "x:1")[0]["policy"] == "2027 심야택시 증차 계획"
    assert db.execute("SELECT policy FROM opinions WHERE id = 'x:1'").fetchone() == (
        "2027 심야택시 증차 계획",)
    _, overall = cases.reflection(db)
    assert (overall["answer_pct"], overall["resolution_pct"], overall["reflection_pct"]) == (
        75.0, 50.0, 25.0)
    from store.workplace_queries import sns_map, totals

    rolled = totals(sns_map(db))
    assert (rolled["answer_pct"], rolled["resolution_pct"], rolled["reflection_pct"]) == (
        75.0, 50.0, 25.0)


# --- the workplace ---------------------------------------------------------------------------
def _set(db_path, sql: str, params: tuple) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_one_click_confirms_the_suggestion_and_reflect_records_the_policy(served):  # noqa: F811
    oid = ids(served[2])["SCNE"]["id"]
    _set(served[2], "UPDATE comments SET suggested_department = '서울도서관', "
         "suggestion_reason = '도서관 -> 서울도서관' WHERE id = ?", (oid,))
    b = browser(served)
    b.login("kim")
    page = f"/opinions/{oid}"
    shown = b.get(page).text
    assert "도서관 -&gt; 서울도서관" in shown and 'id="act-confirm"' in shown
    status = cases.opinion(connect(served[2]), oid)["status"]
    assert b.form(f"{page}/act", page, action="confirm", **{"from": status}).status_code == 303
    got = b.form(f"{page}/act", page, action="reflect", **{"from": "assigned"}, policy="")
    assert got.status_code == 400  # the policy is required
    assert b.form(f"{page}/act", page, action="reflect", **{"from": "assigned"},
                  policy="주말 운영 연장 (2027)").status_code == 303
    history = events(served[2], oid)
    assert [(e["action"], e["to_status"], e["department"]) for e in history[-2:]] == [
        ("confirm", "assigned", "서울도서관"), ("reflect", "reflected", "서울도서관")]
    assert history[-1]["policy"] == "주말 운영 연장 (2027)"


def test_one_action_applies_to_every_member_of_a_group(served):  # noqa: F811
    q = ids(served[2])
    lead, other = q["SCNA"]["id"], q["SCNB"]["id"]
    for oid in (lead, other):
        _set(served[2], "UPDATE comments SET group_id = ? WHERE id = ?", (lead, oid))
    b = browser(served)
    b.login("kim")
    page = f"/opinions/{lead}"
    assert 'id="group"' in b.get(page).text
    status = cases.opinion(connect(served[2]), lead)["status"]
    got = b.form(f"{page}/act", page, action="resolve", group="1",
                 **{"from": status})
    assert got.status_code == 303, (status, cases.opinion(connect(served[2]), other)["status"],
                                    got.text[got.text.find('class="error'):][:300])
    for oid in (lead, other):
        assert events(served[2], oid)[-1]["to_status"] == "resolved"


def test_abusive_text_is_behind_a_click_and_never_public(served):  # noqa: F811
    oid = ids(served[2])["SCND"]["id"]
    text = cases.opinion(connect(served[2]), oid)["text"]
    _set(served[2], "UPDATE comments SET abusive = 1 WHERE id = ?", (oid,))
    b = browser(served)
    b.login("kim")
    assert text not in b.get(f"/opinions/{oid}").text
    assert text in b.get(f"/opinions/{oid}?show=1").text
    from store.workplace_queries import public_index, public_rows

    db = connect(served[2])
    assert oid not in {r["id"] for r in public_index(db, 100_000)}
    assert public_rows(db, [oid]) == []


def _expected(db_path, crisis_first: bool, department: str | None = None) -> list[str]:
    """The inbox's order as the opinions say it (status all): crisis-tagged ones first when
    `crisis_first`, each part oldest first."""
    db = connect(db_path)
    rows = db.execute("SELECT o.id, o.created_at, coalesce(o.crisis, '') <> '', c.department "
                      "FROM opinions o JOIN center c ON c.id = o.id").fetchall()
    db.conn.close()
    rows = [r for r in rows if department is None or r[3] == department]
    return [r[0] for r in sorted(rows, key=lambda r: (crisis_first and not r[2], r[1], r[0]))]


def _listed(b, path: str) -> list[str]:
    """Every opinion the inbox lists from `path` on, following its next links."""
    shown: list[str] = []
    while path:
        page = b.get(path).text
        shown += re.findall(r'data-id="([^"]+)"', page)
        found = re.search(r'href="([^"]+)" id="next"', page)
        path = unescape(found.group(1)) if found else ""
    return shown


def test_the_inbox_orders_crisis_first_then_oldest(served, monkeypatch):  # noqa: F811
    from store import workplace_queries

    db_path = served[2]
    oldest_first = _expected(db_path, crisis_first=False)
    flagged = oldest_first[-1:-9:-2]  # four late ones: the first page ends inside them
    # no crisis but ours; no groups (a group's members on one page are one item)
    _set(db_path, "UPDATE comments SET crisis = '', group_id = NULL WHERE is_official = 0", ())
    for oid, kind in zip(flagged, ("flooding", "fire", "flooding", "heat")):
        _set(db_path, "UPDATE comments SET crisis = ? WHERE id = ?", (kind, oid))
    monkeypatch.setattr(workplace_queries, "PAGE", 3)  # pages end inside and after the crisis part
    b = browser(served)
    b.login("kim")
    crisis_first = _expected(db_path, crisis_first=True)
    assert crisis_first[:4] == sorted(flagged, key=oldest_first.index)
    assert _listed(b, "/inbox?status=all&order=crisis") == crisis_first
    assert _listed(b, "/inbox?status=all") == oldest_first  # the usual order is unchanged
    first = b.get("/inbox?status=all&order=crisis").text
    assert "위기 먼저" in first and 'value="crisis" selected' in first
    assert "위기 (crisis) · " in first
    # one department's inbox, merged from its accounts: crisis first as well
    department = cases.opinion(connect(db_path), flagged[0])["department"]
    assert _listed(b, f"/inbox?status=all&order=crisis&department={quote(department)}") == \
        _expected(db_path, crisis_first=True, department=department)
    # an unknown order is the usual one
    assert _listed(b, "/inbox?status=all&order=nonsense") == oldest_first


def test_a_group_is_one_item_in_the_inbox_and_assigning_it_assigns_every_member(
        served):  # noqa: F811
    members = [r["id"] for r in open_opinions(served[2])[:3]]
    _set(served[2], "UPDATE comments SET group_id = NULL", ())  # the world's own groups
    for oid in members:
        _set(served[2], "UPDATE comments SET group_id = ? WHERE id = ?", (members[0], oid))
    b = browser(served)
    b.login("kim")
    inbox = b.get("/inbox").text
    listed = re.findall(r'data-id="([^"]+)"', inbox)
    assert members[0] in listed and not set(members[1:]) & set(listed)
    assert "같은 의견 묶음 (group) 3건 · 이 쪽에 3건" in inbox
    assert f'value="group:{members[0]}"' in inbox
    got = b.form("/inbox/assign", "/inbox", id=f"group:{members[0]}", department="문화본부")
    assert got.status_code == 303
    assert "3건을 문화본부에 배정했습니다" in b.get(got.headers["location"]).text
    for oid in members:  # each its own history row
        assert [(e["action"], e["department"], e["by"]) for e in events(served[2], oid)] == \
            [("assign", "문화본부", "kim")]


# --- the digest ------------------------------------------------------------------------------
def test_the_digest_lists_backlog_groups_and_the_three_rates(tmp_path):
    from digest.build import build_digest
    from digest.render import render_markdown

    db = connect(tmp_path / "smc.db")
    ctx = Context(platform="x", account="x_seoulmania", secret=DEMO_AUTHOR_KEY, tagger=TAGGER,
                  account_department="시민소통기획관")
    base = "기후동행카드 요금을 청년과 어르신에게 더 할인해 주세요"
    records = [make_comment(ctx, native_id=str(i), post_native=None, parent_native=None,
                            author_id=str(i), author_name=None, is_official=False,
                            text=base + "!" * i, created_at=f"2026-11-24T0{i}:00:00Z")
               for i in range(1, 4)]
    Writer(db).write_page("x_seoulmania", "test", records, [{} for _ in records])
    refresh_groups(db)
    d = build_digest(db, "2026-11-24", now="2026-11-25T00:00:00Z")
    assert d.groups[0]["today"] == 3 and d.routing[0]["open"] == 3
    assert d.rates["pct"]["reflection_pct"] == 0.0
    md = render_markdown(d)
    assert "정책 반영률 (policy-reflection rate)" in md and "3건 (전체 3건)" in md
