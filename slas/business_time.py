"""Business-time arithmetic for SLA clocks: working hours in local wall-clock time, exact across
lunch breaks, weekends, public holidays, make-up working days (调休) and DST. No Django here.

A calendar's working time is the set of instants whose local wall-clock time (in the calendar's
time zone) falls inside one of that local date's working intervals. On a DST day this means a
skipped hour simply has no working time (an interval starting inside the gap starts when the
clock jumps) and a repeated hour is worked twice when an interval covers it. Every function
here measures or walks that one set of instants, so the functions agree with each other.
"""

import heapq
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DAY_KEYS",
    "BusinessAxis",
    "Interval",
    "WorkCalendar",
    "add_business_minutes",
    "add_business_seconds",
    "business_axis",
    "business_minutes_between",
    "business_seconds_between",
    "uncovered_years",
]

Interval = tuple[time, time]
"""Local wall-clock [start, end) within one day; start < end; "24:00" is not supported."""

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_HHMM = re.compile(r"(\d{2}):(\d{2})")
# Searching further than this for the next working instant means the calendar has none.
_NO_WORK_HORIZON = timedelta(days=3 * 366)
# A UTC offset is strictly between -24 h and +24 h, so every instant whose wall-clock date is D
# lies within a day of D's midnight (taken as if it were UTC).
_MAX_OFFSET = timedelta(hours=24)
# Offset changes are found by sampling at this step, then bisecting to the second. No zone changes
# its offset twice within a day (DST periods last weeks at the least).
_TRANSITION_SAMPLE_STEP = timedelta(days=1)

# Absolute instants are handled internally as naive datetimes in UTC: exact to the microsecond
# and cheap to compare.
_Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class WorkCalendar:
    """Weekly working hours in a time zone, with public holidays and make-up working days."""

    timezone: str  # IANA name, e.g. "Asia/Shanghai"
    weekly: tuple[tuple[Interval, ...], ...]  # 7 entries, index 0 = Monday … 6 = Sunday
    closed_dates: frozenset[date] = frozenset()  # public holidays: no working time at all
    extra_working_dates: frozenset[date] = frozenset()  # make-up working days (调休)
    makeup_hours: tuple[Interval, ...] | None = None  # hours on an extra date; None = Monday's
    years: frozenset[int] = frozenset()  # years whose closed/extra dates are known

    def __post_init__(self) -> None:
        # Accept any iterables (sets, lists from JSON) but store hashable, immutable values.
        object.__setattr__(self, "weekly", tuple(tuple(day) for day in self.weekly))
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        object.__setattr__(self, "extra_working_dates", frozenset(self.extra_working_dates))
        object.__setattr__(self, "years", frozenset(self.years))
        if self.makeup_hours is not None:
            object.__setattr__(self, "makeup_hours", tuple(self.makeup_hours))
        _zone(self.timezone)
        if len(self.weekly) != 7:
            raise ValueError(f"weekly must have 7 entries (Monday..Sunday), got {len(self.weekly)}")
        for key, intervals in zip(DAY_KEYS, self.weekly, strict=True):
            _check_intervals(key, intervals)
        if self.makeup_hours is not None:
            _check_intervals("makeup_hours", self.makeup_hours)

    @classmethod
    def from_spec(
        cls,
        *,
        timezone: str,
        working_hours: Mapping[str, Sequence[Sequence[str]]],
        closed_dates: Iterable[date | str] | None = (),
        extra_working_dates: Iterable[date | str] | None = (),
        years: Iterable[int] | None = (),
    ) -> "WorkCalendar":
        """Build a calendar from plain data, e.g. stored JSON.

        `working_hours` is like {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], ..., "sun": []}
        (keys mon..sun; a missing key means no hours). Dates may be `date`s or "YYYY-MM-DD";
        None for dates or years means none.
        Raises ValueError naming the day and interval for a bad time ("HH:MM", 00:00..23:59),
        start >= end, or intervals out of order or overlapping; also for an unknown day key.
        """
        unknown = sorted(str(key) for key in working_hours if key not in DAY_KEYS)
        if unknown:
            raise ValueError(
                f"unknown day key(s) {', '.join(unknown)} in working_hours; "
                f"use {', '.join(DAY_KEYS)}"
            )
        weekly: list[tuple[Interval, ...]] = []
        for key in DAY_KEYS:
            intervals: list[Interval] = []
            for position, raw in enumerate(working_hours.get(key) or (), start=1):
                if isinstance(raw, str) or len(raw) != 2:
                    raise ValueError(
                        f'{key} interval {position} {raw!r}: expected a pair ["HH:MM", "HH:MM"]'
                    )
                intervals.append(
                    (_parse_hhmm(raw[0], key, position), _parse_hhmm(raw[1], key, position))
                )
            weekly.append(tuple(intervals))
        return cls(
            timezone=timezone,
            weekly=tuple(weekly),
            closed_dates=frozenset(_parse_date(value) for value in closed_dates or ()),
            extra_working_dates=frozenset(
                _parse_date(value) for value in extra_working_dates or ()
            ),
            years=frozenset(int(year) for year in years or ()),
        )

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """Working intervals of a local date. A closed date wins over an extra working date."""
        if day in self.closed_dates:
            return ()
        if day in self.extra_working_dates:
            return self.weekly[0] if self.makeup_hours is None else self.makeup_hours
        return self.weekly[day.weekday()]


