"""Instagram business accounts: their media and the comments and replies under them (Graph API).

Instagram's comment edge has no `since` and serves comments newest first, replies nested
under their top-level comment (`replies{...}`; more of them on `/{comment-id}/replies`).

Streams and cursors (both `NewestFirst`, committed as `Checkpoint`s after every scan of the run):
- "media": the newest media `timestamp` seen (ISO UTC). Media are paged newest first until a
  page holds media older than that cursor minus the look-back (`options["lookback_days"]`,
  default 7; measured from the data's own clock, not the wall clock, as for Facebook). The
  first run (no cursor) takes every media.
- Media inside the window are re-scanned in full (every comment page, every reply), then
  `ScanComplete(media)`, so comments no longer served become tombstones.
- "comments": the newest comment `timestamp` seen. Older media that came on the last media
  page are scanned only down to that cursor (newest first: stop at what is already stored),
  which catches a new comment on an older post without re-reading its history; no
  tombstones there.
"""
from __future__ import annotations

from typing import Iterator, Mapping

from collectors.base import Event, NewestFirst, Page, ScanComplete
from collectors.graph import GraphClient, GraphCollector, graph_iso, parse_graph_time
from core.accounts import Account
from core.shapes import obj, seq

MEDIA_FIELDS = "id,caption,timestamp,permalink,comments_count,like_count,media_type"
REPLY_FIELDS = "id,text,timestamp,username,like_count,hidden,from"
COMMENT_FIELDS = f"{REPLY_FIELDS},replies{{{REPLY_FIELDS}}}"
DEFAULT_PAGE_SIZE = 50  # the comments edge's maximum
PERMISSION_MEDIA = "instagram_basic"
PERMISSION_COMMENTS = "instagram_manage_comments"


class InstagramCollector(GraphCollector):
    """Media and comments of the city's Instagram business accounts, through collectors.graph."""

    platform = "instagram"
    default_page_size = DEFAULT_PAGE_SIZE

    def pages(self, account: Account, cursors: Mapping[str, str]) -> Iterator[Event]:
        client = self.client(account)
        ig_id = account.native_id or account.handle
        previous = parse_graph_time(cursors.get("media"))
        window = previous - self.lookback if previous else None
        media = NewestFirst("media", graph_iso(cursors.get("media")))
        comments = NewestFirst("comments", graph_iso(cursors.get("comments")))
        full: list[str] = []
        partial: list[str] = []
        for body, _last in client.pages(ig_id, "media",
                                        {"fields": MEDIA_FIELDS, "limit": self.page_size},
                                        permission=PERMISSION_MEDIA,
                                        what=f"the media of Instagram account {ig_id}"):
            items = seq(body.get("data"))
            older = False
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    continue
                if item["id"] in full or item["id"] in partial:
                    continue  # a media repeated across pages is scanned once
                created = parse_graph_time(item.get("timestamp"))
                if window is not None and created is not None and created < window:
                    older = True
                    partial.append(item["id"])
                else:
                    full.append(item["id"])
                media.see(graph_iso(item.get("timestamp")))
            yield Page(kind="post", items=items, spend=client.take_spend())
            if older:
                break
        for media_id in full:
            yield from self._comments(client, media_id, comments, whole=True)
        if comments.previous is not None:
            for media_id in partial:
                yield from self._comments(client, media_id, comments, whole=False)
        yield from comments.checkpoint(end=True)
        yield from media.checkpoint(end=True)

    def _comments(self, client: GraphClient, media_id: str, comments: NewestFirst,
                  whole: bool) -> Iterator[Event]:
        """A media's comments, newest first, with their replies.

        whole: every page, and the scan completes (`ScanComplete`); else stop at the first
        page reaching a comment at or before the "comments" cursor (no tombstones).
        """
        includes = {"post_id": media_id}
        what = f"the comments of Instagram media {media_id}"
        for body, last in client.pages(media_id, "comments",
                                       {"fields": COMMENT_FIELDS, "limit": self.page_size},
                                       permission=PERMISSION_COMMENTS, what=what):
            items = seq(body.get("data"))
            reached = False
            more: list[str] = []
            for item in items:
                if not isinstance(item, dict):
                    continue
                if comments.see(graph_iso(item.get("timestamp"))) and not whole:
                    reached = True
                replies = obj(item.get("replies"))
                for reply in replies.get("data") or []:
                    if isinstance(reply, dict):
                        comments.see(graph_iso(reply.get("timestamp")))
                paging = obj(replies.get("paging"))
                if paging.get("next") and isinstance(item.get("id"), str):
                    more.append(item["id"])  # more replies than fit in the nested field
            yield Page(kind="comment", items=items, includes=includes, spend=client.take_spend())
            for comment_id in more:
                yield from self._replies(client, media_id, comment_id, comments)
            if whole and last:
                yield ScanComplete(media_id)
            if reached:
                return

    def _replies(self, client: GraphClient, media_id: str, comment_id: str,
                 comments: NewestFirst) -> Iterator[Page]:
        includes = {"post_id": media_id, "parent_id": comment_id}
        for body, _last in client.pages(comment_id, "replies",
                                        {"fields": REPLY_FIELDS, "limit": self.page_size},
                                        permission=PERMISSION_COMMENTS,
                                        what=f"the replies to Instagram comment {comment_id}"):
            items = seq(body.get("data"))
            for item in items:
                if isinstance(item, dict):
                    comments.see(graph_iso(item.get("timestamp")))
            yield Page(kind="comment", items=items, includes=includes, spend=client.take_spend())
