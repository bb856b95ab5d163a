"""Business-time arithmetic (slas/business_time.py): plain tests and hypothesis laws, no Django.

Expected values in the table tests are worked out by hand from the published schedules and the
tz rules (reasoning in the comments), never pasted from running the code.
"""

import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slas.business_time import (
    DAY_KEYS,
    Interval,
    WorkCalendar,
    add_business_minutes,
    add_business_seconds,
    business_minutes_between,
    business_seconds_between,
    uncovered_years,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SANTIAGO = ZoneInfo("America/Santiago")

OFFICE_HOURS = [["09:00", "12:00"], ["13:00", "18:00"]]  # 8 h a day


def days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


# China 2025, from the 国务院办公厅 notice on the 2025 holidays (and the 2026 notice for New Year).
CLOSED_2025 = (
    {date(2025, 1, 1)}
    | days(date(2025, 1, 28), date(2025, 2, 4))  # Spring Festival
    | days(date(2025, 4, 4), date(2025, 4, 6))  # Qingming
    | days(date(2025, 5, 1), date(2025, 5, 5))  # Labour Day
    | days(date(2025, 5, 31), date(2025, 6, 2))  # Dragon Boat
    | days(date(2025, 10, 1), date(2025, 10, 8))  # National Day + Mid-Autumn
)
MAKEUP_2025 = {
    date(2025, 1, 26),  # Sunday
    date(2025, 2, 8),  # Saturday
    date(2025, 4, 27),  # Sunday
    date(2025, 9, 28),  # Sunday
    date(2025, 10, 11),  # Saturday
}
CLOSED_2026_NEW_YEAR = days(date(2026, 1, 1), date(2026, 1, 3))
MAKEUP_2026_NEW_YEAR = {date(2026, 1, 4)}  # Sunday


def china_office(*, with_2026_new_year: bool = False) -> WorkCalendar:
    closed, makeup, years = set(CLOSED_2025), set(MAKEUP_2025), [2025]
    if with_2026_new_year:
        closed |= CLOSED_2026_NEW_YEAR
        makeup |= MAKEUP_2026_NEW_YEAR
        years.append(2026)
    return WorkCalendar.from_spec(
        timezone="Asia/Shanghai",
        working_hours=dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), OFFICE_HOURS),
        closed_dates=closed,
        extra_working_dates=makeup,
        years=years,
    )


def every_day(timezone: str, *intervals: tuple[str, str]) -> WorkCalendar:
    return WorkCalendar.from_spec(
        timezone=timezone, working_hours={key: [list(i) for i in intervals] for key in DAY_KEYS}
    )


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# --- China 2025 table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filed", "hours", "due"),
    [
        # Fri 09-26 17:00-18:00 = 1 h (7 h left); Sat 09-27 is an ordinary Saturday; Sun 09-28
        # is a make-up day: 09-12 = 3 h (4 h left), 13:00 + 4 h = 17:00.
        pytest.param(sh(2025, 9, 26, 17), 8, sh(2025, 9, 28, 17), id="makeup-sunday-0928"),
        # Tue 09-30 16-18 = 2 h (2 h left); 10-01..10-08 closed; Thu 10-09 09:00 + 2 h = 11:00.
        pytest.param(sh(2025, 9, 30, 16), 4, sh(2025, 10, 9, 11), id="national-day"),
        # Fri 10-10 17:30-18:00 = 0.5 h (1.5 h left); Sat 10-11 make-up: 09:00 + 1.5 h = 10:30.
        pytest.param(sh(2025, 10, 10, 17, 30), 2, sh(2025, 10, 11, 10, 30), id="makeup-sat-1011"),
        # Fri 01-24 17-18 = 1 h (7 h left); Sun 01-26 make-up: 09-12 = 3 h, 13:00 + 4 h = 17:00.
        pytest.param(sh(2025, 1, 24, 17), 8, sh(2025, 1, 26, 17), id="makeup-sunday-0126"),
        # Mon 01-27 17-18 = 1 h; 01-28..02-04 Spring Festival; Wed 02-05 09:00 + 1 h = 10:00.
        pytest.param(sh(2025, 1, 27, 17), 2, sh(2025, 2, 5, 10), id="spring-festival"),
        # Fri 02-07 17-18 = 1 h; Sat 02-08 make-up: 09:00 + 1 h = 10:00.
        pytest.param(sh(2025, 2, 7, 17), 2, sh(2025, 2, 8, 10), id="makeup-sat-0208"),
        # Thu 04-03 17-18 = 1 h; Fri 04-04 Qingming, 04-05/06 weekend; Mon 04-07 10:00.
        pytest.param(sh(2025, 4, 3, 17), 2, sh(2025, 4, 7, 10), id="qingming"),
        # Fri 04-25 17-18 = 1 h; Sat 04-26 ordinary; Sun 04-27 make-up: 10:00.
        pytest.param(sh(2025, 4, 25, 17), 2, sh(2025, 4, 27, 10), id="makeup-sunday-0427"),
        # Wed 04-30 17-18 = 1 h; 05-01..05-05 closed; Tue 05-06 10:00.
        pytest.param(sh(2025, 4, 30, 17), 2, sh(2025, 5, 6, 10), id="labour-day"),
        # Fri 05-30 17-18 = 1 h; 05-31..06-02 closed (Sat..Mon); Tue 06-03 10:00.
        pytest.param(sh(2025, 5, 30, 17), 2, sh(2025, 6, 3, 10), id="dragon-boat"),
    ],
)
def test_due_dates_follow_the_2025_china_schedule(
    filed: datetime, hours: int, due: datetime
) -> None:
    assert add_business_minutes(china_office(), filed, hours * 60) == due


