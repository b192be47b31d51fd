"""The daily digest's figures: store/digest_queries.py aggregates -> pandas -> a Digest.

Definitions (also printed at the foot of every digest):
- The day is a Seoul day (Asia/Seoul, 00:00-24:00). The reference time is the end of that
  day, or now if that is earlier; "answered" means an official answer in the thread before
  the end of the opinion's own Seoul day (or now), or a staff status answered/resolved.
  The same-day answer rate (당일 답변율) is answered / received of the day. It is not the
  answer rate (답변율) of the centre and `case list`: answered, resolved or reflected / all
  opinions, whenever written, with their status as of now (SAME_DAY_RATE, REFLECTION_RATE);
  the digest also shows the resolution and policy-reflection rates (store.cases.RATES).
- "Previous 7 days" are the 7 Seoul days before the day. Counts are compared with their daily
  average (sum / 7, empty days count as 0); the same-day answer rate with the pooled rate of
  those days (answered / received); the median response time with the median over those
  days' answers.
- Keywords are nouns (Kiwi morphemes of each word, normalize.morph.nouns_many), computed at
  ingest into comments.keywords (rows stored before that are analysed here), counted once
  per opinion, without rules.yaml stop_nouns and LATIN_STOP. A keyword is rising when it occurs in at least
  RISING_MIN_COUNT of the day's opinions and (today + 1) / (previous daily average + 1) >=
  RISING_MIN_RATIO.
- Crisis words (rules.yaml `crisis`, Tagger.crisis, tagged at ingest into comments.crisis;
  rows stored before that are tested here): an alert is raised for a kind mentioned in
  at least CRISIS_MIN_COUNT of the day's opinions and at least CRISIS_MIN_RATIO times its
  previous daily average (any such count when the previous week had none).
- Overdue: opinions created at least `overdue_hours` before the reference time and still
  unanswered at the reference time (any day, oldest first). Each is shown with where it
  stands on the working-time clock at the reference time (core/worktime.py: working hours
  09:00-18:00 Seoul on working days, its department's deadline in config/workplace.yaml):
  time left, or time overdue.
"""
from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import sqlite_utils

from core.platforms import spec
from core.times import SEOUL, parse_iso, seoul_day_start, seoul_time
from core.times import utc_iso as iso
from core.worktime import Deadlines, load_workplace_config
from normalize.morph import keywords_many
from normalize.tags import Tagger, load_rules
from store import digest_queries as q
from store import queries

RULES_PATH = Path(__file__).resolve().parent.parent / "config" / "rules.yaml"
# English function words Kiwi tags as foreign words (SL); rules.yaml stop_nouns has a few more.
_LATIN_STOP_WORDS = """
    a an the in on at to of from by as is are was be been it its my me i we our you your he she
    they them his her do does did can could will would should there here where when what how
    why who which near not no yes so very too also just get got use used one any some all this
    that these those with for and or but if than then about
"""
LATIN_STOP = frozenset(_LATIN_STOP_WORDS.split())
PREVIOUS_DAYS = 7
TOP_KEYWORDS = 15
RISING_MIN_COUNT = 3
RISING_MIN_RATIO = 2.0
MAX_RISING = 10
CRISIS_MIN_COUNT = 5
CRISIS_MIN_RATIO = 3.0
CRISIS_EXAMPLES = 3
OVERDUE_SHOWN = 50  # overdue rows the digest holds (HTML / Markdown); the CSV streams them all
_YOUTUBE_QUOTA = spec("youtube").quota
assert _YOUTUBE_QUOTA is not None
YOUTUBE_DAILY_QUOTA = _YOUTUBE_QUOTA.units  # the collect --youtube-quota default
QUOTA_ZONE = ZoneInfo(_YOUTUBE_QUOTA.zone)
# Two rates, two names (issue #15): the digest's is same-day; the centre's counts any answer.
SAME_DAY_RATE = "당일 답변율 (same-day answer rate)"
SAME_DAY_RATE_DEF = ("그날(서울) 접수된 의견 중 접수된 날 안에 공식 계정이 답했거나, 담당자가 "
                     "답변·처리 완료로 기록한 의견 ÷ 그날 접수된 의견")
REFLECTION_RATE = "응답률 (answer rate: answered, resolved or reflected)"
REFLECTION_RATE_DEF = ("날짜와 관계없이 지금 상태가 답변·처리 완료·정책 반영인 의견 ÷ 전체 의견 "
                       "(센터와 case list가 보여 주는 수치; 늦은 답변과 담당자 처리도 세므로 보통 "
                       "당일 답변율보다 높음)")