def add_business_seconds(cal: WorkCalendar, start: datetime, seconds: float) -> datetime:
    """The earliest instant u >= start with `seconds` business seconds in [start, u), in UTC.

    Zero returns `start` itself (in UTC), even outside working hours. When the last second ends
    exactly at the end of a working interval, that end is returned (12:00 before lunch, not
    13:00). Seconds are rounded to the microsecond. Raises ValueError for a naive `start`, a
    negative or non-finite amount, or a calendar without working time in the next three years.
    """
    since = _to_utc_naive(start, "start")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"business seconds to add must be finite and >= 0, got {seconds!r}")
    remaining = timedelta(seconds=seconds)
    if not remaining:
        return since.replace(tzinfo=UTC)
    for span_start, span_end in _working_spans(cal, since):
        available = span_end - span_start
        if remaining <= available:
            return (span_start + remaining).replace(tzinfo=UTC)
        remaining -= available
    raise AssertionError("unreachable: the span iterator is endless or raises")


def add_business_minutes(cal: WorkCalendar, start: datetime, minutes: float) -> datetime:
    """`add_business_seconds` in minutes."""
    return add_business_seconds(cal, start, minutes * 60)


def business_seconds_between(cal: WorkCalendar, start: datetime, end: datetime) -> float:
    """Business seconds in [start, end); negative when end is before start."""
    since = _to_utc_naive(start, "start")
    until = _to_utc_naive(end, "end")
    if until < since:
        return -_business_time(cal, until, since).total_seconds()
    return _business_time(cal, since, until).total_seconds()


def business_minutes_between(cal: WorkCalendar, start: datetime, end: datetime) -> float:
    """`business_seconds_between` in minutes."""
    return business_seconds_between(cal, start, end) / 60


def uncovered_years(cal: WorkCalendar, start: datetime, end: datetime) -> list[int]:
    """Local-calendar years touched by [start, end] whose holidays the calendar does not know."""
    zone = _zone(cal.timezone)
    first = _to_utc_naive(start, "start").replace(tzinfo=UTC).astimezone(zone).year
    last = _to_utc_naive(end, "end").replace(tzinfo=UTC).astimezone(zone).year
    first, last = min(first, last), max(first, last)
    return [year for year in range(first, last + 1) if year not in cal.years]


# --- internals -----------------------------------------------------------------------------


def _business_time(cal: WorkCalendar, since: datetime, until: datetime) -> timedelta:
    if until - since > _LONG_RANGE:
        return _business_time_by_days(cal, since, until)
    total = timedelta()
    for span_start, span_end in _working_spans(cal, since, until):
        total += min(span_end, until) - span_start
    return total


# Ranges longer than this are summed day by day with cumulative day totals (overdue tickets in a
# queue are months past due; walking every day for every row made the page crawl).
_LONG_RANGE = timedelta(days=14)
_EDGE_DAYS = 3  # a day's spans lie within one _MAX_OFFSET (a day) of its UTC date, with room
_MICROSECOND = timedelta(microseconds=1)


