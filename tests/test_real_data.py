"""Real platform data (issue #13): every item of every recorded response stored right,
quarantined with a reason, or skipped by a counted rule; one regression test per point.

The fixtures are real responses other projects recorded (tests/fixtures/*/SOURCE.md or
README.md name each one's origin and licence)."""
from __future__ import annotations

import copy
import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import commands
from normalize.schema import Context, Skipped
from normalize.x import normalize_tweet
from normalize.youtube import normalize_page as youtube_page
from pipeline.formats import Options, pages_of
from store.db import open_plain

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
KEY = "real-data-test-key-" + "k" * 24
ACCOUNT = {"x": "x_seoulmania", "facebook": "fb_seoul", "instagram": "ig_seoul",
           "youtube": "yt_seoul"}
FOLDER_PLATFORM = {"twarc2": "x", "x-api-v2": "x", "facebook-graph": "facebook",
                   "instagram-graph": "instagram", "youtube-data-v3": "youtube",
                   "airbyte": "instagram"}


@pytest.fixture(autouse=True)
def author_key(monkeypatch):
    monkeypatch.setenv("SMC_AUTHOR_KEY", KEY)


def cassette_bodies(path: Path) -> list[str]:
    """The response bodies of a VCR cassette (tweepy's are gzip-compressed)."""
    out = []
    for interaction in yaml.safe_load(path.read_text())["interactions"]:
        body = interaction["response"]["body"]["string"]
        out.append(gzip.decompress(body).decode() if isinstance(body, bytes) else body)
    return out


def fixture_files(tmp: Path | None = None) -> list[tuple[str, Path]]:
    """(platform, JSON file) of every recorded response, cassettes as one body a line."""
    found = []
    for path in sorted(FIXTURES.rglob("*")):
        platform = FOLDER_PLATFORM.get(path.parent.name)
        if platform and path.suffix in (".json", ".jsonl", ".yaml"):
            found.append((platform, path))
    return found


def as_json_file(path: Path, tmp: Path) -> Path:
    if path.suffix != ".yaml":
        return path
    out = tmp / (path.stem + ".jsonl")
    bodies = [json.dumps(json.loads(b)) for b in cassette_bodies(path) if b.strip()]
    out.write_text("\n".join(bodies) + "\n", encoding="utf-8")
    return out


def imp(db: Path, platform: str, *files: Path, extra: tuple[str, ...] = ()) -> int:
    return commands.main(["--db", str(db), "import", "--platform", platform,
                          "--account", ACCOUNT[platform], *extra, *map(str, files)])


# --- what the input holds, counted independently of the importer ------------------------
def documents(path: Path) -> Iterator[Any]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        doc = json.loads(text)
        yield from doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)


def unwrap(doc: Any) -> Any:
    if isinstance(doc, dict) and doc.get("type") == "RECORD":
        record = doc["record"]
        return record if "stream" in doc else record["data"]
    if isinstance(doc, dict) and {"stream", "data", "emitted_at"} <= set(doc):
        return doc["data"]
    return doc


def input_items(platform: str, doc: Any) -> list[Any]:
    """Every item (tweet, post, comment, reply, media, chat message, profile) a document
    holds, nested ones included: what must each end up stored, quarantined or skipped."""
    doc = unwrap(doc)
    if not isinstance(doc, dict) or "error" in doc:
        return []
    if platform == "x":
        data = doc.get("data")
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            return [data]
        return [doc] if "text" in doc else []
    if platform == "youtube":
        items = doc["items"] if isinstance(doc.get("items"), list) else [doc]
        replies = [r for i in items for r in (i.get("replies") or {}).get("comments", [])]
        return items + replies
    if isinstance(doc.get("data"), list):
        top = doc["data"]
    elif "mentioned_comment" in doc or "mentioned_media" in doc:
        top = [doc.get("mentioned_comment") or doc.get("mentioned_media")]
    elif "id" in doc or not all(k.replace("_", "").isdigit() for k in doc):
        top = [doc]  # one object (an Airbyte metrics record is one too)
    else:  # ?ids= batch: objects, or edge pages under their id
        top = [x for v in doc.values() if isinstance(v, dict)
               for x in (v["data"] if isinstance(v.get("data"), list) else [v])]
    return [n for item in top for n in _with_nested(item)]


