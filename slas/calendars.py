"""Writes to business calendars: the calendar itself, its closed and make-up working days, and the
import of China's official schedule (from the maintained `chinesecalendar` package).

SLA maths never reads the package: it reads what these functions stored.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import available_timezones

import chinese_calendar
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from servicedesk.errors import Conflict, DomainError, InvalidInput

from . import config_cache
from .models import DEFAULT_CALENDAR_NAME, BusinessCalendar, CalendarDay, default_working_hours

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIRST_YEAR, LAST_YEAR = 1900, 2200
CHINA_CALENDAR_NAME = DEFAULT_CALENDAR_NAME
CHINA_TIMEZONE = "Asia/Shanghai"

# The package names holidays in English (its own Chinese names are short forms like 清明, 端午):
# store the names people read on the official notice.
CHINA_HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}
MAKE_UP_SUFFIX = "调休"  # a weekend worked to bridge a holiday: "国庆节调休"

_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")


class UnknownYear(DomainError):
    """The holiday package has no official schedule for these years (not yet published, or old)."""

    code = "calendar_year_unknown"

    def __init__(self, years: int | Iterable[int], reason: str):
        self.years = sorted({years} if isinstance(years, int) else set(years))
        self.reason = reason
        super().__init__(
            _("%(years)s: the chinesecalendar package has no official schedule (%(reason)s)")
            % {"years": year_spans(self.years), "reason": reason},
            years=self.years,
        )


def year_spans(years: Iterable[int]) -> str:
    """2024, 2027, 2028, 2029 -> "2024, 2027–2029"."""
    spans: list[list[int]] = []
    for year in sorted(set(years)):
        if spans and year == spans[-1][1] + 1:
            spans[-1][1] = year
        else:
            spans.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


@dataclass(frozen=True)
class DayEntry:
    date: date
    kind: str  # CalendarDay.Kind
    name: str


@dataclass(frozen=True)
class YearImport:
    year: int
    closed_days: int
    working_days: int


# -- Validation (shared by the API serializers, the admin form and the services) ---------------


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_problems(value: object) -> dict[str, str]:
    if not isinstance(value, str) or value not in _timezones():
        return {"timezone": _("unknown time zone; use an IANA name such as Asia/Shanghai")}
    return {}


def working_hours_problems(value: object) -> dict[str, str]:
    """Problems keyed by field path (`working_hours.mon`); empty when the value is valid.

    Each day is a list of ["HH:MM", "HH:MM"] intervals, start before end, in order and apart
    (one may end where the next starts). The same rules as slas.business_time, with messages
    for people.
    """
    if not isinstance(value, dict):
        return {"working_hours": _("must be an object with the days mon, tue, … sun")}
    problems: dict[str, str] = {}
    for key in value:
        if key not in WEEKDAYS:
            problems[f"working_hours.{key}"] = _(
                "unknown day; use mon, tue, wed, thu, fri, sat, sun"
            )
    for day in WEEKDAYS:
        if day in value:
            problem = _day_problem(value[day])
            if problem:
                problems[f"working_hours.{day}"] = problem
    return problems


def _day_problem(intervals: object) -> str | None:
    if not isinstance(intervals, list | tuple):
        return _('must be a list of ["HH:MM", "HH:MM"] intervals')
    previous_end = None
    for number, interval in enumerate(intervals, start=1):
        if not (
            isinstance(interval, list | tuple)
            and len(interval) == 2
            and all(isinstance(t, str) for t in interval)
        ):
            return _('interval %(n)s must be a pair ["HH:MM", "HH:MM"]') % {"n": number}
        start, end = interval
        if not _TIME.fullmatch(start) or not _TIME.fullmatch(end):
            return _("interval %(n)s: times are HH:MM from 00:00 to 23:59") % {"n": number}
        if start >= end:  # zero-padded HH:MM strings compare like times
            return _("interval %(n)s: %(start)s is not before %(end)s") % {
                "n": number,
                "start": start,
                "end": end,
            }
        if previous_end is not None and start < previous_end:
            return _(
                "interval %(n)s starts before the previous one ends; list intervals in order, "
                "without overlap"
            ) % {"n": number}
        previous_end = end
    return None


def years_problems(value: object) -> dict[str, str]:
    if not isinstance(value, list | tuple):
        return {"years": _("must be a list of years")}
    problems: dict[str, str] = {}
    for index, year in enumerate(value):
        if isinstance(year, bool) or not isinstance(year, int):
            problems[f"years.{index}"] = _("must be a whole number")
        elif not FIRST_YEAR <= year <= LAST_YEAR:
            problems[f"years.{index}"] = _("must be between %(first)s and %(last)s") % {
                "first": FIRST_YEAR,
                "last": LAST_YEAR,
            }
    return problems


def normalised_working_hours(value: Mapping[str, Sequence[Sequence[str]]]) -> dict:
    """All seven days in weekday order; a day left out has no working hours."""
    return {day: [list(interval) for interval in value.get(day, [])] for day in WEEKDAYS}


# -- Calendars -------------------------------------------------------------------------------


def _calendar_changed(calendar_id: int) -> None:
    """Open tickets under policies on this calendar get new due times (after commit)."""
    from .policies import enqueue_recompute_for_calendar

    transaction.on_commit(lambda: enqueue_recompute_for_calendar(calendar_id))


@transaction.atomic
def save_calendar(
    *,
    calendar: BusinessCalendar | None = None,
    name: str | None = None,
    timezone: str | None = None,
    working_hours: Mapping[str, Sequence[Sequence[str]]] | None = None,
    years: Iterable[int] | None = None,
) -> BusinessCalendar:
    """Create a calendar (`calendar=None`) or change the given fields of one.

    `years` replaces the list of covered years (kept sorted, without repeats).
    """
    calendar = calendar or BusinessCalendar()
    problems: dict[str, str] = {}
    if name is not None:
        name = name.strip()
        if not name:
            problems["name"] = _("must not be blank")
        elif BusinessCalendar.objects.filter(name=name).exclude(pk=calendar.pk).exists():
            problems["name"] = _("a calendar with this name already exists")
        calendar.name = name
    if timezone is not None:
        problems |= timezone_problems(timezone)
        calendar.timezone = timezone
    if working_hours is not None:
        hours_problems = working_hours_problems(working_hours)
        problems |= hours_problems
        if not hours_problems:
            calendar.working_hours = normalised_working_hours(working_hours)
    if years is not None:
        years = list(years)
        year_problems = years_problems(years)
        problems |= year_problems
        if not year_problems:
            calendar.years = sorted(set(years))
    if problems:
        raise InvalidInput(problems)
    try:
        with transaction.atomic():
            calendar.save()
    except IntegrityError:  # a concurrent create took the name
        raise InvalidInput({"name": _("a calendar with this name already exists")}) from None
    if calendar.pk:
        _calendar_changed(calendar.pk)
    return calendar


@transaction.atomic
def delete_calendar(*, calendar: BusinessCalendar) -> None:
    """Delete a calendar and its days; refused while an SLA policy uses it."""
    try:
        calendar.delete()
    except ProtectedError:
        raise Conflict(
            _("SLA policies use this calendar; give them another calendar first")
        ) from None


@transaction.atomic
def default_china_calendar() -> BusinessCalendar:
    """The default calendar for China's official schedule, created on first use."""
    calendar, _created = BusinessCalendar.objects.get_or_create(
        name=CHINA_CALENDAR_NAME,
        defaults={"timezone": CHINA_TIMEZONE, "working_hours": default_working_hours()},
    )
    return calendar