def _business_time_by_days(cal: WorkCalendar, since: datetime, until: datetime) -> timedelta:
    """Business time in [since, until) as a sum over the local days whose spans it can touch.

    Each span belongs to exactly one local day (`_day_spans`), so the total is the sum over days
    of their spans clipped to the range. Days well inside the range are whole and come from
    cumulative sums; only the few days at either end are clipped span by span."""
    first_day = since.date() - timedelta(days=_EDGE_DAYS)
    last_day = until.date() + timedelta(days=_EDGE_DAYS)  # inclusive
    inner_start = since.date() + timedelta(days=_EDGE_DAYS)
    inner_end = until.date() - timedelta(days=_EDGE_DAYS)  # exclusive
    micros = _cumulative_days(cal).between(inner_start, inner_end)
    for day in _dates(first_day, inner_start):
        micros += _clipped(cal, day, since, until)
    for day in _dates(inner_end, last_day + timedelta(days=1)):
        micros += _clipped(cal, day, since, until)
    return timedelta(microseconds=micros)


def _dates(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def _clipped(cal: WorkCalendar, day: date, since: datetime, until: datetime) -> int:
    total = 0
    for span_start, span_end in _day_spans(cal, day):
        low, high = max(span_start, since), min(span_end, until)
        if low < high:
            total += (high - low) // _MICROSECOND
    return total


class _CumulativeDays:
    """Prefix sums of a calendar's whole-day business time (microseconds), grown on demand."""

    _PAD = timedelta(days=366)

    def __init__(self, cal: WorkCalendar) -> None:
        self.cal = cal
        # (first date, sums) replaced as one value, so a concurrent reader sees one or the other.
        self.state: tuple[date, tuple[int, ...]] | None = None

    def between(self, start: date, end: date) -> int:
        """Business microseconds of the whole days start <= day < end."""
        if end <= start:
            return 0
        state = self.state
        if state is None or start < state[0] or end > state[0] + timedelta(days=len(state[1]) - 1):
            state = self._grow(start, end)
        origin, sums = state
        return sums[(end - origin).days] - sums[(start - origin).days]

    def _grow(self, start: date, end: date) -> tuple[date, tuple[int, ...]]:
        if self.state is not None:
            origin, sums = self.state
            start = min(start, origin)
            end = max(end, origin + timedelta(days=len(sums) - 1))
        origin = start - self._PAD
        sums = [0]
        for day in _dates(origin, end + self._PAD):
            sums.append(
                sums[-1]
                + sum((high - low) // _MICROSECOND for low, high in _day_spans(self.cal, day))
            )
        self.state = (origin, tuple(sums))
        return self.state


@lru_cache(maxsize=256)
def _cumulative_days(cal: WorkCalendar) -> _CumulativeDays:
    return _CumulativeDays(cal)


_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
# Beyond this many days the axis is not built: such instants take the walk/day-sum path.
_AXIS_MAX_DAYS = 25 * 366


class BusinessAxis:
    """A calendar's working spans laid end to end: an instant's position is the business time
    from the axis origin to it, so the business time between two instants is the difference of
    their positions, one bisection each. For lists that ask many rows against one `now`.

    Exactly `business_seconds_between` (the same spans, summed as integer microseconds); a
    calendar whose spans overlap, or an instant decades away, takes that function instead.
    """

    _PAD = timedelta(days=366)

    def __init__(self, cal: WorkCalendar) -> None:
        self.cal = cal
        # (first valid, last valid, span starts, span ends, business time before each span),
        # replaced as one value so a concurrent reader sees one whole state or the other.
        self.state: tuple[int, int, list[int], list[int], list[int]] | None = None
        self.exact = True
        # The last `start` seen and its instant: a list asks every row against one `now`.
        self._last_start: tuple[datetime, int] | None = None

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """`business_seconds_between(cal, start, end)`."""
        last = self._last_start
        if last is not None and last[0] is start:
            since = last[1]
        else:
            since = _micros(_to_utc_naive(start, "start"))
            self._last_start = (start, since)
        if isinstance(end, datetime) and end.tzinfo is UTC:  # as the database hands times over
            until = (end - _EPOCH_UTC) // _MICROSECOND
        else:
            until = _micros(_to_utc_naive(end, "end"))
        low, high = (since, until) if since <= until else (until, since)
        state = self.state
        if state is None or low < state[0] or high > state[1]:
            state = self._state_for(_from_micros(low), _from_micros(high))
            if state is None:
                return business_seconds_between(self.cal, start, end)
        return (self._position(state, until) - self._position(state, since)) / 1_000_000

    def _state_for(
        self, low: datetime, high: datetime
    ) -> tuple[int, int, list[int], list[int], list[int]] | None:
        state = self.state
        if state is not None and state[0] <= _micros(low) and _micros(high) <= state[1]:
            return state
        if not self.exact or (high - low).days > _AXIS_MAX_DAYS:
            return None
        return self._grow(low, high)

    @staticmethod
    def _position(state: tuple[int, int, list[int], list[int], list[int]], instant: int) -> int:
        _first, _last, starts, ends, before = state
        index = bisect_right(starts, instant) - 1
        if index < 0:
            return 0
        return before[index] + min(instant, ends[index]) - starts[index]

    def _grow(
        self, low: datetime, high: datetime
    ) -> tuple[int, int, list[int], list[int], list[int]] | None:
        try:
            first_day = low.date() - self._PAD
            last_day = high.date() + self._PAD
            if self.state is not None:
                first_day = min(first_day, _from_micros(self.state[0]).date() - self._PAD)
                last_day = max(last_day, _from_micros(self.state[1]).date() + self._PAD)
        except OverflowError:  # within a year of datetime's range: no room for the padding
            return None
        if (last_day - first_day).days > _AXIS_MAX_DAYS + 2 * self._PAD.days:
            return None
        spans = sorted(
            (_micros(span_start), _micros(span_end))
            for day in _dates(first_day, last_day + timedelta(days=1))
            for span_start, span_end in _day_spans(self.cal, day)
        )
        starts, ends, before = [], [], []
        total = 0
        for span_start, span_end in spans:
            if ends and span_start < ends[-1]:
                # Overlapping spans count twice in the walk: positions cannot express that.
                self.exact = False
                return None
            starts.append(span_start)
            ends.append(span_end)
            before.append(total)
            total += span_end - span_start
        # A span of a local date lies within a day (_MAX_OFFSET) of that date's UTC midnight:
        # between these bounds every span that can reach an instant is on the axis.
        first = datetime.combine(first_day, time()) + _EDGE_DAYS * _MAX_OFFSET
        last = datetime.combine(last_day, time()) - _EDGE_DAYS * _MAX_OFFSET
        self.state = (_micros(first), _micros(last), starts, ends, before)
        return self.state


def _micros(instant: datetime) -> int:
    return (instant - _EPOCH) // _MICROSECOND


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


@lru_cache(maxsize=256)
def business_axis(cal: WorkCalendar) -> BusinessAxis:
    """The calendar's axis, shared by every request in the process (a calendar is immutable)."""
    return BusinessAxis(cal)


def _working_spans(
    cal: WorkCalendar, since: datetime, until: datetime | None = None
) -> Iterator[_Span]:
    """Absolute working spans (naive UTC) in time order, clipped to start no earlier than `since`.

    With `until`, stops after the last span starting before it; without, goes on forever but
    raises ValueError after three years without any working time.
    """
    zone = _zone(cal.timezone)
    # Two days back: a span of an earlier local date can still run past `since` (fall-back hours).
    day = _wall_clock(zone, since).date() - timedelta(days=2)
    last_working_day = day
    pending: list[_Span] = []  # a heap: spans of nearby days need not arrive in time order
    while True:
        # No span of `day` or of any later date can start before this instant.
        horizon = datetime.combine(day, time()) - _MAX_OFFSET
        while pending and pending[0][0] < horizon:
            yield heapq.heappop(pending)
        if until is not None and horizon >= until:
            return
        spans = _day_spans(cal, day)
        if spans:
            last_working_day = day
            for span_start, span_end in spans:
                if span_end > since and (until is None or span_start < until):
                    heapq.heappush(pending, (max(span_start, since), span_end))
        elif until is None and day - last_working_day > _NO_WORK_HORIZON:
            raise ValueError(
                f"calendar ({cal.timezone}) has no working time between {last_working_day} "
                f"and {day}; it looks like it has none at all"
            )
        day += timedelta(days=1)


@lru_cache(maxsize=65536)
def _day_spans(cal: WorkCalendar, day: date) -> tuple[_Span, ...]:
    """The instants (naive UTC) whose wall-clock time lies in one of `day`'s intervals.

    Cached: a calendar is immutable, and walking months of overdue time (a queue sorted by due
    time is full of such tickets) would otherwise rebuild the same days for every row."""
    intervals = cal.intervals_on(day)
    if not intervals:
        return ()
    first = datetime.combine(day, intervals[0][0])
    last = datetime.combine(day, intervals[-1][1])
    segments = _offset_segments(cal.timezone, first - _MAX_OFFSET, last + _MAX_OFFSET)
    spans: list[_Span] = []
    for start, end in intervals:
        wall_start = datetime.combine(day, start)
        wall_end = datetime.combine(day, end)
        # Within a segment wall = utc + offset, so the wall-clock window maps to one UTC window.
        for segment_start, segment_end, offset in segments:
            span_start = max(segment_start, wall_start - offset)
            span_end = min(segment_end, wall_end - offset)
            if span_start < span_end:
                spans.append((span_start, span_end))
    spans.sort()
    merged: list[_Span] = []
    for span_start, span_end in spans:
        if merged and span_start <= merged[-1][1]:  # the two sides of a DST gap touch
            merged[-1] = (merged[-1][0], max(merged[-1][1], span_end))
        else:
            merged.append((span_start, span_end))
    return tuple(merged)


def _offset_segments(
    tz_name: str, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    """[lo, hi) (naive UTC) cut where the zone's UTC offset changes: (start, end, offset)."""
    changes = [
        change
        for year in range(lo.year - 1, hi.year + 1)
        for change in _offset_changes(tz_name, year)
        if lo < change[0] < hi
    ]
    segments: list[tuple[datetime, datetime, timedelta]] = []
    segment_start, offset = lo, _utc_offset(_zone(tz_name), lo)
    for at, new_offset in changes:
        segments.append((segment_start, at, offset))
        segment_start, offset = at, new_offset
    segments.append((segment_start, hi, offset))
    return segments


@lru_cache(maxsize=1024)
def _offset_changes(tz_name: str, year: int) -> tuple[tuple[datetime, timedelta], ...]:
    """Offset changes (naive-UTC instant, new offset) in (1 Jan `year`, 1 Jan `year`+1] UTC."""
    zone = _zone(tz_name)
    year_start = datetime(year, 1, 1)
    year_end = datetime(year + 1, 1, 1)
    changes: list[tuple[datetime, timedelta]] = []
    before, before_offset = year_start, _utc_offset(zone, year_start)
    while before < year_end:
        after = min(before + _TRANSITION_SAMPLE_STEP, year_end)
        after_offset = _utc_offset(zone, after)
        if after_offset != before_offset:
            changes.append(_bisect_change(zone, before, after, before_offset))
        before, before_offset = after, after_offset
    return tuple(changes)


def _bisect_change(
    zone: ZoneInfo, before: datetime, after: datetime, old_offset: timedelta
) -> tuple[datetime, timedelta]:
    """The first whole second in (before, after] where the offset is no longer `old_offset`."""
    low, high = 0, int((after - before).total_seconds())  # tzdata changes at whole seconds
    while high - low > 1:
        middle = (low + high) // 2
        if _utc_offset(zone, before + timedelta(seconds=middle)) == old_offset:
            low = middle
        else:
            high = middle
    at = before + timedelta(seconds=high)
    return at, _utc_offset(zone, at)


def _utc_offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    """The zone's UTC offset in force at a naive-UTC instant."""
    # A ZoneInfo always has an offset; `or` only narrows Optional (a zero offset stays zero).
    return _wall_clock(zone, instant).utcoffset() or timedelta()


def _wall_clock(zone: ZoneInfo, instant: datetime) -> datetime:
    return zone.fromutc(instant.replace(tzinfo=zone))


@cache
def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValueError(f"unknown time zone {tz_name!r}") from error


def _to_utc_naive(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _parse_hhmm(value: object, key: str, position: int) -> time:
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(
            f'{key} interval {position}: {value!r} is not a time "HH:MM" between 00:00 and 23:59'
        )
    return time(int(match[1]), int(match[2]))


def _parse_date(value: date | str) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got the datetime {value.isoformat()}")
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _check_intervals(label: str, intervals: Sequence[Interval]) -> None:
    previous: Interval | None = None
    for position, interval in enumerate(intervals, start=1):
        if len(interval) != 2 or not all(isinstance(bound, time) for bound in interval):
            raise ValueError(f"{label} interval {position} {interval!r}: expected (time, time)")
        start, end = interval
        described = f"{label} interval {position} ({_format_time(start)}-{_format_time(end)})"
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{described}: times must be naive local wall-clock times")
        if not start < end:
            raise ValueError(f"{described}: start must be before end (24:00 is not supported)")
        if previous is not None and start < previous[1]:
            raise ValueError(
                f"{described} overlaps or comes before interval {position - 1} "
                f"({_format_time(previous[0])}-{_format_time(previous[1])}); intervals must be "
                "sorted and must not overlap"
            )
        previous = interval


def _format_time(moment: time) -> str:
    if moment.second or moment.microsecond:
        return moment.isoformat()
    return moment.strftime("%H:%M")
