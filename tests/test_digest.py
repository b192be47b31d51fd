"""The daily digest's figures on a database with exactly known opinions (digest/build.py)."""
from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT

from digest import build as digest_build
from digest.build import Count, Gap, Quota, Rising, build_digest, day_window
from digest.render import write_digest
from normalize.morph import keywords_many
from normalize.schema import Comment, Post
from pipeline.config import load_accounts
from store import digest_queries
from store.db import connect
from store.writer import PageStats, Writer

DAY = "2026-11-24"  # Seoul day: 2026-11-23T15:00Z .. 2026-11-24T15:00Z
NOW = "2026-11-25T09:00:00Z"  # the digest is made the next day: reference = end of the day
NAMES = {"x_seoulmania": "서울특별시", "x_seoul_taxi": "서울택시", "fb_seoul": "서울특별시 페이스북",
         "yt_seoul": "서울시 유튜브"}
PLATFORM = {"x_seoulmania": "x", "x_seoul_taxi": "x", "fb_seoul": "facebook",
            "yt_seoul": "youtube"}

# (id, account, created UTC, text, lang, district column, category column, answered at UTC)
# district/category are the stored columns; some deliberately differ from what the text says
# (d1 names 마포구 but is stored as 강남구) to prove the digest reads the columns.
OPINIONS = [
    # before the previous week: overdue (o1, o2), resolved (o3) and dismissed (o5) by staff
    ("o2", "yt_seoul", "2026-11-09T05:00:00Z", "쓰레기 수거 문의", "ko", None, None, None),
    ("o1", "fb_seoul", "2026-11-10T05:00:00Z", "가로등이 고장 났어요", "ko", None, None, None),
    ("o3", "x_seoulmania", "2026-11-08T00:00:00Z", "해결된 민원", "ko", None, None, None),
    ("o5", "fb_seoul", "2026-11-07T00:00:00Z", "중복 의견", "ko", None, None, None),
    # the previous 7 days (2026-11-17 .. 2026-11-23 in Seoul)
    ("p1", "x_seoulmania", "2026-11-17T03:00:00Z", "버스 노선이 궁금해요", "ko", "강남구", None,
     "2026-11-17T03:30:00Z"),
    ("p2", "x_seoulmania", "2026-11-18T03:00:00Z", "버스 정류장이 멀어요", "ko", None, None,
     "2026-11-18T04:00:00Z"),
    ("p3", "fb_seoul", "2026-11-19T03:00:00Z", "버스 배차 간격이 길어요", "ko", None, None,
     "2026-11-19T04:30:00Z"),
    ("p4", "x_seoul_taxi", "2026-11-20T03:00:00Z", "택시 승차 거부 신고합니다", "ko", None,
     "report", "2026-11-20T05:00:00Z"),
    ("p5", "x_seoulmania", "2026-11-21T03:00:00Z", "공원 화장실이 더러워요", "ko", None, None,
     "2026-11-22T04:00:00Z"),  # answered the next day: not the same day
    ("p6", "x_seoulmania", "2026-11-22T03:00:00Z", "지하차도가 침수됐어요", "ko", None, None,
     "2026-11-24T03:00:00Z"),  # answered two days later, before the reference time
    ("p7", "x_seoulmania", "2026-11-23T03:00:00Z", "도서관 시간 연장해 주세요", "ko", None, None,
     "2026-11-23T03:10:00Z"),
    ("o4", "x_seoul_taxi", "2026-11-23T14:00:00Z", "택시 민원입니다", "ko", None, None,
     "2026-11-24T15:30:00Z"),  # answered after the reference time: overdue (25 h)
    # the day
    ("d1", "x_seoulmania", "2026-11-23T15:30:00Z", "@seoulmania 지하차도가 침수됐어요 마포구에서요",
     "ko", "강남구", "report", "2026-11-23T15:50:00Z"),
    ("d2", "x_seoulmania", "2026-11-23T16:00:00Z", "침수 피해 신고합니다", "ko", "강남구",
     "report", "2026-11-23T16:40:00Z"),
    ("d3", "x_seoul_taxi", "2026-11-23T17:00:00Z", "반지하 침수 도와주세요", "ko", "관악구", None,
     None),
    ("d4", "fb_seoul", "2026-11-24T00:00:00Z", "서울시 침수 지역 통제 필요", "ko", None,
     "proposal", "2026-11-24T01:40:00Z"),
    ("d5", "yt_seoul", "2026-11-24T01:00:00Z", "Flooding near the station in Mapo", "en", None,
     None, "2026-11-24T20:00:00Z"),  # answered after the day's end
    ("d6", "x_seoulmania", "2026-11-24T02:00:00Z", "침수 버스 운행 중단", "ko", "마포구",
     "question", "2026-11-24T03:00:00Z"),
    ("d7", "x_seoulmania", "2026-11-24T03:00:00Z", "地下鉄の案内はありますか", "ja", None,
     "question", None),
]