# -- Days ------------------------------------------------------------------------------------


def _day_problems(kind: str | None) -> dict[str, str]:
    if kind is not None and kind not in CalendarDay.Kind.values:
        return {"kind": _("must be closed or working")}
    return {}


def _duplicate_date(day_date: date) -> InvalidInput:
    return InvalidInput(
        {"date": _("this calendar already has an entry for %(date)s") % {"date": day_date}}
    )


@transaction.atomic
def add_day(*, calendar: BusinessCalendar, date: date, kind: str, name: str = "") -> CalendarDay:
    """Add a closed day (holiday) or an extra working day (a make-up weekend) by hand.

    Adding days does not add the year to `calendar.years`: a year is covered once all its days
    are in, which only the person entering them knows.
    """
    problems = _day_problems(kind)
    if problems:
        raise InvalidInput(problems)
    if calendar.days.filter(date=date).exists():
        raise _duplicate_date(date)
    try:
        with transaction.atomic():
            day = CalendarDay.objects.create(calendar=calendar, date=date, kind=kind, name=name)
            _calendar_changed(calendar.pk)
            return day
    except IntegrityError:  # a concurrent request added the same date
        raise _duplicate_date(date) from None


@transaction.atomic
def update_day(
    *,
    day: CalendarDay,
    date: date | None = None,
    kind: str | None = None,
    name: str | None = None,
) -> CalendarDay:
    problems = _day_problems(kind)
    if problems:
        raise InvalidInput(problems)
    if date is not None and date != day.date:
        if CalendarDay.objects.filter(calendar_id=day.calendar_id, date=date).exists():
            raise _duplicate_date(date)
        day.date = date
    if kind is not None:
        day.kind = kind
    if name is not None:
        day.name = name
    try:
        with transaction.atomic():
            day.save()
    except IntegrityError:
        raise _duplicate_date(day.date) from None
    _calendar_changed(day.calendar_id)
    return day