def _with_nested(item: Any) -> list[Any]:
    out = [item]
    for edge in ("comments", "replies"):
        value = item.get(edge) if isinstance(item, dict) else None
        for child in (value or {}).get("data", []) if isinstance(value, dict) else []:
            out.extend(_with_nested(child))
    return out


def one(db: Path, sql: str, *args: Any) -> Any:
    with open_plain(db) as conn:
        return conn.execute(sql, args).fetchone()


def rows(db: Path, sql: str, *args: Any) -> list[tuple]:
    with open_plain(db) as conn:
        return conn.execute(sql, args).fetchall()


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """The database's content, without the times we saw things."""
    return {
        "comments": rows(db, "SELECT id, post_id, parent_id, author_key, is_official, text, "
                             "created_at, edited_at, restricted, restricted_countries, "
                             "version_id, edit_ids, deleted FROM comments ORDER BY id"),
        "posts": rows(db, "SELECT id, text, created_at, edited_at, restricted, version_id "
                          "FROM posts ORDER BY id"),
        "quarantine": rows(db, "SELECT native_id, reason FROM quarantine ORDER BY 1, 2"),
        "versions": rows(db, "SELECT id, version, text FROM versions ORDER BY 1, 2"),
        "aliases": rows(db, "SELECT alias, id FROM record_aliases ORDER BY 1"),
        "answers": rows(db, "SELECT comment_id, answer_id FROM answers ORDER BY 1"),
    }


# --- the contract, over every recorded response ------------------------------------------
@pytest.mark.parametrize("platform,path", fixture_files(),
                         ids=[f"{p.parent.name}/{p.name}" for _, p in fixture_files()])
def test_every_item_of_a_real_file_is_stored_quarantined_or_skipped(platform, path, tmp_path):
    source = as_json_file(path, tmp_path)
    db = tmp_path / "smc.db"
    docs = list(documents(source))
    items = [i for d in docs for i in input_items(platform, d)]
    bad_docs = sum(1 for d in docs if not input_items(platform, d)
                   and not pages_of(platform, d).pages and not pages_of(platform, d).skips
                   and pages_of(platform, d).problem)
    code = imp(db, platform, source)
    assert code == (1 if bad_docs else 0)
    run = one(db, "SELECT fetched, inserted, updated, unchanged, quarantined, skipped, status "
                  "FROM runs WHERE kind = 'import'")
    fetched, inserted, updated, unchanged, quarantined, skipped, status = run
    assert status == "ok" and fetched == inserted + updated + unchanged + quarantined + skipped
    # every item read: the input's items, plus each document that is no page at all
    assert fetched == len(items) + bad_docs
    stored = {r[0] for r in rows(db, "SELECT native_id FROM comments UNION ALL "
                                     "SELECT native_id FROM posts UNION ALL "
                                     "SELECT substr(alias, instr(alias, ':') + 1) "
                                     "FROM record_aliases")}  # a later version's id
    held = {r[0] for r in rows(db, "SELECT native_id FROM quarantine WHERE native_id IS "
                                   "NOT NULL")}
    assert not stored & held, "an id both stored and quarantined"
    ids = {str(i["id"]) for i in items if isinstance(i, dict) and i.get("id")}
    assert len(ids - stored - held) <= skipped  # the rest were skipped by a counted rule
    before = snapshot(db)
    assert imp(db, platform, source) == code  # a second import adds nothing
    assert snapshot(db) == before
    second = one(db, "SELECT inserted, updated FROM runs WHERE kind = 'import' "
                     "ORDER BY id DESC LIMIT 1")
    assert second == (0, 0)


@pytest.mark.parametrize("platform", sorted(set(FOLDER_PLATFORM.values())))
def test_importing_the_files_in_reverse_order_gives_the_same_database(platform, tmp_path):
    files = [as_json_file(p, tmp_path) for pl, p in fixture_files() if pl == platform]
    forward, backward = tmp_path / "f.db", tmp_path / "b.db"
    for path in files:
        imp(forward, platform, path)
    for path in reversed(files):
        imp(backward, platform, path)
    assert snapshot(forward) == snapshot(backward)


