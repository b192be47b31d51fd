"""Working time: the clock that deadlines run on (issue #18).

Staff work 09:00-18:00 Seoul time, Monday to Friday, and not on Korea's public holidays
(from the maintained `holidays` package: 설날, 추석 and their 대체공휴일 included). An
opinion's deadline is a number of *working* hours after it was received, per department
(`config/workplace.yaml`): received on Friday at 17:00 with 4 working hours to answer, it is
due on Monday at 12:00; received on a Saturday, at Monday 13:00.

The clock maps a time to its position on a line that only moves during working hours, so
the working time between two moments, a deadline and the latest receipt time that is
overdue by now are each O(log n) (a bisect over the working days), whatever the span.
"""
from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.times import SEOUL, UTC, parse_iso, utc_iso

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST_YEAR, LAST_YEAR = 1970, 2100  # the calendar covered; times outside are clamped
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class WorktimeConfigError(ValueError):
    """A problem in the workplace config: one line naming the file and the field."""

    def __init__(self, file: str, field: str | None, message: str):
        self.file, self.field = file, field
        super().__init__(f"{file}: field {field!r}: {message}" if field else f"{file}: {message}")


@dataclass(frozen=True)
class WorkingTime:
    """Working hours in Seoul on working days (weekdays listed, not holidays)."""

    start: time = time(9, 0)
    end: time = time(18, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    country: str = "KR"
    extra_holidays: frozenset[date] = frozenset()

    @property
    def day_seconds(self) -> int:
        return (self.end.hour * 60 + self.end.minute - self.start.hour * 60
                - self.start.minute) * 60

    # --- the calendar -------------------------------------------------------------------
    def working_days(self) -> list[date]:
        """Every working day of FIRST_YEAR..LAST_YEAR, in order (built once, on first use)."""
        return _working_days(self.weekdays, self.country, self.extra_holidays)

    def is_working_day(self, day: date) -> bool:
        days = self.working_days()
        i = bisect.bisect_left(days, day)
        return i < len(days) and days[i] == day

    # --- positions on the working line ---------------------------------------------------
    def _local(self, at: datetime | str) -> datetime:
        value = parse_iso(at) if isinstance(at, str) else at
        if value.tzinfo is None:
            raise ValueError("naive datetime: times must carry their zone")
        local = value.astimezone(SEOUL)
        low = datetime(FIRST_YEAR, 1, 2, tzinfo=SEOUL)
        high = datetime(LAST_YEAR, 12, 30, tzinfo=SEOUL)
        return min(max(local, low), high)

    def position(self, at: datetime | str) -> int:
        """Working seconds from the calendar's start to `at`."""
        local = self._local(at)
        days = self.working_days()
        i = bisect.bisect_left(days, local.date())
        seconds = i * self.day_seconds
        if i < len(days) and days[i] == local.date():
            into = (local.hour * 3600 + local.minute * 60 + local.second
                    - self.start.hour * 3600 - self.start.minute * 60)
            seconds += min(max(into, 0), self.day_seconds)
        return seconds

    def _at(self, day_index: int, seconds: int) -> datetime:
        """The time `seconds` into working day number `day_index`, as aware UTC."""
        days = self.working_days()
        day_index = min(max(day_index, 0), len(days) - 1)
        begin = datetime.combine(days[day_index], self.start, SEOUL)
        return (begin + timedelta(seconds=seconds)).astimezone(UTC)

    # --- what deadlines need ----------------------------------------------------------------
    def elapsed(self, start: datetime | str, end: datetime | str) -> timedelta:
        """Working time from start to end (negative when end is before start)."""
        return timedelta(seconds=self.position(end) - self.position(start))

    def add(self, start: datetime | str, hours: float) -> datetime:
        """The deadline: the earliest moment `hours` working hours after `start` (UTC). A
        deadline that falls on the end of a working day is that day's 18:00, not the next
        working day's 09:00."""
        target = self.position(start) + round(hours * 3600)
        day, seconds = divmod(target, self.day_seconds)
        if seconds == 0 and day > 0:
            return self._at(day - 1, self.day_seconds)
        return self._at(day, seconds)

    def overdue_before(self, now: datetime | str, hours: float) -> datetime:
        """The latest receipt time whose deadline of `hours` has passed at `now` (UTC):
        an opinion received at or before it is overdue (elapsed >= hours)."""
        target = self.position(now) - round(hours * 3600)
        day, seconds = divmod(target, self.day_seconds)
        return self._at(day, seconds)


_calendar_lock = threading.Lock()


@lru_cache(maxsize=8)
def _working_days(weekdays: frozenset[int], country: str,
                  extra: frozenset[date]) -> list[date]:
    import holidays

    with _calendar_lock:  # one thread builds it; the others wait for it
        off = holidays.country_holidays(country, years=range(FIRST_YEAR, LAST_YEAR + 1))
        day, last, found = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31), []
        while day <= last:
            if day.weekday() in weekdays and day not in off and day not in extra:
                found.append(day)
            day += timedelta(days=1)
    return found