GROUPS_SHOWN = 5  # the day's largest near-duplicate groups (issue #19)


# --- the figures ---------------------------------------------------------------------------
@dataclass
class Figures:
    """Received / answered the same day / same-day answer rate / median of a day, and the
    same of the previous 7 days."""

    received: int = 0
    answered: int = 0  # answered the same Seoul day (see the module's definitions)
    answer_rate: float | None = None  # same-day: answered / received; None: none received
    median_response_minutes: float | None = None
    prev_received: float = 0.0  # daily average over the previous 7 days
    prev_answered: float = 0.0  # daily average
    prev_answer_rate: float | None = None  # pooled over the previous 7 days
    prev_median_response_minutes: float | None = None  # over the previous 7 days' answers


@dataclass
class GroupFigures(Figures):
    """Figures of one platform or one account."""

    key: str = ""
    name: str = ""
    platform: str = ""


@dataclass
class DayCount:
    """One day of the 8-day series (the previous 7 days and the day)."""

    day: str
    received: int
    answered: int


@dataclass
class Count:
    """A value (district, category, language, keyword) with the day's count."""

    name: str | None
    count: int
    prev_avg: float = 0.0  # daily average over the previous 7 days
    share: float = 0.0  # of the day's opinions


@dataclass
class Rising:
    """A keyword that rose against the previous week."""

    word: str
    count: int
    prev_avg: float
    ratio: float  # (count + 1) / (prev_avg + 1)
    new: bool  # not seen at all in the previous 7 days


@dataclass
class Example:
    """An opinion quoted in the digest."""

    id: str
    created_at: str
    account: str
    account_name: str
    platform: str
    url: str | None
    text: str


@dataclass
class Crisis:
    """Mentions of one crisis kind."""

    kind: str
    count: int
    prev_avg: float
    alert: bool
    examples: list[Example] = field(default_factory=list)


@dataclass
class OverdueItem:
    """An opinion unanswered for longer than the threshold."""

    id: str
    created_at: str  # UTC ISO
    seoul_time: str  # 'YYYY-MM-DD HH:MM' in Seoul
    hours_open: float
    platform: str
    account: str
    account_name: str
    department: str | None
    status: str
    url: str | None
    text: str


@dataclass
class AccountHealth:
    """One account's runs on the day, or its current trouble."""

    account: str
    name: str
    platform: str
    runs: int = 0
    failed: int = 0
    rate_limited: int = 0
    last_status: str | None = None
    error: str | None = None
    retry_after: str | None = None


@dataclass
class Gap:
    """Comments a platform reports for an account's posts that are not stored."""

    account: str
    name: str
    platform: str
    reported: int
    stored: int

    @property
    def missing(self) -> int:
        return self.reported - self.stored


@dataclass
class Quota:
    """YouTube API units spent on one Pacific day."""

    day: str
    units: int
    budget: int

    @property
    def share(self) -> float:
        return self.units / self.budget if self.budget else 0.0


@dataclass
class Health:
    """Collector health: the day's runs, current failures, completeness, quota."""

    runs: int = 0
    accounts_run: int = 0
    accounts_total: int = 0
    failed: list[AccountHealth] = field(default_factory=list)  # failed in the day's runs
    rate_limited: list[AccountHealth] = field(default_factory=list)
    failing_now: list[AccountHealth] = field(default_factory=list)  # last run failed
    gaps: list[Gap] = field(default_factory=list)  # the week's posts, as of now (account_status)
    quota: list[Quota] = field(default_factory=list)