def test_import_help_names_every_format(capsys):
    with pytest.raises(SystemExit):
        commands.main(["import", "--help"])
    out = capsys.readouterr().out
    for name in ("twarc2 search", "stream lines", "flatten", "Airbyte", "Singer", "?ids=",
                 "mentioned_comment", "liveChatMessages", "comments.list", "commentThreads"):
        assert name in out, name


# --- 1. notices never overwrite opinions ---------------------------------------------------
def _twarc_page(tweets: list[dict], users: list[dict]) -> str:
    return json.dumps({"data": tweets, "includes": {"users": users},
                       "meta": {"result_count": len(tweets)},
                       "__twarc": {"url": "https://api.twitter.com/2/tweets/search/recent",
                                   "version": "2.14.0"}}, ensure_ascii=False)


WITHHELD = [json.loads(line) for line in
            (FIXTURES / "twarc2" / "withheld_first3.jsonl").read_text().splitlines()]
MEDIA_POLICY = ("This Tweet is from an account that is temporarily unavailable because it "
                "violates the Twitter Media Policy. Learn more.")


def test_a_notice_never_replaces_the_text_we_hold(tmp_path):
    page = WITHHELD[2]
    tweet, users = page["data"][0], page["includes"]["users"]
    first, notice = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text(_twarc_page([tweet], users))
    shown = {**tweet, "text": MEDIA_POLICY, "withheld": {"copyright": False,
                                                         "country_codes": ["RU", "DE"]}}
    notice.write_text(_twarc_page([shown], users))
    db = tmp_path / "smc.db"
    assert imp(db, "x", first) == 0
    raw = one(db, "SELECT payload FROM raw")[0]
    assert imp(db, "x", notice) == 0
    text, edited, kind, countries, at = one(
        db, "SELECT text, edited_at, restricted, restricted_countries, restricted_at "
            "FROM comments WHERE native_id = ?", tweet["id"])
    assert text.startswith("@사용자 @사용자 ") and edited is None  # citizens' handles masked
    assert (kind, countries) == ("media_policy", "DE,RU") and at
    assert one(db, "SELECT payload FROM raw")[0] == raw  # the earlier payload stays
    assert one(db, "SELECT restricted FROM center WHERE id = ?", f"x:{tweet['id']}")[0] == \
        "media_policy"


def test_withheld_tweets_of_a_real_file_record_their_countries(tmp_path):
    db = tmp_path / "smc.db"
    assert imp(db, "x", FIXTURES / "twarc2" / "withheld_first3.jsonl") == 0
    got = dict(rows(db, "SELECT native_id, restricted || ':' || coalesce(restricted_countries, "
                        "'') FROM comments WHERE restricted IS NOT NULL"))
    assert got == {"1388424788171841537": "withheld:IN", "25712847277": "withheld:DE,FR"}
    assert one(db, "SELECT count(*) FROM comments WHERE text = ''")[0] == 0  # real words kept


def test_a_first_seen_notice_is_stored_without_words():
    tweet = {"id": "1600000000000000000", "text": "This Post is from a suspended account.",
             "author_id": "42", "edit_history_tweet_ids": ["1600000000000000000"]}
    out = normalize_tweet(tweet, {}, Context(platform="x", account="x_seoulmania",
                                             secret=b"k"))
    assert out.text == "" and out.restricted == "suspended"


# --- 2. edit order, and 3. every id of an edit history resolves to the one row --------------
EDITED = json.loads((FIXTURES / "twarc2" / "edited.jsonl").read_text().splitlines()[0])


