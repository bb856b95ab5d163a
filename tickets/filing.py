"""A new ticket written in one SQL statement on PostgreSQL (issue #6).

Through the ORM, filing took six round trips: the reference's number (an upsert of the
department's sequence for the year), the ticket, its "created" event, its ledger entries, then
the row read back for the answer; and building the two INSERTs cost more CPU than PostgreSQL
spent running them. Here one statement does it all with data-modifying WITH queries and returns
the row as `selectors.written_ticket_row` reads it:

    WITH "number" AS (INSERT INTO tickets_ticketsequence ... ON CONFLICT ... RETURNING ...),
         "tickets_ticket" AS (INSERT INTO "tickets_ticket" (...)
                              VALUES (..., (SELECT <reference> FROM "number"), ...) RETURNING *),
         "event" AS (INSERT INTO "tickets_ticketevent" (...)
                     VALUES ((SELECT "id" FROM "tickets_ticket"), ...) RETURNING "id"),
         "ledger" AS (INSERT INTO slas_figureledgerentry (...) VALUES ...)
    SELECT "row".*, "event"."id" FROM (<the row's SELECT>) AS "row", "event"

The WITH query "tickets_ticket" (the inserted row as PostgreSQL returns it) stands for the table
in the row's SELECT: the statement's snapshot does not see the new row in the table. A WITH
query does not see its own name, so its INSERT goes to the table. Every value is prepared by its
model field as `Model.save` prepares it (`pre_save`, `get_db_prep_save`); no signal is sent, as
none is connected to tickets or events (`tests/tickets/test_filing.py` compares the rows written
this way with the ORM's, column by column).
"""

from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model

from slas.figures import LedgerRow, ledger_insert

from .models import Ticket, TicketEvent, TicketSequence
from .selectors import FILED_ROW, ticket_row_columns

# The next number of a department's sequence for a year: one atomic upsert (no gaps, no race);
# its row stays locked until the filing commits.
_SEQUENCES = TicketSequence._meta.db_table
NUMBER_SQL = (
    f"INSERT INTO {_SEQUENCES} (department_id, year, last_value) VALUES (%s, %s, 1) "  # noqa: S608
    f"ON CONFLICT (department_id, year) DO UPDATE SET last_value = {_SEQUENCES}.last_value + 1 "
    "RETURNING last_value"
)
# `reference_of`'s format in SQL: `CODE-YYYY-` then the number, at least six digits.
_REFERENCE_SQL = (
    '(SELECT %s || CASE WHEN "last_value" < 1000000 THEN lpad("last_value"::text, 6, \'0\') '
    'ELSE "last_value"::text END FROM "number")'
)


def reference_of(code: str, year: int, number: int) -> str:
    """A ticket's reference: its department's code, the year, the number (IT-2026-000042)."""
    return f"{code}-{year}-{number:06d}"


def available() -> bool:
    """Whether the database takes the statement (PostgreSQL; SQLite files through the ORM)."""
    return connection.vendor == "postgresql"


@cache
def _fields(model: type[Model]) -> tuple[Field, ...]:
    # What the ORM's INSERT writes: every concrete column but the generated key.
    return tuple(field for field in model._meta.local_concrete_fields if not field.primary_key)


def _insert(instance: Model, computed: dict[str, tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """INSERT of `instance` (without RETURNING): each column's value prepared by its field,
    but for `computed` columns, written as SQL with its parameters."""
    quote = connection.ops.quote_name
    columns, values, params = [], [], []
    for field in _fields(type(instance)):
        columns.append(quote(field.column))
        if field.column in computed:
            sql, its_params = computed[field.column]
            values.append(sql)
            params += its_params
        else:
            values.append("%s")
            value = field.pre_save(instance, True)
            params.append(field.get_db_prep_save(value, connection=connection))
    table = quote(type(instance)._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)})"  # noqa: S608
    return sql, params  # quoted names and placeholders only


def insert(
    ticket: Ticket,
    event: TicketEvent,
    *,
    code: str,
    year: int,
    entries: list[LedgerRow],
) -> None:
    """Write the unsaved `ticket` (numbered in its provider's sequence for `year`), its unsaved
    "created" `event` and its ledger `entries` in one statement, in the caller's transaction.
    Both instances come back saved; the ticket keeps its row for `written_ticket_row`."""
    quote = connection.ops.quote_name
    ticket_sql, ticket_params = _insert(
        ticket, {"reference": (_REFERENCE_SQL, [f"{code}-{year}-"])}
    )
    event_sql, event_params = _insert(
        event,
        {"ticket_id": (f'(SELECT "id" FROM {quote(Ticket._meta.db_table)})', [])},  # noqa: S608
    )
    ledger_sql, ledger_params = ledger_insert(entries)
    row = ticket_row_columns()
    sql = (
        f'WITH "number" AS ({NUMBER_SQL}), '  # noqa: S608 - statements built above
        f"{quote(Ticket._meta.db_table)} AS ({ticket_sql} RETURNING *), "
        f'"event" AS ({event_sql} RETURNING "id"), '
        f'"ledger" AS ({ledger_sql}) '
        f'SELECT "row".*, "event"."id" FROM ({row.sql}) AS "row", "event"'
    )
    params = [
        ticket.provider_department_id,
        year,
        *ticket_params,
        *event_params,
        *ledger_params,
        *row.params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ((*columns, event_id),) = cursor.fetchall()
    (filed,) = row.named(row.converted([tuple(columns)]))
    for instance, pk in ((ticket, filed["id"]), (event, event_id)):
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = connection.alias
    ticket.reference = filed["reference"]
    event.ticket = ticket
    setattr(ticket, FILED_ROW, filed)
