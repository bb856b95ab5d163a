"""Times as the agent pages write them, `{{ value|date:"SHORT_DATETIME_FORMAT" }}`, worked out
faster: the date filter split the format and looked up its translated words at every value, a
twentieth of a millisecond each, and a ticket page shows ten of them (issue #6)."""

from collections.abc import Hashable
from datetime import date, datetime
from typing import Any

from django.utils import dateformat, formats, timezone, translation

# Date format codes whose text depends on the day only, and on the hour and minute only.
DAY_CODES = frozenset("bdDEFjlLmMnNoStwWyYz")
CLOCK_CODES = frozenset("aAfgGhHiP")
# Entries of each table a process keeps (days, times) before it empties the table.
KEPT = 4096


def keep(table: dict, key: Hashable, value: Any) -> Any:
    """`table[key] = value`, emptying a full table first; returns `value`."""
    if len(table) >= KEPT:
        table.clear()
    table[key] = value
    return value


def _braces(text: str) -> str:
    """`text` as literal text of a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


def format_key() -> tuple[str | None, str, str]:
    """What a short date and time is written from: the active language, zone and format."""
    return (
        translation.get_language(),
        str(timezone.get_current_timezone()),
        formats.get_format("SHORT_DATETIME_FORMAT"),
    )


class ShortDatetimes:
    """SHORT_DATETIME_FORMAT in one language and zone, with the words of each day and each time
    of day worked out once (`current()` keeps one per language, zone and format: what a day or a
    time of day reads as does not change while the process runs)."""

    def __init__(self) -> None:
        self.zone = timezone.get_current_timezone()
        # `dateformat.format` splits the format string with a regex at every call: split once.
        pieces = dateformat.re_formatchars.split(formats.get_format("SHORT_DATETIME_FORMAT"))
        self.pieces = [
            (True, piece) if index % 2 else (False, dateformat.re_escaped.sub(r"\1", piece))
            for index, piece in enumerate(pieces)
            if piece
        ]
        codes = {piece for is_code, piece in self.pieces if is_code}
        self.by_day_and_clock = codes <= DAY_CODES | CLOCK_CODES
        self.days: dict[date, str] = {}
        self.clocks: dict[tuple[int, int], list[str]] = {}

    @classmethod
    def current(cls) -> "ShortDatetimes":
        """The formatter of the active language, zone and format."""
        key = format_key()
        kept = _kept.get(key)
        if kept is None:
            kept = keep(_kept, key, cls())
        return kept

    def text(self, value: datetime | None) -> str:
        """`{{ value|date:"SHORT_DATETIME_FORMAT" }}` before escaping: an aware value in the
        zone, "" for None."""
        if value is None:
            return ""
        if timezone.is_aware(value):
            value = value.astimezone(self.zone)
        return self.local(value)

    def local(self, value: datetime) -> str:
        """The text of a value already in the zone."""
        if not self.by_day_and_clock:
            formatter = dateformat.DateFormat(value)
            return "".join(
                str(getattr(formatter, piece)()) if is_code else piece
                for is_code, piece in self.pieces
            )
        # The day's words filled in once per day; the clock's once per time of day, without the
        # zone checks of a DateFormat.
        day = value.date()
        template = self.days.get(day)
        if template is None:
            formatter = dateformat.DateFormat(value)
            template = "".join(
                "{}"
                if is_code and piece in CLOCK_CODES
                else _braces(str(getattr(formatter, piece)()) if is_code else piece)
                for is_code, piece in self.pieces
            )
            keep(self.days, day, template)
        clock = self.clocks.get((value.hour, value.minute))
        if clock is None:
            formatter = dateformat.TimeFormat(value.time())
            clock = [
                str(getattr(formatter, piece)())
                for is_code, piece in self.pieces
                if is_code and piece in CLOCK_CODES
            ]
            self.clocks[(value.hour, value.minute)] = clock  # at most 1,440
        return template.format(*clock)


_kept: dict[tuple[str, str, str], ShortDatetimes] = {}