def _versions() -> list[dict]:
    """The real edited tweet and its two earlier versions (their own ids and texts)."""
    newest = EDITED["data"][0]
    first_id, second_id = newest["edit_history_tweet_ids"]
    third_id = str(int(second_id) + (1 << 22) * 60_000)  # a minute later
    v1 = {**newest, "id": first_id, "text": "hey", "edit_history_tweet_ids": [first_id],
          "created_at": "2022-10-03T17:51:25.000Z"}
    v2 = {**newest, "id": second_id, "edit_history_tweet_ids": [first_id, second_id]}
    v3 = {**newest, "id": third_id, "text": "hey :) edited twice",
          "edit_history_tweet_ids": [first_id, second_id, third_id],
          "created_at": "2022-10-03T17:52:35.000Z"}
    return [v1, v2, v3]


def _arrive(tmp: Path, order: list[int], name: str) -> Path:
    db = tmp / f"{name}.db"
    users = EDITED["includes"]["users"]
    for n, i in enumerate(order):
        path = tmp / f"{name}-{n}.jsonl"
        path.write_text(_twarc_page([_versions()[i]], users))
        assert imp(db, "x", path) == 0
    return db


def _row(db: Path) -> tuple:
    return one(db, "SELECT id, text, created_at, edited_at, version_id, edit_ids, "
                   "content_hash FROM comments")


def test_an_older_version_arriving_later_never_puts_the_old_text_back(tmp_path):
    db = _arrive(tmp_path, [2, 0, 1], "late")
    v1, v2, v3 = _versions()
    rid, text, created, edited, version, edit_ids, _ = _row(db)
    assert rid == f"x:{v1['id']}" and text == v3["text"] and version == v3["id"]
    assert edited == "2022-10-03T17:52:35Z"  # the newest version's creation, not import time
    assert json.loads(edit_ids) == [v1["id"], v2["id"], v3["id"]]
    assert [t for _, _, t in snapshot(db)["versions"]] == sorted(
        [v1["text"], v2["text"], v3["text"]], key=lambda t: [v1["text"], v2["text"],
                                                              v3["text"]].index(t))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations([0, 1, 2]))
def test_any_order_of_arrival_gives_the_same_row(tmp_path_factory, order):
    tmp = tmp_path_factory.mktemp("order")
    reference = _row(_arrive(tmp, [0, 1, 2], "ref"))
    db = _arrive(tmp, list(order), "any")
    assert _row(db) == reference
    assert snapshot(db)["versions"] == snapshot(tmp / "ref.db")["versions"]


def test_replies_to_any_version_link_to_the_one_row(tmp_path):
    """The city answers the newest version of an edited citizen tweet, and a citizen
    replies to the newest version of an edited city post: links, post and answer hold."""
    v1, v2, _ = _versions()
    users = [*EDITED["includes"]["users"], {"id": "9001", "username": "seoulmania",
                                            "name": "서울특별시"}]
    citizen = {**v2, "conversation_id": "1576990000000000000",
               "referenced_tweets": [{"type": "replied_to", "id": "1576990000000000000"}]}
    post_v1 = {"id": "1576990000000000000", "text": "서울시 공지", "author_id": "9001",
               "edit_history_tweet_ids": ["1576990000000000000"],
               "conversation_id": "1576990000000000000", "created_at": "2022-10-03T17:00:00Z"}
    post_v2 = {**post_v1, "id": "1576991000000000000", "text": "서울시 공지 (수정)",
               "edit_history_tweet_ids": ["1576990000000000000", "1576991000000000000"],
               "created_at": "2022-10-03T17:10:00Z"}
    answer = {"id": "1577000000000000000", "text": "@wongmjane 답변드립니다", "author_id": "9001",
              "conversation_id": "1576990000000000000", "created_at": "2022-10-03T18:00:00Z",
              "edit_history_tweet_ids": ["1577000000000000000"],
              "referenced_tweets": [{"type": "replied_to", "id": v2["id"]}]}
    db = tmp_path / "smc.db"
    # the answer and the citizen's reply to the newest post version come first
    for n, tweets in enumerate([[answer], [dict(citizen, conversation_id=post_v2["id"])],
                                [post_v1], [post_v2]]):
        path = tmp_path / f"{n}.jsonl"
        path.write_text(_twarc_page(tweets, users))
        assert imp(db, "x", path) == 0
    rid = f"x:{v1['id']}"
    assert one(db, "SELECT parent_id FROM comments WHERE native_id = ?", answer["id"]) == (rid,)
    assert one(db, "SELECT post_id FROM comments WHERE id = ?", rid) == (f"x:{post_v1['id']}",)
    assert one(db, "SELECT answer_id FROM answers WHERE comment_id = ?", rid) == (
        f"x:{answer['id']}",)
    post_text, status = one(db, "SELECT post_text, status FROM center WHERE id = ?", rid)
    assert post_text == "서울시 공지 (수정)" and status == "answered"