# Opinions stored before comments.keywords existed (NULL): the digest analyses their text.
# The others carry keywords as the normalizer makes them (normalize.common.add_tokens).
STORED_BEFORE_KEYWORDS = {"p1", "p2", "p3"}
# Opinions stored before comments.crisis existed (NULL): the digest runs the crisis regexes on
# their text; the others carry the kind ('' for none) as normalize.common.make_comment sets it.
# d2 (untagged) sits between d1 and d3 (tagged): the examples merge both, oldest first.
STORED_BEFORE_CRISIS = {"p1", "p2", "p3", "d2", "d5"}


class Clock:
    """A settable clock for the Writer (first_seen, runs, quota days)."""

    def __init__(self, at: str) -> None:
        self.at = at

    def __call__(self) -> str:
        return self.at


def build_known_db(path: Path, accounts) -> None:
    """The database of OPINIONS, with runs, a completeness gap and YouTube quota."""
    db = connect(path)
    tagger = digest_build._tagger(str(digest_build.RULES_PATH))
    clock = Clock("2026-11-24T01:00:00Z")
    writer = Writer(db, clock=clock)
    writer.sync_accounts(accounts)
    for account, platform in PLATFORM.items():
        posts = [Post(id=f"{platform}:post-{account}", platform=platform, account=account,
                      native_id=f"post-{account}", text="게시물", lang="ko",
                      # in the digest's week: its completeness counts the week's posts
                      created_at="2026-11-17T00:00:00Z",
                      comment_count=20 if account == "x_seoulmania" else None)]
        records: list = []
        for oid, acc, created, text, lang, district, category, answered in OPINIONS:
            if acc != account:
                continue
            records.append(Comment(
                id=f"{platform}:{oid}", platform=platform, account=acc, native_id=oid,
                post_id=posts[0].id, parent_id=None, author_key=f"k-{oid}", author_name=None,
                is_official=0, text=text, lang=lang, created_at=created, district=district,
                category=category, url=f"https://example.org/{oid}",
                keywords=None if oid in STORED_BEFORE_KEYWORDS else keywords_many([text])[0],
                crisis=None if oid in STORED_BEFORE_CRISIS else (tagger.crisis(text) or "")))
            if answered:
                records.append(Comment(
                    id=f"{platform}:a-{oid}", platform=platform, account=acc,
                    native_id=f"a-{oid}", post_id=posts[0].id, parent_id=f"{platform}:{oid}",
                    author_key=None, author_name=NAMES[acc], is_official=1,
                    text="답변드립니다.", lang="ko", created_at=answered))
        rows = posts + records
        writer.write_page(account, "comments", rows, [{}] * len(rows), platform=platform)
    writer.refresh_answers()
    db.execute("INSERT INTO cases (comment_id, status, updated_at) "
               "VALUES ('x:o3', 'resolved', '2026-11-09T00:00:00Z'), "
               "('facebook:o5', 'dismissed', '2026-11-09T00:00:00Z')")
    # runs: three on the day, one failed run of yt_seoul two days before
    for at, account, status, error in [
        ("2026-11-22T01:00:00Z", "yt_seoul", "failed", "HttpError 500"),
        ("2026-11-24T01:00:00Z", "x_seoulmania", "ok", None),
        ("2026-11-24T02:00:00Z", "x_seoul_taxi", "failed", "HTTP 503 after 3 tries"),
        ("2026-11-24T03:00:00Z", "fb_seoul", "rate_limited", "rate limited until later"),
    ]:
        clock.at = at
        row = writer.start_run("run", account, PLATFORM[account])
        writer.finish_run(row, status, PageStats(), requests=1, error=error)
    # YouTube quota: 120 units on Pacific 11-23 (Seoul 11-24 10:00), 30 on Pacific 11-24
    for at, cost in [("2026-11-24T01:00:00Z", 120), ("2026-11-24T14:30:00Z", 30)]:
        clock.at = at
        writer.write_page("yt_seoul", "quota", [], [], platform="youtube", cost=cost)
    db.conn.close()