@dataclass(frozen=True)
class Deadline:
    """Where an opinion stands against its deadline at some moment."""

    due: datetime  # aware UTC
    left: timedelta  # working time left; negative: overdue by that much
    day_seconds: int = 9 * 3600  # a working day's length, for the label

    @property
    def overdue(self) -> bool:
        return self.left <= timedelta(0)

    def label(self) -> str:
        """'3시간 20분 남음' or '기한 1일 2시간 초과' (working time: a day is a working day)."""
        return (f"기한 {working_span(-self.left, self.day_seconds)} 초과" if self.overdue
                else f"{working_span(self.left, self.day_seconds)} 남음")


def working_span(span: timedelta, day_seconds: int = 9 * 3600) -> str:
    """A working-time span in Korean: '2일 3시간' (days of working time), '3시간 20분', '15분'."""
    seconds = max(int(span.total_seconds()), 0)
    days, rest = divmod(seconds, day_seconds)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}일 {hours}시간" if hours else f"{days}일"
    if hours:
        return f"{hours}시간 {minutes}분" if minutes else f"{hours}시간"
    return f"{minutes}분"


@dataclass(frozen=True)
class Deadlines:
    """Working hours allowed to answer an opinion, per department (else `default_hours`)."""

    clock: WorkingTime = field(default_factory=WorkingTime)
    default_hours: float = 18.0
    departments: Mapping[str, float] = field(default_factory=dict)

    def hours_for(self, department: str | None) -> float:
        return self.departments.get(department or "", self.default_hours)

    def due(self, received: datetime | str, department: str | None) -> datetime:
        return self.clock.add(received, self.hours_for(department))

    def status(self, received: datetime | str, department: str | None,
               now: datetime | str) -> Deadline:
        due = self.due(received, department)
        return Deadline(due, self.clock.elapsed(now, due), self.clock.day_seconds)

    def label(self, received: str, department: str | None, now: datetime | str) -> str:
        return self.status(received, department, now).label()

    def cutoffs(self, now: datetime | str, departments: Iterable[str] = ()) -> dict[str, str]:
        """Per department (and '' for the default), the stored time at or before which an
        opinion received is overdue at `now`: what an SQL filter compares created_at with."""
        cut = {"": utc_iso(self.clock.overdue_before(now, self.default_hours))}
        for name in {*self.departments, *departments}:
            cut[name] = utc_iso(self.clock.overdue_before(now, self.hours_for(name)))
        return cut


@dataclass(frozen=True)
class WorkplaceConfig:
    """config/workplace.yaml: the working-time clock, deadlines and sessions."""

    deadlines: Deadlines = field(default_factory=Deadlines)
    session_idle_minutes: int = 480
    session_max_hours: int = 12
    path: str = ""


CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "workplace.yaml"
_SECTIONS = {"working_time", "deadlines", "sessions"}