def test_zero_at_the_start_of_lunch_is_that_instant() -> None:
    # Mon 2025-09-22 12:00 is the end of the morning; adding nothing stays there.
    due = add_business_seconds(china_office(), sh(2025, 9, 22, 12), 0)
    assert due == sh(2025, 9, 22, 12)
    assert due.tzinfo is UTC


def test_zero_outside_working_hours_is_still_the_start() -> None:
    assert add_business_seconds(china_office(), sh(2025, 10, 3, 20), 0) == sh(2025, 10, 3, 20)


def test_filed_during_lunch_counts_from_the_afternoon() -> None:
    # 12:30 is lunch; work resumes at 13:00, so 30 minutes end at 13:30.
    assert add_business_minutes(china_office(), sh(2025, 9, 22, 12, 30), 30) == sh(
        2025, 9, 22, 13, 30
    )


def test_due_exactly_at_lunch_is_noon_not_the_afternoon_start() -> None:
    # 11:30-12:00 holds exactly 30 minutes: due 12:00, not 13:00.
    assert add_business_minutes(china_office(), sh(2025, 9, 22, 11, 30), 30) == sh(2025, 9, 22, 12)


def test_due_across_the_year_end_uses_the_2026_new_year_schedule() -> None:
    # Wed 2025-12-31 17-18 = 1 h (1 h left); 2026-01-01..01-03 closed; Sun 01-04 make-up day:
    # 09:00 + 1 h = 10:00.
    cal = china_office(with_2026_new_year=True)
    assert add_business_minutes(cal, sh(2025, 12, 31, 17), 120) == sh(2026, 1, 4, 10)


def test_minutes_between_across_national_day() -> None:
    # Tue 09-30 09:00-18:00 = 480 min; 10-01..10-08 closed; 10-09 09:00 is where work starts.
    assert business_minutes_between(china_office(), sh(2025, 9, 30, 9), sh(2025, 10, 9, 9)) == 480


def test_minutes_between_is_negative_backwards() -> None:
    assert business_minutes_between(china_office(), sh(2025, 10, 9, 9), sh(2025, 9, 30, 9)) == -480


def test_2025_has_248_working_days() -> None:
    # 365 days - 104 weekend days (2025 starts on a Wednesday: 52 whole weeks + one Wednesday)
    # - 18 weekday holidays (01-01; 01-28..31, 02-03, 02-04; 04-04; 05-01, 05-02, 05-05; 06-02;
    # 10-01..03, 10-06..08) + 5 make-up days = 248 days of 480 minutes.
    minutes = business_minutes_between(china_office(), sh(2025, 1, 1), sh(2026, 1, 1))
    assert minutes == 248 * 480