@pytest.fixture(scope="module")
def known_db(tmp_path_factory, accounts) -> Path:
    path = tmp_path_factory.mktemp("digest") / "smc.db"
    build_known_db(path, accounts)
    return path


@pytest.fixture(scope="module")
def digest(known_db):
    db = connect(known_db)
    yield build_digest(db, DAY, now=NOW)
    db.conn.close()


def test_window_and_reference(digest):
    assert day_window(DAY) == ("2026-11-23T15:00:00Z", "2026-11-24T15:00:00Z")
    assert (digest.start, digest.end) == ("2026-11-23T15:00:00Z", "2026-11-24T15:00:00Z")
    assert digest.reference == "2026-11-24T15:00:00Z" and not digest.partial
    assert digest.reference_seoul == "2026-11-25 00:00"
    assert not digest.empty


def test_totals_against_previous_week(digest):
    t = digest.totals
    assert (t.received, t.answered) == (7, 4)  # d1 d2 d4 d6 answered the same day
    assert t.answer_rate == pytest.approx(4 / 7)
    assert t.median_response_minutes == 50  # 20, 40, 60, 100
    assert t.prev_received == pytest.approx(8 / 7)  # p1..p7, o4
    assert t.prev_answered == pytest.approx(5 / 7)  # p1 p2 p3 p4 p7
    assert t.prev_answer_rate == pytest.approx(5 / 8)
    assert t.prev_median_response_minutes == 60  # 10, 30, 60, 90, 120
    assert [(x.day, x.received, x.answered) for x in digest.daily] == [
        ("2026-11-17", 1, 1), ("2026-11-18", 1, 1), ("2026-11-19", 1, 1),
        ("2026-11-20", 1, 1), ("2026-11-21", 1, 0), ("2026-11-22", 1, 0),
        ("2026-11-23", 2, 1), ("2026-11-24", 7, 4)]


def test_per_platform(digest):
    got = [(p.key, p.received, p.answered, p.median_response_minutes, p.prev_received * 7,
            p.prev_answer_rate, p.prev_median_response_minutes) for p in digest.platforms]
    assert got == [
        ("x", 5, 3, 40, pytest.approx(7), pytest.approx(4 / 7), 45),
        ("facebook", 1, 1, 100, pytest.approx(1), 1.0, 90),
        ("youtube", 1, 0, None, 0, None, None),
    ]
    assert digest.platforms[0].answer_rate == pytest.approx(3 / 5)