# --- 4. nested Graph comments ----------------------------------------------------------------
def _feed_with_nested() -> dict:
    """A real feed page (python-facebook) with comments{...} and their replies nested, as
    Graph returns them for fields=comments{id,message,created_time,from,comments{...}}."""
    feed = json.loads((FIXTURES / "facebook-graph" / "posts_feed_fields_p1.json").read_text())
    post = feed["data"][0]
    base = post["id"].split("_")[1]
    post["comments"] = {
        "data": [{"id": f"{base}_11", "message": "지하철 &amp; 버스 환승 문의",
                  "created_time": "2021-08-10T18:45:03+0000",
                  "comments": {"data": [{"id": f"{base}_12", "message": "답글입니다 😀",
                                         "created_time": "2021-08-10T19:00:00+0000"}],
                               "paging": {"cursors": {"after": "QVFI"},
                                          "next": "https://graph.facebook.com/v21.0/"
                                                  f"{base}_11/comments?after=QVFI"}}}],
        "paging": {"cursors": {"after": "QVFJ"},
                   "next": f"https://graph.facebook.com/v21.0/{post['id']}/comments?after=QVFJ"}}
    return feed


def test_nested_graph_comments_are_stored_under_their_post_and_parent(tmp_path, capsys):
    feed = _feed_with_nested()
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(feed, ensure_ascii=False))
    db = tmp_path / "smc.db"
    assert imp(db, "facebook", path) == 0
    post = feed["data"][0]["id"]
    base = post.split("_")[1]
    got = rows(db, "SELECT id, post_id, parent_id, text FROM comments WHERE id IN (?, ?) "
                   "ORDER BY id", f"facebook:{base}_11", f"facebook:{base}_12")
    assert got == [(f"facebook:{base}_11", f"facebook:{post}", None, "지하철 &amp; 버스 환승 문의"),
                   (f"facebook:{base}_12", f"facebook:{post}", f"facebook:{base}_11",
                    "답글입니다 😀")]  # Graph text is not HTML: kept as written
    assert "2 more to fetch" in capsys.readouterr().out
    assert one(db, "SELECT count(*) FROM posts")[0] == len(feed["data"])
    # the real page's own nested comments are stored too, each under its post
    nested = sum(len(p.get("comments", {}).get("data", [])) for p in feed["data"][1:])
    assert one(db, "SELECT count(*) FROM comments")[0] == 2 + nested


# --- 6. X text unescaped once; 7. retweets without referenced_tweets --------------------------
def test_x_text_is_unescaped_exactly_once(tmp_path):
    tweet = {**WITHHELD[2]["data"][0], "id": "506695756406095999",
             "text": "택시 &amp; 버스 &lt;3 &gt; 지하철 &amp;amp;gt;"}
    path = tmp_path / "t.jsonl"
    path.write_text(_twarc_page([tweet], WITHHELD[2]["includes"]["users"]))
    db = tmp_path / "smc.db"
    assert imp(db, "x", path) == 0
    text, keywords = one(db, "SELECT text, keywords FROM comments")
    assert text == "택시 & 버스 <3 > 지하철 &amp;gt;"  # a typed "&amp;gt;" stays as typed
    assert not {"amp", "gt", "lt"} & set(keywords.split()[:3])
    assert keywords.split()[:3] == ["택시", "버스", "지하철"]


def test_rt_text_without_referenced_tweets_is_quarantined_as_a_retweet(tmp_path):
    db = tmp_path / "smc.db"
    assert imp(db, "x", FIXTURES / "twarc2" / "two_tweets.jsonl") == 0
    assert one(db, "SELECT count(*) FROM comments")[0] == 0
    assert "retweet" in one(db, "SELECT reason FROM quarantine")[0]


