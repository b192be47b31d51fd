"""What every platform's normalizer shares: building records from cleaned fields."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Callable, TypeVar, cast

from normalize.schema import (
    Comment,
    Context,
    Outcome,
    Post,
    Quarantine,
    RawPage,
    Skipped,
    record_id,
)
from normalize.text import author_key, detect_lang, mask_pii, nfc


def clean_text(text: Any) -> str:
    """NFC, PII masked; non-strings become empty text."""
    return mask_pii(nfc(text)) if isinstance(text, str) else ""


# An @handle (X, Instagram, YouTube): not an e-mail's @, not inside a word or a URL path.
_HANDLE = re.compile(r"(?<![\w@./])[@\uff20]([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)")
CITIZEN_HANDLE = "@사용자"


def mask_handles(text: str, official: frozenset[str]) -> str:
    """Citizens' @handles in a citizen's words replaced (a reply's "@alex1059" names the
    author of the comment it answers); the city's own handles kept."""
    if "@" not in text and "\uff20" not in text:
        return text
    return _HANDLE.sub(lambda m: m.group(0) if m.group(1).lower() in official
                       else CITIZEN_HANDLE, text)


def as_int(value: Any) -> int | None:
    """An API count as int, or None when absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():  # not "²" or "١٢"
        return int(value)
    return None


def make_post(ctx: Context, *, native_id: str, text: Any, created_at: str | None,
              title: str | None = None, url: str | None = None, like_count: Any = None,
              comment_count: Any = None, edited_at: str | None = None,
              restricted: str | None = None, restricted_countries: str | None = None,
              version_id: str | None = None, edit_ids: str | None = None) -> Post:
    """A post record of the context's account (restricted, restricted_countries,
    version_id, edit_ids as on Comment)."""
    body = clean_text(text)
    return Post(
        id=record_id(ctx.platform, native_id), platform=ctx.platform, account=ctx.account,
        native_id=native_id, text=body, lang=detect_lang(body if body else (title or "")),
        created_at=created_at, url=url, title=clean_text(title) if title else None,
        edited_at=edited_at, like_count=as_int(like_count), comment_count=as_int(comment_count),
        restricted=restricted, restricted_countries=restricted_countries,
        version_id=version_id, edit_ids=edit_ids,
    )


def make_comment(ctx: Context, *, native_id: str, post_native: str | None,
                 parent_native: str | None, author_id: str | None, author_name: str | None,
                 is_official: bool, text: Any, created_at: str, edited_at: str | None = None,
                 like_count: Any = None, reply_count: Any = None, url: str | None = None,
                 deleted: bool = False, hidden: bool = False,
                 **versions: str | None) -> Comment:
    """A comment record: text cleaned, author hashed, tags from the context's rules
    (versions: restricted, restricted_countries, version_id, edit_ids)."""
    citizen = not is_official
    if deleted:  # what an author deleted is not kept, even for a moment
        body = ""
    elif citizen:
        body = mask_handles(clean_text(text), ctx.official_handles)
    else:
        body = clean_text(text)
    tagger = ctx.tagger
    district = category = crisis = suggested = reason = None
    abusive: int | None = None
    if tagger and citizen and body:  # the city's own words are not tagged
        district, category, found = tagger.tags(body)
        crisis = found or ""
        suggested, reason = tagger.route(body, category, district, ctx.account_department)
        abusive = int(tagger.abusive(body))
    return Comment(
        id=record_id(ctx.platform, native_id), platform=ctx.platform, account=ctx.account,
        native_id=native_id,
        post_id=record_id(ctx.platform, post_native) if post_native else None,
        parent_id=record_id(ctx.platform, parent_native) if parent_native else None,
        author_key=author_key(ctx.secret, ctx.platform, author_id) if author_id else None,
        author_name=None if citizen else author_name,  # display names only for the city
        is_official=int(is_official), text=body, lang=detect_lang(body),
        created_at=created_at,
        district=district, category=category, crisis=crisis,
        edited_at=edited_at, like_count=as_int(like_count), reply_count=as_int(reply_count),
        url=url, deleted=int(deleted), hidden=int(hidden), **versions,
        suggested_department=suggested, suggestion_reason=reason, abusive=abusive,
    )


# A normalizer's output for one page: per page item, in order, the outcomes it made, each
# paired with the raw object it came from (a nested reply brings its own).
Pairs = list[tuple[Outcome, dict]]
ItemNormalizer = Callable[[RawPage, Context], list[Pairs]]
O = TypeVar("O", bound=Outcome)


def add_tokens(outcomes: Sequence[O]) -> list[O]:
    """The one step that fills search tokens and keywords (nouns, see
    normalize.morph.analyse_many) of the citizens' comments, in one batch: one per-word
    analysis serves both. Official answers get tokens "" (an FTS row without terms: the
    index still holds every row, as its integrity check against `comments` wants) and no
    keywords: search lists opinions, so indexing the answers' words only made every search
    read and drop them (and its count inexact)."""
    from normalize.morph import analyse_many

    texts = [o.text for o in outcomes
             if isinstance(o, Comment) and not o.is_official and o.text]
    analysed = iter(analyse_many(texts) if texts else ())
    out: list[O] = []
    for o in outcomes:
        if isinstance(o, Comment) and not o.is_official:
            tokens, keywords = next(analysed) if o.text else ("", "")
            o = cast(O, o._replace(tokens=tokens, keywords=keywords))
        elif isinstance(o, Comment) and o.text:
            o = cast(O, o._replace(tokens="", keywords=None))
        out.append(o)
    return out


def page_normalizer(normalize_items: ItemNormalizer) -> Callable[[RawPage, Context], Pairs]:
    """A platform's whole-page normalizer: its items' outcomes in one list, with search
    tokens when the context asks for them (the pipeline calls normalize_items itself)."""
    def normalize_page(page: RawPage, ctx: Context) -> Pairs:
        pairs = [pair for group in normalize_items(page, ctx) for pair in group]
        if not ctx.tokenize:
            return pairs
        return list(zip(add_tokens([o for o, _ in pairs]), [raw for _, raw in pairs]))
    return normalize_page


def quarantine(reason: str, native_id: Any = None) -> Quarantine:
    """A quarantine outcome; the id only when it is a usable string."""
    return Quarantine(reason=reason, native_id=str(native_id) if native_id is not None else None)


def skipped(reason: str, native_id: Any = None) -> Skipped:
    """A counted skip: the item carries no opinion (the reason groups the count)."""
    return Skipped(reason=reason, native_id=str(native_id) if native_id is not None else None)
