"""Every platform under every fault: after the faults clear and a normal run completes, the
database equals the database of one uninterrupted run, and bad payloads sit in quarantine.

A scenario is a fault aimed at the k-th request of the platform (k drawn from a seeded
random.Random among the requests the uninterrupted run made), a run with it, then a run
without it (a fresh transport: a new process). The short suite draws one k per scenario;
SMC_FAULTS_LONG=1 draws three and also starts each scenario from a complete database.
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from core.platforms import KEYS
from simulator import Fault
from simulator.transport import _list_key
from store.db import copy_database, open_plain

from .conftest import (
    FAULT_PLATFORM,
    LATER,
    LONG,
    diff,
    integrity,
    make_world,
    platform_accounts,
    records,
    run,
    snapshot,
    wrongly_deleted,
)

PLATFORMS = KEYS
LOOP_ERROR = re.compile(r"loop|repeated|same paging cursor", re.IGNORECASE)


@dataclass(frozen=True)
class Scenario:
    kind: str  # the Fault kind
    times: int  # how often it fires (-1: until the run ends)
    expect: tuple[str, ...]  # statuses an account hit by it may end with in the faulty run
    error: re.Pattern | None = None  # what the failed accounts' error says
    paged: int = 0  # aim at a request for a list's page after this many pages of it
    tolerate: bool = False  # the run may absorb the fault (retries succeed): all may be ok


SCENARIOS = {
    "429_storm": Scenario("429", -1, ("rate_limited",), re.compile(r"rate limit|429", re.IGNORECASE)),
    "5xx_storm": Scenario("503", -1, ("failed",), re.compile("gave up after")),
    "5xx_blip": Scenario("500", 2, ("failed",), tolerate=True),
    "timeouts": Scenario("timeout", -1, ("failed",), re.compile("gave up after")),
    "truncated_body": Scenario("truncated", -1, ("failed",), re.compile("gave up after")),
    "non_json_body": Scenario("bad_json", -1, ("failed",), re.compile("gave up after")),
    "duplicated_page": Scenario("repeat", 1, ("failed",), LOOP_ERROR, paged=1),
    # from the third page on: pages 1 and 2 alternate, their tokens differ from the last one
    "looping_tokens": Scenario("loop", -1, ("failed",), LOOP_ERROR, paged=2),
    "token_expires": Scenario("expired_token", -1, ("auth",),
                              re.compile(r"expired|rejected|not valid", re.IGNORECASE)),
    "bad_payloads": Scenario("corrupt_item", 3, (), tolerate=True),
}


# Answers that are lookups, not pages of records (a corrupted one fails the account with a
# message naming the id to check; that is the lookups' own test, not this suite's).
LOOKUPS = ("/youtube/v3/channels", "/youtube/v3/playlistItems")


def fault_points(scenario: Scenario, log: list, seed: str, n: int,
                 complete: bool = False) -> list[int]:
    """n distinct request indexes, seeded, where the fault starts."""
    rng = random.Random(seed)
    if scenario.paged:
        pages: dict[tuple, int] = {}
        candidates = []
        for i, r in enumerate(log):
            key = _list_key(r)
            if pages.get(key, 0) >= scenario.paged:
                candidates.append(i)
            pages[key] = pages.get(key, 0) + 1
        if not candidates:  # X re-runs read one page per stream (since_id)
            pytest.skip(f"this run reads no list with more than {scenario.paged} pages")
    elif scenario.kind == "corrupt_item":
        candidates = [i for i, r in enumerate(log) if not r.path.startswith(LOOKUPS)
                      and "/users/by/" not in r.path
                      and not (complete and "liveChat" in r.path)]  # an ended chat: no items
    else:
        candidates = list(range(len(log)))
    return sorted(rng.sample(candidates, min(n, len(candidates))))


def aim(scenario: Scenario, platform: str, log: list, k: int) -> Fault:
    """The fault, from the k-th request on; bad payloads stay on that request's endpoint."""
    if scenario.kind != "corrupt_item":
        return Fault(scenario.kind, platform=FAULT_PLATFORM[platform], after=k,
                     times=scenario.times)
    path = log[k].path
    before = sum(1 for r in log[:k] if path in r.path)
    return Fault(scenario.kind, platform=FAULT_PLATFORM[platform], path=path, after=before,
                 times=scenario.times)


def cases() -> list:
    starts = ("empty", "complete") if LONG else ("empty",)
    out = []
    for platform in PLATFORMS:
        for name in SCENARIOS:
            for start in starts:
                out.append(pytest.param(platform, name, start, id=f"{platform}-{name}-{start}"))
        if not LONG:  # a bad payload in a re-scan must not turn a stored row into a tombstone
            out.append(pytest.param(platform, "bad_payloads", "complete",
                                    id=f"{platform}-bad_payloads-complete"))
    return out


