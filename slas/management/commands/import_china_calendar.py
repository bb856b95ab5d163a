"""Import China's official holiday schedule (holidays and make-up working weekends) into a
business calendar, from the maintained `chinesecalendar` package."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from slas.calendars import CHINA_CALENDAR_NAME, UnknownYear, import_china_years, unknown_year_help
from slas.models import BusinessCalendar


class Command(BaseCommand):
    help = (
        "Import China's official schedule for FIRST_YEAR..LAST_YEAR into a business calendar "
        "(default: 中国标准工作日历, created if missing). Each holiday day is stored as closed, "
        "each make-up working weekend as working, and the years are recorded as covered. "
        "Re-importing a year replaces that year's days. Nothing is saved if any year is unknown "
        "to the package."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("first_year", type=int, metavar="FIRST_YEAR")
        parser.add_argument("last_year", type=int, nargs="?", metavar="LAST_YEAR")
        parser.add_argument(
            "--calendar",
            type=int,
            metavar="ID",
            help="id of the calendar to fill (default: 中国标准工作日历)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        first_year: int = options["first_year"]
        last_year: int = options["last_year"] or first_year
        if last_year < first_year:
            raise CommandError(f"LAST_YEAR {last_year} is before FIRST_YEAR {first_year}")

        calendar = None
        if options["calendar"] is not None:
            calendar = BusinessCalendar.objects.filter(pk=options["calendar"]).first()
            if calendar is None:
                raise CommandError(f"there is no business calendar with id {options['calendar']}")

        try:
            calendar, results = import_china_years(
                years=range(first_year, last_year + 1), calendar=calendar
            )
        except UnknownYear as error:
            target = calendar or BusinessCalendar.objects.filter(name=CHINA_CALENDAR_NAME).first()
            raise CommandError(f"{error.detail}. {unknown_year_help(target)}") from None

        for result in results:
            self.stdout.write(
                f"{result.year}: {result.closed_days} closed days, "
                f"{result.working_days} make-up working days"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{calendar.name} (id {calendar.pk}) covers {', '.join(map(str, calendar.years))}"
            )
        )
