"""The working-time clock deadlines run on (core/worktime.py, issue #18): weekends, Korean
public holidays (추석, 설날, 대체공휴일), evenings, and config/workplace.yaml."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from conftest import ROOT

from core.times import SEOUL, utc_iso
from core.worktime import (
    Deadlines,
    WorkingTime,
    WorktimeConfigError,
    load_workplace_config,
    working_span,
)

CLOCK = WorkingTime()


def kst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SEOUL)


def local(value: datetime) -> datetime:
    return value.astimezone(SEOUL).replace(tzinfo=SEOUL)


def hours(span: timedelta) -> float:
    return span.total_seconds() / 3600


def test_within_a_working_day():
    assert hours(CLOCK.elapsed(kst(2026, 12, 2, 10, 0), kst(2026, 12, 2, 12, 30))) == 2.5
    assert local(CLOCK.add(kst(2026, 12, 2, 10, 0), 3)) == kst(2026, 12, 2, 13, 0)


def test_the_evening_and_the_night_do_not_count():
    # written at 20:00 on Wednesday: the clock starts at 09:00 on Thursday
    evening = kst(2026, 12, 2, 20, 0)
    assert hours(CLOCK.elapsed(evening, kst(2026, 12, 3, 8, 59))) == 0
    assert hours(CLOCK.elapsed(evening, kst(2026, 12, 3, 10, 0))) == 1
    assert local(CLOCK.add(evening, 4)) == kst(2026, 12, 3, 13, 0)
    # 17:00 + 2 working hours: one before 18:00, one after 09:00 the next day
    assert local(CLOCK.add(kst(2026, 12, 2, 17, 0), 2)) == kst(2026, 12, 3, 10, 0)
    # a deadline on the end of a day is that day's 18:00, not the next morning
    assert local(CLOCK.add(kst(2026, 12, 2, 9, 0), 9)) == kst(2026, 12, 2, 18, 0)
    assert local(CLOCK.add(kst(2026, 12, 2, 7, 0), 9)) == kst(2026, 12, 2, 18, 0)


def test_a_weekend_does_not_count():
    friday = kst(2026, 11, 27, 17, 0)
    assert local(CLOCK.add(friday, 4)) == kst(2026, 11, 30, 12, 0)  # Monday noon
    assert hours(CLOCK.elapsed(friday, kst(2026, 11, 30, 9, 0))) == 1
    saturday = kst(2026, 11, 28, 10, 0)
    assert local(CLOCK.add(saturday, 4)) == kst(2026, 11, 30, 13, 0)
    assert hours(CLOCK.elapsed(saturday, kst(2026, 11, 29, 23, 0))) == 0


def test_chuseok_and_its_substitute_holiday_do_not_count():
    # 추석 2025: 10/5 (Sun) - 10/7, 대체공휴일 10/8, 한글날 10/9; 개천절 10/3 (Fri)
    for day in (date(2025, 10, 3), date(2025, 10, 6), date(2025, 10, 7), date(2025, 10, 8),
                date(2025, 10, 9)):
        assert not CLOCK.is_working_day(day), day
    assert CLOCK.is_working_day(date(2025, 10, 2)) and CLOCK.is_working_day(date(2025, 10, 10))
    before = kst(2025, 10, 2, 17, 0)  # Thursday before the long break
    assert local(CLOCK.add(before, 2)) == kst(2025, 10, 10, 10, 0)
    assert hours(CLOCK.elapsed(before, kst(2025, 10, 10, 9, 0))) == 1
    # 추석 2026: 9/24 (Thu) - 9/26 (Sat)
    assert local(CLOCK.add(kst(2026, 9, 23, 17, 0), 2)) == kst(2026, 9, 28, 10, 0)


def test_seollal_does_not_count():
    # 설날 2026: 2/16 (Mon) - 2/18 (Wed)
    assert local(CLOCK.add(kst(2026, 2, 13, 17, 0), 2)) == kst(2026, 2, 19, 10, 0)
    # 설날 2027 falls on 2/6-2/8 (Sat-Mon): 대체공휴일 on Tuesday 2/9
    assert not CLOCK.is_working_day(date(2027, 2, 9))
    assert local(CLOCK.add(kst(2027, 2, 5, 17, 0), 2)) == kst(2027, 2, 10, 10, 0)


def test_a_substitute_holiday_for_a_weekend_holiday_does_not_count():
    # 광복절 2026 is a Saturday: 대체공휴일 on Monday 8/17
    assert not CLOCK.is_working_day(date(2026, 8, 17))
    assert local(CLOCK.add(kst(2026, 8, 14, 17, 0), 2)) == kst(2026, 8, 18, 10, 0)


def test_overdue_before_is_the_latest_receipt_time_overdue_now():
    now = kst(2026, 11, 30, 9, 0)  # Monday morning
    cut = CLOCK.overdue_before(now, 9)
    assert local(cut) == kst(2026, 11, 27, 9, 0)  # Friday 09:00 + 9 h = Friday 18:00
    assert CLOCK.elapsed(cut, now) == timedelta(hours=9)
    later = cut + timedelta(minutes=1)
    assert CLOCK.elapsed(later, now) < timedelta(hours=9)  # not overdue yet
    # Thursday evening counts from Friday 09:00: overdue too
    assert CLOCK.elapsed(kst(2026, 11, 26, 19, 0), now) == timedelta(hours=9)


def test_deadlines_per_department_and_their_labels():
    deadlines = Deadlines(CLOCK, default_hours=18, departments={"택시물류과": 4})
    received = utc_iso(kst(2026, 11, 27, 17, 0))  # Friday 17:00
    at = kst(2026, 11, 30, 11, 0)  # Monday 11:00
    taxi = deadlines.status(received, "택시물류과", at)
    assert local(taxi.due) == kst(2026, 11, 30, 12, 0) and not taxi.overdue
    assert taxi.label() == "1시간 남음"
    other = deadlines.status(received, "문화본부", at)
    assert local(other.due) == kst(2026, 12, 1, 17, 0)
    assert other.label() == "1일 6시간 남음"
    late = deadlines.status(received, "택시물류과", kst(2026, 12, 1, 14, 30))
    assert late.overdue and late.label() == "기한 1일 2시간 초과"  # 11.5 working hours
    cut = deadlines.cutoffs(at)  # what the inbox's overdue filter compares created_at with
    assert set(cut) == {"", "택시물류과"}
    assert local(datetime.fromisoformat(cut["택시물류과"])) == kst(2026, 11, 27, 16, 0)
    assert local(datetime.fromisoformat(cut[""])) == kst(2026, 11, 26, 11, 0)
    assert received > cut["택시물류과"] and received > cut[""]  # neither is overdue at 11:00


def test_working_span():
    assert working_span(timedelta(minutes=5)) == "5분"
    assert working_span(timedelta(hours=3, minutes=20)) == "3시간 20분"
    assert working_span(timedelta(hours=9)) == "1일"
    assert working_span(timedelta(hours=20)) == "2일 2시간"


def test_the_shipped_config_loads():
    config = load_workplace_config(ROOT / "config" / "workplace.yaml")
    assert config.deadlines.default_hours > 0
    assert config.deadlines.clock.start.hour == 9 and config.deadlines.clock.end.hour == 18
    assert config.session_idle_minutes <= config.session_max_hours * 60


@pytest.mark.parametrize("text, field", [
    ("working_time:\n  start: '9am'\n", "working_time.start"),
    ("working_time:\n  start: '18:00'\n  end: '09:00'\n", "working_time.end"),
    ("working_time:\n  days: [mon, funday]\n", "working_time.days"),
    ("working_time:\n  holidays: US\n", "working_time.holidays"),
    ("working_time:\n  extra_holidays: ['2026-13-01']\n", "working_time.extra_holidays"),
    ("deadlines:\n  default_hours: 0\n", "deadlines.default_hours"),
    ("deadlines:\n  departments:\n    택시물류과: '3h'\n", "deadlines.departments.택시물류과"),
    ("deadlines:\n  typo: 1\n", "deadlines.typo"),
    ("sessions:\n  idle_minutes: 0\n", "sessions.idle_minutes"),
    ("sesions: {}\n", "sesions"),
])
def test_a_bad_config_names_file_and_field(tmp_path, text, field):
    path = tmp_path / "workplace.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorktimeConfigError) as caught:
        load_workplace_config(path)
    message = str(caught.value)
    assert str(path) in message and f"field {field!r}" in message and "\n" not in message


def test_a_missing_or_broken_config_is_one_line(tmp_path):
    with pytest.raises(WorktimeConfigError, match="file not found"):
        load_workplace_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("deadlines: [\n", encoding="utf-8")
    with pytest.raises(WorktimeConfigError, match="not valid YAML"):
        load_workplace_config(broken)


def test_extra_holidays_and_other_hours(tmp_path):
    path = tmp_path / "workplace.yaml"
    path.write_text("working_time:\n  start: '08:30'\n  end: '17:30'\n"
                    "  extra_holidays: ['2026-12-03']\n", encoding="utf-8")
    clock = load_workplace_config(path).deadlines.clock
    assert not clock.is_working_day(date(2026, 12, 3))
    assert local(clock.add(kst(2026, 12, 2, 17, 0), 1)) == kst(2026, 12, 4, 9, 0)


def test_parse_iso_reads_the_stored_form_only():
    """parse_iso reads ISO (fromisoformat after a shape check, not strptime): the same
    instants, and nothing but the stored form."""
    from datetime import datetime, timezone

    from core.times import ISO, parse_iso

    for text in ("2026-11-24T14:59:59Z", "0001-01-01T00:00:00Z", "2024-02-29T23:00:00Z"):
        assert parse_iso(text) == datetime.strptime(text, ISO).replace(tzinfo=timezone.utc)
    for text in ("2026-11-24 14:59:59Z", "2026-11-24T14:59:59", "2026-11-24T14:59:59+00:00",
                 "2026-13-01T00:00:00Z", "2026-1-1T0:0:0Z", "२०२६-11-24T14:59:59Z", ""):
        with pytest.raises(ValueError):
            parse_iso(text)