def test_intervals_on_holidays_makeup_days_and_weekends() -> None:
    cal = china_office()
    monday_hours = ((time(9), time(12)), (time(13), time(18)))
    assert cal.intervals_on(date(2025, 9, 28)) == monday_hours  # make-up Sunday
    assert cal.intervals_on(date(2025, 10, 1)) == ()  # National Day (a Wednesday)
    assert cal.intervals_on(date(2025, 9, 27)) == ()  # ordinary Saturday
    assert cal.intervals_on(date(2025, 9, 30)) == monday_hours  # ordinary Tuesday


def test_makeup_hours_replace_mondays_hours_on_extra_dates() -> None:
    cal = WorkCalendar(
        timezone="Asia/Shanghai",
        weekly=(((time(9), time(18)),),) * 5 + ((), ()),
        extra_working_dates=frozenset({date(2025, 9, 28)}),
        makeup_hours=((time(10), time(15)),),
    )
    assert cal.intervals_on(date(2025, 9, 28)) == ((time(10), time(15)),)
    # Fri 18:00 onwards nothing until Sun 10:00; 2 h later is 12:00.
    assert add_business_minutes(cal, sh(2025, 9, 26, 18), 120) == sh(2025, 9, 28, 12)


def test_a_closed_date_wins_over_an_extra_working_date() -> None:
    cal = WorkCalendar.from_spec(
        timezone="Asia/Shanghai",
        working_hours={"mon": OFFICE_HOURS},
        closed_dates=["2025-09-28"],
        extra_working_dates=["2025-09-28"],
    )
    assert cal.intervals_on(date(2025, 9, 28)) == ()


def test_uncovered_years_names_the_unknown_year() -> None:
    cal = china_office()  # knows 2025 only
    assert uncovered_years(cal, sh(2025, 12, 30), sh(2026, 1, 5)) == [2026]
    assert uncovered_years(cal, sh(2025, 3, 1), sh(2025, 12, 31, 23, 59)) == []
    assert uncovered_years(cal, sh(2024, 12, 31), sh(2027, 1, 1)) == [2024, 2026, 2027]


def test_uncovered_years_uses_the_calendars_local_year() -> None:
    # 2025-12-31 17:00 UTC is already 2026-01-01 01:00 in Shanghai.
    cal = china_office()
    at = datetime(2025, 12, 31, 17, tzinfo=UTC)
    assert uncovered_years(cal, at, at) == [2026]


# --- DST, worked out from the tz rules ------------------------------------------------------


def test_berlin_spring_forward_day_has_an_hour_less() -> None:
    # 2025-03-30 02:00 CET -> 03:00 CEST: wall 01:00-04:00 holds only 01:00-02:00 and 03:00-04:00.
    cal = every_day("Europe/Berlin", ("01:00", "04:00"))
    day = datetime(2025, 3, 30, tzinfo=BERLIN)
    assert business_minutes_between(cal, day, day + timedelta(days=1)) == 120
    # 90 minutes from 01:00 CET (00:00 UTC): 60 min to the gap, 30 more from 03:00 CEST.
    assert add_business_minutes(cal, datetime(2025, 3, 30, 1, tzinfo=BERLIN), 90) == datetime(
        2025, 3, 30, 1, 30, tzinfo=UTC
    )


def test_berlin_fall_back_day_works_the_repeated_hour_twice() -> None:
    # 2025-10-26 03:00 CEST -> 02:00 CET: 01:00-04:00 wall time lasts 4 hours.
    cal = every_day("Europe/Berlin", ("01:00", "04:00"))
    day = datetime(2025, 10, 26, tzinfo=BERLIN)
    assert business_minutes_between(cal, day, day + timedelta(days=1)) == 240
    ordinary = datetime(2025, 10, 27, tzinfo=BERLIN)
    assert business_minutes_between(cal, ordinary, ordinary + timedelta(days=1)) == 180


