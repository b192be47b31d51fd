"""Facebook Pages: the page's own posts and every comment and reply under them (Graph API).

Streams and cursors:
- "posts": the newest post `created_time` seen (ISO UTC). A run asks `/{page-id}/posts` with
  `since` = that cursor minus the look-back (`options["lookback_days"]`, default 7), newest
  first, and re-scans the comments of every post it gets (`/{post-id}/comments`,
  `filter=stream` so replies come too, carrying `parent`; chronological). After the last page
  of a post's comments comes `ScanComplete(post)`, so a stored comment not served any more
  becomes a tombstone. The first run (no cursor) takes every post the page serves.
- The look-back is measured from the stored cursor (the newest post we have), not from the
  wall clock: the data's own clock works the same live, on a recording and on the simulator
  (whose clock is `world.now`). The price: a page that stopped posting keeps re-scanning its
  last week of posts, a few requests per run.
- The "posts" cursor (`NewestFirst`) is a `Checkpoint` AFTER every comment scan of the run,
  so a run that dies half-way re-scans the same posts next time instead of skipping them.

Comments on posts older than the look-back window are not collected (by design: citizens
comment on recent posts; widen `--lookback-days` for a backfill), unless the post came with
nested comments (`comments{...}`) whose `paging.next` says there are more: then its comments
are read like the others'. A post in the window is always read whole through its comments edge
(`filter=stream`), which holds everything a nested `paging.next` points at.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from collectors.base import Event, NewestFirst, Page, ScanComplete
from collectors.graph import GraphClient, GraphCollector, graph_iso, parse_graph_time
from core.accounts import Account
from core.shapes import more_to_fetch, seq

POST_FIELDS = ("id,message,created_time,updated_time,permalink_url,"
               "comments.filter(stream).limit(0).summary(true),"
               "reactions.limit(0).summary(true)")
COMMENT_FIELDS = ("id,message,created_time,from,parent{id},like_count,comment_count,"
                  "permalink_url,is_hidden")
DEFAULT_PAGE_SIZE = 100  # Graph's maximum for these edges (its default is 25)


class FacebookCollector(GraphCollector):
    """Posts and comments of the city's Facebook Pages, through collectors.graph."""

    platform = "facebook"
    default_page_size = DEFAULT_PAGE_SIZE

    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Event]:
        client = self.client(account)
        page_id = account.native_id or account.handle
        previous = parse_graph_time(cursors.get("posts"))
        newest = NewestFirst("posts", graph_iso(cursors.get("posts")))
        window = previous - self.lookback if previous else None
        floor = parse_graph_time(self.options.get("since"))  # --since: no further back
        if floor is not None:
            window = max(window, floor) if window is not None else floor
        params: dict[str, Any] = {"fields": POST_FIELDS, "limit": self.page_size}
        if window is not None:
            params["since"] = int(window.timestamp())
        scan: list[str] = []
        for body, _last in client.pages(page_id, "posts", params,
                                        permission="pages_read_engagement",
                                        what=f"the posts of page {page_id}"):
            items = seq(body.get("data"))
            older = False
            for item in items:
                if not isinstance(item, dict):
                    continue
                created = parse_graph_time(item.get("created_time"))
                if window is not None and created is not None and created < window:
                    older = True  # Graph ignored `since`: keep the row, scan no further
                    if more_to_fetch(item) and isinstance(item.get("id"), str):
                        scan.append(item["id"])  # its nested comments say there are more
                    continue
                if isinstance(item.get("id"), str) and item["id"] and item["id"] not in scan:
                    scan.append(item["id"])  # time-paged feeds can repeat a post
                newest.see(graph_iso(item.get("created_time")))
            yield Page(kind="post", items=items, spend=client.take_spend())
            if older:
                break
        for post_id in scan:
            yield from self._comments(client, page_id, post_id)
        yield from newest.checkpoint(end=True)

    def _comments(self, client: GraphClient, page_id: str, post_id: str) -> Iterator[Event]:
        """Every comment and reply of one post, oldest first; then the scan is complete."""
        params = {"fields": COMMENT_FIELDS, "filter": "stream", "order": "chronological",
                  "limit": self.page_size}
        includes = {"post_id": post_id, "page_id": page_id}
        for body, last in client.pages(post_id, "comments", params,
                                       permission="pages_read_user_content",
                                       what=f"the comments of post {post_id}"):
            yield Page(kind="comment", items=seq(body.get("data")), includes=includes,
                       spend=client.take_spend())
            if last:
                yield ScanComplete(post_id)
