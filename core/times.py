"""Times: stored in UTC as one ISO-8601 form, shown in Seoul time; days are Seoul days.

Every module that writes, parses or groups times uses these, in Python and in SQL.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

ISO = "%Y-%m-%dT%H:%M:%SZ"  # the one stored form: UTC, to the second, with a Z
SEOUL = ZoneInfo("Asia/Seoul")
UTC = timezone.utc
# Seoul keeps no daylight saving time: a Seoul day is this shift of the UTC clock in SQL.
SEOUL_SHIFT = "'+9 hours'"


def utc_iso(value: datetime) -> str:
    """An aware datetime as ISO-8601 UTC with a Z, to the second."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must carry their zone")
    at = value.astimezone(UTC)
    # not strftime: %Y gives '1', not '0001', for year 1, and costs ~5x more
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # noqa: UP031 - faster than f-string specs
        at.year, at.month, at.day, at.hour, at.minute, at.second)


def utc_now() -> str:
    """The current time as stored."""
    return utc_iso(datetime.now(UTC))


_ISO_SHAPE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def parse_iso(text: str) -> datetime:
    """A stored time (ISO UTC with Z) as an aware datetime. The stored form only (ISO):
    checked by its shape, read by fromisoformat (strptime costs ~10x more; the centre
    shows thousands per page)."""
    if not isinstance(text, str) or not _ISO_SHAPE.fullmatch(text):
        raise ValueError(f"time data {text!r} does not match format {ISO!r}")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def parse_datetime(text: str) -> datetime:
    """Any ISO-8601 / Graph time ('2021-08-10T18:45:03+0000', '...Z', fractions) as a datetime."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]  # Graph's +0000 -> +00:00
    return datetime.fromisoformat(value)


def parse_time(text: str) -> str:
    """Any ISO-8601 / Graph time to UTC ISO with a Z (ValueError when unusable)."""
    try:
        return utc_iso(parse_datetime(text))
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"time out of range: {text!r}") from None


def from_epoch(seconds: float) -> str:
    """A Unix time as stored."""
    return utc_iso(datetime.fromtimestamp(seconds, UTC))


def shift(iso: str, **delta: float) -> str:
    """A stored time moved by a timedelta's keywords (days=, minutes=, ...)."""
    return utc_iso(parse_iso(iso) + timedelta(**delta))


def seoul_time(iso: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time as shown: Seoul wall-clock time."""
    return parse_iso(iso).astimezone(SEOUL).strftime(fmt)


def seoul_day_start(day: date) -> str:
    """The first second of a Seoul day, as stored (UTC)."""
    return utc_iso(datetime.combine(day, time(0), SEOUL))


def seoul_day_of(iso: str) -> date:
    """The Seoul day a stored time falls on."""
    return parse_iso(iso).astimezone(SEOUL).date()


def day_in_zone(iso: str, zone: str) -> str:
    """The day (YYYY-MM-DD) a stored time falls on in an IANA zone (quota days)."""
    return parse_iso(iso).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d")


def seoul_day_sql(column: str, *modifiers: str) -> str:
    """SQL for the Seoul day (YYYY-MM-DD) of a stored time column or parameter."""
    extra = "".join(f", {m}" for m in modifiers)
    return f"date({column}, {SEOUL_SHIFT}{extra})"


def seoul_time_sql(column: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """SQL for a stored time shown in Seoul time."""
    return f"strftime('{fmt}', {column}, {SEOUL_SHIFT})"


def seoul_day_end_sql(day: str) -> str:
    """SQL for the end of a Seoul day (YYYY-MM-DD expression), as stored: its day's 15:00 UTC."""
    return f"({day} || '{SEOUL_DAY_END}')"


# A Seoul day ends (the next begins) at 15:00 UTC of the same date.
SEOUL_DAY_END = "T15:00:00Z"