def test_an_interval_starting_in_the_skipped_hour_starts_when_the_clock_jumps() -> None:
    # 2025-03-30: 02:30 never shows in Berlin; 02:30-05:00 is worked from 03:00 CEST (01:00 UTC).
    cal = every_day("Europe/Berlin", ("02:30", "05:00"))
    day = datetime(2025, 3, 30, tzinfo=BERLIN)
    assert business_minutes_between(cal, day, day + timedelta(days=1)) == 120
    assert add_business_minutes(cal, day, 1) == datetime(2025, 3, 30, 1, 1, tzinfo=UTC)


def test_an_interval_inside_the_repeated_hour_is_worked_on_both_passes() -> None:
    # 2025-10-26: 02:30-02:45 shows first in CEST (00:30-00:45 UTC), then in CET (01:30-01:45 UTC).
    cal = every_day("Europe/Berlin", ("02:30", "02:45"))
    day = datetime(2025, 10, 26, tzinfo=BERLIN)
    assert business_minutes_between(cal, day, day + timedelta(days=1)) == 30
    # 15 minutes on the first pass, 5 on the second: 01:35 UTC (02:35 CET).
    assert add_business_minutes(cal, day, 20) == datetime(2025, 10, 26, 1, 35, tzinfo=UTC)


def test_berlin_office_week_across_spring_forward() -> None:
    # Fri 2025-03-28 16:00 CET + 2 h: 16-17 = 1 h; weekend; Mon 03-31 09:00 CEST + 1 h = 10:00
    # CEST = 08:00 UTC.
    cal = WorkCalendar.from_spec(
        timezone="Europe/Berlin",
        working_hours={key: [["09:00", "17:00"]] for key in ("mon", "tue", "wed", "thu", "fri")},
    )
    due = add_business_minutes(cal, datetime(2025, 3, 28, 16, tzinfo=BERLIN), 120)
    assert due == datetime(2025, 3, 31, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "minutes"),
    [
        # 00:30-23:30 is 23 h of wall time.
        (date(2025, 3, 9), 22 * 60),  # 02:00 EST -> 03:00 EDT: 02:00-03:00 never shows
        (date(2025, 11, 2), 24 * 60),  # 02:00 EDT -> 01:00 EST: 01:00-02:00 shows twice
        (date(2025, 6, 2), 23 * 60),
    ],
)
def test_new_york_dst_days(day: date, minutes: int) -> None:
    cal = every_day("America/New_York", ("00:30", "23:30"))
    start = datetime.combine(day, time(), tzinfo=NEW_YORK)
    assert business_minutes_between(cal, start, start + timedelta(days=1)) == minutes


@pytest.mark.parametrize(
    ("day", "minutes"),
    [
        # 02:00 +11:00 -> 01:30 +10:30: 01:00-02:00 (60) then 01:30-03:00 (90).
        (date(2025, 4, 6), 150),
        # 02:00 +10:30 -> 02:30 +11:00: 01:00-02:00 (60) then 02:30-03:00 (30).
        (date(2025, 10, 5), 90),
        (date(2025, 7, 1), 120),
    ],
)
def test_lord_howe_half_hour_dst(day: date, minutes: int) -> None:
    cal = every_day("Australia/Lord_Howe", ("01:00", "03:00"))
    start = datetime.combine(day, time(), tzinfo=LORD_HOWE)
    assert business_minutes_between(cal, start, start + timedelta(days=1)) == minutes