def load_workplace_config(path: str | Path = CONFIG_PATH) -> WorkplaceConfig:
    """Parse and validate the workplace config; WorktimeConfigError names file and field."""
    import yaml

    file = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorktimeConfigError(file, None, "file not found") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise WorktimeConfigError(file, None, f"not valid YAML{where}") from None
    if not isinstance(doc, dict):
        raise WorktimeConfigError(file, None, "expected a mapping with working_time, "
                                              "deadlines and sessions")
    unknown = sorted(set(doc) - _SECTIONS)
    if unknown:
        raise WorktimeConfigError(file, unknown[0], "unknown section (expected "
                                                    f"{', '.join(sorted(_SECTIONS))})")
    work = _mapping(file, "working_time", doc.get("working_time", {}))
    start = _hhmm(file, "working_time.start", work.get("start", "09:00"))
    end = _hhmm(file, "working_time.end", work.get("end", "18:00"))
    if end <= start:
        raise WorktimeConfigError(file, "working_time.end", f"{end:%H:%M} is not after the "
                                                            f"start {start:%H:%M}")
    days = work.get("days", list(WEEKDAYS[:5]))
    if (not isinstance(days, list) or not days
            or not all(isinstance(d, str) and d.lower() in WEEKDAYS for d in days)):
        raise WorktimeConfigError(file, "working_time.days",
                                  f"expected a list out of {', '.join(WEEKDAYS)}")
    country = work.get("holidays", "KR")
    if country != "KR":
        raise WorktimeConfigError(file, "working_time.holidays",
                                  f"unknown calendar {country!r} (expected KR)")
    extra = work.get("extra_holidays", []) or []
    if not isinstance(extra, list):
        raise WorktimeConfigError(file, "working_time.extra_holidays",
                                  "expected a list of days (YYYY-MM-DD)")
    extra_days = frozenset(_day(file, "working_time.extra_holidays", d) for d in extra)
    unknown = sorted(set(work) - {"start", "end", "days", "holidays", "extra_holidays"})
    if unknown:
        raise WorktimeConfigError(file, f"working_time.{unknown[0]}", "unknown field")
    clock = WorkingTime(start=start, end=end,
                        weekdays=frozenset(WEEKDAYS.index(d.lower()) for d in days),
                        country=country, extra_holidays=extra_days)

    due = _mapping(file, "deadlines", doc.get("deadlines", {}))
    unknown = sorted(set(due) - {"default_hours", "departments"})
    if unknown:
        raise WorktimeConfigError(file, f"deadlines.{unknown[0]}", "unknown field")
    default = _hours(file, "deadlines.default_hours", due.get("default_hours", 18))
    per = _mapping(file, "deadlines.departments", due.get("departments", {}) or {})
    departments = {str(name): _hours(file, f"deadlines.departments.{name}", hours)
                   for name, hours in per.items()}

    sessions = _mapping(file, "sessions", doc.get("sessions", {}))
    unknown = sorted(set(sessions) - {"idle_minutes", "max_hours"})
    if unknown:
        raise WorktimeConfigError(file, f"sessions.{unknown[0]}", "unknown field")
    idle = _whole(file, "sessions.idle_minutes", sessions.get("idle_minutes", 480), 1, 24 * 60)
    longest = _whole(file, "sessions.max_hours", sessions.get("max_hours", 12), 1, 24 * 7)
    return WorkplaceConfig(Deadlines(clock, default, departments), idle, longest, file)


def _mapping(file: str, name: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WorktimeConfigError(file, name, "expected a mapping")
    return value


def _hhmm(file: str, name: str, value: Any) -> time:
    found = _HHMM.match(str(value)) if isinstance(value, str) else None
    if not found:
        raise WorktimeConfigError(file, name, f"expected a time as HH:MM, got {value!r}")
    return time(int(found.group(1)), int(found.group(2)))


def _day(file: str, name: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise WorktimeConfigError(file, name, f"expected a day as YYYY-MM-DD, got {value!r}") \
            from None


def _hours(file: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 2000:
        raise WorktimeConfigError(file, name, f"expected working hours from 0 to 2000 "
                                              f"(e.g. 18 = two working days), got {value!r}")
    return float(value)


def _whole(file: str, name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WorktimeConfigError(file, name, f"expected a whole number from {low} to {high}, "
                                              f"got {value!r}")
    return value
