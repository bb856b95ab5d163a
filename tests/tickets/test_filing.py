"""Filing in one statement on PostgreSQL (tickets.filing, issue #6) writes exactly what the ORM
wrote: the same ticket, event and SLA figures ledger entries, the reference continuing the
department's sequence; and the API answers with the row a later read gives, byte for byte."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection
from django.db.backends.postgresql.base import Cursor, ServerBindingCursor
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from slas.models import FigureLedgerEntry
from tickets import filing, services
from tickets.models import Ticket, TicketEvent, TicketSequence

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 10, 15, 30, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
# Differ by construction between two filings: the new rows' keys, the number, the clock.
OWN = {"id", "reference", "updated_at", "ticket"}


def file(company, title="打印机卡纸 100%"):
    return services.file_ticket(
        requester=company.requester,
        service=company.service,
        title=title,
        description="第三层 'A' 区",
        priority="high",
        form_data={"model": "14寸", "count": 2, "needed_by": "2026-03-09"},
        at=AT,
    )


def written(ticket: Ticket) -> tuple[dict, list[dict], list[tuple]]:
    """What the filing wrote: the ticket, its events, its ledger entries (read back)."""
    row = model_to_dict(Ticket.objects.get(pk=ticket.pk), exclude=OWN)
    events = [
        model_to_dict(event, exclude=OWN | {"mail_due_at"})
        for event in TicketEvent.objects.filter(ticket=ticket)
    ]
    entries = sorted(
        FigureLedgerEntry.objects.filter(ticket_created_at=ticket.created_at).values_list(
            "department_id", "side", "status", "priority", "assignee_id", "count"
        )
    )
    return row, events, entries


@pytest.fixture(params=[ServerBindingCursor, Cursor], ids=["server-side", "client-side"])
def binding(request):
    """Both ways psycopg can bind the parameters (DATABASE_PREPARED=false is client-side)."""
    connection.ensure_connection()
    kept = connection.connection.cursor_factory
    connection.connection.cursor_factory = request.param
    yield
    connection.connection.cursor_factory = kept


def test_one_statement_writes_what_the_orm_writes(company, binding, monkeypatch):
    assert filing.available()
    FigureLedgerEntry.objects.all().delete()
    one = file(company)
    one_written = written(one)
    FigureLedgerEntry.objects.all().delete()
    monkeypatch.setattr(filing, "available", lambda: False)
    orm = file(company)

    assert one_written == written(orm)
    assert one_written[1][0]["kind"] == TicketEvent.Kind.CREATED
    assert len(one_written[2]) == 2  # the provider's side and the consumer's
    assert (one.reference, orm.reference) == ("IT-2026-000001", "IT-2026-000002")
    saved = Ticket.objects.get(pk=one.pk)
    assert saved.reference == one.reference and saved.form_data == one.form_data
    assert not one._state.adding and one.events.get().mail_due_at is not None


def test_the_reference_continues_past_six_digits_as_the_orm_numbers_it(company, monkeypatch):
    TicketSequence.objects.create(department=company.it, year=2026, last_value=999_998)
    first = file(company)
    second = file(company)
    monkeypatch.setattr(filing, "available", lambda: False)
    third = file(company)
    assert [first.reference, second.reference, third.reference] == [
        "IT-2026-999999",
        "IT-2026-1000000",
        "IT-2026-1000001",
    ]


def test_filing_is_one_statement(company):
    with CaptureQueriesContext(connection) as queries:
        ticket = file(company)
    writes = [q["sql"] for q in queries if "INSERT" in q["sql"] or "UPDATE" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith('WITH "number" AS (INSERT')
    assert Ticket.objects.filter(pk=ticket.pk, reference=ticket.reference).exists()


def test_a_failed_filing_leaves_no_number_ticket_or_event(company):
    with connection.cursor() as cursor:  # a title the table refuses, past validation
        cursor.execute(
            "ALTER TABLE tickets_ticket ADD CONSTRAINT ticket_title_refused "
            "CHECK (title <> 'refused')"
        )
    file(company)
    with pytest.raises(IntegrityError, match="ticket_title_refused"):
        file(company, title="refused")
    assert TicketSequence.objects.get(department=company.it, year=2026).last_value == 1
    assert Ticket.objects.count() == TicketEvent.objects.count() == 1
    assert FigureLedgerEntry.objects.filter(ticket_created_at=AT).count() == 2


def test_the_api_answers_a_filing_with_the_row_a_read_gives(company, api):
    client = api(company.requester)
    body = {
        "service": company.service.pk,
        "title": "显示器坏了",
        "form_data": {"needed_by": "2026-12-01", "model": "16寸", "count": 3},
    }
    response = client.post("/api/v1/tickets/", body, format="json")
    assert response.status_code == 201, response.content
    again = client.get(f"/api/v1/tickets/{response.json()['id']}/")
    assert response.content == again.content
    assert response.json()["form_data"] == body["form_data"]