@transaction.atomic
def remove_day(*, day: CalendarDay) -> None:
    day.delete()
    _calendar_changed(day.calendar_id)


# -- China's official schedule ---------------------------------------------------------------


def _china_holiday_name(english: str) -> str:
    if english in CHINA_HOLIDAY_NAMES:
        return CHINA_HOLIDAY_NAMES[english]
    try:  # a holiday newer than our table: the package's own Chinese name
        return str(chinese_calendar.Holiday(english).chinese)
    except (ValueError, AttributeError):
        return english


def china_official_days(year: int) -> list[DayEntry]:
    """China's official schedule for `year` as the days a calendar stores.

    Every day of an official holiday is "closed", its weekend days included (they would be closed
    anyway; storing them shows the whole holiday, e.g. 国庆节 10-01..10-08). A weekend day that
    people work to make up for a holiday is "working" ("国庆节调休"). Plain weekends and plain
    weekdays are left to the weekly hours. Raises UnknownYear for a year the package lacks.
    """
    entries = []
    day = date(year, 1, 1)
    while day.year == year:
        try:
            is_holiday, english = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError as error:
            raise UnknownYear(year, str(error)) from None
        if english is not None:
            name = _china_holiday_name(english)
            if is_holiday:
                entries.append(DayEntry(day, CalendarDay.Kind.CLOSED, name))
            elif day.weekday() >= 5:
                entries.append(DayEntry(day, CalendarDay.Kind.WORKING, name + MAKE_UP_SUFFIX))
        day += timedelta(days=1)
    return entries


@transaction.atomic
def import_year(*, calendar: BusinessCalendar, year: int, days: Iterable[DayEntry]) -> YearImport:
    """Make `days` the calendar's days for `year` and record the year as covered.

    Days of that year not in `days` are deleted, so importing again gives the same result.
    Locks the calendar row, so concurrent imports into one calendar keep every year.
    """
    days = list(days)
    stray = [entry.date for entry in days if entry.date.year != year]
    if stray:
        raise ValueError(f"days outside {year}: {stray[:3]}")
    locked = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    CalendarDay.objects.filter(calendar=locked, date__year=year).exclude(
        date__in=[entry.date for entry in days]
    ).delete()
    CalendarDay.objects.bulk_create(
        [
            CalendarDay(calendar=locked, date=entry.date, kind=entry.kind, name=entry.name)
            for entry in days
        ],
        update_conflicts=True,
        unique_fields=["calendar", "date"],
        update_fields=["kind", "name"],
    )
    config_cache.changed()  # bulk_create sends no post_save
    calendar.years = locked.years = sorted({*locked.years, year})
    locked.save(update_fields=["years"])
    _calendar_changed(calendar.pk)
    return YearImport(
        year=year,
        closed_days=sum(entry.kind == CalendarDay.Kind.CLOSED for entry in days),
        working_days=sum(entry.kind == CalendarDay.Kind.WORKING for entry in days),
    )


def import_china_years(
    *, years: Iterable[int], calendar: BusinessCalendar | None = None
) -> tuple[BusinessCalendar, list[YearImport]]:
    """Import China's official schedule for `years` into `calendar` (default: 中国标准工作日历).

    All or nothing: every year is read from the package before anything is written, and all
    years are written in one transaction. Raises UnknownYear naming every unknown year.
    """
    schedules: dict[int, list[DayEntry]] = {}
    unknown: list[UnknownYear] = []
    for year in sorted(set(years)):
        try:
            schedules[year] = china_official_days(year)
        except UnknownYear as error:
            unknown.append(error)
    if unknown:
        raise UnknownYear([error.years[0] for error in unknown], unknown[0].reason)
    with transaction.atomic():
        calendar = calendar or default_china_calendar()
        results = [
            import_year(calendar=calendar, year=year, days=days) for year, days in schedules.items()
        ]
    return calendar, results


def unknown_year_help(calendar: BusinessCalendar | None) -> str:
    """How to enter a year the package lacks by hand (shown with UnknownYear)."""
    calendar_id = str(calendar.pk) if calendar is not None else "{id}"
    return _(
        "Enter such a year by hand: in the admin, or POST calendars/%(id)s/days/ then add the "
        "year to years. Or upgrade chinesecalendar once the State Council has published it."
    ) % {"id": calendar_id}