@dataclass
class Digest:
    """Every figure of one Seoul day's digest."""

    day: str
    start: str  # UTC ISO, the day's first second
    end: str  # UTC ISO, the next day's first second
    reference: str  # UTC ISO: min(end, now)
    generated_at: str  # UTC ISO
    overdue_hours: float
    totals: Figures
    daily: list[DayCount]
    platforms: list[GroupFigures]
    accounts: list[GroupFigures]
    overdue: list[OverdueItem]  # the oldest OVERDUE_SHOWN (overdue_count has them all)
    keywords: list[Count]
    rising: list[Rising]
    districts: list[Count]  # Seoul's gu with opinions that day or the week before
    no_district: int  # the day's opinions without a district
    categories: list[Count]  # every rules.yaml category, then None (unclassified)
    languages: list[Count]
    crisis: list[Crisis]  # kinds mentioned that day or the week before
    health: Health
    overdue_total: int | None = None  # every overdue opinion (None: len(overdue))
    restricted: list[Count] = field(default_factory=list)  # the day's notices, by kind
    deadlines: Deadlines = field(default_factory=Deadlines)  # the working-time clock
    # issue #19: open opinions per suggested department, the day's largest groups, and the
    # answer, resolution and policy-reflection rates (store.cases.RATES) as of now
    routing: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    rates: dict = field(default_factory=dict)

    def working_time(self, created_at: str, department: str | None) -> str:
        """Time left or overdue on the working-time clock at the reference time."""
        return self.deadlines.label(created_at, department, self.reference)

    @property
    def overdue_count(self) -> int:
        return len(self.overdue) if self.overdue_total is None else self.overdue_total

    @property
    def overdue_threshold(self) -> str:
        """Opinions created at or before this UTC time and unanswered at reference are overdue."""
        return iso(parse_iso(self.reference) - timedelta(hours=self.overdue_hours))

    @property
    def empty(self) -> bool:
        """No opinion was received on the day."""
        return self.totals.received == 0

    @property
    def alerts(self) -> list[Crisis]:
        return [c for c in self.crisis if c.alert]

    @property
    def reference_seoul(self) -> str:
        return seoul_time(self.reference)

    @property
    def partial(self) -> bool:
        """The reference time is before the day's end (the day is not over)."""
        return self.reference < self.end


