"""Timestamps read from PostgreSQL by psycopg's C loader (servicedesk/db.py) are the same aware
UTC datetimes Django's own Python loader gives, whatever the offset they were written with."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.pq import Format

from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db

LITERALS = [
    "2026-11-23 21:57:50+00",
    "2026-11-24 05:57:50.000001+08",
    "2026-03-08 02:30:00-05",  # a US spring-forward instant written as an offset
    "1970-01-01 00:00:00+00",
    "1900-02-28 23:59:59.999999+00",
    "2099-12-31 23:59:59.5+14",
    "2026-06-30 12:00:00+05:45",
    "0001-01-01 12:00:00+00",
    "9999-12-31 11:00:00+00",
]


def _read(cursor) -> list[datetime]:
    values = ", ".join(f"'{text}'::timestamptz" for text in LITERALS)
    cursor.execute(f"SELECT {values}")
    return list(cursor.fetchone())


def test_the_connection_parses_timestamps_with_the_c_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, Format.TEXT)
    assert loader.__name__ == "UtcTimestamptzLoader"
    assert loader.timezone == connection.timezone == UTC


def test_values_equal_what_djangos_python_loader_gives():
    with connection.cursor() as cursor:
        fast = _read(cursor)
    with connection.cursor() as cursor:
        register_tzloader(UTC, cursor.cursor)  # Django's own loader, on this cursor only
        slow = _read(cursor)
    assert fast == slow
    assert [value.tzinfo for value in fast] == [UTC] * len(LITERALS)
    assert [value.utcoffset() for value in fast] == [timedelta(0)] * len(LITERALS)
    assert fast[1] == datetime(2026, 11, 23, 21, 57, 50, 1, tzinfo=UTC)
    assert fast[6] == datetime(2026, 6, 30, 6, 15, tzinfo=UTC)


def test_an_orm_round_trip_keeps_the_instant(company):
    from tickets import services

    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="打印机",
        form_data={"model": "14寸"},
    )
    written = datetime(2026, 11, 24, 5, 57, 50, 123456, tzinfo=timezone(timedelta(hours=8)))
    event = TicketEvent.objects.create(ticket=ticket, kind=TicketEvent.Kind.COMMENTED, at=written)
    read = TicketEvent.objects.values_list("at", flat=True).get(pk=event.pk)
    assert read == written and read.tzinfo is UTC