def test_per_account(digest):
    got = [(a.key, a.name, a.platform, a.received, a.answered, a.median_response_minutes,
            round(a.prev_received * 7), a.prev_answer_rate, a.prev_median_response_minutes)
           for a in digest.accounts]
    assert got == [
        ("x_seoulmania", "서울특별시", "x", 4, 3, 40, 5, pytest.approx(3 / 5), 30),
        ("x_seoul_taxi", "서울택시", "x", 1, 0, None, 2, 0.5, 120),
        ("fb_seoul", "서울특별시 페이스북", "facebook", 1, 1, 100, 1, 1.0, 90),
        ("yt_seoul", "서울시 유튜브", "youtube", 1, 0, None, 0, None, None),
    ]


def test_overdue_oldest_first(digest, known_db):
    got = [(o.id, o.account, o.hours_open, o.seoul_time, o.url) for o in digest.overdue]
    assert got == [
        ("youtube:o2", "yt_seoul", 370.0, "2026-11-09 14:00", "https://example.org/o2"),
        ("facebook:o1", "fb_seoul", 346.0, "2026-11-10 14:00", "https://example.org/o1"),
        ("x:o4", "x_seoul_taxi", 25.0, "2026-11-23 23:00", "https://example.org/o4"),
    ]
    assert digest.overdue[0].text == "쓰레기 수거 문의"
    db = connect(known_db)
    longer = build_digest(db, DAY, overdue_hours=48, now=NOW)
    assert [o.id for o in longer.overdue] == ["youtube:o2", "facebook:o1"]
    # made mid-day, the reference is now: o4 (created 23:00 the day before) is not yet 24 h old
    early = build_digest(db, DAY, now="2026-11-24T05:00:00Z")
    assert early.reference == "2026-11-24T05:00:00Z" and early.partial
    assert [o.id for o in early.overdue] == ["youtube:o2", "facebook:o1"]
    assert (early.totals.received, early.totals.answered) == (7, 4)
    db.conn.close()


def test_districts_categories_languages_from_columns(digest):
    assert [(c.name, c.count, c.prev_avg * 7) for c in digest.districts] == [
        ("강남구", 2, pytest.approx(1)), ("관악구", 1, 0), ("마포구", 1, 0)]
    assert digest.no_district == 3
    assert [(c.name, c.count, round(c.prev_avg * 7)) for c in digest.categories] == [
        ("report", 2, 1), ("complaint", 0, 0), ("proposal", 1, 0), ("question", 2, 0),
        ("praise", 0, 0), (None, 2, 7)]
    assert [(c.name, c.count, round(c.prev_avg * 7)) for c in digest.languages] == [
        ("ko", 5, 8), ("en", 1, 0), ("ja", 1, 0)]
    assert digest.languages[0].share == pytest.approx(5 / 7)


def test_keywords_are_nouns_counted_once_per_opinion(digest):
    assert digest.keywords[0] == Count("침수", 5, pytest.approx(1 / 7), pytest.approx(5 / 7))
    # each word is analysed on its own (as for search): 지하차도가 -> 지하 차도, 반지하 -> 지하
    assert digest.keywords[1] == Count("지하", 2, pytest.approx(1 / 7), pytest.approx(2 / 7))
    ones = [k.name for k in digest.keywords[2:]]
    assert ones == ["flooding", "mapo", "station", "地下鉄", "案内", "마포구", "버스", "신고",
                    "운행", "중단", "지역", "차도", "통제"]
    assert all(k.count == 1 for k in digest.keywords[2:])
    # 버스 in p1-p3 (keywords NULL: analysed by the digest), none of them stored
    assert next(k for k in digest.keywords if k.name == "버스").prev_avg == pytest.approx(3 / 7)
    names = {k.name for k in digest.keywords}
    assert not names & {"서울시", "the", "in", "near"}  # stop nouns and English function words
    assert not any(n.endswith(("가", "를", "됐어요")) for n in names)  # no particles, no endings
    assert digest.rising == [Rising("침수", 5, pytest.approx(1 / 7), pytest.approx(5.25), False)]