def test_santiago_falls_back_at_midnight_into_the_same_evening() -> None:
    # 2025-04-05 24:00 -03 -> 23:00 -04: 22:00-23:30 lasts 90 min, then 23:00-23:30 once more.
    cal = every_day("America/Santiago", ("22:00", "23:30"))
    start = datetime(2025, 4, 5, 12, tzinfo=SANTIAGO)
    assert business_minutes_between(cal, start, start + timedelta(hours=24)) == 120


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("working_hours", "names"),
    [
        ({"mon": [["9am", "12:00"]]}, ["mon", "9am"]),
        ({"tue": [["09:00", "24:00"]]}, ["tue", "24:00"]),
        ({"wed": [["9:00", "12:00"]]}, ["wed", "9:00"]),
        ({"thu": [["13:00", "12:00"]]}, ["thu", "13:00-12:00"]),
        ({"fri": [["09:00", "09:00"]]}, ["fri", "09:00-09:00"]),
        ({"sat": [["09:00", "12:00"], ["11:00", "13:00"]]}, ["sat", "11:00-13:00"]),
        ({"sun": [["13:00", "18:00"], ["09:00", "12:00"]]}, ["sun", "09:00-12:00"]),
        ({"mon": [["09:00"]]}, ["mon"]),
        ({"monday": [["09:00", "12:00"]]}, ["monday"]),
    ],
)
def test_from_spec_rejects_bad_working_hours(
    working_hours: dict[str, list[list[str]]], names: list[str]
) -> None:
    with pytest.raises(ValueError) as raised:
        WorkCalendar.from_spec(timezone="Asia/Shanghai", working_hours=working_hours)
    for name in names:
        assert name in str(raised.value)


def test_from_spec_accepts_touching_intervals_and_missing_days() -> None:
    cal = WorkCalendar.from_spec(
        timezone="Asia/Shanghai", working_hours={"mon": [["09:00", "12:00"], ["12:00", "13:00"]]}
    )
    assert cal.weekly[0] == ((time(9), time(12)), (time(12), time(13)))
    assert cal.weekly[1:] == ((),) * 6


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        WorkCalendar.from_spec(timezone="Mars/Olympus", working_hours={})


def test_weekly_must_have_seven_days() -> None:
    with pytest.raises(ValueError, match="7"):
        WorkCalendar(timezone="UTC", weekly=((),) * 5)


