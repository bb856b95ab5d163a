"""`import_china_calendar`: China's official schedule into a business calendar (DESIGN §2 SLAs).

Expected days come from the State Council's published notices (国务院办公厅关于部分节假日安排的
通知): 国办发明电〔2023〕7号 for 2024, 〔2024〕12号 for 2025, 〔2025〕7号 for 2026.
"""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from slas.calendars import CHINA_CALENDAR_NAME
from slas.models import BusinessCalendar, CalendarDay

pytestmark = pytest.mark.django_db

CLOSED, WORKING = CalendarDay.Kind.CLOSED, CalendarDay.Kind.WORKING


def days_between(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


# 2025 (国办发明电〔2024〕12号): every official holiday day, weekends inside a holiday included.
CLOSED_2025 = (
    {date(2025, 1, 1)}  # 元旦
    | days_between(date(2025, 1, 28), date(2025, 2, 4))  # 春节, 8 days
    | days_between(date(2025, 4, 4), date(2025, 4, 6))  # 清明节
    | days_between(date(2025, 5, 1), date(2025, 5, 5))  # 劳动节
    | days_between(date(2025, 5, 31), date(2025, 6, 2))  # 端午节
    | days_between(date(2025, 10, 1), date(2025, 10, 8))  # 国庆节、中秋节, 8 days
)
# Weekends worked to make up for them (上班).
WORKING_2025 = {
    date(2025, 1, 26): "春节调休",  # Sunday
    date(2025, 2, 8): "春节调休",  # Saturday
    date(2025, 4, 27): "劳动节调休",  # Sunday
    date(2025, 9, 28): "国庆节调休",  # Sunday
    date(2025, 10, 11): "国庆节调休",  # Saturday
}
WORKING_2024 = {
    date(2024, 2, 4),
    date(2024, 2, 18),
    date(2024, 4, 7),
    date(2024, 4, 28),
    date(2024, 5, 11),
    date(2024, 9, 14),
    date(2024, 9, 29),
    date(2024, 10, 12),
}
WORKING_2026 = {
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
}


def run_import(*args: object) -> str:
    """Run the command as an English-speaking admin (messages are translated; zh is default)."""
    out = StringIO()
    with translation.override("en"):
        call_command("import_china_calendar", *map(str, args), stdout=out)
    return out.getvalue()


def stored(calendar: BusinessCalendar, year: int | None = None) -> dict[date, tuple[str, str]]:
    days = calendar.days.all()
    if year is not None:
        days = days.filter(date__year=year)
    return {day.date: (day.kind, day.name) for day in days}


def china() -> BusinessCalendar:
    return BusinessCalendar.objects.get(name=CHINA_CALENDAR_NAME)


def test_import_2025_stores_every_official_holiday_day_as_closed():
    run_import(2025)

    days = stored(china(), 2025)
    closed = {d for d, (kind, _) in days.items() if kind == CLOSED}
    assert closed == CLOSED_2025
    assert len(closed) == 28
    # The National Day week: weekdays and the weekend inside it alike.
    for day in days_between(date(2025, 10, 1), date(2025, 10, 8)):
        assert days[day][0] == CLOSED


def test_import_2025_stores_the_make_up_working_weekends():
    run_import(2025)

    days = stored(china(), 2025)
    working = {d: name for d, (kind, name) in days.items() if kind == WORKING}
    assert working == WORKING_2025


def test_import_names_holidays_in_chinese():
    run_import(2025)

    days = stored(china(), 2025)
    assert days[date(2025, 1, 1)] == (CLOSED, "元旦")
    assert days[date(2025, 1, 29)] == (CLOSED, "春节")
    assert days[date(2025, 4, 4)] == (CLOSED, "清明节")
    assert days[date(2025, 5, 1)] == (CLOSED, "劳动节")
    assert days[date(2025, 5, 31)] == (CLOSED, "端午节")
    assert days[date(2025, 10, 1)] == (CLOSED, "国庆节")
    assert days[date(2025, 10, 6)] == (CLOSED, "中秋节")  # 八月十五 falls on 10-06 in 2025


def test_plain_weekends_and_weekdays_are_left_to_the_weekly_hours():
    run_import(2025)

    days = stored(china(), 2025)
    assert date(2025, 3, 1) not in days  # an ordinary Saturday
    assert date(2025, 10, 12) not in days  # the Sunday after the make-up Saturday
    assert date(2025, 10, 9) not in days  # the first ordinary Thursday after the holiday
    assert len(days) == 28 + 5


def test_default_calendar_is_created_with_shanghai_time_and_office_hours():
    output = run_import(2025)

    calendar = china()
    assert calendar.timezone == "Asia/Shanghai"
    office = [["09:00", "12:00"], ["13:00", "18:00"]]
    assert calendar.working_hours == {
        "mon": office,
        "tue": office,
        "wed": office,
        "thu": office,
        "fri": office,
        "sat": [],
        "sun": [],
    }
    assert calendar.years == [2025]
    assert "2025: 28 closed days, 5 make-up working days" in output


def test_reimport_is_idempotent():
    run_import(2025)
    first = stored(china())
    ids = set(china().days.values_list("id", flat=True))

    output = run_import(2025)

    assert stored(china()) == first
    assert set(china().days.values_list("id", flat=True)) == ids
    assert china().years == [2025]
    assert BusinessCalendar.objects.count() == 1
    assert "2025: 28 closed days, 5 make-up working days" in output


def test_reimport_replaces_that_years_days_and_keeps_other_years():
    run_import(2025)
    calendar = china()
    calendar.days.filter(date=date(2025, 10, 1)).update(kind=WORKING, name="改错了")
    CalendarDay.objects.create(calendar=calendar, date=date(2025, 12, 31), kind=CLOSED, name="x")
    CalendarDay.objects.create(calendar=calendar, date=date(2027, 2, 5), kind=CLOSED, name="春节")

    run_import(2025)

    days = stored(calendar)
    assert days[date(2025, 10, 1)] == (CLOSED, "国庆节")
    assert date(2025, 12, 31) not in days
    assert days[date(2027, 2, 5)] == (CLOSED, "春节")  # entered by hand for a later year


def test_calendar_option_fills_that_calendar_only():
    office = BusinessCalendar.objects.create(
        name="上海办公室",
        timezone="Asia/Shanghai",
        working_hours={"mon": [["08:30", "17:30"]], "sat": [["10:00", "12:00"]]},
        years=[2030],
    )

    run_import(2025, "--calendar", office.pk)

    office.refresh_from_db()
    assert office.years == [2025, 2030]
    assert {d for d, (kind, _) in stored(office).items() if kind == CLOSED} == CLOSED_2025
    assert office.working_hours == {"mon": [["08:30", "17:30"]], "sat": [["10:00", "12:00"]]}
    assert not BusinessCalendar.objects.filter(name=CHINA_CALENDAR_NAME).exists()


def test_unknown_calendar_id_is_refused():
    with pytest.raises(CommandError, match="999999"):
        run_import(2025, "--calendar", 999999)


def test_range_imports_each_year_and_records_them():
    output = run_import(2024, 2026)

    calendar = china()
    assert calendar.years == [2024, 2025, 2026]
    for year, expected in ((2024, WORKING_2024), (2025, set(WORKING_2025)), (2026, WORKING_2026)):
        working = {d for d, (kind, _) in stored(calendar, year).items() if kind == WORKING}
        assert working == expected, year
    days = stored(calendar)
    assert days[date(2024, 2, 10)] == (CLOSED, "春节")
    assert days[date(2026, 2, 23)] == (CLOSED, "春节")  # 2026: 02-15..02-23, nine days
    assert days[date(2026, 10, 7)] == (CLOSED, "国庆节")
    for year in (2024, 2025, 2026):
        assert f"{year}: " in output


@pytest.mark.parametrize("year", [2099, 2003])
def test_a_year_the_package_does_not_know_is_refused_with_how_to_enter_it(year):
    with pytest.raises(CommandError) as raised:
        run_import(year)

    message = str(raised.value)
    assert str(year) in message
    assert "admin" in message
    assert "calendars/{id}/days/" in message
    assert "years" in message
    assert not BusinessCalendar.objects.exists()  # not even the default calendar
    assert not CalendarDay.objects.exists()


def test_refusal_saves_nothing_of_the_run():
    run_import(2025)
    calendar = china()
    before = stored(calendar)

    with pytest.raises(CommandError) as raised:
        run_import(2024, 2099)

    message = str(raised.value)
    assert message.startswith("2027–2099: ")  # every unknown year, the known 2024–2026 not
    assert f"calendars/{calendar.pk}/days/" in message
    calendar.refresh_from_db()
    assert calendar.years == [2025]
    assert stored(calendar) == before  # 2024 was known, yet not half-saved


def test_last_year_before_first_year_is_refused():
    with pytest.raises(CommandError, match="before"):
        run_import(2026, 2024)
    assert not BusinessCalendar.objects.exists()