# --- helpers -------------------------------------------------------------------------------
def as_day(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(str(day))


def day_window(day: date | str) -> tuple[str, str]:
    """The UTC bounds [start, end) of a Seoul day."""
    d = as_day(day)
    return seoul_day_start(d), seoul_day_start(d + timedelta(days=1))


def seoul_yesterday(now: datetime | None = None) -> date:
    """Yesterday in Seoul (the digest's default day)."""
    now = now or datetime.now(UTC)
    return now.astimezone(SEOUL).date() - timedelta(days=1)


@lru_cache(maxsize=4)
def _tagger(path: str) -> Tagger:
    return Tagger(load_rules(path))


def _rate(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def _now(now: datetime | str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, str):
        return parse_iso(now)
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    return now


# --- building ------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def default_deadlines() -> Deadlines:
    """The deadlines of config/workplace.yaml."""
    return load_workplace_config().deadlines


def build_digest(db: sqlite_utils.Database, day: date | str, overdue_hours: float = 24,
                 now: datetime | str | None = None, rules_path: str | Path = RULES_PATH,
                 youtube_quota: int = YOUTUBE_DAILY_QUOTA, rollups: bool = True,
                 deadlines: Deadlines | None = None) -> Digest:
    """Compute every figure of the digest of one Seoul day.

    rollups: read the per-day rollups the store keeps (store/db.py ROLLUPS_DOC) for every
    window that ends by `now`; False reads the opinions themselves (the reference the tests
    hold the rollups to; slow at a million rows)."""
    d = as_day(day)
    start, end = day_window(d)
    prev_start = iso(parse_iso(start) - timedelta(days=PREVIOUS_DAYS))
    now_dt = _now(now)
    reference = min(end, iso(now_dt))
    now_s = iso(now_dt)
    day_s = d.isoformat()
    prev_days = [(d - timedelta(days=n)).isoformat() for n in range(PREVIOUS_DAYS, 0, -1)]
    tagger = _tagger(str(rules_path))

    # counts per day, platform, account -> totals, platforms, accounts, daily series
    def rolled(lo: str, hi: str) -> bool:
        """Whether the rollups answer for [lo, hi): they judge answers by the end of each
        opinion's day, the same as the live queries only once that is past `now`."""
        return rollups and hi <= now_s and q.whole_days(lo, hi)

    def opinion_counts(lo: str, hi: str) -> list[dict]:
        if rolled(lo, hi):
            return q.opinion_counts_rolled(db, lo, hi)
        return q.opinion_counts(db, lo, hi, now_s)

    counts = pd.DataFrame(opinion_counts(prev_start, start) + opinion_counts(start, end),
                          columns=["seoul_day", "platform", "account", "account_name",
                                   "received", "answered"])
    counts[["received", "answered"]] = counts[["received", "answered"]].fillna(0).astype(int)
    today = counts[counts.seoul_day == day_s]
    prev = counts[counts.seoul_day != day_s]

    def medians(lo: str, hi: str, by: tuple[str, ...]) -> dict:
        rows = (q.response_medians_rolled(db, lo, hi, by) if rolled(lo, hi)
                else q.response_medians(db, lo, hi, now_s, by))
        return {tuple(r[k] for k in by): r["median_minutes"] for r in rows}

    totals = Figures(
        received=int(today.received.sum()), answered=int(today.answered.sum()),
        answer_rate=_rate(today.answered.sum(), today.received.sum()),
        median_response_minutes=medians(start, end, ()).get(()),
        prev_received=float(prev.received.sum() / PREVIOUS_DAYS),
        prev_answered=float(prev.answered.sum() / PREVIOUS_DAYS),
        prev_answer_rate=_rate(prev.answered.sum(), prev.received.sum()),
        prev_median_response_minutes=medians(prev_start, start, ()).get(()),
    )
    per_day = counts.groupby("seoul_day")[["received", "answered"]].sum()
    daily = [DayCount(x, int(per_day.received.get(x, 0)), int(per_day.answered.get(x, 0)))
             for x in [*prev_days, day_s]]

    def groups(by: tuple[str, ...]) -> list[GroupFigures]:
        def agg(df: pd.DataFrame) -> dict[tuple, tuple[int, int]]:
            sums = df.groupby(list(by), as_index=False)[["received", "answered"]].sum()
            return {tuple(r[k] for k in by): (int(r["received"]), int(r["answered"]))
                    for r in sums.to_dict("records")}

        t, p = agg(today), agg(prev)
        med_t, med_p = medians(start, end, by), medians(prev_start, start, by)
        names = {tuple(r[k] for k in by): r["account_name"]
                 for r in counts.to_dict("records")}
        out = []
        for k in sorted(set(t) | set(p)):
            rec, ans = t.get(k, (0, 0))
            prec, pans = p.get(k, (0, 0))
            out.append(GroupFigures(
                key=k[-1], platform=k[0],
                name=names.get(k, k[-1]) if by[-1] == "account" else k[0],
                received=rec, answered=ans, answer_rate=_rate(ans, rec),
                median_response_minutes=med_t.get(k),
                prev_received=prec / PREVIOUS_DAYS, prev_answered=pans / PREVIOUS_DAYS,
                prev_answer_rate=_rate(pans, prec), prev_median_response_minutes=med_p.get(k),
            ))
        out.sort(key=lambda g: (-g.received, -g.prev_received, g.key))
        return out

    if counts.empty:
        platforms: list[GroupFigures] = []
        accounts: list[GroupFigures] = []
    else:
        platforms = groups(("platform",))
        accounts = groups(("platform", "account"))

    # districts, categories, languages: the stored tag columns, grouped in SQL
    whole = rollups and q.whole_days(prev_start, end)  # tags and words do not wait on answers
    tags = pd.DataFrame((q.tag_counts_rolled if whole else q.tag_counts)(db, prev_start, end),
                        columns=["seoul_day", "district", "category", "lang", "n"])
    tags_today = tags[tags.seoul_day == day_s]
    tags_prev = tags[tags.seoul_day != day_s]
    received = totals.received

    def tally(column: str, order: list | None = None, keep_none: bool = True) -> list[Count]:
        t = _by_value(tags_today, column)
        p = _by_value(tags_prev, column)
        names = order if order is not None else list(set(t) | set(p))
        if not keep_none:
            names = [n for n in names if n is not None]
        out = [Count(n, t.get(n, 0), p.get(n, 0) / PREVIOUS_DAYS,
                     _rate(t.get(n, 0), received) or 0.0) for n in names]
        if order is None:
            out = [c for c in out if c.count or c.prev_avg]
            out.sort(key=lambda c: (-c.count, -c.prev_avg, c.name is None, c.name or ""))
        return out

    districts = tally("district", keep_none=False)
    no_district = int(tags_today[tags_today.district.isna()]["n"].sum())
    categories = tally("category", order=[*tagger.rules.categories, None])
    languages = [c for c in tally("lang") if c.count]

    # keywords: stored per opinion at ingest; crisis words: the only texts read
    untagged, unkeyed = q.untagged_rolled(db, prev_start, end) if whole else (1, 1)
    keywords, rising = _keywords(db, prev_start, end, day_s, received,
                                 tagger.rules.stop_nouns | LATIN_STOP, whole, unkeyed > 0)
    tagged = (q.crisis_counts_rolled if whole else q.crisis_counts)(db, prev_start, end)
    crisis = _crisis(q.opinion_texts(db, prev_start, end) if untagged else [], day_s, tagger,
                     quote=lambda ids: q.opinions_by_id(db, ids), tagged=tagged,
                     firsts=q.crisis_firsts(db, start, end, CRISIS_EXAMPLES,
                                            sorted({k for d, k, _ in tagged if d == day_s})))

    # overdue at the reference time
    threshold = iso(parse_iso(reference) - timedelta(hours=overdue_hours))
    overdue = [OverdueItem(*r) for r in q.overdue(db, reference, threshold, OVERDUE_SHOWN)]
    if len(overdue) < OVERDUE_SHOWN:
        overdue_total = len(overdue)
    elif rollups:
        overdue_total = q.overdue_count_rolled(db, reference, threshold)
    else:
        overdue_total = q.overdue_count(db, reference, threshold)

    return Digest(
        day=day_s, start=start, end=end, reference=reference, generated_at=now_s,
        overdue_hours=overdue_hours, totals=totals, daily=daily, platforms=platforms,
        accounts=accounts, overdue=overdue, keywords=keywords, rising=rising,
        districts=districts, no_district=no_district, categories=categories,
        languages=languages, crisis=crisis,
        health=_health(db, start, end, youtube_quota, prev_start), overdue_total=overdue_total,
        restricted=[Count(kind, n) for kind, n in q.restricted_counts(db, start, end)],
        deadlines=deadlines or default_deadlines(),
        routing=q.routing_backlog(db, start, end), groups=q.largest_groups(db, start, end, GROUPS_SHOWN),
        rates=_rates(db),
    )


def _rates(db: sqlite_utils.Database) -> dict:
    """The three rates with their counts and definitions (store.cases.RATES)."""
    from store.cases import RATES, rates

    counts = q.status_totals(db)
    return {"counts": counts, "pct": rates(counts), "definitions": dict(RATES)}


def _keywords(db: sqlite_utils.Database, start: str, end: str, day: str, n_today: int,
              stop: frozenset[str], rolled: bool = False,
              unkeyed: bool = True) -> tuple[list[Count], list[Rising]]:
    """Top nouns of the day and nouns rising against the previous week (once per opinion).

    rolled: counts from keyword_days, else from each opinion's comments.keywords; unkeyed:
    the window may hold opinions stored before keywords were (their texts analysed here)."""
    today: Counter[str] = Counter()
    prev: Counter[str] = Counter()
    if rolled and not unkeyed:  # only the words it can show (their counts are whole)
        rows = q.keyword_counts_picked(db, start, end, day, RISING_MIN_COUNT,
                                       TOP_KEYWORDS + len(stop))
        for on_day, word, n in rows:
            (today if on_day else prev)[word] += n
    elif rolled:
        for on_day, word, n in q.keyword_counts_rolled(db, start, end, day):
            (today if on_day else prev)[word] += n
    else:
        for on_day, words in q.opinion_keywords(db, start, end, day):
            (today if on_day else prev).update(words.split())  # each once (comments.keywords)
    old = q.opinion_texts_without_keywords(db, start, end, day) if unkeyed else []
    if old:
        unique = sorted({text for _, text in old})
        found = dict(zip(unique, keywords_many(unique)))
        for on_day, text in old:
            (today if on_day else prev).update(found[text].split())
    for word in stop & (today.keys() | prev.keys()):
        today.pop(word, None)
        prev.pop(word, None)
    top = sorted(today.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_KEYWORDS]
    keywords = [Count(w, n, prev[w] / PREVIOUS_DAYS, n / n_today) for w, n in top]
    rising = []
    for w, n in today.items():
        avg = prev[w] / PREVIOUS_DAYS
        ratio = (n + 1) / (avg + 1)
        if n >= RISING_MIN_COUNT and ratio >= RISING_MIN_RATIO:
            rising.append(Rising(w, n, avg, ratio, prev[w] == 0))
    rising.sort(key=lambda r: (-r.ratio, -r.count, r.word))
    return keywords, rising[:MAX_RISING]


def _by_value(frame: pd.DataFrame, column: str) -> dict[str | None, int]:
    """Opinions per value of a tag column (None for the untagged)."""
    sums = frame.groupby(column, dropna=False)["n"].sum()
    return {(k if isinstance(k, str) else None): int(v) for k, v in sums.items()}  # NaN: None


def _crisis(texts: Iterable[Mapping | sqlite3.Row], day: str, tagger: Tagger,
            quote: Callable[[list[str]], Mapping[str, Mapping]] | None = None,
            tagged: Iterable[tuple[str, str, int]] = (),
            firsts: Iterable[Mapping | sqlite3.Row] = ()) -> list[Crisis]:
    """Crisis kinds mentioned on the day or the week before; alert on a sharp rise.

    tagged: (seoul_day, kind, count) of the opinions tagged at ingest (comments.crisis);
    firsts: the day's first CRISIS_EXAMPLES of those per kind (id, crisis, created_at);
    texts: the opinions never tagged (comments.crisis IS NULL), rows with id, seoul_day,
    created_at, text, oldest first, run through tagger.crisis here. quote(ids) -> the example
    fields of those ids (account, url, ...), else the rows carry them."""
    today: Counter[str] = Counter()
    prev: Counter[str] = Counter()
    for on_day, kind, n in tagged:
        (today if on_day == day else prev)[kind] += n
    picked: dict[str, list[Mapping | sqlite3.Row]] = {}
    for r in firsts:
        picked.setdefault(r["crisis"], []).append(r)
    untagged: Counter[str] = Counter()
    for r in texts:
        said = tagger.crisis(r["text"])
        if said is None:
            continue
        if r["seoul_day"] == day:
            today[said] += 1
            untagged[said] += 1
            if untagged[said] <= CRISIS_EXAMPLES:
                picked.setdefault(said, []).append(r)
        else:
            prev[said] += 1
    picked = {kind: sorted(rows, key=lambda r: (r["created_at"], r["id"]))[:CRISIS_EXAMPLES]
              for kind, rows in picked.items()}
    if quote is not None:
        found = quote([r["id"] for rows in picked.values() for r in rows])
        picked = {kind: [found[r["id"]] for r in rows] for kind, rows in picked.items()}
    fields = ("id", "created_at", "account", "account_name", "platform", "url", "text")
    examples = {kind: [Example(**{f: r[f] for f in fields}) for r in rows]
                for kind, rows in picked.items()}
    out = []
    for kind in tagger.rules.crisis:  # priority order of rules.yaml
        n, avg = today[kind], prev[kind] / PREVIOUS_DAYS
        if n or avg:
            alert = n >= CRISIS_MIN_COUNT and n >= CRISIS_MIN_RATIO * avg
            out.append(Crisis(kind, n, avg, alert, examples.get(kind, [])))
    out.sort(key=lambda c: (not c.alert, -c.count))
    return out


def _health(db: sqlite_utils.Database, start: str, end: str, youtube_quota: int,
            week_start: str) -> Health:
    """The day's runs, accounts failing now, completeness gaps of the week's posts (published
    since week_start) and YouTube quota."""
    runs = q.runs_summary(db, start, end)
    status = queries.account_status(db, counts=False, posts_since=week_start)
    health = Health(runs=sum(r["runs"] for r in runs), accounts_run=len(runs),
                    accounts_total=len(status))
    for r in runs:
        item = AccountHealth(r["account"], r["account_name"], r["platform"], runs=r["runs"],
                             failed=r["failed"] or 0, rate_limited=r["rate_limited"] or 0,
                             last_status=r["last_status"], error=r["last_error"])
        if item.failed:
            health.failed.append(item)
        if item.rate_limited:
            health.rate_limited.append(item)
    for s in status:
        if s["last_status"] in q.FAILED_RUN_STATUSES:
            health.failing_now.append(AccountHealth(
                s["account"], s["name"], s["platform"], last_status=s["last_status"],
                error=s["last_error"], retry_after=s["retry_after"]))
        reported, stored = s["reported_comments"], s["stored_comments"]
        if reported is not None and (stored or 0) < reported:
            health.gaps.append(Gap(s["account"], s["name"], s["platform"], reported, stored or 0))
    health.gaps.sort(key=lambda g: (-g.missing, g.account))
    # YouTube quota resets at midnight Pacific: the Pacific days the Seoul day overlaps.
    first = parse_iso(start).astimezone(QUOTA_ZONE).date()
    last = (parse_iso(end) - timedelta(seconds=1)).astimezone(QUOTA_ZONE).date()
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    health.quota = [Quota(k, v, youtube_quota)
                    for k, v in q.quota_days(db, "youtube", days).items()]
    return health