@pytest.mark.parametrize(
    "call",
    [
        lambda cal: add_business_seconds(cal, datetime(2025, 9, 22, 9), 60),
        lambda cal: add_business_minutes(cal, datetime(2025, 9, 22, 9), 1),
        lambda cal: business_seconds_between(cal, datetime(2025, 9, 22, 9), sh(2025, 9, 23)),
        lambda cal: business_minutes_between(cal, sh(2025, 9, 22), datetime(2025, 9, 23)),
        lambda cal: uncovered_years(cal, datetime(2025, 9, 22), sh(2025, 9, 23)),
    ],
)
def test_naive_datetimes_are_rejected(call: Callable[[WorkCalendar], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(china_office())


@pytest.mark.parametrize("amount", [-1, -0.001, float("nan"), float("inf")])
def test_negative_or_non_finite_amounts_are_rejected(amount: float) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        add_business_seconds(china_office(), sh(2025, 9, 22, 9), amount)


def test_a_calendar_without_working_time_raises_instead_of_looping() -> None:
    cal = WorkCalendar.from_spec(timezone="Asia/Shanghai", working_hours={})
    with pytest.raises(ValueError, match="no working time"):
        add_business_minutes(cal, sh(2025, 9, 22, 9), 1)
    # Measuring needs no search ahead: an empty calendar simply has none.
    assert business_seconds_between(cal, sh(2025, 1, 1), sh(2030, 1, 1)) == 0


def test_adding_100000_minutes_is_fast() -> None:
    cal = china_office()
    start = sh(2025, 1, 2, 9)
    # About 208 working days, ten months of calendar. The best of five runs keeps a busy machine
    # from failing the test; the first run also builds the per-year time zone tables.
    timings = []
    for _ in range(5):
        began = clock.perf_counter()
        add_business_minutes(cal, start, 100_000)
        timings.append(clock.perf_counter() - began)
    assert min(timings) < 0.010


# --- laws -----------------------------------------------------------------------------------

ZONES = [
    "Asia/Shanghai",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Santiago",  # changes at midnight
    "America/Havana",  # falls back from 01:00 to 00:00
    "Pacific/Chatham",  # +12:45 / +13:45
    "UTC",
]
FIRST_DAY, LAST_DAY = date(2024, 1, 1), date(2027, 12, 31)


def _offset_change_days(zone_name: str) -> list[date]:
    """Local dates in 2024-2027 around which the zone's offset changes (scanned daily)."""
    zone = ZoneInfo(zone_name)
    found: list[date] = []
    day = datetime(2024, 1, 1, 12, tzinfo=UTC)
    previous = day.astimezone(zone).utcoffset()
    while day.year < 2028:
        day += timedelta(days=1)
        offset = day.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(day.astimezone(zone).date())
        previous = offset
    return found or [date(2025, 1, 1)]


CHANGE_DAYS = {name: _offset_change_days(name) for name in ZONES}

# Minutes of the day; half the draws land on the hours that DST skips or repeats.
minute_of_day = st.one_of(
    st.integers(0, 24 * 60 - 1),
    st.sampled_from([0, 30, 60, 90, 120, 135, 150, 165, 180, 210, 225, 1380, 1410, 1439]),
)


def as_time(minute: int) -> time:
    return time(minute // 60, minute % 60)


@st.composite
def day_intervals(draw: st.DrawFn, max_intervals: int = 3) -> tuple[Interval, ...]:
    points = sorted(draw(st.sets(minute_of_day, max_size=2 * max_intervals)))
    pairs = zip(points[0::2], points[1::2], strict=False)
    return tuple((as_time(start), as_time(end)) for start, end in pairs)


# A calendar, a start instant, and the most minutes the laws add to it.
Scenario = tuple[WorkCalendar, datetime, int]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A random calendar, a start instant in 2024-2027, and how many minutes it can take."""
    zone_name = draw(st.sampled_from(ZONES))
    weekly = tuple(draw(day_intervals()) for _ in range(7))
    weekly_minutes = sum(
        (e.hour * 60 + e.minute) - (s.hour * 60 + s.minute) for day in weekly for s, e in day
    )
    if weekly_minutes == 0:
        weekly = (((time(9), time(17)),), *weekly[1:])
        weekly_minutes = 8 * 60
    near_dst = draw(st.booleans())
    if near_dst:
        pivot = draw(st.sampled_from(CHANGE_DAYS[zone_name]))
        base = datetime.combine(pivot, time(), tzinfo=UTC) - timedelta(days=2)
        start = base + timedelta(seconds=draw(st.integers(0, 4 * 86400)))
    else:
        base = datetime.combine(FIRST_DAY, time(), tzinfo=UTC)
        span = int((datetime.combine(LAST_DAY, time(), tzinfo=UTC) - base).total_seconds())
        start = base + timedelta(seconds=draw(st.integers(0, span)))
    if draw(st.booleans()):
        start += timedelta(microseconds=draw(st.integers(0, 999_999)))
    start = start.astimezone(draw(st.sampled_from([UTC, ZoneInfo(zone_name)])))
    # Holidays and make-up days near the start, where the arithmetic will meet them.
    near_days = st.integers(-3, 200).map(lambda n: start.date() + timedelta(days=n))
    closed = draw(st.frozensets(near_days, max_size=25))
    extra = draw(st.frozensets(near_days, max_size=6))
    makeup = draw(st.one_of(st.none(), day_intervals()))
    years = draw(st.frozensets(st.integers(2023, 2028)))
    cal = WorkCalendar(zone_name, weekly, closed, extra, makeup, years)
    # About half a year of the calendar's time keeps a sparse calendar fast to walk.
    return cal, start, min(50_000, weekly_minutes * 26)


def is_working_instant(cal: WorkCalendar, instant: datetime) -> bool:
    """Reference: is the local wall clock inside one of its local date's intervals?"""
    wall = instant.astimezone(ZoneInfo(cal.timezone))
    return any(start <= wall.time() < end for start, end in cal.intervals_on(wall.date()))


law = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@law
@given(scenario=scenarios(), data=st.data())
def test_law_the_added_amount_is_the_business_time_between(
    scenario: Scenario, data: st.DataObject
) -> None:
    cal, start, budget = scenario
    minutes = data.draw(st.floats(0, budget, allow_nan=False))
    due = add_business_minutes(cal, start, minutes)
    assert business_seconds_between(cal, start, due) == pytest.approx(minutes * 60, abs=1e-6)


@law
@given(scenario=scenarios(), data=st.data())
def test_law_the_due_instant_closes_a_stretch_of_working_time(
    scenario: Scenario, data: st.DataObject
) -> None:
    cal, start, budget = scenario
    minutes = data.draw(st.integers(1, budget))
    due = add_business_minutes(cal, start, minutes)
    assert due.tzinfo is UTC
    # Inside a working interval or at its end: the microsecond before it is working time.
    assert is_working_instant(cal, due - timedelta(microseconds=1))


@law
@given(scenario=scenarios(), data=st.data())
def test_law_adding_more_never_ends_earlier(scenario: Scenario, data: st.DataObject) -> None:
    cal, start, budget = scenario
    smaller, larger = sorted(data.draw(st.lists(st.integers(0, budget), min_size=2, max_size=2)))
    assert add_business_minutes(cal, start, smaller) <= add_business_minutes(cal, start, larger)


@law
@given(scenario=scenarios(), data=st.data())
def test_law_adding_in_two_steps_is_adding_the_sum(scenario: Scenario, data: st.DataObject) -> None:
    cal, start, budget = scenario
    first = data.draw(st.integers(0, budget * 60))
    second = data.draw(st.integers(0, budget * 60 - first))
    in_two_steps = add_business_seconds(cal, add_business_seconds(cal, start, first), second)
    assert in_two_steps == add_business_seconds(cal, start, first + second)


@law
@given(scenario=scenarios(), data=st.data())
def test_law_between_adds_up_reverses_and_never_exceeds_elapsed_time(
    scenario: Scenario, data: st.DataObject
) -> None:
    cal, start, _budget = scenario
    offsets = st.integers(-40 * 86400, 40 * 86400).map(lambda s: timedelta(seconds=s))
    a, b, c = start, start + data.draw(offsets), start + data.draw(offsets)
    ab = business_seconds_between(cal, a, b)
    assert ab + business_seconds_between(cal, b, c) == pytest.approx(
        business_seconds_between(cal, a, c), abs=1e-6
    )
    assert business_seconds_between(cal, b, a) == -ab
    # Elapsed real time in UTC: same-zone aware subtraction ignores `fold`, and adding a
    # timedelta resets it, so a start in a repeated (fall-back) hour would look 0 s away.
    elapsed = (b.astimezone(UTC) - a.astimezone(UTC)).total_seconds()
    assert abs(ab) <= abs(elapsed)
    assert (ab >= 0) == (elapsed >= 0) or ab == 0


@law
@given(scenario=scenarios(), data=st.data())
def test_law_between_matches_a_minute_by_minute_wall_clock_count(
    scenario: Scenario, data: st.DataObject
) -> None:
    cal, start, _budget = scenario
    # Whole UTC minutes: every zone here changes offset on a minute and every interval bound is a
    # minute, so each UTC minute is entirely working time or entirely not.
    begin = start.astimezone(UTC).replace(second=0, microsecond=0)
    length = data.draw(st.integers(0, 2 * 24 * 60))
    minutes = (begin + timedelta(minutes=n) for n in range(length))
    expected = sum(1 for minute in minutes if is_working_instant(cal, minute))
    end = begin + timedelta(minutes=length)
    assert business_minutes_between(cal, begin, end) == expected


# -- Long ranges: summed by whole days, equal to walking every span ---------------------------

_LONG_ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe")


def _walked(cal: WorkCalendar, start: datetime, end: datetime) -> float:
    """The span walk itself, whatever the range (the reference for the day-sum shortcut)."""
    from slas import business_time

    since = start.astimezone(UTC).replace(tzinfo=None)
    until = end.astimezone(UTC).replace(tzinfo=None)
    total = timedelta()
    for span_start, span_end in business_time._working_spans(cal, since, until):
        total += min(span_end, until) - span_start
    return total.total_seconds()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(_LONG_ZONES),
    start=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 6, 30)),
    length=st.timedeltas(min_value=timedelta(days=14), max_value=timedelta(days=500)),
    holidays=st.lists(st.dates(date(2024, 1, 1), date(2027, 12, 31)), max_size=25),
    makeup=st.lists(st.dates(date(2024, 1, 1), date(2027, 12, 31)), max_size=6),
)
def test_long_ranges_equal_the_span_walk_in_any_zone(zone, start, length, holidays, makeup):
    cal = WorkCalendar.from_spec(
        timezone=zone,
        working_hours={
            "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
            "tue": [["00:00", "03:30"], ["22:00", "23:59"]],  # night shifts near DST changes
            "wed": [["09:00", "18:00"]],
            "thu": [["09:00", "18:00"]],
            "fri": [["09:00", "17:00"]],
            "sat": [["10:00", "12:00"]],
        },
        closed_dates=holidays,
        extra_working_dates=makeup,
        years=range(2024, 2028),
    )
    begin = start.replace(tzinfo=UTC)
    end = begin + length
    expected = _walked(cal, begin, end)
    assert business_seconds_between(cal, begin, end) == pytest.approx(expected, abs=1e-6)
    assert business_seconds_between(cal, end, begin) == pytest.approx(-expected, abs=1e-6)