def test_flatten_lines_use_the_embedded_author_for_the_official_check(tmp_path):
    line = json.loads((FIXTURES / "twarc2" / "flat_first3.jsonl").read_text().splitlines()[1])
    author = line["author"]["username"]
    config = tmp_path / "accounts.yaml"
    text = (ROOT / "config" / "accounts.yaml").read_text()
    config.write_text(text.replace("handle: seoulmania", f"handle: {author}", 1))
    path = tmp_path / "flat.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False))
    db = tmp_path / "smc.db"
    assert commands.main(["--db", str(db), "--config", str(config), "import", "--platform",
                          "x", "--account", "x_seoulmania", str(path)]) == 0
    official = rows(db, "SELECT is_official FROM comments UNION ALL SELECT 1 FROM posts")
    assert official and all(o == 1 for (o,) in official)


# --- 8. Super Chats without words are counted, not lost --------------------------------------
def test_super_chats_and_stickers_without_words_are_counted_skips(tmp_path):
    def chat(mid: str, kind: str, details: dict) -> dict:
        return {"kind": "youtube#liveChatMessage", "id": mid, "snippet": {
            "type": kind, "liveChatId": "Cg0KC2xpdmU", "authorChannelId": "UCviewer",
            "publishedAt": "2026-11-24T23:05:00.123+00:00", "hasDisplayContent": True,
            "displayMessage": "₩10,000 from viewer", **details},
            "authorDetails": {"channelId": "UCviewer", "displayName": "viewer"}}
    page = {"kind": "youtube#liveChatMessageListResponse", "pollingIntervalMillis": 5000,
            "items": [
                chat("s1", "superChatEvent", {"superChatDetails": {
                    "amountMicros": "10000000000", "currency": "KRW", "tier": 2,
                    "amountDisplayString": "₩10,000"}}),
                chat("s2", "superStickerEvent", {"superStickerDetails": {
                    "amountMicros": "2000000000", "currency": "KRW", "tier": 1}}),
                chat("s3", "superChatEvent", {"superChatDetails": {
                    "amountMicros": "1000000000", "currency": "KRW", "tier": 1,
                    "userComment": "한강 불꽃축제 교통 통제 언제까지인가요?"}})]}
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(page, ensure_ascii=False))
    db = tmp_path / "smc.db"
    assert imp(db, "youtube", path) == 2  # no video named: refused before anything is written
    assert not db.exists() or one(db, "SELECT count(*) FROM comments")[0] == 0
    assert imp(db, "youtube", path, extra=("--post", "live1")) == 0
    assert rows(db, "SELECT native_id, post_id FROM comments") == [("s3", "youtube:live1")]
    fetched, skipped, reasons = one(db, "SELECT fetched, skipped, skip_reasons FROM runs "
                                        "WHERE kind = 'import'")
    assert (fetched, skipped) == (3, 2)
    assert json.loads(reasons) == {"live chat Super Chat without a message (tier 2)": 1,
                                   "live chat Super Sticker (tier 1): no words": 1}
    outcomes = youtube_page(pages_of("youtube", page, Options(post="live1")).pages[0],
                            Context(platform="youtube", account="yt_seoul", secret=b"k"))
    assert [type(o) for o, _ in outcomes] == [Skipped, Skipped, type(outcomes[2][0])]


# --- 9. Facebook edits only from what Graph documents as one ------------------------------------
def test_facebook_updated_time_is_never_an_edit(tmp_path):
    db = tmp_path / "smc.db"
    assert imp(db, "facebook", FIXTURES / "facebook-graph" / "posts_feed_fields_p1.json") == 0
    feed = json.loads((FIXTURES / "facebook-graph" / "posts_feed_fields_p1.json").read_text())
    moved = [p for p in feed["data"] if p.get("updated_time") != p.get("created_time")]
    assert moved  # the real page has posts whose updated_time moved with activity
    assert one(db, "SELECT count(*) FROM posts WHERE edited_at IS NOT NULL")[0] == 0