def test_keywords_are_read_from_the_column(known_db, tmp_path):
    """The stored keywords are what is counted (the text is analysed only when NULL)."""
    path = tmp_path / "copy.db"
    src = connect(known_db)
    src.conn.execute("VACUUM INTO ?", [str(path)])
    src.conn.close()
    db = connect(path)
    db.execute("UPDATE comments SET keywords = '홍수 침수' WHERE id = 'x:d2'")
    db.execute("UPDATE comments SET keywords = '' WHERE id = 'x:d6'")  # no nouns
    db.execute("UPDATE comments SET keywords = NULL WHERE id = 'x:d3'")  # analysed again
    d = build_digest(db, DAY, now=NOW)
    db.conn.close()
    counts = {k.name: k.count for k in d.keywords}
    assert counts["침수"] == 4 and counts["홍수"] == 1 and counts["지하"] == 2
    assert "신고" not in counts and "운행" not in counts  # d2's and d6's text is not read


def test_crisis_alert(digest):
    assert len(digest.crisis) == 1
    flood = digest.crisis[0]
    assert (flood.kind, flood.count, flood.alert) == ("flooding", 6, True)  # d1-d6 (d5: Flooding)
    assert flood.prev_avg == pytest.approx(1 / 7)  # p6
    assert [e.id for e in flood.examples] == ["x:d1", "x:d2", "x:d3"]
    assert digest.alerts == [flood]


def test_crisis_threshold(monkeypatch):
    """Sharp = at least CRISIS_MIN_COUNT mentions and CRISIS_MIN_RATIO x the daily average."""
    tagger = digest_build._tagger(str(digest_build.RULES_PATH))

    def rows(today: int, before: int) -> list[dict]:
        return ([{"seoul_day": "2026-11-24", "text": "침수", "id": str(i), "created_at": "",
                  "account": "", "account_name": "", "platform": "", "url": None}
                 for i in range(today)]
                + [{"seoul_day": "2026-11-20", "text": "침수"} for _ in range(before)])

    def alert(today: int, before: int) -> bool:
        return digest_build._crisis(rows(today, before), "2026-11-24", tagger)[0].alert

    assert alert(5, 0) and not alert(4, 0)  # at least 5 mentions
    assert alert(6, 14) and not alert(5, 14)  # at least 3x the average (14 / 7 = 2 a day)


def test_health(digest):
    h = digest.health
    configured = len(load_accounts(ROOT / "config" / "accounts.yaml"))
    assert (h.runs, h.accounts_run, h.accounts_total) == (3, 3, configured)
    assert [(a.account, a.failed, a.error) for a in h.failed] == [
        ("x_seoul_taxi", 1, "HTTP 503 after 3 tries")]
    assert [(a.account, a.rate_limited) for a in h.rate_limited] == [("fb_seoul", 1)]
    assert [(a.account, a.last_status) for a in h.failing_now] == [
        ("x_seoul_taxi", "failed"), ("yt_seoul", "failed")]
    # x_seoulmania: 10 opinions + 8 answers stored under a post that reports 20 comments
    assert h.gaps == [Gap("x_seoulmania", "서울특별시", "x", 20, 18)]
    assert h.gaps[0].missing == 2
    assert h.quota == [Quota("2026-11-23", 120, 10000), Quota("2026-11-24", 30, 10000)]


def test_health_counts_the_completeness_of_the_weeks_posts_only(tmp_path, accounts):
    """A post published before the digest's week is no longer in its completeness gaps (the
    week's posts: counting every post's comments read all the comments)."""
    path = tmp_path / "old.db"
    build_known_db(path, accounts)
    db = connect(path)
    db.execute("UPDATE posts SET created_at = '2026-11-16T14:59:59Z'")  # Seoul 11-16 23:59
    db.conn.commit()
    assert build_digest(db, "2026-11-24", now=NOW).health.gaps == []
    db.execute("UPDATE posts SET created_at = '2026-11-16T15:00:00Z'")  # Seoul 11-17 00:00
    db.conn.commit()
    assert [g.missing for g in build_digest(db, "2026-11-24", now=NOW).health.gaps] == [2]