def test_an_overdue_year_looks_at_a_few_days_not_every_day():
    """The queue shows time left for tickets months overdue: that must not walk every day
    (cost per row independent of how long ago the ticket fell due; timings live in bench/)."""
    from slas.business_time import _day_spans

    cal = WorkCalendar.from_spec(
        timezone="Asia/Shanghai",
        working_hours={day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    )
    due = datetime(2025, 1, 6, 10, tzinfo=UTC)
    now = due + timedelta(days=400)
    business_seconds_between(cal, now, due)  # the first call builds the day sums once
    expected = -_walked(cal, due, now)
    before = _day_spans.cache_info()
    assert business_seconds_between(cal, now, due) == expected
    after = _day_spans.cache_info()
    looked_at = (after.hits + after.misses) - (before.hits + before.misses)
    assert looked_at <= 16


# -- The business-time axis (many rows against one `now`): exactly business_seconds_between ----


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from((*_LONG_ZONES, "America/Santiago", "Pacific/Apia", "UTC")),
    now=st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2030, 12, 31)),
    dues=st.lists(
        st.timedeltas(min_value=timedelta(days=-900), max_value=timedelta(days=900)),
        min_size=1,
        max_size=8,
    ),
    holidays=st.lists(st.dates(date(2010, 1, 1), date(2031, 12, 31)), max_size=25),
    makeup=st.lists(st.dates(date(2010, 1, 1), date(2031, 12, 31)), max_size=6),
)
def test_law_the_axis_measures_exactly_what_business_seconds_between_does(
    zone, now, dues, holidays, makeup
):
    """A queue or list asks every row's due time against one `now`: the axis must give the
    very same float, to the microsecond, overdue (negative) or not, across DST and years."""
    from slas.business_time import business_axis

    cal = WorkCalendar.from_spec(
        timezone=zone,
        working_hours={
            "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
            "tue": [["00:00", "03:30"], ["22:00", "23:59"]],  # night shifts near DST changes
            "wed": [["09:00", "18:00"]],
            "fri": [["01:30", "02:45"], ["09:00", "17:00"]],
            "sat": [["10:00", "12:00"]],
        },
        closed_dates=holidays,
        extra_working_dates=makeup,
    )
    axis = business_axis(cal)
    start = now.replace(tzinfo=UTC)
    for offset in dues:
        due = start + offset
        assert axis.seconds_between(start, due) == business_seconds_between(cal, start, due)
        assert axis.seconds_between(due, start) == business_seconds_between(cal, due, start)
        # Rows come from the database in UTC; the same instant in the calendar's zone too.
        local_due = due.astimezone(ZoneInfo(zone))
        assert axis.seconds_between(start, local_due) == axis.seconds_between(start, due)


def test_the_axis_refuses_naive_times_like_the_function_it_replaces():
    from slas.business_time import business_axis

    cal = WorkCalendar.from_spec(timezone="Asia/Shanghai", working_hours={"mon": OFFICE_HOURS})
    aware = datetime(2025, 9, 22, 9, tzinfo=SHANGHAI)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_axis(cal).seconds_between(aware, datetime(2025, 9, 23, 9))