def replaced_ids(platform: str, items: list) -> set[str]:
    """Every record id a replaced raw item could have given (ids nested in it, edit history)."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("id", "videoId") and isinstance(inner, str):
                    found.add(f"{platform}:{inner}")
                if key == "edit_history_tweet_ids" and isinstance(inner, list):
                    found.update(f"{platform}:{i}" for i in inner if isinstance(i, str))
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(items)
    return found


def quarantined(db: Path) -> list[tuple[str, str, dict]]:
    conn = open_plain(db)
    try:
        return [(p, r, json.loads(body)) for p, r, body in
                conn.execute("SELECT platform, reason, payload FROM quarantine")]
    finally:
        conn.close()


@pytest.mark.parametrize("platform, name, start", cases())
def test_faults_clear_and_the_database_equals_an_uninterrupted_run(
        platform: str, name: str, start: str, references: Callable, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    ref_path, reference, first_log, rerun_log = references(platform)
    log = rerun_log if start == "complete" else first_log
    accounts = platform_accounts(platform)
    points = fault_points(scenario, log, f"{platform}/{name}/{start}", 3 if LONG else 1,
                          complete=start == "complete")
    for k in points:
        db = tmp_path / f"k{k}.db"
        if start == "complete":
            copy_database(ref_path, db)
        world = make_world(platform, accounts)
        fault = aim(scenario, platform, log, k)
        # a live chat poll answered twice is new messages none, the same token: not a loop
        tolerate = scenario.tolerate or "liveChat" in log[k].path and scenario.kind == "repeat"
        where = f"{platform} {name} from request {k} ({log[k].path}) on a {start} database"

        # 1. the faulty run: it ends (no endless loop), each account with a meaningful status
        results, _ = run(db, platform, accounts, world, [fault])
        if fault.fired == 0 and platform == "x" and start == "complete":
            pytest.skip("an X re-run asks only for tweets newer than its cursors: none here")
        assert fault.fired > 0, f"{where}: the fault never fired"
        hit = [r for r in results if r.status != "ok"]
        assert tolerate or hit, f"{where}: no account noticed the fault"
        for r in hit:
            assert r.status in scenario.expect, (where, r.account, r.status, r.error)
            if scenario.error is not None:
                assert scenario.error.search(r.error or ""), (where, r.account, r.error)
        integrity(db)
        assert wrongly_deleted(db, reference) == [], f"{where}: live rows tombstoned"

        # 2. the faults clear; a normal run (later, past any retry_after) completes it all
        results, _ = run(db, platform, accounts, world, clock=LATER)
        assert [(r.account, r.status) for r in results] == [(a.key, "ok") for a in accounts], [
            (r.account, r.error) for r in results if r.status != "ok"]
        integrity(db)
        bad = [q for q in quarantined(db) if q[2].get("unexpected") == "shape"]
        if scenario.kind == "corrupt_item":
            # every bad payload is in quarantine, with its reason, once
            assert sorted(q[2]["fault"] for q in bad) == list(range(1, len(fault.replaced) + 1))
            assert all(p == platform and reason.strip() for p, reason, _ in bad), bad
            got = records(db)
            for table in ("posts", "comments"):
                # nothing stored differs from the reference, nothing is extra
                assert set(got[table]) <= set(reference[table]), where
                assert all(got[table][i] == reference[table][i] for i in got[table]), where
                missing = set(reference[table]) - set(got[table])
                # a stream that resumes past a page (X since_id, live chat tokens, Instagram
                # comments of media out of the look-back, posts older than it) does not ask
                # for the replaced items again: only those may be missing, and their payload
                # is in quarantine; a full refresh gets them back
                assert missing <= replaced_ids(platform, fault.replaced), (where, missing)
            if any(set(reference[t]) - set(got[t]) for t in ("posts", "comments")):
                results, _ = run(db, platform, accounts, world, clock=LATER,
                                 full_refresh=True)
                assert all(r.status == "ok" for r in results)
        else:
            assert quarantined(db) == [], f"{where}: a transport fault reached quarantine"
        got = snapshot(db)
        assert got == reference, f"{where}:\n{diff(got, reference)}"
        conn = open_plain(db)
        try:  # nothing waits for a retry_after any more
            assert conn.execute("SELECT count(*) FROM cursors WHERE retry_after IS NOT NULL"
                                ).fetchone()[0] == 0
        finally:
            conn.close()


def test_transport_tampering_kinds(references: Callable) -> None:
    """repeat / loop / corrupt_item do what the fault suite relies on."""
    from simulator import SimTransport
    from simulator.transport import SimRequest

    accounts = platform_accounts("x")
    world = make_world("x", accounts)
    server_ids = SimTransport(world).server("x").user_ids
    path = f"/2/users/{server_ids[accounts[0].key]}/mentions"
    headers = {"authorization": "Bearer t"}

    def page(transport: SimTransport, token: str | None = None) -> dict:
        params = {"max_results": "5", **({"pagination_token": token} if token else {})}
        answer = transport.handle(SimRequest("GET", "api.twitter.com", path, params, headers))
        assert answer.status == 200
        return answer.body

    plain = SimTransport(world)
    p1 = page(plain)
    p2 = page(plain, p1["meta"]["next_token"])
    p3 = page(plain, p2["meta"]["next_token"])
    # repeat: the page just served comes again, with the token just followed
    repeat = Fault("repeat", platform="x", times=-1)
    t = SimTransport(world, [repeat])
    assert page(t) == p1 and repeat.fired == 0  # nothing to repeat yet: served normally
    assert page(t, p1["meta"]["next_token"]) == p1
    # loop: the answer before the previous one: two pages alternate
    loop = Fault("loop", platform="x", after=2, times=-1)
    t = SimTransport(world, [loop])
    assert page(t) == p1 and page(t, p1["meta"]["next_token"]) == p2
    served = [page(t, p2["meta"]["next_token"]), page(t, p1["meta"]["next_token"]),
              page(t, p2["meta"]["next_token"])]
    assert served == [p1, p2, p1] and served[0] != p3
    # corrupt_item: the first item replaced, the original kept
    corrupt = Fault("corrupt_item", platform="x", times=1)
    t = SimTransport(world, [corrupt])
    bad = page(t)
    assert bad["data"][0] == {"unexpected": "shape", "fault": 1}
    assert bad["data"][1:] == p1["data"][1:] and corrupt.replaced == [p1["data"][0]]
    assert page(t) == p1  # fired once