# --- 10. origins never mix; 11. exit codes -------------------------------------------------
def _simulated_page(tmp: Path) -> Path:
    page = copy.deepcopy(EDITED)
    page["__simulated"] = True
    path = tmp / "sim.jsonl"
    path.write_text(json.dumps(page))
    return path


def test_origins_never_mix_and_the_demo_key_is_for_simulated_data(tmp_path, capsys):
    real, sim = FIXTURES / "twarc2" / "edited.jsonl", _simulated_page(tmp_path)
    live_db, sim_db = tmp_path / "live.db", tmp_path / "sim.db"
    assert imp(live_db, "x", real) == 0
    assert imp(live_db, "x", sim, extra=("--demo-key",)) == 2
    assert "holds live data" in capsys.readouterr().err
    assert imp(sim_db, "x", sim, extra=("--demo-key",)) == 0
    assert imp(sim_db, "x", real) == 2
    assert "holds simulated data" in capsys.readouterr().err
    assert imp(tmp_path / "other.db", "x", real, extra=("--demo-key",)) == 2
    assert "simulated data only" in capsys.readouterr().err
    assert imp(tmp_path / "mixed.db", "x", real, sim) == 2
    assert one(live_db, "SELECT count(*) FROM comments")[0] == 1


def test_import_without_author_key_exits_2_with_the_message(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SMC_AUTHOR_KEY")
    assert imp(tmp_path / "d.db", "x", FIXTURES / "twarc2" / "edited.jsonl") == 2
    err = capsys.readouterr().err
    assert "SMC_AUTHOR_KEY is not set" in err and "Traceback" not in err


def test_a_truncated_last_stream_line_is_quarantined_and_exits_1(tmp_path, capsys):
    lines = (FIXTURES / "twarc2" / "streaming_output.jsonl").read_text().splitlines()
    path = tmp_path / "stream.jsonl"
    path.write_text("\n".join(lines[:3] + [lines[3][: len(lines[3]) // 2]]) + "\n")
    db = tmp_path / "smc.db"
    assert imp(db, "x", path) == 1
    out = capsys.readouterr().out
    assert "1 lines failed and went to quarantine" in out and "stream.jsonl:4" in out
    assert "stream.jsonl:4: not JSON" in one(db, "SELECT reason FROM quarantine")[0]


def test_status_json_carries_the_last_runs_counts(tmp_path, capsys):
    db = tmp_path / "smc.db"
    from pipeline.config import load_accounts
    from conftest import sim_collect
    from test_x import small_world
    accounts = load_accounts(ROOT / "config" / "accounts.yaml")
    sim_collect(db, accounts, small_world(accounts), platforms=("youtube",))
    capsys.readouterr()
    assert commands.main(["--db", str(db), "status", "--json"]) == 0
    report = {r["account"]: r for r in json.loads(capsys.readouterr().out)["accounts"]}
    yt = report["yt_seoul"]
    assert yt["last_read"] == (yt["last_stored"] + yt["last_quarantined"] + yt["last_skipped"])
    assert yt["last_read"] > 0


def test_restricted_opinions_show_as_such_in_status_and_the_digest(tmp_path, capsys):
    from digest.build import build_digest
    from digest.render import render_markdown
    from store.db import connect

    db = tmp_path / "smc.db"
    page = WITHHELD[0]
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(page))
    assert imp(db, "x", path) == 0
    capsys.readouterr()
    assert commands.main(["--db", str(db), "status"]) == 0
    assert "1 restricted" in capsys.readouterr().out
    created = one(db, "SELECT seoul_day FROM opinions")[0]
    text = render_markdown(build_digest(connect(db), created))
    assert "가려진 의견" in text and "withheld 1건" in text


def test_a_real_page_of_media_policy_notices_stores_no_notice_as_words(tmp_path):
    db = tmp_path / "smc.db"
    assert imp(db, "x", FIXTURES / "twarc2" / "media_policy_violation_on.jsonl") == 0
    kinds = rows(db, "SELECT restricted, text, count(*) FROM comments GROUP BY 1, 2")
    assert kinds == [("media_policy", "", 58)]  # 42 retweets quarantined, 58 notices held
