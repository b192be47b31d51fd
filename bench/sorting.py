"""How well opinions sort themselves on the simulator's world (issue #19).

`python -m bench.sorting [--posts 8] [--comments 10] [--campaigns 12] [--seed N]`

Builds simulator.world.World (with `--campaigns` campaigns: one complaint pasted by many
citizens on several accounts with small edits), normalizes every citizen's comment as the
pipeline does (make_comment with config/rules.yaml's tagger and the account's department),
stores them with the Writer into a temporary database, then groups them with
store.grouping.refresh_groups: first the first half (a fresh table of bands), then the
second half (incrementally, against the first's bands). Reports:

- routing accuracy: suggested_department == the world's right department (SimComment.
  department), overall, for the opinions a rule matched and for the fallbacks;
- grouping precision and recall, pairwise: a pair of opinions is truly one complaint when
  the world says so (SimComment.complaint: the same campaign, or the same template about
  the same place); predicted when both have one group_id;
- the time grouping adds per 1,000 opinions (each half), wall clock.

Prints a table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from math import comb
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from normalize.common import make_comment  # noqa: E402
from normalize.routing import ACCOUNT_REASON  # noqa: E402
from normalize.schema import Comment, Context  # noqa: E402
from pipeline.config import load_accounts  # noqa: E402
from pipeline.runner import DEMO_AUTHOR_KEY, load_tagger  # noqa: E402
from simulator.world import SimComment, World  # noqa: E402
from store.db import connect  # noqa: E402
from store.grouping import refresh_groups  # noqa: E402
from store.writer import Writer  # noqa: E402

ACCOUNTS = ROOT / "config" / "accounts.yaml"


def records(world: World, tagger: object) -> list[tuple[Comment, SimComment]]:
    """Every citizen's comment of the world as the pipeline stores it, with its truth."""
    out = []
    for key, account in world.accounts.items():
        ctx = Context(platform=account.platform, account=key, secret=DEMO_AUTHOR_KEY,
                      tagger=tagger,  # type: ignore[arg-type]
                      account_department=account.department)
        for sim in world.all_comments(key):
            if sim.official:
                continue
            out.append((make_comment(
                ctx, native_id=f"s{sim.seq}", post_native=f"p{sim.post.seq}",
                parent_native=None, author_id=str(sim.author.uid if sim.author else 0),
                author_name=None, is_official=False, text=sim.text_at(world.now),
                created_at=sim.created.strftime("%Y-%m-%dT%H:%M:%SZ")), sim))
    out.sort(key=lambda pair: (pair[0].created_at, pair[0].id))
    return out


def store(writer: Writer, pairs: list[tuple[Comment, SimComment]]) -> None:
    by_account: dict[str, list[Comment]] = {}
    for record, _ in pairs:
        by_account.setdefault(record.account, []).append(record)
    for account, recs in by_account.items():
        writer.write_page(account, "bench", recs, [{} for _ in recs])


def pairwise(predicted: dict[str, str], truth: dict[str, str]) -> tuple[float, float, int]:
    """(precision, recall, true pairs) of a grouping: ids -> group, ids -> true class."""
    both = Counter((predicted[i], truth[i]) for i in predicted)
    tp = sum(comb(n, 2) for n in both.values())
    pred = sum(comb(n, 2) for n in Counter(predicted.values()).values())
    true = sum(comb(n, 2) for n in Counter(truth.values()).values())
    return (tp / pred if pred else 1.0), (tp / true if true else 1.0), true


def run(posts: int, comments: int, campaigns: int, seed: int) -> dict:
    accounts = load_accounts(ACCOUNTS)
    world = World(accounts, seed=seed, posts_per_account=posts, comments_per_post=comments,
                  campaigns=campaigns)
    pairs = [(r, s) for r, s in records(world, load_tagger()) if r.text]
    with tempfile.TemporaryDirectory() as tmp:
        db = connect(Path(tmp) / "sorting.db")
        writer = Writer(db)
        writer.sync_accounts(accounts)
        half = len(pairs) // 2
        refresh_groups(db)  # warm: datasketch and scipy imported, permutations made
        ms = []
        for part in (pairs[:half], pairs[half:]):
            store(writer, part)
            start = time.perf_counter()
            refresh_groups(db)
            ms.append(1000 * (time.perf_counter() - start) / max(1, len(part)) * 1000)
        groups = {r[0]: r[1] or r[0] for r in db.execute(
            "SELECT id, group_id FROM comments WHERE is_official = 0")}
        largest = db.execute("SELECT count(*) FROM comments WHERE group_id IS NOT NULL "
                             "GROUP BY group_id ORDER BY 1 DESC LIMIT 1").fetchone()
        db.conn.close()
    truth = {r.id: s.complaint or r.id for r, s in pairs}
    precision, recall, true_pairs = pairwise({i: groups[i] for i in truth}, truth)
    right = [r.suggested_department == s.department for r, s in pairs]
    ruled = [ok for ok, (r, _) in zip(right, pairs)
             if not (r.suggestion_reason or "").startswith(ACCOUNT_REASON)]
    in_campaign = sum(1 for _, s in pairs if (s.complaint or "").startswith("campaign:"))
    return {
        "opinions": len(pairs), "campaign_opinions": in_campaign, "campaigns": campaigns,
        "routing_accuracy": round(sum(right) / len(right), 4),
        "routing_accuracy_ruled": round(sum(ruled) / len(ruled), 4) if ruled else None,
        "ruled_share": round(len(ruled) / len(right), 4),
        "grouping_precision": round(precision, 4), "grouping_recall": round(recall, 4),
        "true_pairs": true_pairs, "largest_group": largest[0] if largest else 0,
        "grouping_ms_per_1000_fresh": round(ms[0], 1),
        "grouping_ms_per_1000_incremental": round(ms[1], 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sorting", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--posts", type=int, default=8, help="posts per account (default 8)")
    p.add_argument("--comments", type=int, default=10, help="comments per post (default 10)")
    p.add_argument("--campaigns", type=int, default=12, help="campaigns (default 12)")
    p.add_argument("--seed", type=int, default=2012_11_01, help="the world's seed")
    args = p.parse_args(argv)
    result = run(args.posts, args.comments, args.campaigns, args.seed)
    for key, value in result.items():
        print(f"{key:<36} {value}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