def test_empty_day(known_db, tmp_path):
    db = connect(known_db)
    d = build_digest(db, "2026-11-01", now=NOW)
    assert d.empty and d.totals.received == 0 and d.totals.answer_rate is None
    assert d.overdue == [] and d.keywords == [] and d.crisis == [] and d.accounts == []
    paths = write_digest(db, "2026-11-01", tmp_path, now=NOW)
    db.conn.close()
    html, md, csv_path = paths
    assert "이 날 접수된 시민 의견이 없습니다" in html.read_text(encoding="utf-8")
    assert "이 날 접수된 시민 의견이 없습니다" in md.read_text(encoding="utf-8")
    rows = list(csv.reader(csv_path.open(encoding="utf-8-sig")))
    assert rows == [["received_seoul", "hours_open", "working_time", "platform", "account",
                     "account_name",
                     "department", "status", "url", "text", "id"]]


def test_empty_database(tmp_path):
    db = connect(tmp_path / "empty.db")
    d = build_digest(db, DAY, now=NOW)
    assert d.empty and d.platforms == [] and d.districts == [] and d.health.runs == 0
    assert [c.count for c in d.categories] == [0] * 6
    assert digest_queries.latest_opinion_day(db) is None
    db.conn.close()


def test_latest_opinion_day(known_db):
    db = connect(known_db)
    assert digest_queries.latest_opinion_day(db) == "2026-11-24"
    db.conn.close()


def test_cli_writes_the_three_files(known_db, tmp_path, monkeypatch, capsys):
    import commands.digest

    monkeypatch.setattr(commands.digest, "_now",
                        lambda: datetime(2026, 11, 25, 0, 30, tzinfo=UTC))
    out = tmp_path / "out"
    code = commands.main(["--db", str(known_db), "digest", "--out", str(out),
                          "--overdue-hours", "48"])  # default date: yesterday in Seoul
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["2026-11-24-overdue.csv", "2026-11-24.html", "2026-11-24.md"]
    assert capsys.readouterr().out.count("2026-11-24") == 3
    rows = list(csv.reader((out / "2026-11-24-overdue.csv").open(encoding="utf-8-sig")))
    assert [r[-1] for r in rows[1:]] == ["youtube:o2", "facebook:o1"]


def test_cli_usage_errors(known_db, tmp_path, monkeypatch, capsys):
    import commands.digest

    monkeypatch.setattr(commands.digest, "_now",
                        lambda: datetime(2026, 11, 25, 0, 30, tzinfo=UTC))
    base = ["--db", str(known_db), "digest", "--out", str(tmp_path)]
    assert commands.main([*base, "--date", "2026-12-01"]) == 2
    assert "in the future" in capsys.readouterr().err
    for bad in (["--date", "24.11.2026"], ["--overdue-hours", "0"]):
        with pytest.raises(SystemExit) as exc:
            commands.main([*base, *bad])
        assert exc.value.code == 2


@pytest.mark.parametrize("day, now, hours", [
    (DAY, NOW, 24), (DAY, NOW, 1), ("2026-11-23", NOW, 30), ("2026-11-21", NOW, 24),
    (DAY, "2026-11-24T03:30:00Z", 24),  # the day not over yet
])
def test_rollups_give_the_same_digest(known_db, day, now, hours):
    """The figures read from the per-day rollups equal those read from the opinions (the
    staff statuses, late answers, untagged and unkeyed rows of OPINIONS included)."""
    from dataclasses import asdict

    db = connect(known_db)
    rolled = build_digest(db, day, overdue_hours=hours, now=now)
    assert asdict(rolled) == asdict(build_digest(db, day, overdue_hours=hours, now=now,
                                                 rollups=False))
    db.conn.close()
